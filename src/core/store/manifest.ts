import { IntegrityError, isNamedError } from '../errors.js'
import { sha256Hex, unzstdSync, zstdSync } from './codec.js'
import {
  columnsOf,
  encodeColumnsWith,
  encodeTreePart,
  EntryCode,
  isColumnar,
  manifestOf,
  readColumns,
  SHA256_HEX,
  type ManifestColumns,
  type ManifestTree
} from './manifest-columns.js'
import { unsafeOnWindows } from './platform.js'

export const MANIFEST_SCHEMA = 'artifact-action/manifest@3'
const COMPACT_JSON_SCHEMA = 'artifact-action/manifest@2'
/** Manifests a restore still reads: @1 has no shared frames (codec 2); @2 is JSON, @3 columns. */
const READABLE_SCHEMAS: readonly string[] = ['artifact-action/manifest@1', COMPACT_JSON_SCHEMA, MANIFEST_SCHEMA]

export type EntryType = 'file' | 'dir' | 'symlink'

/** One path of the tree. `path` is relative to its root, '/'-separated; '' is the root itself. */
export interface ManifestEntry {
  root: number
  path: string
  type: EntryType
  mode: number
  /** Files: byte count, and the sha256 of each piece in order (one for a small file, CDC chunks for a large one). */
  size?: number
  blobs?: string[]
  /** Symlinks: the link text, unresolved. */
  target?: string
  /**
   * Files: modification time in whole milliseconds. Not part of the tree digest; a restore sets it,
   * and a later save skips reading files whose size and mtime still match.
   */
  mtime?: number
}

/** A save puts at most this many blobs in one shared frame, so that a restore's job per frame stays small. */
export const MAX_FRAME_BLOBS = 4096

/** How a blob is stored: raw, as a zstd frame of its own, or inside a zstd frame shared with other small blobs. */
export const Codec = { raw: 0, zstd: 1, sharedFrame: 2 } as const

/**
 * Where a blob's bytes live: object name, offset and length of the stored bytes, raw size, codec.
 * For a shared frame the stored range is the frame's, and `within` and `frameSize` place the blob
 * in the decompressed frame.
 */
export type BlobLocation =
  | [object: string, offset: number, length: number, size: number, codec: 0 | 1]
  | [object: string, offset: number, length: number, size: number, codec: 2, within: number, frameSize: number]

export interface Manifest {
  schema: string
  /** Each saved path as the `path` input resolved it: relative to the workspace, `~/…`, or absolute. */
  roots: string[]
  entries: ManifestEntry[]
  blobs: Record<string, BlobLocation>
}

/**
 * The tree digest: sha256 over the schema, roots and entries, which depend only on the tree's
 * content. Where the bytes happen to be stored (`blobs`) and mtimes are left out, so identical
 * trees have identical digests whichever objects hold them. For @3 it is the sha256 of the stored
 * tree part, so a restore checks it without re-encoding anything.
 */
export function treeDigest(manifest: ManifestTree): string {
  if (manifest.schema === MANIFEST_SCHEMA) return sha256Hex(encodeTreePart(manifest))
  const entries = manifest.entries.map(canonicalEntry)
  return sha256Hex(JSON.stringify({ schema: manifest.schema, roots: manifest.roots, entries }))
}

function canonicalEntry(entry: ManifestEntry): ManifestEntry {
  const { root, path, type, mode, size, blobs, target } = entry
  return type === 'file'
    ? { root, path, type, mode, size, blobs }
    : type === 'symlink'
      ? { root, path, type, mode, target }
      : { root, path, type, mode }
}

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

/**
 * How an @2 manifest was stored: each digest once, in `digests`, in the order the entries first use
 * them; entries name their blobs by index into it, and locations name their object by index into
 * `objects`. A blob right after the previous one in the same shared frame is just `[size]`.
 */
interface CompactManifest {
  schema: string
  roots: string[]
  entries: Array<Omit<ManifestEntry, 'blobs'> & { blobs?: number[] }>
  objects: string[]
  digests: string[]
  locations: number[][]
}

/** Stored bytes of a manifest: @3 as zstd-compressed columns; an older one (a loaded @1, say) as its JSON. */
export function encodeManifest(manifest: Manifest): Buffer {
  return sealManifest(manifest).encoded
}

