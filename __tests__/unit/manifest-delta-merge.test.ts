import fc from 'fast-check'
import { IntegrityError } from '../../src/core/errors.js'
import { randomTrees, type Spec } from '../helpers/random-trees.js'
import {
  columnsOf,
  encodeColumnsWith,
  locationAt,
  manifestOf,
  readColumns,
  type ManifestColumns
} from '../../src/core/manifest/columns.js'
import { applyDelta, encodeDelta, type StoredDelta } from '../../src/core/manifest/delta.js'
import { readStored, sealManifest, treeDigest } from '../../src/core/manifest/encoding.js'
import { MANIFEST_SCHEMA, type Manifest, type ManifestEntry } from '../../src/core/manifest/model.js'
import { validateColumns } from '../../src/core/manifest/validate.js'
import { sha256Hex, unzstdSync, zstdSync } from '../../src/core/store/codec.js'

/**
 * applyDelta splices columns; these check it against the way it resolved a delta before, through
 * an object per entry and a full encode, kept here as the reference.
 */
function referenceApply(delta: StoredDelta, base: ManifestColumns, expectedDigest: string): ManifestColumns {
  const refuse = (why: string): never => {
    throw new IntegrityError(
      `manifest ${expectedDigest.slice(0, 12)} (a delta against ${delta.base.slice(0, 12)}) ${why}`
    )
  }
  const sameRoots = (a: string[], b: string[]) => a.length === b.length && a.every((root, i) => root === b[i])
  const increasing = (values: Uint32Array, limit: number) =>
    values.every((value, k) => value < limit && (k === 0 || value > values[k - 1]))
  if (base.schema !== MANIFEST_SCHEMA) refuse(`has a base of schema ${JSON.stringify(base.schema)}`)
  if (!sameRoots(base.roots, delta.added.roots)) refuse('has other roots than its base')
  const n = base.paths.length
  const { removed, positions } = delta
  const total = n - removed.length + positions.length
  if (removed.length > n || total !== delta.entries) refuse('has counts that do not add up')
  if (!increasing(removed, n)) refuse('removes entries its base does not have')
  if (!increasing(positions, total)) refuse('places added entries out of order')
  const from = manifestOf(base)
  const more = manifestOf(delta.added)
  const entries = new Array<ManifestEntry>(total)
  let i = 0
  let gone = 0
  let next = 0
  for (let r = 0; r < total; r++) {
    if (next < positions.length && positions[next] === r) {
      entries[r] = more.entries[next++]
      continue
    }
    while (gone < removed.length && removed[gone] === i) {
      gone++
      i++
    }
    entries[r] = from.entries[i++]
  }
  const locationOf = (digest: string) => more.blobs[digest] ?? from.blobs[digest]
  const { bytes, treePart } = encodeColumnsWith({ schema: MANIFEST_SCHEMA, roots: base.roots, entries }, locationOf)
  if (sha256Hex(treePart) !== expectedDigest) refuse('does not match its digest')
  const { columns } = readColumns(bytes)
  validateColumns(columns)
  return columns
}

/** Columns as plain values, so that equal columns compare equal whatever buffers hold them. */
function plain(columns: ManifestColumns): Record<string, unknown> {
  return Object.fromEntries(
    Object.entries(columns).map(([name, value]) => [
      name,
      ArrayBuffer.isView(value) ? Array.from(value as Uint8Array) : value
    ])
  )
}

/** What a tree digest covers: the columns of the tree part. */
const TREE_COLUMNS = [
  'schema',
  'roots',
  'paths',
  'types',
  'modes',
  'rootIndexes',
  'sizes',
  'blobCounts',
  'targets',
  'refs',
  'digests'
]

function treeColumns(columns: ManifestColumns): Record<string, unknown> {
  const all = plain(columns)
  return Object.fromEntries(TREE_COLUMNS.map(name => [name, all[name]]))
}

/** Resolved columns, or the IntegrityError's message; any other error fails the test. */
function outcome(resolve: () => ManifestColumns): Record<string, unknown> | string {
  try {
    return plain(resolve())
  } catch (error) {
    if (!(error instanceof IntegrityError)) throw error
    return error.message
  }
}

const hex = (n: number): string => n.toString(16).padStart(64, '0')
const { entryOf, locationOf, manifestFrom, trees } = randomTrees({ hex, objects: 3, maxBlobs: 3 })

