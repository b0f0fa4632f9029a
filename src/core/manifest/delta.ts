import { IntegrityError } from '../errors.js'
import { zstdSync } from '../store/codec.js'
import {
  DIGEST_BYTES,
  digestAt,
  EntryCode,
  encodeColumns,
  isColumnar,
  readColumns,
  treePartDigest,
  type ManifestColumns
} from './columns.js'
import { Codec, DELTA_SCHEMA, MANIFEST_SCHEMA, SHA256_HEX } from './model.js'
import { PathColumnBuilder } from './path-column.js'
import { PathIndex } from './path-index.js'
import { validateColumns } from './validate.js'

/**
 * An @3 tree stored as a delta against a full @3 manifest (its base), so that a save that changed a
 * few files writes and a restore reads little more than those. Before zstd:
 *
 *   'AAMD', u32 header length, header JSON {schema, base, removed, added, entries}, then from the
 *   next multiple of 8: the removed base entries (u32 indexes, increasing), the positions of the
 *   added entries in the tree (u32, increasing), and from the next multiple of 8 the added entries
 *   as @3 columns (with their blob locations).
 *
 * The tree is the base's entries without the removed ones, in order, with the added ones placed at
 * their positions. A changed entry is removed and added. Its digest is the @3 tree digest of that
 * tree: the same whether stored full or as a delta.
 */
const MAGIC = 'AAMD'

interface DeltaHeader {
  schema: string
  base: string
  removed: number
  added: number
  entries: number
}

/** A delta as stored, read but not yet applied. */
export interface StoredDelta {
  base: string
  removed: Uint32Array
  positions: Uint32Array
  added: ManifestColumns
  entries: number
}

/** Whether stored (decompressed) manifest bytes are a delta. */
export function isDelta(bytes: Uint8Array): boolean {
  return bytes.length >= 8 && Buffer.from(bytes.buffer, bytes.byteOffset, 4).toString('latin1') === MAGIC
}

/**
 * A tree's stored delta against a full @3 base (its digest and columns), zstd-compressed; undefined
 * when the base cannot be one (another schema, other roots). Entries are taken from the base only
 * when everything stored about them is the same: content, mtime and each blob's location.
 */
export function encodeDelta(
  base: { digest: string; columns: ManifestColumns },
  tree: ManifestColumns
): Buffer | undefined {
  const { columns } = base
  if (columns.schema !== MANIFEST_SCHEMA || !sameRoots(columns.roots, tree.roots)) return undefined
  const n = columns.paths.length
  const total = tree.paths.length
  const index = new PathIndex(columns)
  const same = sameEntry(columns, tree)
  const kept = new Uint8Array(n)
  const positions: number[] = []
  let last = -1
  for (let r = 0, ref = 0, link = 0; r < total; r++) {
    const i = index.find(tree.rootIndexes[r], tree.paths, r)
    // Kept entries keep the base's order, so that the tree is the merge of the two lists.
    if (i > last && same(r, ref, link, i)) {
      kept[i] = 1
      last = i
    } else {
      positions.push(r)
    }
    if (tree.types[r] === EntryCode.file) ref += tree.blobCounts[r]
    else if (tree.types[r] === EntryCode.symlink) link++
  }
  const removed: number[] = []
  for (let i = 0; i < n; i++) if (!kept[i]) removed.push(i)
  const addedBytes = encodeColumns(entriesOf(tree, positions)).bytes
  const header: DeltaHeader = {
    schema: DELTA_SCHEMA,
    base: base.digest,
    removed: removed.length,
    added: positions.length,
    entries: total
  }
  const headerBytes = Buffer.from(JSON.stringify(header))
  const at = deltaLayout(headerBytes.length, header)
  const out = Buffer.from(new ArrayBuffer(at.end + addedBytes.length))
  out.write(MAGIC, 0, 'latin1')
  out.writeUInt32LE(headerBytes.length, 4)
  headerBytes.copy(out, 8)
  new Uint32Array(out.buffer, at.removed, removed.length).set(removed)
  new Uint32Array(out.buffer, at.positions, positions.length).set(positions)
  addedBytes.copy(out, at.end)
  return zstdSync(out)
}

