import { createHash } from 'node:crypto'
import { endianness } from 'node:os'
import { IntegrityError } from '../errors.js'
import {
  SHA256_HEX,
  type BlobLocation,
  type Codec,
  type EntryType,
  type Manifest,
  type ManifestEntry,
  type ManifestTree
} from './model.js'
import { PathColumn, PathColumnBuilder } from './path-column.js'

/**
 * The stored layout of an @3 manifest, before zstd: a column per field instead of an object per
 * entry, so that reading one is a few string splits and typed-array views instead of a JSON parse.
 *
 *   'AAM3', u32 length of the tree part, the tree part, the location part
 *
 * The tree part is what the tree digest covers (content only): a JSON header, then the paths and
 * symlink targets NUL-joined, then sizes, modes, roots, blob counts, blob references and entry
 * types as little-endian arrays, then each distinct digest once as 32 bytes, in the order the
 * entries first use them. The location part holds what a restore needs to find the bytes: mtimes,
 * and per digest its object, offset, stored length, size, codec and place in a shared frame.
 * Every column starts at a multiple of 8 bytes.
 */
const MAGIC = 'AAM3'
const TREE_START = 8
const TYPES: readonly EntryType[] = ['dir', 'file', 'symlink']
/** Entry types as the `types` column holds them. */
export const EntryCode = { dir: 0, file: 1, symlink: 2 } as const
const SHARED_FRAME: typeof Codec.sharedFrame = 2
/** A sha256 digest's length in bytes. */
export const DIGEST_BYTES = 32

if (endianness() !== 'LE') throw new Error('artifact-action needs a little-endian machine')

interface TreeHeader {
  schema: string
  roots: string[]
  entries: number
  symlinks: number
  refs: number
  digests: number
  pathBytes: number
  targetBytes: number
}

interface LocationHeader {
  objects: string[]
}

/** Whether stored (decompressed) manifest bytes have this layout rather than JSON. */
export function isColumnar(bytes: Uint8Array): boolean {
  return bytes.length >= TREE_START && Buffer.from(bytes.buffer, bytes.byteOffset, 4).toString('latin1') === MAGIC
}

/** The tree part alone: what the tree digest is the sha256 of. */
export function encodeTreePart(manifest: ManifestTree): Buffer {
  return encodeTreeColumns(treeColumnsOf(manifest))
}

/** The columnar bytes of a manifest whose blob locations come from `locationOf`, and the tree part within them. */
export function encodeColumnsWith(
  manifest: ManifestTree,
  locationOf: (digest: string) => BlobLocation | undefined
): { bytes: Buffer; treePart: Buffer } {
  const tree = treeColumnsOf(manifest)
  const d = tree.digests.length / DIGEST_BYTES
  const objects: string[] = []
  const objectIndex = new Map<string, number>()
  const objectIndexes = new Uint32Array(d)
  const [offsets, lengths, blobSizes, withins, frameSizes] = [0, 0, 0, 0, 0].map(() => new Float64Array(d))
  const codecs = new Uint8Array(d)
  for (let k = 0; k < d; k++) {
    const digest = digestAt(tree, k)
    const location = locationOf(digest)
    if (!location)
      throw new IntegrityError(
        `manifest has no location for a piece of ${JSON.stringify(manifest.entries.find(entry => entry.blobs?.includes(digest))?.path)}`
      )
    let o = objectIndex.get(location[0])
    if (o === undefined) objectIndex.set(location[0], (o = objects.push(location[0]) - 1))
    objectIndexes[k] = o
    offsets[k] = location[1]
    lengths[k] = location[2]
    blobSizes[k] = location[3]
    codecs[k] = location[4]
    if (location[4] === SHARED_FRAME) {
      withins[k] = location[5]
      frameSizes[k] = location[6]
    }
  }
  const mtimes = Float64Array.from(manifest.entries, entry => entry.mtime ?? NaN)
  return encodeColumns({
    ...tree,
    mtimes,
    objects,
    objectIndexes,
    offsets,
    lengths,
    blobSizes,
    codecs,
    withins,
    frameSizes
  })
}

