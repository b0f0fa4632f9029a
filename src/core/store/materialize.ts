import {
  closeSync,
  constants,
  fchmodSync,
  fstatSync,
  ftruncateSync,
  futimesSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readSync,
  rmdirSync,
  rmSync,
  statSync,
  symlinkSync,
  unlinkSync,
  type BigIntStats,
  type Stats
} from 'node:fs'
import * as path from 'node:path'
import { IntegrityError, isNamedError } from '../errors.js'
import { TaskPool } from '../task-pool.js'
import { BlobWriters } from './blob-writers.js'
import { sha256Hex } from './codec.js'
import { futimesSeconds } from './file-times.js'
import { openReplacing } from './open-replacing.js'
import { clockNs, contentKey, StatIndex, StatIndexBuilder } from './stat-index.js'
import { isWindows, joinManifestPath, O_NOFOLLOW, O_NONBLOCK } from './platform.js'
import { BLOB_MISMATCH, BLOB_UNDECODABLE, WriteJobBuilder, type WriteJob } from './write-job.js'
import { objectKey } from '../cache/cache-layout.js'
import { digestAt, EntryCode, type ManifestColumns } from '../manifest/columns.js'
import { Codec } from '../manifest/model.js'
import { validateColumns } from '../manifest/validate.js'
import type { ObjectStore } from './object-store.js'
import type { TransferProgress } from './snapshot.js'

export interface MaterializeOptions {
  store: ObjectStore
  manifest: ManifestColumns
  /** Absolute destination of each manifest root, by index; no two may overlap. */
  destinations: string[]
  /**
   * Per root, a directory at or above its destination that the restore takes as it is (the
   * workspace, say). Between it and the destination every existing directory must be a real one,
   * not a symlink, and missing ones are created. A root that is its base is used as it stands (made
   * if absent, its mode left) and must be a directory entry. Without it, the destination's parent
   * is created as needed.
   */
  bases?: string[]
  onProgress?: (progress: TransferProgress) => void
  /**
   * Make each root an exact mirror of its tree: whatever the tree's directories hold besides their
   * entries is removed. By default what is there is left, except where the tree puts something.
   */
  exactMirror?: boolean
  /** Restore setuid, setgid and sticky bits as saved; by default files lose all three, directories the first two. */
  keepSpecialModes?: boolean
  /** Writer threads that the caller keeps (from restoreWriters()); by default its own, closed at the end. */
  writers?: BlobWriters
  downloads?: number
  bytesInFlight?: number
  /**
   * The folder of the stat indexes (see stat-index.ts): a file recorded there as this restore left it
   * is taken as unchanged without reading it, and the files in place are recorded at the end. None: every
   * file found in place is hashed.
   */
  statIndex?: string
}

export interface MaterializeStats {
  files: number
  treeBytes: number
  /** Files already there as the manifest has them (size, mode, mtime, each blob's sha256): not fetched or written. */
  filesUnchanged: number
  /** Of those, the files the stat index vouched for: not read either. */
  filesTrusted: number
  bytesDownloaded: number
  objectsDownloaded: number
}

/** A byte range of one object that holds one or more needed blobs: `order[from]` to `order[to - 1]`. */
interface FetchRun {
  object: string
  start: number
  end: number
  from: number
  to: number
  /** Raw bytes of its distinct frames and blobs: what it holds longest. */
  rawSize: number
}

const MERGE_GAP = 1024 * 1024
/** Blobs per ranged read, at most (but a shared frame is never split): bounds a writer job's memory. */
const MAX_RUN_BLOBS = 4096
// O_EXCL: whatever is in the way (a symlink, a hard link to a file elsewhere, a FIFO) is replaced
// by a new file, never opened. O_NOFOLLOW keeps that so where O_EXCL alone would not.
const WRITE_FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | O_NOFOLLOW | O_NONBLOCK
/**
 * Opens what the restore made, to set its mode and mtime, without following a link put in its place. Windows
 * sets them only through a handle opened for writing, and cannot open a folder (folders get no mode there).
 */
const ATTRIBUTE_FLAGS = isWindows ? constants.O_RDWR : constants.O_RDONLY | O_NOFOLLOW | O_NONBLOCK

/** Writer threads for several restores in turn; the caller closes them. */
export function restoreWriters(): BlobWriters {
  return new BlobWriters(WRITE_FLAGS)
}

