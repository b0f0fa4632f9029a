import { chmodSync, closeSync, constants, ftruncateSync, lstatSync, mkdirSync, openSync, rmdirSync, rmSync, symlinkSync, unlinkSync, utimesSync } from 'node:fs'
import * as path from 'node:path'
import { IntegrityError } from '../errors.js'
import { TaskPool } from '../task-pool.js'
import { ThreadJobError } from '../thread-jobs.js'
import { BLOB_MISMATCH, BLOB_UNDECODABLE, BlobWriters, openReplacing, type BlobTarget, type RangeBlob } from './blob-writers.js'
import { Codec, objectKey, validateManifest, type Manifest, type ManifestEntry } from './manifest.js'
import type { ObjectStore } from './object-store.js'
import type { TransferProgress } from './snapshot.js'

export interface MaterializeOptions {
  store: ObjectStore
  manifest: Manifest
  /** Absolute destination of each manifest root, by index. */
  destinations: string[]
  onProgress?: (progress: TransferProgress) => void
  downloads?: number
  bytesInFlight?: number
}

export interface MaterializeStats {
  files: number
  treeBytes: number
  bytesDownloaded: number
  objectsDownloaded: number
}

/** A byte range of one object that holds one or more needed blobs. */
interface FetchRun {
  object: string
  start: number
  end: number
  blobs: RangeBlob[]
}

const MERGE_GAP = 1024 * 1024
// O_NONBLOCK: a FIFO in the way fails (ENXIO) instead of blocking; it has no effect on regular files.
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_NONBLOCK

/**
 * Writes a manifest's tree to disk. Every blob is checked against its sha256 before it is written;
 * paths that would leave their root or pass through a symlink are refused before anything is
 * written. On any failure, the files this call created are removed again.
 */