/**
 * Entries `picked` (increasing) of a tree's columns as columns of their own, as a manifest of just
 * them is laid out: digests renumbered in the order they first use them, with their locations.
 */
function entriesOf(tree: ManifestColumns, picked: readonly number[]): ManifestColumns {
  const u = picked.length
  const types = new Uint8Array(u)
  const modes = new Uint32Array(u)
  const rootIndexes = new Uint32Array(u)
  const sizes = new Float64Array(u)
  const mtimes = new Float64Array(u).fill(NaN)
  const blobCounts = new Uint32Array(u)
  const paths = new PathColumnBuilder()
  const targets: string[] = []
  const refs: number[] = []
  const numbered = new Int32Array(tree.codecs.length).fill(-1)
  const order: number[] = []
  for (let r = 0, ref = 0, link = 0, x = 0; x < u; r++) {
    const type = tree.types[r]
    if (r === picked[x]) {
      types[x] = type
      modes[x] = tree.modes[r]
      rootIndexes[x] = tree.rootIndexes[r]
      paths.pushFrom(tree.paths, r)
      if (type === EntryCode.file) {
        sizes[x] = tree.sizes[r]
        mtimes[x] = tree.mtimes[r]
        blobCounts[x] = tree.blobCounts[r]
        for (let j = ref; j < ref + tree.blobCounts[r]; j++) {
          const k = tree.refs[j]
          if (numbered[k] < 0) numbered[k] = order.push(k) - 1
          refs.push(numbered[k])
        }
      } else if (type === EntryCode.symlink) {
        targets.push(tree.targets[link])
      }
      x++
    }
    if (type === EntryCode.file) ref += tree.blobCounts[r]
    else if (type === EntryCode.symlink) link++
  }
  const pick = <T extends Float64Array | Uint32Array | Uint8Array>(column: T, into: T): T => {
    order.forEach((k, at) => (into[at] = column[k]))
    return into
  }
  const d = order.length
  return {
    schema: MANIFEST_SCHEMA,
    roots: tree.roots,
    paths: paths.column(),
    types,
    modes,
    rootIndexes,
    sizes,
    mtimes,
    blobCounts,
    targets,
    refs: Uint32Array.from(refs),
    digests: digestsInOrder([tree], order),
    objects: tree.objects,
    objectIndexes: pick(tree.objectIndexes, new Uint32Array(d)),
    offsets: pick(tree.offsets, new Float64Array(d)),
    lengths: pick(tree.lengths, new Float64Array(d)),
    blobSizes: pick(tree.blobSizes, new Float64Array(d)),
    codecs: pick(tree.codecs, new Uint8Array(d)),
    withins: pick(tree.withins, new Float64Array(d)),
    frameSizes: pick(tree.frameSizes, new Float64Array(d))
  }
}

/** The delta in decompressed bytes; anything that does not add up throws IntegrityError. */
export function readDelta(bytes: Buffer): StoredDelta {
  const all = bytes.byteOffset % 8 === 0 ? bytes : aligned(bytes)
  const headerLength = all.readUInt32LE(4)
  if (8 + headerLength > all.length) malformed('is truncated')
  const header = JSON.parse(all.toString('utf8', 8, 8 + headerLength)) as DeltaHeader
  if (typeof header !== 'object' || header === null || header.schema !== DELTA_SCHEMA)
    malformed('has an unknown schema')
  if (typeof header.base !== 'string' || !SHA256_HEX.test(header.base)) malformed('names no base digest')
  const { removed: r, added: u, entries } = header
  if (![r, u, entries].every(count => Number.isSafeInteger(count) && count >= 0)) malformed('has a bad count')
  const at = deltaLayout(headerLength, header)
  if (at.end > all.length) malformed('is truncated')
  const rest = all.subarray(at.end)
  if (!isColumnar(rest)) malformed('has no added entries')
  let added: ManifestColumns
  try {
    added = readColumns(rest).columns
  } catch {
    malformed('has malformed added entries')
  }
  if (added.schema !== MANIFEST_SCHEMA || added.paths.length !== u) malformed('has malformed added entries')
  return {
    base: header.base,
    removed: new Uint32Array(all.buffer, all.byteOffset + at.removed, r),
    positions: new Uint32Array(all.buffer, all.byteOffset + at.positions, u),
    added,
    entries
  }
}

