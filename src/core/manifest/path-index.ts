import { randomBytes } from 'node:crypto'
import type { ManifestColumns } from './columns.js'
import type { PathColumn } from './path-column.js'

/** Per process, so that paths a manifest lists cannot be chosen to fall into one slot. */
const SEED = randomBytes(4).readUInt32LE(0)

/**
 * The entries of manifest columns found by root index and path: an open-addressing table of entry
 * indexes over a hash of the path, 8 to 16 bytes an entry, where a Map keyed by path takes several
 * times that (and a string per key when the root is part of it).
 */
export class PathIndex {
  /** `i + 1` per used slot, 0 in an empty one; a power of two in length, at most half full. */
  private readonly slots: Uint32Array

  /** Indexes the entries `i` for which `included(i)` holds (all by default). */
  constructor(
    private readonly columns: Pick<ManifestColumns, 'paths' | 'rootIndexes'>,
    included: (i: number) => boolean = () => true
  ) {
    const n = columns.paths.length
    let size = 1024
    while (size < 2 * n) size *= 2
    this.slots = new Uint32Array(size)
    const mask = size - 1
    for (let i = 0; i < n; i++) {
      if (!included(i)) continue
      let slot = columns.paths.hash(i, seedOf(columns.rootIndexes[i])) & mask
      while (this.slots[slot] !== 0) slot = (slot + 1) & mask
      this.slots[slot] = i + 1
    }
  }

  /** The last indexed entry at a root index and path `j` of `paths`, or -1. */
  find(root: number, paths: PathColumn, j: number): number {
    const { rootIndexes } = this.columns
    const mask = this.slots.length - 1
    let found = -1
    for (let slot = paths.hash(j, seedOf(root)) & mask; this.slots[slot] !== 0; slot = (slot + 1) & mask) {
      const i = this.slots[slot] - 1
      if (i > found && rootIndexes[i] === root && this.columns.paths.equals(i, paths, j)) found = i
    }
    return found
  }
}

function seedOf(root: number): number {
  return Math.imul(SEED ^ root, 0x9e3779b1)
}
