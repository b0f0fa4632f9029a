import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import { TaskPool } from '../task-pool.js'
import { chunkFile, DEFAULT_CHUNK_PARAMS, type ChunkParams } from './chunker.js'
import { encodeBlob, sha256Hex } from './codec.js'
import { encodeManifest, manifestKey, MANIFEST_SCHEMA, objectKey, treeDigest, type BlobLocation, type Manifest, type ManifestEntry } from './manifest.js'
import type { ObjectStore } from './object-store.js'
import { walkRoots, type TreeRoot } from './tree-walk.js'

export interface SnapshotOptions {
  store: ObjectStore
  roots: TreeRoot[]
  /** Manifests whose blobs may be referenced instead of uploaded again. */
  bases?: Manifest[]
  onProgress?: (progress: TransferProgress) => void
  tuning?: Partial<SnapshotTuning>
}

export interface SnapshotTuning {
  /** Files smaller than this are packed; larger ones are split by CDC into objects of their own. */
  smallFileLimit: number
  packSize: number
  chunk: ChunkParams
  uploads: number
  bytesInFlight: number
}

const DEFAULT_TUNING: SnapshotTuning = {
  smallFileLimit: 512 * 1024,
  packSize: 16 * 1024 * 1024,
  chunk: DEFAULT_CHUNK_PARAMS,
  uploads: 8,
  bytesInFlight: 96 * 1024 * 1024
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
  manifest: Manifest
  stats: SnapshotStats
  /** Objects this save did not write: named by a base manifest, or found already stored. A concurrent prune may have collected them. */
  reusedObjects: Set<string>
}

/**
 * Stores a tree: walks it, hashes every file as it is read, reuses blobs the bases or the store
 * already hold, packs small files, chunks large ones, uploads what is missing in parallel, and
 * writes the manifest last. Nothing names the tree until the manifest is written.
 */