/** The stored delta of `next` against `base`, decompressed, with what resolving it needs. */
function deltaOf(base: Manifest, next: Manifest) {
  const baseColumns = columnsOf(base)
  const digest = treeDigest(next)
  const encoded = encodeDelta({ digest: sealManifest(base).digest, columns: baseColumns }, columnsOf(next))!
  const full = readColumns(unzstdSync(sealManifest(next).encoded)).columns
  return { raw: unzstdSync(encoded), digest, baseColumns, full }
}

function storedDelta(raw: Buffer, digest: string): StoredDelta {
  const stored = readStored(zstdSync(raw), digest)
  if (!('delta' in stored)) throw new Error('not a delta')
  return stored.delta
}

describe('manifest delta, merged as columns', () => {
  it('resolves to what the reference resolves to, and to the full manifest, for random trees and edits', () => {
    fc.assert(
      fc.property(trees, ({ base, next }) => {
        const { raw, digest, baseColumns, full } = deltaOf(base, next)
        const merged = applyDelta(storedDelta(raw, digest), baseColumns, digest)
        expect(plain(merged)).toEqual(plain(referenceApply(storedDelta(raw, digest), baseColumns, digest)))
        expect(plain(merged)).toEqual(plain(full))
      }),
      { numRuns: 300 }
    )
  })

  /** The byte ranges of a decompressed delta: header, removed indexes, positions, added columns. */
  function parts(raw: Buffer) {
    const headerLength = raw.readUInt32LE(4)
    const header = JSON.parse(raw.toString('utf8', 8, 8 + headerLength)) as Record<string, number>
    const removedAt = Math.ceil((8 + headerLength) / 8) * 8
    const positionsAt = removedAt + 4 * header.removed
    const addedAt = Math.ceil((positionsAt + 4 * header.added) / 8) * 8
    return { header, added: raw.subarray(addedAt) }
  }

  /** A delta of these header fields and index arrays, followed by `added` (@3 columns). */
  function build(header: Record<string, unknown>, removed: number[], positions: number[], added: Buffer): Buffer {
    const headerBytes = Buffer.from(JSON.stringify({ ...header, removed: removed.length, added: positions.length }))
    const start = Math.ceil((8 + headerBytes.length) / 8) * 8
    const end = Math.ceil((start + 4 * (removed.length + positions.length)) / 8) * 8
    const out = Buffer.alloc(end + added.length)
    out.write('AAMD', 0, 'latin1')
    out.writeUInt32LE(headerBytes.length, 4)
    headerBytes.copy(out, 8)
    ;[...removed, ...positions].forEach((v, k) => out.writeUInt32LE(v, start + 4 * k))
    added.copy(out, end)
    return out
  }

  const hostility = fc.oneof(
    fc.record({
      kind: fc.constant('flips' as const),
      flips: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 4 })
    }),
    fc.record({
      kind: fc.constant('indexes' as const),
      removed: fc.array(fc.nat(), { maxLength: 12 }),
      positions: fc.array(fc.nat(), { maxLength: 12 }),
      sorted: fc.boolean(),
      entries: fc.oneof({ arbitrary: fc.constant(null), weight: 4 }, { arbitrary: fc.nat(80), weight: 1 })
    }),
    fc.record({ kind: fc.constant('columns' as const), other: trees })
  )

  it('never resolves a hostile delta to anything but the tree its digest names', () => {
    fc.assert(
      fc.property(trees, hostility, ({ base, next }, hostile) => {
        const { raw, digest, baseColumns, full } = deltaOf(base, next)
        const { header, added } = parts(raw)
        const honest = storedDelta(raw, digest)
        let bytes: Buffer
        if (hostile.kind === 'flips') {
          // Past the header mostly: a header that is not JSON stops the delta before it is applied.
          bytes = Buffer.from(raw)
          const start = Math.min(8 + raw.readUInt32LE(4), raw.length - 1)
          for (const [at, mask] of hostile.flips) bytes[start + (at % (bytes.length - start))] ^= mask
        } else if (hostile.kind === 'indexes') {
          const n = baseColumns.paths.length
          const order = (values: number[], limit: number) => {
            const inRange = values.map(value => value % (limit + 1))
            return hostile.sorted ? [...new Set(inRange)].sort((a, b) => a - b) : inRange
          }
          const removed = order(hostile.removed, n)
          const total = n - removed.length + honest.positions.length
          // As many positions as added entries, so that the counts can add up.
          const positions = [...order(hostile.positions, total), ...honest.positions].slice(0, honest.positions.length)
          bytes = build({ ...header, entries: hostile.entries ?? total }, removed, positions, added)
        } else {
          const other = deltaOf(base, hostile.other.next)
          const otherParts = parts(other.raw)
          const stored = storedDelta(other.raw, other.digest)
          const entries = baseColumns.paths.length - honest.removed.length + stored.positions.length
          bytes = build({ ...otherParts.header, entries }, [...honest.removed], [...stored.positions], otherParts.added)
        }
        let delta: StoredDelta
        try {
          delta = storedDelta(bytes, digest)
        } catch (error) {
          expect(error).toBeInstanceOf(IntegrityError)
          return
        }
        const merged = outcome(() => applyDelta(delta, baseColumns, digest))

        expect(merged).toEqual(outcome(() => referenceApply(delta, baseColumns, digest)))
        if (typeof merged !== 'string')
          expect(treeColumns(applyDelta(delta, baseColumns, digest))).toEqual(treeColumns(full))
      }),
      { numRuns: 1000 }
    )
  })

  it('refuses a delta whose positions or entry count disagree with its added entries', () => {
    const base = manifestFrom(
      [{ root: 0, dir: 1, name: 1, kind: 'file', mode: 0o644, blobs: [1, 2], mtime: 5, target: 0 }],
      new Map()
    )
    const next = manifestFrom(
      [{ root: 0, dir: 1, name: 1, kind: 'file', mode: 0o644, blobs: [2, 3], mtime: 5, target: 0 }],
      new Map()
    )
    const { raw, digest, baseColumns } = deltaOf(base, next)
    const delta = storedDelta(raw, digest)
    expect(() => applyDelta({ ...delta, positions: new Uint32Array([0, 1]) }, baseColumns, digest)).toThrow(
      /counts that do not add up/
    )
    expect(() => applyDelta({ ...delta, entries: delta.entries + 1 }, baseColumns, digest)).toThrow(IntegrityError)
    expect(plain(applyDelta(delta, baseColumns, digest))).toEqual(plain(columnsOf(next)))
  })

  it('takes a digest the added columns list twice from its last copy, as a lookup by digest does', () => {
    const file = (name: number, blob: number): Spec => ({
      root: 0,
      dir: 1,
      name,
      kind: 'file',
      mode: 0o644,
      blobs: [blob],
      mtime: 5,
      target: 0
    })
    const base = manifestFrom([file(1, 1)], new Map())
    const next = manifestFrom([file(1, 1), file(2, 3), file(3, 3)], new Map())
    const { raw, digest, baseColumns } = deltaOf(base, next)
    const honest = storedDelta(raw, digest)
    // The two added files stored against two copies of one digest, each with a location of its own.
    const added = columnsOf({
      schema: MANIFEST_SCHEMA,
      roots: next.roots,
      entries: [entryOf(file(2, 3)), { ...entryOf(file(3, 3)), blobs: [hex(4)] }],
      blobs: { [hex(3)]: locationOf(3, 0), [hex(4)]: locationOf(3, 2) }
    })
    added.digests = Buffer.from(hex(3).repeat(2), 'hex')
    const delta = { ...honest, added }
    const merged = applyDelta(delta, baseColumns, digest)
    expect(plain(merged)).toEqual(plain(referenceApply(delta, baseColumns, digest)))
    expect(treeColumns(merged)).toEqual(treeColumns(columnsOf(next)))
    expect(locationAt(merged, 1)).toEqual(locationOf(3, 2))
  })

  it('stores no size, blob count or mtime for added entries that are not files, as a full save does', () => {
    const entry = (kind: Spec['kind'], name: number): Spec => ({
      root: 0,
      dir: name,
      name,
      kind,
      mode: 0o755,
      blobs: [],
      mtime: 5,
      target: 1
    })
    const base = manifestFrom([entry('file', 1)], new Map())
    const next = manifestFrom([entry('file', 1), entry('dir', 2), entry('symlink', 3)], new Map())
    const { raw, digest, baseColumns, full } = deltaOf(base, next)
    const delta = storedDelta(raw, digest)
    const added = { ...delta.added, sizes: delta.added.sizes.map(() => 7), mtimes: delta.added.mtimes.map(() => 9) }
    added.blobCounts = delta.added.blobCounts.map((count, i) => (added.types[i] === 2 ? 3 : count))
    const hostile = { ...delta, added }
    expect(plain(applyDelta(hostile, baseColumns, digest))).toEqual(plain(referenceApply(hostile, baseColumns, digest)))
    expect(plain(applyDelta(hostile, baseColumns, digest))).toEqual(plain(full))
  })
})
