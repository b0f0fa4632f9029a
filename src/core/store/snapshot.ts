import { closeSync, openSync, readSync } from 'node:fs'
import { TaskPool } from '../task-pool.js'
import { CutFinder, readChunks, type KnownChunks } from './chunker.js'
import type { FileCuts } from './chunker.worker.js'
import { DEFAULT_CHUNK_PARAMS, type ChunkParams } from './fastcdc.js'
import { compress, encodeBlob, pays, sha256, sha256Hex } from './codec.js'
import { EntryCode, type ManifestColumns } from '../manifest/columns.js'
import { encodeDelta } from '../manifest/delta.js'
import { sealTree } from '../manifest/encoding.js'
import { storedFormOf } from '../manifest/load.js'
import { Codec, MANIFEST_SCHEMA, MAX_FRAME_BLOBS } from '../manifest/model.js'
import { objectKey } from '../cache/cache-layout.js'
import { BlobLocations } from './blob-locations.js'
import { DigestTable } from './digest-table.js'
import type { ObjectStore } from './object-store.js'
import { SaveBases } from './save-bases.js'
import { sourceOf, walkRoots, type TreeRoot } from './tree-walk.js'

export interface SnapshotOptions {
  store: ObjectStore
  roots: TreeRoot[]
  /** Manifests whose blobs may be referenced instead of uploaded again. */
  bases?: ManifestColumns[]
  /** Objects of the bases not to reference: gone from the store since the bases were read. */
  excludedObjects?: ReadonlySet<string>
  onProgress?: (progress: TransferProgress) => void
  tuning?: Partial<SnapshotTuning>
}

export interface SnapshotTuning {
  /** Files smaller than this are packed; larger ones are split by CDC into objects of their own. */
  smallFileLimit: number
  /** Small files are compressed together in frames of about this many raw bytes. */
  frameSize: number
  /** Raw bytes of small files per pack. */
  packSize: number
  chunk: ChunkParams
  uploads: number
  bytesInFlight: number
}

const DEFAULT_TUNING: SnapshotTuning = {
  smallFileLimit: 512 * 1024,
  frameSize: 1024 * 1024,
  packSize: 16 * 1024 * 1024,
  chunk: DEFAULT_CHUNK_PARAMS,
  uploads: 8,
  bytesInFlight: 48 * 1024 * 1024
}

export interface TransferProgress {
  bytesDone: number
  bytesTotal: number
  bytesTransferred: number
}

export interface SnapshotStats {
  files: number
  /** Files taken from a base by size and mtime, without reading them. */
  filesUnchanged: number
  treeBytes: number
  bytesUploaded: number
  objectsUploaded: number
  bytesDeduplicated: number
}

export interface Snapshot {
  digest: string
  /** The manifest's stored bytes, not yet written: save-commit.ts writes them. */
  encoded: Buffer
  /** The same tree as a delta against its base's full manifest, when that is worth writing instead. */
  delta?: { base: string; encoded: Buffer }
  stats: SnapshotStats
  /** Objects this save did not write: named by a base manifest, or found already stored. A concurrent prune may have collected them. */
  reusedObjects: Set<string>
}

/**
 * Stores a tree's content: walks it, hashes every file as it is read, reuses blobs the bases or the
 * store already hold, packs small files, chunks large ones, uploads what is missing in parallel, and
 * seals the manifest last. It writes no manifest: a save's commit (save-commit.ts) does, in the order
 * a concurrent prune needs.
 */