export async function materializeTree(options: MaterializeOptions): Promise<MaterializeStats> {
  const { manifest, store, destinations } = options
  validateManifest(manifest)
  if (destinations.length !== manifest.roots.length) throw new Error('one destination per manifest root is required')
  const stats: MaterializeStats = { files: 0, treeBytes: 0, bytesDownloaded: 0, objectsDownloaded: 0 }
  const created = new Set<string>()
  const createdDirs: string[] = []
  const checkedDirs = new Set<string>()
  const pool = new TaskPool(options.downloads ?? 8, options.bytesInFlight ?? 64 * 1024 * 1024)
  const writers = new BlobWriters(WRITE_FLAGS)

  // Manifest paths are checked safe (no '..', '.' or empty segments), so joining is concatenation.
  const destinationOf = (entry: ManifestEntry): string => {
    const root = destinations[entry.root]
    if (entry.path === '') return root
    const relative = path.sep === '/' ? entry.path : entry.path.split('/').join(path.sep)
    return root.endsWith(path.sep) ? root + relative : root + path.sep + relative
  }

  /** Makes sure every directory between the root and `target` is a real directory, creating missing ones. */
  const ensureParents = (entry: ManifestEntry): void => {
    const root = destinations[entry.root]
    if (entry.path === '') {
      mkdirSync(path.dirname(root), { recursive: true })
      return
    }
    const destination = destinationOf(entry)
    if (checkedDirs.has(destination.slice(0, destination.lastIndexOf(path.sep)))) return
    const parts = entry.path.split('/').slice(0, -1)
    let current = root
    for (let i = -1; i < parts.length; i++) {
      current = i < 0 ? root : path.join(current, parts[i])
      if (checkedDirs.has(current)) continue
      const stats = lstatOrUndefined(current)
      if (stats?.isSymbolicLink()) throw new IntegrityError(`restoring ${entry.path} would write through the symlink ${current}; refused`)
      if (stats && !stats.isDirectory()) throw new IntegrityError(`restoring ${entry.path} needs ${current} to be a directory`)
      if (!stats) {
        mkdirSync(current, { recursive: i < 0 })
        createdDirs.push(current)
      }
      checkedDirs.add(current)
    }
  }

  try {
    const targets = new Map<string, BlobTarget[]>()
    const fileEntries = manifest.entries.filter(entry => entry.type === 'file')
    // Directories get their modes last (a read-only one would refuse its files), except those
    // created with exactly their mode already.
    const umask = process.umask()
    const dirsToChmod: ManifestEntry[] = []
    for (const entry of manifest.entries) {
      if (entry.type !== 'dir') continue
      ensureParents(entry)
      const destination = destinationOf(entry)
      if (checkedDirs.has(destination)) continue
      const exact = (entry.mode & ~0o777) === 0 && (entry.mode & 0o700) === 0o700 && (entry.mode & umask) === 0
      const created = makeDirectory(destination, exact ? entry.mode : 0o777)
      if (created) createdDirs.push(destination)
      if (!created || !exact) dirsToChmod.push(entry)
      checkedDirs.add(destination)
    }
    for (const entry of fileEntries) {
      ensureParents(entry)
      const file = destinationOf(entry)
      stats.files++
      stats.treeBytes += entry.size!
      const blobs = entry.blobs ?? []
      if (blobs.length !== 1) {
        // Empty files and chunked files are created at their full size now; chunks land later.
        createAtSize(file, entry.size!)
        created.add(file)
      }
      let position = 0
      for (const digest of blobs) {
        const list = targets.get(digest) ?? []
        list.push({ file, position, whole: blobs.length === 1, mode: entry.mode, mtime: entry.mtime })
        targets.set(digest, list)
        position += manifest.blobs[digest][3]
      }
    }

    const runs = planFetches(manifest, targets)
    const bytesTotal = stats.treeBytes
    let bytesDone = 0
    let lastReport = Date.now()
    for (const run of runs) {
      // Counted by raw size: a run's decoded frames are what it holds longest.
      await pool.submit(Math.max(run.end - run.start, runRawSize(run)), async () => {
        const bytes = await store.get(objectKey(run.object), { start: run.start, end: run.end - 1 })
        if (!bytes) throw new IntegrityError(`object ${run.object.slice(0, 12)} is missing from the store`)
        if (bytes.length !== run.end - run.start) throw new IntegrityError(`object ${run.object.slice(0, 12)} is shorter than the manifest says`)
        stats.bytesDownloaded += bytes.length
        stats.objectsDownloaded++
        for (const blob of run.blobs) for (const target of blob.targets) if (target.whole) created.add(target.file)
        try {
          bytesDone += await writers.write({ bytes, blobs: run.blobs })
        } catch (error) {
          throw writeFailure(error, run.object)
        }
        if (options.onProgress && Date.now() - lastReport >= 1000) {
          lastReport = Date.now()
          options.onProgress({ bytesDone, bytesTotal, bytesTransferred: stats.bytesDownloaded })
        }
      })
    }
    await pool.drain()
    options.onProgress?.({ bytesDone, bytesTotal, bytesTransferred: stats.bytesDownloaded })

    for (const entry of fileEntries) {
      if ((entry.blobs ?? []).length === 1) continue
      chmodSync(destinationOf(entry), entry.mode)
      if (entry.mtime !== undefined) utimesSync(destinationOf(entry), entry.mtime / 1000, entry.mtime / 1000)
    }
    for (const entry of manifest.entries) {
      if (entry.type !== 'symlink') continue
      ensureParents(entry)
      const link = destinationOf(entry)
      const existing = lstatOrUndefined(link)
      if (existing?.isDirectory()) rmSync(link, { recursive: true })
      else if (existing) unlinkSync(link)
      symlinkSync(entry.target!, link)
      created.add(link)
    }
    for (const entry of dirsToChmod.reverse()) chmodSync(destinationOf(entry), entry.mode)
    return stats
  } catch (error) {
    // Writes still in flight finish first, so nothing lands after the clean-up.
    await pool.drain().catch(() => {})
    for (const file of created) rmQuietly(file)
    for (const dir of createdDirs.reverse()) rmdirQuietly(dir)
    throw error
  } finally {
    await writers.close()
  }
}