/**
 * The tree a delta stores, from its full @3 base: checked against the digest it is stored under and
 * validated whole, as a full manifest is; anything else throws IntegrityError.
 */
export function applyDelta(delta: StoredDelta, base: ManifestColumns, expectedDigest: string): ManifestColumns {
  const name = expectedDigest.slice(0, 12)
  const refuse = (why: string): never => {
    throw new IntegrityError(`manifest ${name} (a delta against ${delta.base.slice(0, 12)}) ${why}`)
  }
  if (base.schema !== MANIFEST_SCHEMA) refuse(`has a base of schema ${JSON.stringify(base.schema)}`)
  if (!sameRoots(base.roots, delta.added.roots)) refuse('has other roots than its base')
  const n = base.paths.length
  const { removed, positions } = delta
  const total = n - removed.length + positions.length
  if (removed.length > n || total !== delta.entries || positions.length !== delta.added.paths.length)
    refuse('has counts that do not add up')
  if (!increasing(removed, n)) refuse('removes entries its base does not have')
  if (!increasing(positions, total)) refuse('places added entries out of order')
  const columns = mergeColumns(base, delta, total)
  if (treePartDigest(columns) !== expectedDigest) refuse('does not match its digest')
  validateColumns(columns)
  return columns
}

/**
 * The columns of the tree a delta stores, spliced from its base's and its added entries' columns
 * as a full save of that tree would lay them out: digests renumbered in first-use order (see
 * digestIds), a digest's location the added entries' where they have it (the last one, as a lookup
 * by digest gives); objects in first-use order; no size, blob count or mtime on entries that are not
 * files. The indexes are checked already; the caller hashes the tree part and validates the result.
 */
function mergeColumns(base: ManifestColumns, delta: StoredDelta, total: number): ManifestColumns {
  const { removed, positions, added } = delta
  const baseDigests = base.codecs.length
  const { ids, owners } = digestIds(base, added)
  const numbered = new Int32Array(ids.length).fill(-1)
  const order: number[] = []

  const types = new Uint8Array(total)
  const modes = new Uint32Array(total)
  const rootIndexes = new Uint32Array(total)
  const sizes = new Float64Array(total)
  const mtimes = new Float64Array(total)
  const blobCounts = new Uint32Array(total)
  const paths = new PathColumnBuilder()
  const targets: string[] = []
  const refs = new Uint32Array(base.refs.length + added.refs.length)
  let ref = 0
  /** Entry `j` of `from` as entry `r`; its refs start at `firstRef`, its target (if a symlink) is `link`. */
  const place = (from: ManifestColumns, j: number, firstRef: number, link: number, idBase: number, r: number) => {
    const type = from.types[j]
    types[r] = type
    modes[r] = from.modes[j]
    rootIndexes[r] = from.rootIndexes[j]
    paths.pushFrom(from.paths, j)
    if (type === EntryCode.file) {
      const count = from.blobCounts[j]
      sizes[r] = from.sizes[j]
      mtimes[r] = from.mtimes[j]
      blobCounts[r] = count
      for (let x = 0; x < count; x++) {
        const id = ids[idBase + from.refs[firstRef + x]]
        if (numbered[id] < 0) numbered[id] = order.push(owners[id]) - 1
        refs[ref++] = numbered[id]
      }
    } else {
      mtimes[r] = NaN
      if (type === EntryCode.symlink) targets.push(from.targets[link])
    }
  }
  let i = 0
  let baseRef = 0
  let baseLink = 0
  let gone = 0
  let addedRef = 0
  let addedLink = 0
  let next = 0
  for (let r = 0; r < total; r++) {
    if (next < positions.length && positions[next] === r) {
      place(added, next, addedRef, addedLink, baseDigests, r)
      if (added.types[next] === EntryCode.file) addedRef += added.blobCounts[next]
      else if (added.types[next] === EntryCode.symlink) addedLink++
      next++
      continue
    }
    for (; gone < removed.length && removed[gone] === i; gone++, i++) {
      if (base.types[i] === EntryCode.file) baseRef += base.blobCounts[i]
      else if (base.types[i] === EntryCode.symlink) baseLink++
    }
    place(base, i, baseRef, baseLink, 0, r)
    if (base.types[i] === EntryCode.file) baseRef += base.blobCounts[i]
    else if (base.types[i] === EntryCode.symlink) baseLink++
    i++
  }

  const d = order.length
  const objects: string[] = []
  const objectIndex = new Map<string, number>()
  const objectIndexes = new Uint32Array(d)
  const offsets = new Float64Array(d)
  const lengths = new Float64Array(d)
  const blobSizes = new Float64Array(d)
  const codecs = new Uint8Array(d)
  const withins = new Float64Array(d)
  const frameSizes = new Float64Array(d)
  for (let k = 0; k < d; k++) {
    const g = order[k]
    const from = g < baseDigests ? base : added
    const at = g < baseDigests ? g : g - baseDigests
    const object = from.objects[from.objectIndexes[at]]
    let o = objectIndex.get(object)
    if (o === undefined) objectIndex.set(object, (o = objects.push(object) - 1))
    objectIndexes[k] = o
    offsets[k] = from.offsets[at]
    lengths[k] = from.lengths[at]
    blobSizes[k] = from.blobSizes[at]
    codecs[k] = from.codecs[at]
    if (codecs[k] === Codec.sharedFrame) {
      withins[k] = from.withins[at]
      frameSizes[k] = from.frameSizes[at]
    }
  }
  return {
    schema: MANIFEST_SCHEMA,
    roots: [...base.roots],
    paths: paths.column(),
    types,
    modes,
    rootIndexes,
    sizes,
    mtimes,
    blobCounts,
    targets,
    refs: refs.subarray(0, ref),
    digests: digestsInOrder([base, added], order),
    objects,
    objectIndexes,
    offsets,
    lengths,
    blobSizes,
    codecs,
    withins,
    frameSizes
  }
}