/** A manifest's tree digest and stored bytes, encoding it once. */
export function sealManifest(manifest: Manifest): { digest: string; encoded: Buffer } {
  if (manifest.schema !== MANIFEST_SCHEMA)
    return { digest: treeDigest(manifest), encoded: zstdSync(Buffer.from(JSON.stringify(manifest))) }
  return sealTree(manifest, digest => manifest.blobs[digest])
}

/** sealManifest (@3) for a tree whose blob locations come from a lookup: a save seals its entries without building `blobs`. */
export function sealTree(
  tree: Omit<ManifestTree, 'schema'>,
  locationOf: (digest: string) => BlobLocation | undefined
): { digest: string; encoded: Buffer } {
  const { bytes, treePart } = encodeColumnsWith({ ...tree, schema: MANIFEST_SCHEMA }, locationOf)
  return { digest: sha256Hex(treePart), encoded: zstdSync(bytes) }
}

/** The in-memory shape of an @2 manifest; anything malformed throws. */
function expandCompact(stored: CompactManifest): Manifest {
  const { objects, digests, locations } = stored
  if (
    !Array.isArray(objects) ||
    !Array.isArray(digests) ||
    !Array.isArray(locations) ||
    locations.length !== digests.length
  )
    throw new Error('malformed')
  const blobs: Record<string, BlobLocation> = {}
  let previous: BlobLocation | undefined
  for (const [index, digest] of digests.entries()) {
    if (!SHA256_HEX.test(digest)) throw new Error('malformed')
    const stored = locations[index]
    let location: BlobLocation
    if (stored.length === 1) {
      if (previous?.[4] !== Codec.sharedFrame) throw new Error('malformed')
      const [object, offset, length, size, , within, frameSize] = previous
      location = [object, offset, length, stored[0], Codec.sharedFrame, within + size, frameSize]
    } else {
      const [object, ...rest] = stored
      if (typeof objects[object] !== 'string') throw new Error('malformed')
      location = [objects[object], ...rest] as BlobLocation
    }
    blobs[digest] = location
    previous = location
  }
  const entries = stored.entries.map(({ blobs: indexes, ...entry }): ManifestEntry => {
    if (!indexes) return entry
    return {
      ...entry,
      blobs: indexes.map(index => {
        if (typeof digests[index] !== 'string') throw new Error('malformed')
        return digests[index]
      })
    }
  })
  return { schema: stored.schema, roots: stored.roots, entries, blobs }
}

/** The manifest in stored bytes, checked against its tree digest and validated; anything else throws IntegrityError. */
export function decodeManifest(stored: Uint8Array, expectedDigest: string): Manifest {
  const { columns, manifest } = readStored(stored, expectedDigest)
  validateColumns(columns)
  return manifest ?? manifestOf(columns)
}

/** decodeManifest as columns, without an object per entry: what a restore works from. */
export function decodeManifestColumns(stored: Uint8Array, expectedDigest: string): ManifestColumns {
  const { columns } = readStored(stored, expectedDigest)
  validateColumns(columns)
  return columns
}

/** The columns of stored bytes checked against the digest; a JSON manifest (@1, @2) also as it was parsed. */
function readStored(stored: Uint8Array, expectedDigest: string): { columns: ManifestColumns; manifest?: Manifest } {
  const mismatch = () => new IntegrityError(`manifest ${expectedDigest.slice(0, 12)} does not match its digest`)
  try {
    const bytes = unzstdSync(stored)
    if (isColumnar(bytes)) {
      const { columns, treePart } = readColumns(bytes)
      if (sha256Hex(treePart) !== expectedDigest) throw mismatch()
      return { columns }
    }
    const parsed = JSON.parse(bytes.toString('utf8')) as CompactManifest
    const manifest = parsed.schema === COMPACT_JSON_SCHEMA ? expandCompact(parsed) : (parsed as unknown as Manifest)
    if (treeDigest(manifest) !== expectedDigest) throw mismatch()
    return { columns: columnsOf(manifest), manifest }
  } catch (error) {
    throw isNamedError(error, 'IntegrityError')
      ? error
      : new IntegrityError(`manifest ${expectedDigest.slice(0, 12)} is unreadable`)
  }
}

/** Object names of the content store: sha256 hex, fanned out by the first two characters. */
export function objectKey(name: string): string {
  return `objects/${name.slice(0, 2)}/${name}`
}

export function manifestKey(digest: string): string {
  return `manifests/${digest}`
}