/** Groups the needed blobs by object and merges nearby ones into ranged reads. */
function planFetches(manifest: Manifest, targets: Map<string, BlobTarget[]>): FetchRun[] {
  const byObject = new Map<string, RangeBlob[]>()
  for (const [digest, blobTargets] of targets) {
    const location = manifest.blobs[digest]
    const [object, offset, length, size, codec] = location
    const [within, frameSize] = location[4] === Codec.sharedFrame ? [location[5], location[6]] : [0, size]
    const list = byObject.get(object) ?? []
    list.push({ digest, offset, length, size, codec, within, frameSize, targets: blobTargets })
    byObject.set(object, list)
  }
  const runs: FetchRun[] = []
  for (const [object, blobs] of byObject) {
    blobs.sort((a, b) => a.offset - b.offset)
    let run: FetchRun | undefined
    for (const blob of blobs) {
      if (run && blob.offset - run.end <= MERGE_GAP) {
        run.end = Math.max(run.end, blob.offset + blob.length)
        run.blobs.push(blob)
      } else {
        run = { object, start: blob.offset, end: blob.offset + blob.length, blobs: [blob] }
        runs.push(run)
      }
    }
  }
  // From here on a blob's offset is its place in the fetched range.
  for (const run of runs) for (const blob of run.blobs) blob.offset -= run.start
  return runs
}

function runRawSize(run: FetchRun): number {
  const frames = new Map<number, number>()
  for (const blob of run.blobs) frames.set(blob.offset, blob.codec === Codec.sharedFrame ? blob.frameSize : blob.size)
  let total = 0
  for (const size of frames.values()) total += size
  return total
}

/** A writer thread's failure as the restore reports it. */
function writeFailure(error: unknown, object: string): unknown {
  if (!(error instanceof ThreadJobError)) return error
  if (error.code === BLOB_UNDECODABLE) return new IntegrityError(`a blob in object ${object.slice(0, 12)} does not decode`)
  if (error.code === BLOB_MISMATCH) return new IntegrityError(`a blob in object ${object.slice(0, 12)} does not match its sha256`)
  if (error.code === 'EISDIR') return directoryInTheWay(error.file ?? '')
  return error
}

/** Creates a directory, replacing a non-directory in the way; false when a directory is already there. */
function makeDirectory(destination: string, mode: number): boolean {
  try {
    mkdirSync(destination, mode)
    return true
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
  }
  if (lstatSync(destination).isDirectory()) return false
  unlinkSync(destination)
  mkdirSync(destination, mode)
  return true
}

function lstatOrUndefined(target: string) {
  return lstatSync(target, { throwIfNoEntry: false })
}

/** Opens a file for writing in place of whatever non-directory is there; a directory in the way is an error. */
function openForWriting(file: string, mode: number): number {
  try {
    return openReplacing({ openSync, unlinkSync }, file, WRITE_FLAGS, mode)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EISDIR') throw directoryInTheWay(file)
    throw error
  }
}

function directoryInTheWay(file: string): IntegrityError {
  return new IntegrityError(`cannot restore the file ${file}: a directory is in the way`)
}

/**
 * Creates a file of `size` bytes for its chunks to land in. It stays writable by its owner until
 * they have: a read-only file is given its mode afterwards, as a user who is not root could not
 * open it for writing again.
 */
function createAtSize(file: string, size: number): void {
  const fd = openForWriting(file, 0o600)
  try {
    if (size > 0) ftruncateSync(fd, size)
  } finally {
    closeSync(fd)
  }
}

function rmQuietly(file: string): void {
  try {
    unlinkSync(file)
  } catch {
    // already gone
  }
}

function rmdirQuietly(dir: string): void {
  try {
    rmdirSync(dir)
  } catch {
    // not empty or already gone
  }
}