export async function snapshotTree(options: SnapshotOptions): Promise<Snapshot> {
  const tuning = { ...DEFAULT_TUNING, ...options.tuning }
  const { store, roots } = options
  const tree = await walkRoots(roots)
  const n = tree.paths.length
  const bases = new SaveBases(options.bases ?? [], options.excludedObjects)
  /** Each distinct blob of the tree, numbered in the order the entries first use it, as the manifest numbers them. */
  const digests = DigestTable.empty()
  const locations = new BlobLocations()
  /** Per entry, how many blobs it has; their digest numbers follow each other in `refs`, in entry order. */
  const blobCounts = new Uint32Array(n)
  let refs = new Uint32Array(1024)
  let refCount = 0
  const reusedObjects = new Set<string>()
  const stats: SnapshotStats = {
    files: 0,
    filesUnchanged: 0,
    treeBytes: 0,
    bytesUploaded: 0,
    objectsUploaded: 0,
    bytesDeduplicated: 0
  }
  const uploads = new TaskPool(tuning.uploads, tuning.bytesInFlight)
  const progress = progressReporter(tree.sizes, stats, options.onProgress)
  const sourceOfEntry = (i: number) => sourceOf(roots, tree, i)

  /** HEADs in a row that found nothing: from HEAD_MISSES_BEFORE_PUTTING on, an object is put without one. */
  let headMisses = 0
  /** Corrects a chunk's location to the stored copy, which another save may have encoded otherwise. */
  const locateStored = (k: number, size: number): void => {
    locations.lengths[k] = size
    locations.codecs[k] = size < locations.sizes[k] ? Codec.zstd : Codec.raw
  }

  /**
   * Stores an object unless the store has it. `produce` makes its bytes only when they are needed;
   * blob `k`'s location, when given, is corrected to the stored copy. `rawSize` bytes count as
   * deduplicated when it is there.
   * While HEADs keep finding nothing (a cold save), objects are put directly: the put refuses one that
   * is there (If-None-Match), and only then is it looked at, so a cold save makes one request per object.
   */
  const storeObject = async (
    name: string,
    rawSize: number,
    produce: () => Promise<Uint8Array>,
    k?: number
  ): Promise<void> => {
    const asked = headMisses < HEAD_MISSES_BEFORE_PUTTING
    const existing = asked ? await store.head(objectKey(name)) : undefined
    if (asked) headMisses = existing ? 0 : headMisses + 1
    if (existing && k !== undefined) locateStored(k, existing.size)
    if (existing) {
      // Stored before this save, perhaps garbage a prune is about to collect: checked again after the manifest.
      reusedObjects.add(name)
      stats.bytesDeduplicated += rawSize
      return
    }
    const bytes = await produce()
    // Packs are named by the sha256 of their bytes, and so is a chunk stored raw: the upload need not hash them again.
    const sha256 = k === undefined || locations.codecs[k] === Codec.raw ? name : undefined
    if ((await store.put(objectKey(name), bytes, { ifNoneMatch: true, sha256 })) === 'created') {
      stats.bytesUploaded += bytes.length
      stats.objectsUploaded++
      progress.tick()
      return
    }
    // The store had it after all: ask before the next puts again.
    headMisses = 0
    const stored = k !== undefined && (await store.head(objectKey(name)))
    if (stored) locateStored(k, stored.size)
    reusedObjects.add(name)
    stats.bytesDeduplicated += rawSize
  }

  const pack = new PackWriter(tuning, locations, (rawSize, seal) =>
    uploads.submit(rawSize, async () => {
      const { name, bytes } = await seal()
      await storeObject(name, rawSize, async () => bytes)
    })
  )
  /** Appends the digest at `source[offset…offset + 32]` to the file's blobs; returns its number. */
  const appendBlob = (source: Uint8Array, offset = 0): number => {
    if (refCount === refs.length) {
      const grown = new Uint32Array(2 * refs.length)
      grown.set(refs)
      refs = grown
    }
    const k = digests.numberOf(source, offset)
    refs[refCount++] = k
    return k
  }
  /** Takes blob `k` from where this save or a base already stored it, if either did. */
  const reuse = (k: number): boolean => {
    if (!locations.has(k)) {
      const at = bases.blobOf(digests.buffer, 32 * k)
      if (at < 0) return false
      locations.copy(k, bases.baseOf(at), bases.indexOf(at))
      reusedObjects.add(locations.object(k))
    }
    stats.bytesDeduplicated += locations.sizes[k]
    return true
  }

  /**
   * Reads a large file's chunks by their cuts, and stores each the store lacks, appending their
   * digests to its blobs. Leading chunks the chunking thread confirmed as a base's are taken unread.
   */
  const storeChunks = async (i: number, { cuts, confirmed }: FileCuts, known?: KnownChunks): Promise<void> => {
    let size = 0
    let taken = 0
    for (; known && taken < confirmed; taken++) {
      const digest = Buffer.from(known.digests[taken], 'hex')
      if (digests.find(digest) < 0 && bases.blobOf(digest) < 0) break
      reuse(appendBlob(digest))
      size += cuts[taken]
    }
    for await (const chunk of readChunks(sourceOfEntry(i), cuts.slice(taken), size)) {
      const digest = sha256Hex(chunk)
      const k = appendBlob(Buffer.from(digest, 'hex'))
      size += chunk.length
      if (reuse(k)) continue
      locations.set(k, digest, 0, chunk.length, chunk.length, Codec.raw)
      // Compression runs inside the upload task, on libuv's pool, while the next chunk is read.
      await uploads.submit(chunk.length, () =>
        storeObject(
          digest,
          chunk.length,
          async () => {
            const encoded = await encodeBlob(chunk)
            locations.lengths[k] = encoded.bytes.length
            locations.codecs[k] = encoded.zstd ? Codec.zstd : Codec.raw
            return encoded.bytes
          },
          k
        )
      )
    }
    if (size !== tree.sizes[i]) throw new Error(`${sourceOfEntry(i)} changed while it was being saved`)
  }

  /** A base's file with the same root, path, size and mtime as file `i`: taken as unchanged, unread; -1 for none. */
  const unchangedOf = (i: number): number => {
    const at = bases.fileAt(roots[tree.rootIndexes[i]].spec, tree.paths, i)
    return at >= 0 && bases.unchanged(at, tree.sizes[i], tree.mtimes[i]) ? at : -1
  }
  // The chunking thread finds the cuts of every large file that changed, ahead of the loop.
  // A file a base had in chunks is checked against them first: a file that grew at its end is scanned only from its last chunk.
  const cutFinder = new CutFinder(tuning.chunk)
  const cutsAhead = new Map<number, { cuts: Promise<FileCuts>; known?: KnownChunks }>()
  for (let i = 0; i < n; i++) {
    if (tree.types[i] !== EntryCode.file || tree.sizes[i] < tuning.smallFileLimit || unchangedOf(i) >= 0) continue
    const base = bases.fileAt(roots[tree.rootIndexes[i]].spec, tree.paths, i)
    const known = base >= 0 ? bases.chunksOf(base) : undefined
    const cuts = cutFinder.cuts(sourceOfEntry(i), known)
    cuts.catch(() => {}) // awaited in the loop; this keeps a failure after an earlier error from going unhandled
    cutsAhead.set(i, { cuts, known })
  }
  try {
    for (let i = 0; i < n; i++) {
      if (tree.types[i] !== EntryCode.file) continue
      const size = tree.sizes[i]
      const firstRef = refCount
      stats.files++
      stats.treeBytes += size
      const unchanged = unchangedOf(i)
      if (unchanged >= 0) {
        stats.filesUnchanged++
        const { base, start, end } = bases.refsOf(unchanged)
        const baseDigests = bases.digestBytesOf(unchanged)
        for (let j = start; j < end; j++) reuse(appendBlob(baseDigests, 32 * base.refs[j]))
      } else if (size < tuning.smallFileLimit) {
        // Read straight into the pack's open frame: synchronous reads are several times cheaper than
        // the promise API for small, cached files, and nothing is copied.
        const content = await pack.readInto(sourceOfEntry(i), size)
        const k = appendBlob(sha256(content))
        if (!reuse(k)) await pack.add(k, content.length)
      } else {
        const { cuts, known } = cutsAhead.get(i)!
        await storeChunks(i, await cuts, known)
      }
      blobCounts[i] = refCount - firstRef
      progress.scanned(size)
    }
    await pack.flush()
    await uploads.drain()
  } finally {
    await cutFinder.close()
  }
  progress.done()

  const d = digests.size
  /** The first file that has blob `k`: an unlocated blob is a defect, and its message names a file. */
  const pathOf = (k: number): string => {
    const j = refs.indexOf(k)
    let i = 0
    for (let before = 0; before + blobCounts[i] <= j; i++) before += blobCounts[i]
    return tree.paths.at(i)
  }
  const columns: ManifestColumns = {
    schema: MANIFEST_SCHEMA,
    roots: roots.map(root => root.spec),
    ...tree,
    blobCounts,
    refs: refs.subarray(0, refCount),
    digests: digests.digests(),
    ...locations.columns(d, pathOf)
  }
  const { digest, encoded } = await sealTree(columns)
  // After a prune took objects of a base, the store is sealed full: its base may be going too.
  const delta = options.excludedObjects ? undefined : deltaOf(options.bases ?? [], digest, encoded, columns)
  return { digest, encoded, delta, stats, reusedObjects }
}