/**
 * The columnar bytes of columns, and the tree part within them, written as manifestPieces lays
 * them out.
 */
export function encodeColumns(columns: ManifestColumns): { bytes: Buffer; treePart: Buffer } {
  const { length, treeLength, pieces } = manifestPieces(columns)
  const bytes = zeroed(length)
  let offset = 0
  for (const piece of pieces) {
    bytes.set(piece.bytes, offset)
    offset += piece.bytes.length
  }
  return { bytes, treePart: bytes.subarray(TREE_START, TREE_START + treeLength) }
}

/** A piece of a manifest's stored bytes; `inTree`: within the tree part, which the tree digest covers. */
export interface ManifestPiece {
  bytes: Uint8Array
  inTree: boolean
}

/**
 * The stored bytes of columns as pieces in order, made as they are taken: the one writer of whole
 * manifests, so that a save can hash and compress a million-entry manifest without holding it
 * whole. Most pieces are views of the columns themselves (which must not change until all are
 * taken). Objects are listed in the order the digests first use them, and a blob's place in a
 * shared frame is written only for blobs in one, so that columns built in any way store as a
 * manifest would.
 */
export function manifestPieces(columns: ManifestColumns): {
  length: number
  treeLength: number
  pieces: Iterable<ManifestPiece>
} {
  const plan = planTreePart(columns)
  const treeLength = plan.at.end
  const n = columns.paths.length
  const d = columns.codecs.length
  const objects: string[] = []
  const renumbered = new Int32Array(columns.objects.length).fill(-1)
  const objectColumn = new Uint32Array(d)
  for (let k = 0; k < d; k++) {
    const o = columns.objectIndexes[k]
    if (renumbered[o] < 0) renumbered[o] = objects.push(columns.objects[o]) - 1
    objectColumn[k] = renumbered[o]
  }
  const headerBytes = Buffer.from(JSON.stringify({ objects } satisfies LocationHeader))
  const at = locationLayout(headerBytes.length, n, d)
  const locationStart = TREE_START + align(treeLength)
  const start = zeroed(TREE_START)
  start.write(MAGIC, 0, 'latin1')
  start.writeUInt32LE(treeLength, 4)
  const { codecs, withins, frameSizes } = columns
  /** Withins or frame sizes, zero for a blob not in a shared frame. */
  const placesInFrames = function* (values: Float64Array): Generator<Uint8Array> {
    for (let from = 0; from < d; from += COLUMN_BATCH) {
      const batch = new Float64Array(Math.min(COLUMN_BATCH, d - from))
      for (let j = 0; j < batch.length; j++) if (codecs[from + j] === SHARED_FRAME) batch[j] = values[from + j]
      yield bytesOf(batch, batch.length)
    }
  }
  const pieces = function* (): Generator<ManifestPiece> {
    yield { bytes: start, inTree: false }
    for (const bytes of treePieces(columns, plan)) yield { bytes, inTree: true }
    const padding = locationStart - TREE_START - treeLength
    if (padding > 0) yield { bytes: zeroed(padding), inTree: false }
    const location = laidOut(at.end, [
      [0, headerPieces(headerBytes)],
      [at.mtimes, [bytesOf(columns.mtimes, n)]],
      [at.offsets, [bytesOf(columns.offsets, d)]],
      [at.lengths, [bytesOf(columns.lengths, d)]],
      [at.sizes, [bytesOf(columns.blobSizes, d)]],
      [at.withins, placesInFrames(withins)],
      [at.frameSizes, placesInFrames(frameSizes)],
      [at.objects, [bytesOf(objectColumn, d)]],
      [at.codecs, [bytesOf(codecs, d)]]
    ])
    for (const bytes of location) yield { bytes, inTree: false }
  }
  return { length: locationStart + at.end, treeLength, pieces: pieces() }
}

/**
 * A manifest as columns, the way it is stored: what a restore works from without an object per
 * entry. Entry `i` is `paths.at(i)`, `types[i]`, …; a file's blobs are the next `blobCounts[i]`
 * values of `refs`, each an index `k` into the per-digest columns (`digests` holds digest `k`, 32 bytes, at
 * `32 * k`). Symlink targets are in entry order.
 */