/**
 * The digests `order` names, numbered across `sides` in turn (as digestIds numbers base and added
 * ones), 32 bytes each: a copy per run of consecutive ones.
 */
function digestsInOrder(sides: ManifestColumns[], order: number[]): Uint8Array {
  const out = new Uint8Array(DIGEST_BYTES * order.length)
  const starts = [0]
  for (const side of sides) starts.push(starts[starts.length - 1] + side.codecs.length)
  for (let k = 0; k < order.length;) {
    const at = k
    const first = order[k]
    const s = starts.findLastIndex(start => start <= first)
    for (k++; k < order.length && order[k] === first + (k - at) && order[k] < starts[s + 1]; k++);
    const from = DIGEST_BYTES * (first - starts[s])
    out.set(sides[s].digests.subarray(from, from + DIGEST_BYTES * (k - at)), DIGEST_BYTES * at)
  }
  return out
}

/**
 * An id per digest of both sides, base digests first (`g`), then added ones (`baseDigests + k`):
 * the same for an added digest and its copies on either side, and `owners[id]` the digest whose
 * location it takes, the last added copy. Base digests are otherwise their own ids, as a save lists
 * each digest once: a base that lists one twice gives a tree part that lists it twice, which only the
 * digest of that very tree part accepts, as it would a full manifest of it.
 */
function digestIds(base: ManifestColumns, added: ManifestColumns): { ids: Int32Array; owners: Int32Array } {
  const baseDigests = base.codecs.length
  const ids = new Int32Array(baseDigests + added.codecs.length)
  const owners = new Int32Array(ids.length)
  const addedIds = new Map<string, number>()
  const prefixes = new Set<number>()
  for (let k = 0; k < added.codecs.length; k++) {
    const g = baseDigests + k
    const digest = digestAt(added, k)
    const id = addedIds.get(digest) ?? g
    addedIds.set(digest, id)
    ids[g] = id
    owners[id] = g
    prefixes.add(digestPrefix(added, k))
  }
  for (let k = 0; k < baseDigests; k++) {
    // Most base digests are not added again: a prefix sets them apart without a string per digest.
    const id = prefixes.has(digestPrefix(base, k)) ? addedIds.get(digestAt(base, k)) : undefined
    ids[k] = id ?? k
    if (id === undefined) owners[k] = k
  }
  return { ids, owners }
}