/**
 * The tree as a delta against its base: only with exactly one base, stored full (a delta's base is
 * never a delta) under another digest, and when the delta is at most half the full manifest.
 */
function deltaOf(
  bases: readonly ManifestColumns[],
  digest: string,
  full: Buffer,
  tree: ManifestColumns
): Snapshot['delta'] {
  const form = bases.length === 1 ? storedFormOf(bases[0]) : undefined
  if (!form || form.base !== undefined || form.digest === digest) return undefined
  const encoded = encodeDelta({ digest: form.digest, columns: bases[0] }, tree)
  return encoded && encoded.length <= full.length / 2 ? { base: form.digest, encoded } : undefined
}

/**
 * HEADs in a row that find nothing before a save stops asking before each put: one request per
 * object instead of two in a cold save, at the cost of uploading an object the store turns out to hold.
 */
const HEAD_MISSES_BEFORE_PUTTING = 8
/** Frames handed to compression at once: libuv's pool has four threads. */
const FRAMES_COMPRESSING = 4
/** Frame buffers kept for reuse; beyond these, a spare one is left to the GC. */
const SPARE_FRAME_BUFFERS = 8

/** A frame being filled: raw bytes of small blobs, and the locations to fill in once it is stored. */
interface OpenFrame {
  buffer: Buffer
  size: number
  blobs: FramedBlob[]
}