export interface ManifestColumns {
  schema: string
  roots: string[]
  paths: PathColumn
  types: Uint8Array
  modes: Uint32Array
  rootIndexes: Uint32Array
  sizes: Float64Array
  /** NaN where none. */
  mtimes: Float64Array
  blobCounts: Uint32Array
  targets: string[]
  refs: Uint32Array
  digests: Uint8Array
  objects: string[]
  objectIndexes: Uint32Array
  offsets: Float64Array
  lengths: Float64Array
  blobSizes: Float64Array
  codecs: Uint8Array
  withins: Float64Array
  frameSizes: Float64Array
}

/**
 * The columns held in columnar bytes, and the tree part; anything that does not add up (a length
 * past the end, an index that points nowhere, an unknown type or codec) throws.
 */
export function readColumns(bytes: Uint8Array): { columns: ManifestColumns; treePart: Buffer } {
  const all = alignedCopy(bytes)
  const treeLength = all.readUInt32LE(4)
  const treePart = within(all, TREE_START, treeLength)
  const tree = readHeader<TreeHeader>(treePart)
  const { entries: n, symlinks, refs: m, digests: d } = tree
  if (![n, symlinks, m, d, tree.pathBytes, tree.targetBytes].every(count => Number.isSafeInteger(count) && count >= 0))
    malformed()
  if (
    typeof tree.schema !== 'string' ||
    !Array.isArray(tree.roots) ||
    !tree.roots.every(root => typeof root === 'string')
  )
    malformed()
  const t = treeLayout(readHeaderLength(treePart), tree)
  if (t.end > treePart.length) malformed()
  const locationPart = all.subarray(TREE_START + align(treeLength))
  const { objects } = readHeader<LocationHeader>(locationPart)
  if (!Array.isArray(objects) || !objects.every(name => typeof name === 'string')) malformed()
  const l = locationLayout(readHeaderLength(locationPart), n, d)
  if (l.end > locationPart.length) malformed()

  const [offsets, lengths, blobSizes, withins, frameSizes] = [
    l.offsets,
    l.lengths,
    l.sizes,
    l.withins,
    l.frameSizes
  ].map(start => float64s(locationPart, start, d))
  const columns: ManifestColumns = {
    schema: tree.schema,
    roots: tree.roots,
    paths: PathColumn.read(within(treePart, t.paths, tree.pathBytes), n),
    types: treePart.subarray(t.types, t.types + n),
    modes: uint32s(treePart, t.modes, n),
    rootIndexes: uint32s(treePart, t.roots, n),
    sizes: float64s(treePart, t.sizes, n),
    mtimes: float64s(locationPart, l.mtimes, n),
    blobCounts: uint32s(treePart, t.counts, n),
    targets: splitText(treePart, t.targets, tree.targetBytes, symlinks),
    refs: uint32s(treePart, t.refs, m),
    digests: treePart.subarray(t.digests, t.digests + d * DIGEST_BYTES),
    objects,
    objectIndexes: uint32s(locationPart, l.objects, d),
    offsets,
    lengths,
    blobSizes,
    codecs: locationPart.subarray(l.codecs, l.codecs + d),
    withins,
    frameSizes
  }
  let refCount = 0
  let linkCount = 0
  for (let i = 0; i < n; i++) {
    const type = columns.types[i]
    if (type === EntryCode.file) refCount += columns.blobCounts[i]
    else if (type === EntryCode.symlink) linkCount++
    else if (type !== EntryCode.dir || columns.blobCounts[i] !== 0) malformed()
  }
  if (refCount !== m || linkCount !== symlinks) malformed()
  for (let j = 0; j < m; j++) if (columns.refs[j] >= d) malformed()
  for (let k = 0; k < d; k++)
    if (columns.objectIndexes[k] >= objects.length || columns.codecs[k] > SHARED_FRAME) malformed()
  return { columns, treePart }
}