/** The first 28 bits of digest `k` of the columns. */
function digestPrefix({ digests }: ManifestColumns, k: number): number {
  const at = DIGEST_BYTES * k
  return (digests[at] << 20) | (digests[at + 1] << 12) | (digests[at + 2] << 4) | (digests[at + 3] >> 4)
}

function deltaLayout(headerLength: number, header: Pick<DeltaHeader, 'removed' | 'added'>) {
  const removed = align(8 + headerLength)
  const positions = removed + 4 * header.removed
  return { removed, positions, end: align(positions + 4 * header.added) }
}

function align(offset: number): number {
  return Math.ceil(offset / 8) * 8
}

/** Strictly increasing, each below `limit`: no index twice, none out of range. */
function increasing(values: Uint32Array, limit: number): boolean {
  for (let k = 0; k < values.length; k++) if (values[k] >= limit || (k > 0 && values[k] <= values[k - 1])) return false
  return true
}

function sameRoots(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((root, i) => root === b[i])
}

/**
 * Whether tree entry `r` (its blob references from `ref`, its target `link` if a symlink) stores
 * exactly what base entry `i` stores (the root and path are matched already).
 */
function sameEntry(
  base: ManifestColumns,
  tree: ManifestColumns
): (r: number, ref: number, link: number, i: number) => boolean {
  const n = base.paths.length
  const refStarts = new Uint32Array(n + 1)
  const targetIndexes = new Int32Array(n).fill(-1)
  let links = 0
  for (let i = 0; i < n; i++) {
    refStarts[i + 1] = refStarts[i] + (base.types[i] === EntryCode.file ? base.blobCounts[i] : 0)
    if (base.types[i] === EntryCode.symlink) targetIndexes[i] = links++
  }
  /** Per base digest: 0 not compared yet, 1 stored where the tree stores it, 2 elsewhere. */
  const located = new Uint8Array(base.codecs.length)
  /** Whether base blob `k` is stored where the tree stores blob `t`, the same digest. */
  const sameLocation = (k: number, t: number): boolean => {
    if (located[k] === 0) {
      const codec = base.codecs[k]
      const same =
        base.objects[base.objectIndexes[k]] === tree.objects[tree.objectIndexes[t]] &&
        base.offsets[k] === tree.offsets[t] &&
        base.lengths[k] === tree.lengths[t] &&
        base.blobSizes[k] === tree.blobSizes[t] &&
        codec === tree.codecs[t] &&
        (codec !== Codec.sharedFrame ||
          (base.withins[k] === tree.withins[t] && base.frameSizes[k] === tree.frameSizes[t]))
      located[k] = same ? 1 : 2
    }
    return located[k] === 1
  }
  return (r, ref, link, i) => {
    const type = tree.types[r]
    if (base.types[i] !== type || base.modes[i] !== tree.modes[r]) return false
    if (type === EntryCode.symlink) return base.targets[targetIndexes[i]] === tree.targets[link]
    if (type !== EntryCode.file) return true
    const count = tree.blobCounts[r]
    const mtime = base.mtimes[i]
    if (base.sizes[i] !== tree.sizes[r] || count !== base.blobCounts[i]) return false
    if (Number.isNaN(mtime) ? !Number.isNaN(tree.mtimes[r]) : mtime !== tree.mtimes[r]) return false
    for (let j = 0; j < count; j++) {
      const k = base.refs[refStarts[i] + j]
      const t = tree.refs[ref + j]
      if (!sameDigest(base, k, tree, t) || !sameLocation(k, t)) return false
    }
    return true
  }
}

/** Whether digest `k` of `a` is digest `t` of `b`, compared in place. */
function sameDigest(a: ManifestColumns, k: number, b: ManifestColumns, t: number): boolean {
  for (let j = 0; j < DIGEST_BYTES; j++)
    if (a.digests[DIGEST_BYTES * k + j] !== b.digests[DIGEST_BYTES * t + j]) return false
  return true
}

/** A copy at offset 0 of its own buffer, as the u32 views need. */
function aligned(bytes: Buffer): Buffer {
  const copy = Buffer.from(new ArrayBuffer(bytes.length))
  copy.set(bytes)
  return copy
}

function malformed(why: string): never {
  throw new IntegrityError(`manifest delta ${why}`)
}