interface FramedBlob {
  /** The blob's digest number. */
  k: number
  within: number
}

/** A frame handed to compression: its raw size, and what is stored of it once compression ends. */
interface SealedFrame {
  /** The raw frame's buffer, reused for a later frame once nothing needs its bytes. */
  buffer: Buffer
  rawSize: number
  stored: Promise<{ bytes: Uint8Array; compressed: boolean }>
  blobs: FramedBlob[]
}

/**
 * Packs small blobs. Blobs are read into frames of about `frameSize` raw bytes; each full frame is
 * compressed as one zstd frame on libuv's pool while the next one fills (or kept raw when that
 * does not pay). About `packSize` raw bytes of frames make a pack, named by the sha256 of its
 * stored bytes. A blob's location is complete once its pack is sealed.
 */
class PackWriter {
  private frame: OpenFrame
  private frames: SealedFrame[] = []
  private packRaw = 0
  private readonly compressing: Array<Promise<unknown>> = []
  /** Frame buffers to fill again: a new one per frame churns memory that only a full GC returns. */
  private readonly spareBuffers: Buffer[] = []

  constructor(
    private readonly tuning: Pick<SnapshotTuning, 'frameSize' | 'packSize' | 'smallFileLimit'>,
    private readonly locations: BlobLocations,
    private readonly submit: (
      rawSize: number,
      seal: () => Promise<{ name: string; bytes: Uint8Array }>
    ) => Promise<void>
  ) {
    this.frame = this.newFrame()
  }

  /** Reads a small file into the open frame, past its blobs (sealing the frame first if it is full); `add` keeps it there. */
  async readInto(file: string, size: number): Promise<Buffer> {
    if (this.frame.size + size + 1 > this.frame.buffer.length) await this.sealFrame()
    const { buffer, size: start } = this.frame
    const fd = openSync(file, 'r')
    let length = 0
    try {
      // One byte more than expected, to notice a file that grew.
      for (let read = -1; read !== 0 && length <= size; length += read)
        read = readSync(fd, buffer, start + length, size + 1 - length, null)
    } finally {
      closeSync(fd)
    }
    if (length !== size) throw new Error(`${file} changed while it was being saved`)
    return buffer.subarray(start, start + size)
  }