export async function snapshotTree(options: SnapshotOptions): Promise<Snapshot> {
  const tuning = { ...DEFAULT_TUNING, ...options.tuning }
  const { store } = options
  const entries = await walkRoots(options.roots)
  const known = new Map<string, BlobLocation>()
  for (const base of options.bases ?? []) for (const [digest, location] of Object.entries(base.blobs)) known.set(digest, location)

  // Files a base recorded with the same root, path, size and mtime are taken as unchanged, unread.
  const unchanged = new Map<string, ManifestEntry>()
  for (const base of options.bases ?? []) {
    for (const entry of base.entries) if (entry.type === 'file' && entry.mtime !== undefined) unchanged.set(`${base.roots[entry.root]}\0${entry.path}`, entry)
  }
  const used = new Map<string, BlobLocation>()
  const reusedObjects = new Set<string>()
  const stats: SnapshotStats = { files: 0, filesUnchanged: 0, treeBytes: 0, bytesUploaded: 0, objectsUploaded: 0, bytesDeduplicated: 0 }
  const uploads = new TaskPool(tuning.uploads, tuning.bytesInFlight)
  const progress = progressReporter(entries, stats, options.onProgress)

  /** Uploads an object unless the store has it; `location`, when given, is corrected to the stored copy. */
  const uploadObject = async (name: string, bytes: Uint8Array, location?: BlobLocation): Promise<void> => {
    await uploads.submit(bytes.length, async () => {
      const existing = await store.head(objectKey(name))
      if (existing && location) {
        location[2] = existing.size
        location[4] = existing.size < location[3] ? 1 : 0
      }
      if (existing) {
        // Stored before this save, perhaps garbage a prune is about to collect: checked again after the manifest.
        reusedObjects.add(name)
        return
      }
      if ((await store.put(objectKey(name), bytes, { ifNoneMatch: true })) === 'created') {
        stats.bytesUploaded += bytes.length
        stats.objectsUploaded++
        progress.tick()
      }
    })
  }

  const pack = new PackWriter(tuning.packSize, (name, bytes) => uploadObject(name, bytes))
  const reuse = (digest: string, size: number): boolean => {
    const location = used.get(digest) ?? known.get(digest)
    if (!location) return false
    if (!used.has(digest)) reusedObjects.add(location[0])
    used.set(digest, location)
    stats.bytesDeduplicated += size
    return true
  }

  const files = entries.filter(entry => entry.type === 'file')
  for (const entry of files) {
    stats.files++
    stats.treeBytes += entry.size!
    const previous = unchanged.get(`${options.roots[entry.root].spec}\0${entry.path}`)
    if (previous && previous.size === entry.size && previous.mtime === entry.mtime && (previous.blobs ?? []).every(digest => used.has(digest) || known.has(digest))) {
      entry.blobs = previous.blobs
      stats.filesUnchanged++
      for (const digest of entry.blobs ?? []) reuse(digest, (used.get(digest) ?? known.get(digest))![3])
      progress.scanned(entry.size!)
      continue
    }
    if (entry.size! < tuning.smallFileLimit) {
      // A synchronous read is several times cheaper than the promise API for small, cached files.
      const content = readFileSync(entry.source)
      if (content.length !== entry.size) throw new Error(`${entry.source} changed while it was being saved`)
      const digest = sha256Hex(content)
      entry.blobs = [digest]
      if (!reuse(digest, content.length)) used.set(digest, await pack.add(digest, content))
    } else {
      entry.blobs = []
      let size = 0
      for await (const chunk of chunkFile(entry.source, tuning.chunk)) {
        const digest = sha256Hex(chunk)
        entry.blobs.push(digest)
        size += chunk.length
        if (reuse(digest, chunk.length)) continue
        const encoded = await encodeBlob(chunk)
        const location: BlobLocation = [digest, 0, encoded.bytes.length, chunk.length, encoded.zstd ? 1 : 0]
        used.set(digest, location)
        await uploadObject(digest, encoded.bytes, location)
      }
      if (size !== entry.size) throw new Error(`${entry.source} changed while it was being saved`)
    }
    progress.scanned(entry.size!)
  }
  await pack.flush()
  await uploads.drain()
  progress.done()

  const manifest: Manifest = {
    schema: MANIFEST_SCHEMA,
    roots: options.roots.map(root => root.spec),
    entries: entries.map(({ source: _source, ...entry }) => entry as ManifestEntry),
    blobs: Object.fromEntries([...used.entries()].sort(([a], [b]) => (a < b ? -1 : 1)))
  }
  const digest = treeDigest(manifest)
  const encoded = encodeManifest(manifest)
  if ((await store.put(manifestKey(digest), encoded, { ifNoneMatch: true })) === 'created') stats.bytesUploaded += encoded.length
  return { digest, manifest, stats, reusedObjects }
}

/** Packs small blobs into objects of about `packSize` bytes, named by the sha256 of their bytes. */
class PackWriter {
  private parts: Uint8Array[] = []
  private locations = new Map<string, BlobLocation>()
  private size = 0
  private hash = createHash('sha256')

  constructor(
    private readonly packSize: number,
    private readonly upload: (name: string, bytes: Uint8Array) => Promise<void>
  ) {}

  /** Returns the blob's location; the pack's name is filled in when the pack is sealed. */
  async add(digest: string, raw: Uint8Array): Promise<BlobLocation> {
    const encoded = await encodeBlob(raw)
    const location: BlobLocation = ['', this.size, encoded.bytes.length, raw.length, encoded.zstd ? 1 : 0]
    this.parts.push(encoded.bytes)
    this.hash.update(encoded.bytes)
    this.size += encoded.bytes.length
    this.locations.set(digest, location)
    if (this.size >= this.packSize) await this.flush()
    return location
  }

  async flush(): Promise<void> {
    if (this.parts.length === 0) return
    const name = this.hash.digest('hex')
    for (const location of this.locations.values()) location[0] = name
    const bytes = Buffer.concat(this.parts, this.size)
    this.parts = []
    this.locations = new Map()
    this.size = 0
    this.hash = createHash('sha256')
    await this.upload(name, bytes)
  }
}

function progressReporter(entries: ManifestEntry[], stats: SnapshotStats, report?: (progress: TransferProgress) => void) {
  const bytesTotal = entries.reduce((sum, entry) => sum + (entry.size ?? 0), 0)
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
