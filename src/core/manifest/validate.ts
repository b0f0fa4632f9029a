import { IntegrityError, isNamedError } from '../errors.js'
import { unsafeOnWindows } from '../store/platform.js'
import { columnsOf, EntryCode, type ManifestColumns } from './columns.js'
import { Codec, READABLE_SCHEMAS, type Manifest } from './model.js'

/**
 * The whole-manifest check a restore relies on before it writes anything: every manifest read
 * from a store is untrusted until it passes.
 */

/** Permission bits and setuid, setgid and sticky: all a mode may hold (no file-type bits). */
const MAX_MODE = 0o7777

/** An empty, `.` or `..` segment: a path that has one could leave its root (or is not canonical). */
const UNSAFE_SEGMENT = /(?:^|\/)\.{0,2}(?:\/|$)/

/**
 * Refuses paths that could leave their root: absolute, `..`, `.`, empty segments, NUL; on Windows also names
 * it does not allow (a tree saved elsewhere restores there only where its names allow).
 */
export function assertSafeRelativePath(path: string, platform: NodeJS.Platform = process.platform): void {
  if (path === '') return
  if (UNSAFE_SEGMENT.test(path) || path.includes('\0')) {
    throw new IntegrityError(
      `manifest path ${JSON.stringify(path)} is unsafe (absolute, or contains '..'); refusing to restore`
    )
  }
  if (platform === 'win32' && unsafeOnWindows(path)) {
    throw new IntegrityError(
      `manifest path ${JSON.stringify(path)} is not a valid Windows path (it holds \\ : < > " | ? * or a control ` +
        'character); refusing to restore'
    )
  }
}

/** Columns already checked, so decoded ones are not checked again by the restore that writes them. */
const validated = new WeakSet<ManifestColumns>()

/**
 * Checks a manifest as a whole before anything is written: schema; roots; safe, unique paths; no
 * entry at or below a file or symlink of the same root (a root that is one has nothing below it);
 * modes; every blob located and sizes consistent.
 */
export function validateManifest(manifest: Manifest): void {
  let columns: ManifestColumns
  try {
    columns = columnsOf(manifest)
  } catch (error) {
    throw isNamedError(error, 'IntegrityError')
      ? error
      : new IntegrityError(`manifest is malformed: ${(error as Error).message}`)
  }
  validateColumns(columns)
}

/** validateManifest for a manifest's columns. */
export function validateColumns(columns: ManifestColumns): void {
  if (validated.has(columns)) return
  const { schema, roots, paths, types, modes, rootIndexes, refs, blobCounts, blobSizes, sizes, targets } = columns
  if (!READABLE_SCHEMAS.includes(schema))
    throw new IntegrityError(`unknown manifest schema ${JSON.stringify(schema)}; a newer artifact-action wrote it`)
  for (const root of roots) {
    if (root === '' || root.includes('\0')) {
      throw new IntegrityError(`manifest root ${JSON.stringify(root)} is not a path; refusing to restore`)
    }
  }
  const sharedFrames = schema !== READABLE_SCHEMAS[0]
  for (let i = 0; i < paths.length; i++) {
    if (rootIndexes[i] >= roots.length)
      throw new IntegrityError(`manifest entry ${JSON.stringify(paths.at(i))} names no root`)
    if (!safeSegments(paths.bytesOf(i)) || process.platform === 'win32') assertSafeRelativePath(paths.at(i))
    if (modes[i] > MAX_MODE) {
      throw new IntegrityError(`manifest mode of ${JSON.stringify(paths.at(i))} is not a permission mode`)
    }
  }
  const { listedTwice, below, leaf } = neighbourDefects(columns)
  if (listedTwice >= 0) {
    throw new IntegrityError(
      `manifest path ${JSON.stringify(paths.at(listedTwice))} is listed twice; refusing to restore`
    )
  }
  if (targets.includes('')) throw new IntegrityError('manifest has a symlink with an empty target; refusing to restore')
  const malformed = new Uint8Array(blobSizes.length)
  for (let k = 0; k < blobSizes.length; k++) if (!validLocation(columns, k, sharedFrames)) malformed[k] = 1
  let ref = 0
  for (let i = 0; i < paths.length; i++) {
    if (i === below) {
      const where = `${types[leaf] === EntryCode.symlink ? 'symlink' : 'file'} (${JSON.stringify(paths.at(leaf))})`
      throw new IntegrityError(
        `manifest path ${JSON.stringify(paths.at(i))} lies below a ${where}; refusing to restore`
      )
    }
    if (types[i] !== EntryCode.file) continue
    let total = 0
    for (const end = ref + blobCounts[i]; ref < end; ref++) {
      if (malformed[refs[ref]])
        throw new IntegrityError(`manifest location of a piece of ${JSON.stringify(paths.at(i))} is malformed`)
      total += blobSizes[refs[ref]]
    }
    if (total !== sizes[i]) throw new IntegrityError(`manifest sizes of ${JSON.stringify(paths.at(i))} do not add up`)
  }
  validated.add(columns)
}