/** Digest `k` of the columns, as hex. */
export function digestAt({ digests }: Pick<ManifestColumns, 'digests'>, k: number): string {
  return Buffer.from(digests.buffer, digests.byteOffset + DIGEST_BYTES * k, DIGEST_BYTES).toString('hex')
}

/** The columns of an in-memory manifest; an unlocated or non-hex digest throws. */
export function columnsOf(manifest: Manifest): ManifestColumns {
  return readColumns(encodeColumnsWith(manifest, digest => manifest.blobs[digest]).bytes).columns
}

/** Where blob `k` of the columns is stored. */
export function locationAt(columns: ManifestColumns, k: number): BlobLocation {
  const object = columns.objects[columns.objectIndexes[k]]
  const codec = columns.codecs[k]
  const { offsets, lengths, blobSizes } = columns
  return codec === SHARED_FRAME
    ? [object, offsets[k], lengths[k], blobSizes[k], codec, columns.withins[k], columns.frameSizes[k]]
    : [object, offsets[k], lengths[k], blobSizes[k], codec as 0 | 1]
}

/** The in-memory manifest of its columns. */
export function manifestOf(columns: ManifestColumns): Manifest {
  const n = columns.paths.length
  const d = columns.objectIndexes.length
  const digests = new Array<string>(d)
  const blobs: Record<string, BlobLocation> = {}
  for (let k = 0; k < d; k++) {
    digests[k] = digestAt(columns, k)
    blobs[digests[k]] = locationAt(columns, k)
  }
  const entries = new Array<ManifestEntry>(n)
  let ref = 0
  let link = 0
  for (let i = 0; i < n; i++) {
    const type = TYPES[columns.types[i]]
    const root = columns.rootIndexes[i]
    const path = columns.paths.at(i)
    const mode = columns.modes[i]
    if (type === 'file') {
      const pieces = new Array<string>(columns.blobCounts[i])
      for (let j = 0; j < pieces.length; j++) pieces[j] = digests[columns.refs[ref++]]
      const size = columns.sizes[i]
      const mtime = columns.mtimes[i]
      entries[i] = Number.isNaN(mtime)
        ? { root, path, type, mode, size, blobs: pieces }
        : { root, path, type, mode, size, blobs: pieces, mtime }
    } else if (type === 'symlink') {
      entries[i] = { root, path, type, mode, target: columns.targets[link++] }
    } else {
      entries[i] = { root, path, type, mode }
    }
  }
  return { schema: columns.schema, roots: columns.roots, entries, blobs }
}

/** The tree columns of an in-memory manifest; a malformed entry or a non-hex digest throws. */
function treeColumnsOf(manifest: ManifestTree): TreeColumns {
  const { entries } = manifest
  const n = entries.length
  const digests: string[] = []
  const digestIndex = new Map<string, number>()
  const refs: number[] = []
  const paths = new PathColumnBuilder()
  const targets: string[] = []
  const sizes = new Float64Array(n)
  const modes = new Uint32Array(n)
  const rootIndexes = new Uint32Array(n)
  const blobCounts = new Uint32Array(n)
  const types = new Uint8Array(n)
  for (let i = 0; i < n; i++) {
    const entry = entries[i]
    if (typeof entry.path !== 'string' || !Object.hasOwn(EntryCode, entry.type) || !Number.isInteger(entry.root))
      throw new Error('malformed entry')
    paths.push(entry.path)
    modes[i] = entry.mode
    rootIndexes[i] = entry.root
    types[i] = EntryCode[entry.type]
    if (entry.type === 'symlink') targets.push(entry.target!)
    if (entry.type !== 'file') continue
    sizes[i] = entry.size!
    blobCounts[i] = entry.blobs?.length ?? 0
    for (const digest of entry.blobs ?? []) {
      let index = digestIndex.get(digest)
      if (index === undefined) {
        if (!SHA256_HEX.test(digest)) throw new Error(`${JSON.stringify(digest)} is not a sha256 digest`)
        index = digests.push(digest) - 1
        digestIndex.set(digest, index)
      }
      refs.push(index)
    }
  }
  const { schema, roots } = manifest
  const tree = { schema, roots, paths: paths.column(), targets, sizes, modes, rootIndexes, blobCounts, types }
  return { ...tree, refs: Uint32Array.from(refs), digests: Buffer.from(digests.join(''), 'hex') }
}

