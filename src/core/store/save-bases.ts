import { digestAt, EntryCode, locationAt, type ManifestColumns } from '../manifest/columns.js'
import type { KnownChunks } from './chunker.js'
import type { BlobLocation } from '../manifest/model.js'

/**
 * What a save may take from the manifests of earlier saves, read as columns: blobs by digest, and
 * files by root and path. Blobs in objects a prune has removed since are left out.
 */
export class SaveBases {
  /** Digest → `k * bases.length + base`: the first base that holds it in a usable object. */
  private readonly blobs = new Map<string, number>()
  /** Root spec → path → `i * bases.length + base`, for files that have an mtime. */
  private readonly files = new Map<string, Map<string, number>>()
  /** Per base, whether blob `k`'s object may be referenced. */
  private readonly usable: Uint8Array[]
  /** Per base, where entry `i`'s blob references start in `refs`. */
  private readonly refStarts: Uint32Array[]

  constructor(
    private readonly bases: readonly ManifestColumns[],
    excludedObjects: ReadonlySet<string> = new Set()
  ) {
    const count = bases.length
    this.usable = bases.map(base => {
      const objectUsable = base.objects.map(object => !excludedObjects.has(object))
      return Uint8Array.from(base.objectIndexes, index => (objectUsable[index] ? 1 : 0))
    })
    this.refStarts = bases.map(base => {
      const starts = new Uint32Array(base.paths.length + 1)
      for (let i = 0; i < base.paths.length; i++) starts[i + 1] = starts[i] + base.blobCounts[i]
      return starts
    })
    bases.forEach((base, b) => {
      for (let k = 0; k < base.codecs.length; k++) {
        const digest = digestAt(base, k)
        if (this.usable[b][k] && !this.blobs.has(digest)) this.blobs.set(digest, k * count + b)
      }
      const byRoot = base.roots.map(root => this.files.get(root) ?? this.files.set(root, new Map()).get(root)!)
      for (let i = 0; i < base.paths.length; i++) {
        if (base.types[i] === EntryCode.file && !Number.isNaN(base.mtimes[i]))
          byRoot[base.rootIndexes[i]].set(base.paths[i], i * count + b)
      }
    })
  }

  /** Where a base stores a blob, if one does in an object that may be referenced. */
  location(digest: string): BlobLocation | undefined {
    const at = this.blobs.get(digest)
    if (at === undefined) return undefined
    return locationAt(this.bases[at % this.bases.length], Math.floor(at / this.bases.length))
  }

  /** The chunks a base recorded for a large file at the same root and path, whatever its size and mtime. */
  chunksOf(rootSpec: string, path: string): KnownChunks | undefined {
    const file = this.fileAt(rootSpec, path)
    if (!file || file.base.blobCounts[file.i] < 2) return undefined
    const { base, start, end } = file
    const lengths: number[] = []
    const digests: string[] = []
    for (let j = start; j < end; j++) {
      lengths.push(base.blobSizes[base.refs[j]])
      digests.push(digestAt(base, base.refs[j]))
    }
    return { lengths, digests }
  }

  /** The blobs of a file a base recorded at the same root and path with the same size and mtime, if all of them may be referenced. */
  unchangedBlobs(rootSpec: string, path: string, size: number, mtime: number): string[] | undefined {
    const file = this.fileAt(rootSpec, path)
    if (!file || file.base.sizes[file.i] !== size || file.base.mtimes[file.i] !== mtime) return undefined
    const { base, b, start, end } = file
    for (let j = start; j < end; j++) if (!this.usable[b][base.refs[j]]) return undefined
    const digests = new Array<string>(end - start)
    for (let j = start; j < end; j++) digests[j - start] = digestAt(base, base.refs[j])
    return digests
  }

  /** A base's file at a root and path: base `b`, entry `i`, and where its blob references are in `refs`. */
  private fileAt(
    rootSpec: string,
    path: string
  ): { base: ManifestColumns; b: number; i: number; start: number; end: number } | undefined {
    const at = this.files.get(rootSpec)?.get(path)
    if (at === undefined) return undefined
    const b = at % this.bases.length
    const i = Math.floor(at / this.bases.length)
    return { base: this.bases[b], b, i, start: this.refStarts[b][i], end: this.refStarts[b][i + 1] }
  }
}
