import { digestAt, EntryCode, type ManifestColumns } from '../manifest/columns.js'
import type { PathColumn } from '../manifest/path-column.js'
import { PathIndex } from '../manifest/path-index.js'
import type { KnownChunks } from './chunker.js'
import { DigestTable } from './digest-table.js'

/**
 * What a save may take from the manifests of earlier saves, read as columns: blobs by digest, and
 * files by root and path. Blobs in objects a prune has removed since are left out. A blob or a file
 * is named by a number `at`: `k * bases.length + base` for blob `k`, `i * bases.length + base` for
 * entry `i` (-1 for none).
 */
export class SaveBases {
  /** Per base, its digests (32 bytes each, blob `k` at `32 * k`), usable ones findable. */
  private readonly digests: DigestTable[]
  /** Per base, its files that have an mtime, by root index and path. */
  private readonly files: PathIndex[]
  /** Per base, whether blob `k`'s object may be referenced. */
  private readonly usable: Uint8Array[]
  /** Per base, where entry `i`'s blob references start in `refs`. */
  private readonly refStarts: Uint32Array[]

  constructor(
    private readonly bases: readonly ManifestColumns[],
    excludedObjects: ReadonlySet<string> = new Set()
  ) {
    this.usable = bases.map(base => {
      const objectUsable = base.objects.map(object => !excludedObjects.has(object))
      return Uint8Array.from(base.objectIndexes, index => (objectUsable[index] ? 1 : 0))
    })
    this.refStarts = bases.map(base => {
      const starts = new Uint32Array(base.paths.length + 1)
      for (let i = 0; i < base.paths.length; i++) starts[i + 1] = starts[i] + base.blobCounts[i]
      return starts
    })
    this.digests = bases.map((base, b) => DigestTable.of(base.digests, k => this.usable[b][k] === 1))
    this.files = bases.map(
      base => new PathIndex(base, i => base.types[i] === EntryCode.file && !Number.isNaN(base.mtimes[i]))
    )
  }

  /** The base that blob or file `at` is in. */
  baseOf(at: number): ManifestColumns {
    return this.bases[at % this.bases.length]
  }

  /** The index of blob or file `at` in its base. */
  indexOf(at: number): number {
    return Math.floor(at / this.bases.length)
  }

  /** The first base that stores the digest at `source[offset…offset + 32]` in an object that may be referenced. */
  blobOf(source: Uint8Array, offset = 0): number {
    for (let b = 0; b < this.bases.length; b++) {
      const k = this.digests[b].find(source, offset)
      if (k >= 0) return k * this.bases.length + b
    }
    return -1
  }

  /** The file with an mtime the last base that has one recorded at a root and path `j` of `paths`. */
  fileAt(rootSpec: string, paths: PathColumn, j: number): number {
    for (let b = this.bases.length - 1; b >= 0; b--) {
      const { roots } = this.bases[b]
      let found = -1
      for (let r = 0; r < roots.length; r++)
        if (roots[r] === rootSpec) found = Math.max(found, this.files[b].find(r, paths, j))
      if (found >= 0) return found * this.bases.length + b
    }
    return -1
  }

  /** The chunks a base recorded for file `at`, a large file, whatever its size and mtime. */
  chunksOf(at: number): KnownChunks | undefined {
    const { base, start, end } = this.refsOf(at)
    if (end - start < 2) return undefined
    const lengths: number[] = []
    const digests: string[] = []
    for (let j = start; j < end; j++) {
      lengths.push(base.blobSizes[base.refs[j]])
      digests.push(digestAt(base, base.refs[j]))
    }
    return { lengths, digests }
  }

  /** Whether file `at` has this size and mtime, and all its blobs may be referenced. */
  unchanged(at: number, size: number, mtime: number): boolean {
    const base = this.baseOf(at)
    const i = this.indexOf(at)
    if (base.sizes[i] !== size || base.mtimes[i] !== mtime) return false
    const usable = this.usable[at % this.bases.length]
    const { start, end } = this.refsOf(at)
    for (let j = start; j < end; j++) if (!usable[base.refs[j]]) return false
    return true
  }

  /** File `at`'s blobs: blob `base.refs[j]` of its base for `start <= j < end`. */
  refsOf(at: number): { base: ManifestColumns; start: number; end: number } {
    const starts = this.refStarts[at % this.bases.length]
    const i = this.indexOf(at)
    return { base: this.baseOf(at), start: starts[i], end: starts[i + 1] }
  }

  /** The buffer holding the digests of blob `at`'s base, blob `k` at `32 * k`. */
  digestBytesOf(at: number): Buffer {
    return this.digests[at % this.bases.length].buffer
  }
}