/** What the tree part holds: the columns a tree digest covers. */
export type TreeColumns = Pick<
  ManifestColumns,
  | 'schema'
  | 'roots'
  | 'paths'
  | 'targets'
  | 'sizes'
  | 'modes'
  | 'rootIndexes'
  | 'blobCounts'
  | 'refs'
  | 'types'
  | 'digests'
>

/**
 * The tree part of tree columns, laid out as a save writes it: the one writer of tree parts, so that
 * columns built without a manifest (a delta applied to its base) hash to the digest a full save gives.
 * Non-file entries must have size and blob count 0, and `digests` in first-use order.
 */
export function encodeTreeColumns(tree: TreeColumns): Buffer {
  const plan = planTreePart(tree)
  const out = zeroed(plan.at.end)
  let offset = 0
  for (const piece of treePieces(tree, plan)) {
    out.set(piece, offset)
    offset += piece.length
  }
  return out
}

/** The tree digest of tree columns: the sha256 of their tree part, hashed a piece at a time. */
export function treePartDigest(tree: TreeColumns): string {
  const hash = createHash('sha256')
  for (const piece of treePieces(tree, planTreePart(tree))) hash.update(piece)
  return hash.digest('hex')
}

/** Where a tree part's columns go, and its header. */
function planTreePart(tree: TreeColumns): { headerBytes: Buffer; at: ReturnType<typeof treeLayout> } {
  const header: TreeHeader = {
    schema: tree.schema,
    roots: tree.roots,
    entries: tree.paths.length,
    symlinks: tree.targets.length,
    refs: tree.refs.length,
    digests: tree.digests.length / DIGEST_BYTES,
    pathBytes: tree.paths.text.length,
    targetBytes: textLength(tree.targets)
  }
  const headerBytes = Buffer.from(JSON.stringify(header))
  return { headerBytes, at: treeLayout(headerBytes.length, header) }
}

/**
 * The tree part as planned, in pieces: the one writer of tree parts, so that columns built without
 * a manifest (a delta applied to its base) hash to the digest a full save gives. Non-file entries
 * must have size and blob count 0, and `digests` in first-use order.
 */
function treePieces(tree: TreeColumns, { headerBytes, at }: ReturnType<typeof planTreePart>): Generator<Uint8Array> {
  const n = tree.paths.length
  return laidOut(at.end, [
    [0, headerPieces(headerBytes)],
    [at.paths, [tree.paths.text]],
    [at.targets, textPieces(tree.targets)],
    [at.sizes, [bytesOf(tree.sizes, n)]],
    [at.modes, [bytesOf(tree.modes, n)]],
    [at.roots, [bytesOf(tree.rootIndexes, n)]],
    [at.counts, [bytesOf(tree.blobCounts, n)]],
    [at.refs, [bytesOf(tree.refs, tree.refs.length)]],
    [at.types, [bytesOf(tree.types, n)]],
    [at.digests, [tree.digests]]
  ])
}

/**
 * The pieces of a part laid out as `at` places them: each column's pieces from its offset on, zero
 * bytes in the gaps and up to `end`. Columns that run past the next one's offset are a defect.
 */
function* laidOut(end: number, columns: Array<[at: number, pieces: Iterable<Uint8Array>]>): Generator<Uint8Array> {
  let offset = 0
  for (const [at, pieces] of [...columns, [end, []] as [number, Uint8Array[]]]) {
    if (at < offset) throw new Error(`manifest column at ${at} overlaps the one before it`)
    if (at > offset) yield zeroed(at - offset)
    offset = at
    for (const piece of pieces) {
      if (piece.length === 0) continue
      yield piece
      offset += piece.length
    }
  }
}

/** A part's header: its length as u32, then the JSON. */
function headerPieces(headerBytes: Buffer): Uint8Array[] {
  const length = zeroed(4)
  length.writeUInt32LE(headerBytes.length, 0)
  return [length, headerBytes]
}