/** What a look at neighbours in walk order finds: entry indexes, or -1 where none. */
interface NeighbourDefects {
  /** The first entry, in the manifest's order, whose path its root lists earlier. */
  listedTwice: number
  /** The first entry, in the manifest's order, that comes right after (in walk order) a `leaf` it lies below. */
  below: number
  leaf: number
}

/**
 * Finds paths listed twice in one root and entries below a file or symlink of their root (or below a root that
 * is one) without a set of paths. Sorted by root, then in walk order, a path listed twice shows as two equal
 * neighbours. And whatever sorts between a path P and one below P starts with P + '/' ('/' sorts below every
 * other code unit), so it lies below P too: the entry right after a file or symlink is below it if any is.
 * A manifest already in that order (what a save writes) is read in place; any other through its sorted indexes.
 */
function neighbourDefects(columns: ManifestColumns): NeighbourDefects {
  const { paths, types, rootIndexes } = columns
  const order = inWalkOrder(columns) ? undefined : walkOrder(columns)
  const found: NeighbourDefects = { listedTwice: -1, below: -1, leaf: -1 }
  for (let j = 1; j < paths.length; j++) {
    const before = order ? order[j - 1] : j - 1
    const at = order ? order[j] : j
    if (rootIndexes[before] !== rootIndexes[at]) continue
    if (paths.equals(before, paths, at)) {
      if (found.listedTwice < 0 || at < found.listedTwice) found.listedTwice = at
    } else if (types[before] !== EntryCode.dir && paths.liesBelow(at, before)) {
      if (found.below < 0 || at < found.below) {
        found.below = at
        found.leaf = before
      }
    }
  }
  return found
}

/** Whether entries are sorted by root, then in walk order, with no path twice: the order a save writes. */
function inWalkOrder({ paths, rootIndexes }: ManifestColumns): boolean {
  for (let i = 1; i < paths.length; i++) {
    const before = rootIndexes[i - 1]
    const after = rootIndexes[i]
    if (!(before < after || (before === after && paths.compare(i - 1, paths, i) < 0))) return false
  }
  return true
}

/**
 * Entry indexes sorted by root, then in walk order, then by index: 4 bytes an entry (while it runs, V8's sort
 * also holds two working copies of 8 bytes an entry).
 */
function walkOrder({ paths, rootIndexes }: ManifestColumns): Uint32Array {
  const order = new Uint32Array(paths.length)
  for (let i = 0; i < order.length; i++) order[i] = i
  return order.sort((a, b) => rootIndexes[a] - rootIndexes[b] || paths.compare(a, paths, b) || a - b)
}

/** Whether a path's UTF-8 bytes have no empty, `.` or `..` segment (UNSAFE_SEGMENT, without a string). */
function safeSegments(path: Uint8Array): boolean {
  if (path.length === 0) return true
  let start = 0
  for (let at = 0; at <= path.length; at++) {
    if (at < path.length && path[at] !== 0x2f) continue
    const length = at - start
    if (length === 0 || (length <= 2 && path[start] === 0x2e && (length === 1 || path[start + 1] === 0x2e)))
      return false
    start = at + 1
  }
  return true
}

/** No blob or frame is larger; a restore allocates a blob's or frame's raw size before decompressing it. */
const MAX_DECODED_SIZE = 256 * 1024 * 1024

function validLocation(columns: ManifestColumns, k: number, sharedFrames: boolean): boolean {
  const offset = columns.offsets[k]
  const length = columns.lengths[k]
  const size = columns.blobSizes[k]
  if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && Number.isSafeInteger(size))) return false
  if (!(offset >= 0 && length >= 0 && size >= 0 && size <= MAX_DECODED_SIZE)) return false
  const codec = columns.codecs[k]
  if (codec === Codec.raw) return length === size
  if (codec === Codec.zstd) return true
  if (codec !== Codec.sharedFrame || !sharedFrames) return false
  const within = columns.withins[k]
  const frameSize = columns.frameSizes[k]
  return Number.isSafeInteger(within) && within >= 0 && within + size <= frameSize && frameSize <= MAX_DECODED_SIZE
}