/**
 * Writes a manifest's tree to disk. Every blob is checked against its sha256 before it is written.
 * The manifest is validated as a whole before anything is written, so that nothing outside the
 * destinations is created, removed or changed, whatever the manifest says and whatever is already
 * there:
 * - directories come first, then files, each opened without following a link and replacing
 *   whatever is in the way; a symlink on the way to one is refused, not followed;
 * - symlinks come last, and nothing after them follows one: each later step first checks that the
 *   directory it works in is the one checked before any link existed (a link could stand for a
 *   directory under another spelling on a case-insensitive file system);
 * - a directory is removed recursively only where a symlink goes, inside its checked parent.
 * On any failure, what this call created is removed again. Works on the manifest's columns: the
 * plan is typed arrays, not an object per file.
 */
export async function materializeTree(options: MaterializeOptions): Promise<MaterializeStats> {
  const { manifest: columns, store, destinations } = options
  validateColumns(columns)
  const { paths, types, modes, rootIndexes, sizes, mtimes, blobCounts, refs, blobSizes } = columns
  if (destinations.length !== columns.roots.length) throw new Error('one destination per manifest root is required')
  assertSeparate(destinations)
  for (let i = 0; i < paths.length; i++) {
    const r = rootIndexes[i]
    if (paths.isRoot(i) && types[i] !== EntryCode.dir && options.bases?.[r] === destinations[r]) {
      const rule = `is ${destinations[r]} itself and must be a directory`
      throw new IntegrityError(`manifest root ${JSON.stringify(columns.roots[r])} ${rule}; refusing to restore`)
    }
  }
  const stats: MaterializeStats = {
    files: 0,
    treeBytes: 0,
    filesUnchanged: 0,
    filesTrusted: 0,
    bytesDownloaded: 0,
    objectsDownloaded: 0
  }
  /** The mode each entry gets: setuid and setgid dropped (and sticky, from a file) unless kept. */
  const modeOf = (i: number): number =>
    options.keepSpecialModes ? modes[i] : modes[i] & (types[i] === EntryCode.dir ? ~0o6000 : ~0o7000)
  const n = paths.length
  /** Entries whose file or link this call created (or replaced). */
  const created = new Uint8Array(n)
  const createdDirs: string[] = []
  /** The same as a set: a file in one of them has nothing in its way. */
  const newDirs = new Set<string>()
  const madeDirectory = (dir: string): void => {
    createdDirs.push(dir)
    newDirs.add(dir)
  }
  const inTheWay = (file: string): boolean => !newDirs.has(path.dirname(file))
  const checkedDirs = new Set<string>()
  const pool = new TaskPool(options.downloads ?? 8, options.bytesInFlight ?? 64 * 1024 * 1024)
  const writers = options.writers ?? new BlobWriters(WRITE_FLAGS)

  // Manifest paths are checked safe (no '..', '.' or empty segments), so joining is concatenation.
  const destinationOf = (i: number): string => joinManifestPath(destinations[rootIndexes[i]], paths.at(i))

  /** Makes sure the directories above root `r`'s destination are there; below its base, real ones. */
  const rootsReady = new Uint8Array(destinations.length)
  const prepareRoot = (r: number): void => {
    if (rootsReady[r]) return
    rootsReady[r] = 1
    const destination = destinations[r]
    const base = options.bases?.[r]
    if (base === undefined) {
      mkdirSync(path.dirname(destination), { recursive: true })
      return
    }
    // The base is used as it stands (a root that is its base, the workspace itself, is never
    // replaced); one that is absent is made.
    const baseStats = statSync(base, { throwIfNoEntry: false })
    if (baseStats && !baseStats.isDirectory()) throw new IntegrityError(`cannot restore into ${base}: not a directory`)
    if (!baseStats) {
      mkdirSync(path.dirname(base), { recursive: true })
      mkdirSync(base)
      madeDirectory(base)
    }
    if (base === destination) {
      checkedDirs.add(destination)
      return
    }
    const relative = path.relative(base, destination)
    if (relative === '' || relative.startsWith('..') || path.isAbsolute(relative)) {
      throw new Error(`${destination} is not below ${base}`)
    }
    let current = base
    for (const part of relative.split(path.sep).slice(0, -1)) {
      current = path.join(current, part)
      const stats = lstatOrUndefined(current)
      if (stats?.isSymbolicLink()) {
        throw new IntegrityError(`restoring ${destination} would pass through the symlink ${current}; refused`)
      }
      if (stats && !stats.isDirectory()) {
        throw new IntegrityError(`restoring ${destination} needs ${current} to be a directory`)
      }
      if (!stats) {
        mkdirSync(current)
        madeDirectory(current)
      }
    }
  }

  /**
   * Makes sure every directory between the root and entry `i` is a real directory, creating missing
   * ones. What it checked is remembered until the first symlink is made.
   */
  const ensureParents = (i: number): void => {
    const root = destinations[rootIndexes[i]]
    prepareRoot(rootIndexes[i])
    if (paths.isRoot(i)) return
    const destination = destinationOf(i)
    if (checkedDirs.has(destination.slice(0, destination.lastIndexOf(path.sep)))) return
    const relative = paths.at(i)
    const parts = relative.split('/').slice(0, -1)
    let current = root
    for (let part = -1; part < parts.length; part++) {
      current = part < 0 ? root : path.join(current, parts[part])
      if (checkedDirs.has(current)) continue
      const stats = lstatOrUndefined(current)
      if (stats?.isSymbolicLink())
        throw new IntegrityError(`restoring ${relative} would write through the symlink ${current}; refused`)
      if (stats && !stats.isDirectory())
        throw new IntegrityError(`restoring ${relative} needs ${current} to be a directory`)
      if (!stats) {
        mkdirSync(current)
        madeDirectory(current)
      }
      checkedDirs.add(current)
    }
  }

  try {
    // Directories get their modes last (a read-only one would refuse its files), except those
    // created with exactly their mode already.
    const umask = process.umask()
    const dirsToChmod: number[] = []
    for (let i = 0; i < n; i++) {
      if (types[i] !== EntryCode.dir) continue
      ensureParents(i)
      const destination = destinationOf(i)
      if (checkedDirs.has(destination)) continue
      const mode = modeOf(i)
      const exact = (mode & ~0o777) === 0 && (mode & 0o700) === 0o700 && (mode & umask) === 0
      const made = makeDirectory(destination, exact ? mode : 0o777)
      if (made) madeDirectory(destination)
      // Windows has no folder modes (its read-only flag means nothing on a folder).
      if ((!made || !exact) && !isWindows) dirsToChmod.push(i)
      checkedDirs.add(destination)
    }
    if (options.exactMirror) removeUntracked(columns, destinationOf, newDirs)

    // Each blob's targets as a list through the references: `firstTarget[k]` is the last reference
    // to digest k, `nextTarget[j]` the one before reference j (-1: none).
    const firstTarget = new Int32Array(blobSizes.length).fill(-1)
    const nextTarget = new Int32Array(refs.length)
    const targetEntry = new Uint32Array(refs.length)
    const targetPosition = new Float64Array(refs.length)
    let ref = 0
    let bytesUnchanged = 0
    let index = options.statIndex === undefined ? undefined : StatIndex.read(options.statIndex, destinations)
    const inPlace = options.statIndex === undefined ? undefined : new StatIndexBuilder(paths, fileCount(columns))
    /** The content key of file entry `i`, whose blobs are referenced from `ref` on. */
    const keyOf = (i: number, ref: number): string => {
      let digests = ''
      for (let end = ref + blobCounts[i]; ref < end; ref++) digests += digestAt(columns, refs[ref])
      return contentKey(digests)
    }
    let stamp = clockNs()
    for (let i = 0; i < n; i++) {
      if (types[i] !== EntryCode.file) continue
      ensureParents(i)
      stats.files++
      stats.treeBytes += sizes[i]
      const file = destinationOf(i)
      const found = inTheWay(file) ? inPlaceAsSaved(columns, i, file, modeOf(i)) : undefined
      if (found) {
        const key = inPlace ? keyOf(i, ref) : ''
        const trusted = index?.trusts(rootIndexes[i], paths, i, found, key) === true
        if (trusted || isUnchanged(columns, i, ref, file)) {
          stats.filesUnchanged++
          if (trusted) stats.filesTrusted++
          inPlace?.add(rootIndexes[i], i, found, key, stamp)
          bytesUnchanged += sizes[i]
          ref += blobCounts[i]
          continue
        }
      }
      if (blobCounts[i] !== 1) {
        // Empty files and chunked files are created at their full size now; chunks land later.
        createAtSize(file, sizes[i], inTheWay(file))
        created[i] = 1
      }
      let position = 0
      for (const end = ref + blobCounts[i]; ref < end; ref++) {
        const k = refs[ref]
        targetEntry[ref] = i
        targetPosition[ref] = position
        nextTarget[ref] = firstTarget[k]
        firstTarget[k] = ref
        position += blobSizes[k]
      }
    }

    // Read once per file, above: let go of it before the restore holds the new records and fetches.
    index = undefined
    const { order, runs } = planFetches(columns, firstTarget)
    const bytesTotal = stats.treeBytes
    let bytesDone = bytesUnchanged
    let lastReport = Date.now()
    /** A run as a writer job; marks the files it writes whole as created. */
    const jobOf = (run: FetchRun, bytes: Uint8Array): WriteJob => {
      const job = new WriteJobBuilder()
      for (let at = run.from; at < run.to; at++) {
        const k = order[at]
        job.blob(
          digestAt(columns, k),
          columns.offsets[k] - run.start,
          columns.lengths[k],
          blobSizes[k],
          columns.codecs[k],
          columns.withins[k],
          columns.frameSizes[k]
        )
        for (let target = firstTarget[k]; target >= 0; target = nextTarget[target]) {
          const i = targetEntry[target]
          const whole = blobCounts[i] === 1
          if (whole) created[i] = 1
          const file = destinationOf(i)
          job.target(file, targetPosition[target], whole, modeOf(i), mtimes[i], whole && inTheWay(file))
        }
      }
      return job.build(bytes)
    }
    for (const run of runs) {
      await pool.submit(Math.max(run.end - run.start, run.rawSize), async () => {
        // Blobs of no stored bytes (raw and empty) need no read; a range cannot be empty.
        const range = { start: run.start, end: run.end - 1 }
        const bytes = run.end > run.start ? await store.get(objectKey(run.object), range) : new Uint8Array(0)
        if (!bytes) throw new IntegrityError(`object ${run.object.slice(0, 12)} is missing from the store`)
        if (bytes.length !== run.end - run.start) {
          const how = bytes.length > run.end - run.start ? 'longer' : 'shorter'
          const counts = `${bytes.length} bytes at ${run.start}, not ${run.end - run.start}`
          throw new IntegrityError(`object ${run.object.slice(0, 12)} is ${how} than the manifest says (${counts})`)
        }
        stats.bytesDownloaded += bytes.length
        stats.objectsDownloaded++
        try {
          // Awaited first: `bytesDone += await …` adds to the value read before the wait, losing other runs' bytes.
          const written = await writers.write(jobOf(run, bytes))
          bytesDone += written
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
    // Every blob is written: threads of this call's own end now, before the last passes over the files.
    if (!options.writers) await writers.close()
    options.onProgress?.({ bytesDone, bytesTotal, bytesTransferred: stats.bytesDownloaded })

    for (let i = 0; i < n; i++) {
      if (types[i] !== EntryCode.file || blobCounts[i] === 1 || !created[i]) continue
      setAttributes(destinationOf(i), modeOf(i), mtimes[i])
    }
    if (inPlace) {
      // After the last mode and mtime were set: the ctime recorded is the one the file keeps.
      stamp = clockNs()
      for (let i = 0, ref = 0; i < n; i++) {
        if (types[i] !== EntryCode.file) continue
        const found = created[i] ? inPlaceAsSaved(columns, i, destinationOf(i), modeOf(i)) : undefined
        if (found) inPlace.add(rootIndexes[i], i, found, keyOf(i, ref), stamp)
        ref += blobCounts[i]
      }
    }

    // Before the first link: the directories that links go into and that get their modes, as
    // checked (device and inode), for every step after it to compare with.
    const identities = new Map<string, string>()
    const identify = (dir: string): void => {
      if (!identities.has(dir)) identities.set(dir, identityOf(lstatSync(dir)))
    }
    const symlinks: number[] = []
    for (let i = 0; i < n; i++) {
      if (types[i] !== EntryCode.symlink) continue
      ensureParents(i)
      identify(path.dirname(destinationOf(i)))
      symlinks.push(i)
    }
    for (const i of dirsToChmod) identify(destinationOf(i))
    checkedDirs.clear()

    for (const [link, i] of symlinks.entries()) {
      const destination = destinationOf(i)
      const parent = path.dirname(destination)
      if (identityOf(lstatSync(parent)) !== identities.get(parent)) throw movedDirectory(parent)
      const existing = lstatOrUndefined(destination)
      if (existing?.isDirectory()) rmSync(destination, { recursive: true })
      else if (existing) unlinkSync(destination)
      makeSymlink(columns.targets[link], destination)
      created[i] = 1
    }
    for (const i of dirsToChmod.reverse()) {
      const dir = destinationOf(i)
      setAttributes(dir, modeOf(i), NaN, identities.get(dir))
    }
    if (inPlace && options.statIndex !== undefined) await inPlace.write(options.statIndex, destinations)
    return stats
  } catch (error) {
    // Writes still in flight finish first, so nothing lands after the clean-up.
    await pool.drain().catch(() => {})
    // Links first, so that no path below is read through one of them.
    for (let i = 0; i < n; i++) if (created[i] && types[i] === EntryCode.symlink) rmQuietly(destinationOf(i))
    for (let i = 0; i < n; i++) if (created[i] && types[i] !== EntryCode.symlink) rmQuietly(destinationOf(i))
    for (const dir of createdDirs.reverse()) rmdirQuietly(dir)
    throw error
  } finally {
    if (!options.writers) await writers.close()
  }
}

/**
 * The lstat of `file` when it is a regular file with one link, of entry `i`'s size, `mode` and
 * mtime (the cheap check), else undefined.
 */
function inPlaceAsSaved(columns: ManifestColumns, i: number, file: string, mode: number): BigIntStats | undefined {
  const stats = lstatSync(file, { bigint: true, throwIfNoEntry: false })
  if (!stats?.isFile() || stats.nlink !== 1n || stats.size !== BigInt(columns.sizes[i])) return undefined
  if ((Number(stats.mode) & 0o7777) !== mode || floorMs(stats.mtimeNs) !== columns.mtimes[i]) return undefined
  return stats
}

/** Nanoseconds as whole milliseconds, rounded down (as Math.floor of a Stats' mtimeMs). */
function floorMs(ns: bigint): number {
  const ms = ns / 1_000_000n
  return Number(ns < 0n && ms * 1_000_000n !== ns ? ms - 1n : ms)
}

/**
 * Whether file entry `i` (its blobs from reference `ref` on), found at `file` by the cheap check,
 * has every blob's sha256. Such a file is neither fetched nor written.
 */
function isUnchanged(columns: ManifestColumns, i: number, ref: number, file: string): boolean {
  let fd: number
  try {
    fd = openSync(file, ATTRIBUTE_FLAGS)
  } catch {
    return false
  }
  try {
    let position = 0
    for (const end = ref + columns.blobCounts[i]; ref < end; ref++) {
      const k = columns.refs[ref]
      const blob = Buffer.allocUnsafe(columns.blobSizes[k])
      for (let read = 0, got = -1; read < blob.length; read += got) {
        got = readSync(fd, blob, read, blob.length - read, position + read)
        if (got === 0) return false
      }
      if (sha256Hex(blob) !== digestAt(columns, k)) return false
      position += blob.length
    }
    return true
  } finally {
    closeSync(fd)
  }
}

/**
 * Removes what the tree's directories hold besides their entries and the folders above them. Only
 * directories of the tree are listed, each made or checked to be a real one on the way from its
 * root, and removal never follows a link; directories the restore made hold nothing yet.
 */
function removeUntracked(columns: ManifestColumns, destinationOf: (i: number) => string, made: Set<string>): void {
  const { paths, types, rootIndexes } = columns
  const tracked = columns.roots.map(() => new Set<string>())
  // With the folders above each entry: a manifest need not list them, and the restore made them.
  for (let i = 0; i < paths.length; i++) {
    const relative = paths.at(i)
    for (let end = relative.indexOf('/'); end >= 0; end = relative.indexOf('/', end + 1)) {
      tracked[rootIndexes[i]].add(relative.slice(0, end))
    }
    tracked[rootIndexes[i]].add(relative)
  }
  for (let i = 0; i < paths.length; i++) {
    if (types[i] !== EntryCode.dir || made.has(destinationOf(i))) continue
    const dir = destinationOf(i)
    const relative = paths.at(i)
    for (const name of readdirSync(dir)) {
      if (!tracked[rootIndexes[i]].has(relative === '' ? name : `${relative}/${name}`)) {
        rmSync(path.join(dir, name), { recursive: true, force: true })
      }
    }
  }
}

/**
 * The needed blobs (those with a target) sorted by object and offset, and the ranged reads that
 * fetch them: blobs of one object less than MERGE_GAP apart share a read.
 */
function planFetches(columns: ManifestColumns, firstTarget: Int32Array): { order: Uint32Array; runs: FetchRun[] } {
  const { objects, objectIndexes, offsets, lengths, codecs, blobSizes, frameSizes } = columns
  let count = 0
  for (let k = 0; k < firstTarget.length; k++) if (firstTarget[k] >= 0) count++
  const order = new Uint32Array(count)
  for (let k = 0, at = 0; k < firstTarget.length; k++) if (firstTarget[k] >= 0) order[at++] = k
  order.sort((a, b) => objectIndexes[a] - objectIndexes[b] || offsets[a] - offsets[b])
  const runs: FetchRun[] = []
  let run: FetchRun | undefined
  let lastOffset = -1
  for (let at = 0; at < order.length; at++) {
    const k = order[at]
    const object = objects[objectIndexes[k]]
    const offset = offsets[k]
    // A run ends before a gap, and at a frame's start once it has MAX_RUN_BLOBS: a writer's job stays small.
    if (
      run &&
      run.object === object &&
      offset - run.end <= MERGE_GAP &&
      (offset === lastOffset || run.to - run.from < MAX_RUN_BLOBS)
    ) {
      run.end = Math.max(run.end, offset + lengths[k])
      run.to = at + 1
    } else {
      run = { object, start: offset, end: offset + lengths[k], from: at, to: at + 1, rawSize: 0 }
      runs.push(run)
      lastOffset = -1
    }
    // A shared frame's blobs have its offset; it is decoded once.
    if (offset !== lastOffset) run.rawSize += codecs[k] === Codec.sharedFrame ? frameSizes[k] : blobSizes[k]
    lastOffset = offset
  }
  return { order, runs }
}

/** A writer thread's failure as the restore reports it. */
function writeFailure(error: unknown, object: string): unknown {
  if (!isNamedError(error, 'ThreadJobError')) return error
  if (error.code === BLOB_UNDECODABLE)
    return new IntegrityError(`a blob in object ${object.slice(0, 12)} does not decode`)
  if (error.code === BLOB_MISMATCH)
    return new IntegrityError(`a blob in object ${object.slice(0, 12)} does not match its sha256`)
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

/**
 * Refuses destinations that are the same or one inside another: one root's links could lead
 * another's writes. Each pair is compared (a tree has few roots; sorted text would not put a
 * folder beside what it holds: `a-b` sorts between `a` and `a/c`).
 */
function assertSeparate(destinations: string[]): void {
  const resolved = destinations.map(destination => path.resolve(destination))
  for (const [at, outer] of resolved.entries()) {
    const prefix = outer.endsWith(path.sep) ? outer : outer + path.sep
    const inner = resolved.find((other, index) => index !== at && (other === outer || other.startsWith(prefix)))
    if (inner !== undefined) throw new IntegrityError(`manifest roots overlap at ${inner}; refusing to restore`)
  }
}

/** A file's or directory's device and inode: what it is, whatever path reaches it. */
function identityOf(stats: Stats): string {
  return `${stats.dev}:${stats.ino}`
}

function movedDirectory(dir: string): IntegrityError {
  return new IntegrityError(`${dir} is no longer the directory the restore checked (a symlink in its place?); refused`)
}

/**
 * Sets the mode, and the mtime unless NaN, of something this restore made, through a handle that
 * does not follow a link; with `identity`, only if it is still that directory.
 */
function setAttributes(target: string, mode: number, mtime: number, identity?: string): void {
  const fd = openSync(target, ATTRIBUTE_FLAGS)
  try {
    if (identity !== undefined && identityOf(fstatSync(fd)) !== identity) throw movedDirectory(target)
    fchmodSync(fd, mode)
    if (!Number.isNaN(mtime)) futimesSync(fd, futimesSeconds(mtime), futimesSeconds(mtime))
  } finally {
    closeSync(fd)
  }
}

/** Windows lets only administrators, and users in Developer Mode, create symlinks: that failure says so. */
function makeSymlink(target: string, link: string): void {
  try {
    symlinkSync(target, link)
  } catch (error) {
    if (!isWindows || (error as NodeJS.ErrnoException).code !== 'EPERM') throw error
    const reason = 'Windows allows symlinks only to administrators or in Developer Mode'
    throw new Error(`cannot create the symlink ${link}: ${reason}`, { cause: error })
  }
}

/** Opens a file for writing in place of whatever non-directory is there; a directory in the way is an error. */
function openForWriting(file: string, mode: number, inTheWay: boolean): number {
  try {
    return openReplacing({ openSync, unlinkSync, lstatSync }, file, WRITE_FLAGS, mode, inTheWay)
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
function createAtSize(file: string, size: number, inTheWay: boolean): void {
  const fd = openForWriting(file, 0o600, inTheWay)
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

/** How many file entries the columns hold. */
function fileCount({ types }: ManifestColumns): number {
  let files = 0
  for (const type of types) if (type === EntryCode.file) files++
  return files
}
