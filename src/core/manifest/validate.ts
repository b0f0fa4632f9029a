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
  const leaves = roots.map(() => new Map<string, number>())
  for (let i = 0; i < paths.length; i++) {
    if (rootIndexes[i] >= roots.length)
      throw new IntegrityError(`manifest entry ${JSON.stringify(paths[i])} names no root`)
    assertSafeRelativePath(paths[i])
    if (modes[i] > MAX_MODE) {
      throw new IntegrityError(`manifest mode of ${JSON.stringify(paths[i])} is not a permission mode`)
    }
    if (types[i] !== EntryCode.dir) leaves[rootIndexes[i]].set(paths[i], types[i])
  }
  assertUniquePaths(columns)
  if (targets.includes('')) throw new IntegrityError('manifest has a symlink with an empty target; refusing to restore')
  const belowLeaf = leaves.map(found => (found.size > 0 ? leafAncestry(found) : undefined))
  const malformed = new Uint8Array(blobSizes.length)
  for (let k = 0; k < blobSizes.length; k++) if (!validLocation(columns, k, sharedFrames)) malformed[k] = 1
  let ref = 0
  for (let i = 0; i < paths.length; i++) {
    const leaf = belowLeaf[rootIndexes[i]]?.(paths[i])
    if (leaf !== undefined) {
      const kind = leaves[rootIndexes[i]].get(leaf) === EntryCode.symlink ? 'symlink' : 'file'
      const where = `${kind} (${JSON.stringify(leaf)})`
      throw new IntegrityError(`manifest path ${JSON.stringify(paths[i])} lies below a ${where}; refusing to restore`)
    }
    if (types[i] !== EntryCode.file) continue
    let total = 0
    for (const end = ref + blobCounts[i]; ref < end; ref++) {
      if (malformed[refs[ref]])
        throw new IntegrityError(`manifest location of a piece of ${JSON.stringify(paths[i])} is malformed`)
      total += blobSizes[refs[ref]]
    }
    if (total !== sizes[i]) throw new IntegrityError(`manifest sizes of ${JSON.stringify(paths[i])} do not add up`)
  }
  validated.add(columns)
}

/**
 * Refuses a path listed twice in one root. A save lists entries in walk order (by root, then by
 * path compared name by name), so increasing order proves uniqueness without a set; a manifest
 * in any other order is checked with one.
 */
function assertUniquePaths({ paths, rootIndexes }: ManifestColumns): void {
  let ordered = true
  for (let i = 1; i < paths.length && ordered; i++) {
    const [before, after] = [rootIndexes[i - 1], rootIndexes[i]]
    ordered = before < after || (before === after && comparePaths(paths[i - 1], paths[i]) < 0)
  }
  if (ordered) return
  const seen = new Set<string>()
  for (let i = 0; i < paths.length; i++) {
    const key = `${rootIndexes[i]}\0${paths[i]}`
    if (seen.has(key)) {
      throw new IntegrityError(`manifest path ${JSON.stringify(paths[i])} is listed twice; refusing to restore`)
    }
    seen.add(key)
  }
}

/** Walk order: name by name, each compared by UTF-16 code units; a path sorts before the paths below it. */
export function comparePaths(a: string, b: string): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return (x === 0x2f ? -1 : x) - (y === 0x2f ? -1 : y)
  }
  return a.length - b.length
}

/**
 * The file or symlink of `leaves` that a path lies below ('' is the root itself), if any; each
 * directory is looked at once, however many entries it holds.
 */
function leafAncestry(leaves: Map<string, number>): (path: string) => string | undefined {
  const known = new Map<string, string | null>()
  const leafAbove = (dir: string): string | null => {
    let answer = known.get(dir)
    if (answer === undefined) {
      const slash = dir.lastIndexOf('/')
      answer = leaves.has(dir) ? dir : dir === '' ? null : leafAbove(slash < 0 ? '' : dir.slice(0, slash))
      known.set(dir, answer)
    }
    return answer
  }
  return path => {
    if (path === '') return undefined
    const slash = path.lastIndexOf('/')
    return leafAbove(slash < 0 ? '' : path.slice(0, slash)) ?? undefined
  }
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