  /** Keeps the blob `readInto` just read as blob `k`, located at once and completed when its pack is sealed. */
  async add(k: number, size: number): Promise<void> {
    const frame = this.frame
    this.locations.set(k, '', 0, 0, size, Codec.sharedFrame, frame.size, 0)
    frame.blobs.push({ k, within: frame.size })
    frame.size += size
    if (frame.size >= this.tuning.frameSize || frame.blobs.length >= MAX_FRAME_BLOBS) await this.sealFrame()
  }

  async flush(): Promise<void> {
    await this.sealFrame()
    await this.sealPack()
  }

  private newFrame(): OpenFrame {
    const buffer =
      this.spareBuffers.pop() ?? Buffer.allocUnsafeSlow(Math.max(this.tuning.frameSize, this.tuning.smallFileLimit) + 1)
    return { buffer, size: 0, blobs: [] }
  }

  private recycle(buffer: Buffer): void {
    if (this.spareBuffers.length < SPARE_FRAME_BUFFERS) this.spareBuffers.push(buffer)
  }

  private async sealFrame(): Promise<void> {
    const frame = this.frame
    if (frame.blobs.length === 0) return
    this.frame = this.newFrame()
    const raw = frame.buffer.subarray(0, frame.size)
    // Only the bytes to store are kept: the raw frame is reused as soon as its compression pays.
    const stored = compress(raw).then(compressed => {
      if (!pays(compressed, raw)) return { bytes: raw, compressed: false }
      this.recycle(frame.buffer)
      return { bytes: compressed, compressed: true }
    })
    stored.catch(() => {}) // awaited when the pack is sealed; this keeps an early failure from going unhandled
    this.frames.push({ buffer: frame.buffer, rawSize: frame.size, stored, blobs: frame.blobs })
    this.packRaw += frame.size
    // Reading waits for compression, so raw frames do not pile up faster than the pool compresses them.
    this.compressing.push(stored)
    if (this.compressing.length > FRAMES_COMPRESSING) await this.compressing.shift()
    if (this.packRaw >= this.tuning.packSize) await this.sealPack()
  }

  /** Hands the pack's frames to the upload pool; they are laid out once their compression ends. */
  private async sealPack(): Promise<void> {
    const frames = this.frames
    if (frames.length === 0) return
    const rawSize = this.packRaw
    this.frames = []
    this.packRaw = 0
    await this.submit(rawSize, async () => {
      const parts: Uint8Array[] = []
      const rawFrames: Buffer[] = []
      let offset = 0
      for (const frame of frames) {
        const { bytes, compressed } = await frame.stored
        if (!compressed) rawFrames.push(frame.buffer)
        for (const { k, within } of frame.blobs) {
          const size = this.locations.sizes[k]
          if (compressed)
            this.locations.set(k, '', offset, bytes.length, size, Codec.sharedFrame, within, frame.rawSize)
          else this.locations.set(k, '', offset + within, size, size, Codec.raw)
        }
        parts.push(bytes)
        offset += bytes.length
      }
      const bytes = Buffer.concat(parts, offset)
      rawFrames.forEach(buffer => this.recycle(buffer))
      const name = sha256Hex(bytes)
      for (const frame of frames) for (const { k } of frame.blobs) this.locations.setObject(k, name)
      return { name, bytes }
    })
  }
}

function progressReporter(sizes: Float64Array, stats: SnapshotStats, report?: (progress: TransferProgress) => void) {
  const bytesTotal = sizes.reduce((sum, size) => sum + size, 0)
  let bytesDone = 0
  let last = Date.now()
  const emit = (force: boolean): void => {
    if (!report || (!force && Date.now() - last < 1000)) return
    last = Date.now()
    report({ bytesDone, bytesTotal, bytesTransferred: stats.bytesUploaded })
  }
  return {
    scanned(bytes: number) {
      bytesDone += bytes
      emit(false)
    },
    tick: () => emit(false),
    done: () => emit(true)
  }
}