/** Strings are encoded a batch at a time: one string of them all would double their memory. */
const TEXT_BATCH = 4096
/** Values per piece of a column computed while it is written. */
const COLUMN_BATCH = 65536

/** The length of `Buffer.from(strings.join('\0'))` (symlink targets). */
function textLength(strings: readonly string[]): number {
  let length = 0
  for (let i = 0; i < strings.length; i += TEXT_BATCH)
    length += (i > 0 ? 1 : 0) + Buffer.byteLength(strings.slice(i, i + TEXT_BATCH).join('\0'))
  return length
}

/** `strings.join('\0')` as UTF-8, a batch at a time. */
function* textPieces(strings: readonly string[]): Generator<Uint8Array> {
  for (let i = 0; i < strings.length; i += TEXT_BATCH)
    yield Buffer.from((i > 0 ? '\0' : '') + strings.slice(i, i + TEXT_BATCH).join('\0'))
}

/** The bytes of the first `count` values of a typed array (a view, not a copy). */
function bytesOf(values: Uint8Array | Uint32Array | Float64Array, count: number): Uint8Array {
  if (count > values.length) throw new Error(`a manifest column holds ${values.length} values, not ${count}`)
  return new Uint8Array(values.buffer, values.byteOffset, count * values.BYTES_PER_ELEMENT)
}

function treeLayout(headerLength: number, header: TreeHeader) {
  const { entries: n } = header
  return layout(4 + headerLength, {
    paths: header.pathBytes,
    targets: header.targetBytes,
    sizes: 8 * n,
    modes: 4 * n,
    roots: 4 * n,
    counts: 4 * n,
    refs: 4 * header.refs,
    types: n,
    digests: DIGEST_BYTES * header.digests
  })
}

function locationLayout(headerLength: number, n: number, d: number) {
  return layout(4 + headerLength, {
    mtimes: 8 * n,
    offsets: 8 * d,
    lengths: 8 * d,
    sizes: 8 * d,
    withins: 8 * d,
    frameSizes: 8 * d,
    objects: 4 * d,
    codecs: d
  })
}

/** Where each column starts, in order, each at a multiple of 8; `end` is where the last one ends. */
function layout<K extends string>(start: number, lengths: Record<K, number>): Record<K | 'end', number> {
  const at = {} as Record<K | 'end', number>
  let offset = start
  for (const [name, length] of Object.entries(lengths) as Array<[K, number]>) {
    offset = align(offset)
    at[name] = offset
    offset += length
  }
  at.end = offset
  return at
}

function align(offset: number): number {
  return Math.ceil(offset / 8) * 8
}

function readHeaderLength(part: Buffer): number {
  if (part.length < 4) malformed()
  return part.readUInt32LE(0)
}

function readHeader<T>(part: Buffer): T {
  const length = readHeaderLength(part)
  const header = JSON.parse(within(part, 4, length).toString('utf8')) as T
  if (typeof header !== 'object' || header === null) malformed()
  return header
}

function splitText(part: Buffer, start: number, length: number, count: number): string[] {
  if (count === 0) return length === 0 ? [] : malformed()
  const parts = part.toString('utf8', start, start + length).split('\0')
  return parts.length === count ? parts : malformed()
}

function within(bytes: Buffer, start: number, length: number): Buffer {
  if (start + length > bytes.length) malformed()
  return bytes.subarray(start, start + length)
}

function float64s(part: Buffer, start: number, count: number): Float64Array {
  return new Float64Array(part.buffer, part.byteOffset + start, count)
}

function uint32s(part: Buffer, start: number, count: number): Uint32Array {
  return new Uint32Array(part.buffer, part.byteOffset + start, count)
}

function zeroed(length: number): Buffer {
  return Buffer.from(new ArrayBuffer(length))
}

/** The bytes at an offset that is a multiple of 8, as typed-array views need. */
function alignedCopy(bytes: Uint8Array): Buffer {
  if (bytes.byteOffset % 8 === 0) return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length)
  const copy = zeroed(bytes.length)
  copy.set(bytes)
  return copy
}

function malformed(): never {
  throw new Error('malformed')
}
