import fc from 'fast-check'
import { IntegrityError } from '../../src/core/errors.js'
import { randomTrees } from '../helpers/random-trees.js'
import {
  columnsOf,
  digestAt,
  EntryCode,
  locationAt,
  readColumns,
  type ManifestColumns
} from '../../src/core/manifest/columns.js'
import { encodeDelta } from '../../src/core/manifest/delta.js'
import { sealTree } from '../../src/core/manifest/encoding.js'
import { PathColumn } from '../../src/core/manifest/path-column.js'
import {
  DELTA_SCHEMA,
  MANIFEST_SCHEMA,
  type BlobLocation,
  type Manifest,
  type ManifestEntry,
  type ManifestTree
} from '../../src/core/manifest/model.js'
import { BlobLocations } from '../../src/core/store/blob-locations.js'
import { frameContentSize, sha256Hex, unzstdSync, zstdSync } from '../../src/core/store/codec.js'
import { DigestTable } from '../../src/core/store/digest-table.js'

/**
 * A save seals its tree and its delta from columns (digest numbers, typed location columns); these
 * check the bytes against the way both were made before, from an object per entry and a lookup of
 * each digest's location, kept here as the reference.
 */

// --- the reference: sealing and the delta as they were, from entries and a location lookup ---

const align = (offset: number) => Math.ceil(offset / 8) * 8

/** Where each column starts, in order, each at a multiple of 8; `end` is where the last one ends. */
function layout(start: number, lengths: Record<string, number>): Record<string, number> {
  const at: Record<string, number> = {}
  let offset = start
  for (const [name, length] of Object.entries(lengths)) {
    at[name] = offset = align(offset)
    offset += length
  }
  at.end = offset
  return at
}

function referenceTreePart(
  tree: Omit<
    ManifestColumns,
    | 'paths'
    | 'mtimes'
    | 'objects'
    | 'objectIndexes'
    | 'offsets'
    | 'lengths'
    | 'blobSizes'
    | 'codecs'
    | 'withins'
    | 'frameSizes'
  > & { paths: string[] }
): Buffer {
  const n = tree.paths.length
  const pathText = Buffer.from(tree.paths.join('\0'))
  const targetText = Buffer.from(tree.targets.join('\0'))
  const d = tree.digests.length / 32
  const header = Buffer.from(
    JSON.stringify({
      schema: tree.schema,
      roots: tree.roots,
      entries: n,
      symlinks: tree.targets.length,
      refs: tree.refs.length,
      digests: d,
      pathBytes: pathText.length,
      targetBytes: targetText.length
    })
  )
  const at = layout(4 + header.length, {
    paths: pathText.length,
    targets: targetText.length,
    sizes: 8 * n,
    modes: 4 * n,
    roots: 4 * n,
    counts: 4 * n,
    refs: 4 * tree.refs.length,
    types: n,
    digests: 32 * d
  })
  const out = Buffer.from(new ArrayBuffer(at.end))
  out.writeUInt32LE(header.length, 0)
  header.copy(out, 4)
  pathText.copy(out, at.paths)
  targetText.copy(out, at.targets)
  new Float64Array(out.buffer, at.sizes, n).set(tree.sizes)
  new Uint32Array(out.buffer, at.modes, n).set(tree.modes)
  new Uint32Array(out.buffer, at.roots, n).set(tree.rootIndexes)
  new Uint32Array(out.buffer, at.counts, n).set(tree.blobCounts)
  new Uint32Array(out.buffer, at.refs, tree.refs.length).set(tree.refs)
  out.set(tree.types, at.types)
  out.set(tree.digests, at.digests)
  return out
}

function referenceColumnsWith(
  manifest: ManifestTree,
  locationOf: (digest: string) => BlobLocation | undefined
): { bytes: Buffer; treePart: Buffer } {
  const digests: string[] = []
  const digestIndex = new Map<string, number>()
  const refs: number[] = []
  const n = manifest.entries.length
  const tree = {
    schema: manifest.schema,
    roots: manifest.roots,
    paths: manifest.entries.map(entry => entry.path),
    targets: manifest.entries.filter(entry => entry.type === 'symlink').map(entry => entry.target!),
    sizes: Float64Array.from(manifest.entries, entry => (entry.type === 'file' ? entry.size! : 0)),
    modes: Uint32Array.from(manifest.entries, entry => entry.mode),
    rootIndexes: Uint32Array.from(manifest.entries, entry => entry.root),
    blobCounts: Uint32Array.from(manifest.entries, entry => (entry.type === 'file' ? entry.blobs!.length : 0)),
    types: Uint8Array.from(manifest.entries, entry => EntryCode[entry.type])
  }
  for (const entry of manifest.entries)
    for (const digest of entry.type === 'file' ? entry.blobs! : []) {
      if (!digestIndex.has(digest)) digestIndex.set(digest, digests.push(digest) - 1)
      refs.push(digestIndex.get(digest)!)
    }
  const treeBytes = referenceTreePart({
    ...tree,
    refs: Uint32Array.from(refs),
    digests: Buffer.from(digests.join(''), 'hex')
  })
  const objects: string[] = []
  const objectIndex = new Map<string, number>()
  const locations = digests.map(digest => {
    const location = locationOf(digest)
    if (!location) throw new IntegrityError('no location')
    if (!objectIndex.has(location[0])) objectIndex.set(location[0], objects.push(location[0]) - 1)
    return location
  })
  const header = Buffer.from(JSON.stringify({ objects }))
  const d = digests.length
  const at = layout(4 + header.length, {
    mtimes: 8 * n,
    offsets: 8 * d,
    lengths: 8 * d,
    sizes: 8 * d,
    withins: 8 * d,
    frameSizes: 8 * d,
    objects: 4 * d,
    codecs: d
  })
  const locationStart = 8 + align(treeBytes.length)
  const out = Buffer.from(new ArrayBuffer(locationStart + at.end))
  out.write('AAM3', 0, 'latin1')
  out.writeUInt32LE(treeBytes.length, 4)
  treeBytes.copy(out, 8)
  const part = out.subarray(locationStart)
  part.writeUInt32LE(header.length, 0)
  header.copy(part, 4)
  const f64 = (name: string, count: number) => new Float64Array(part.buffer, part.byteOffset + at[name], count)
  const mtimes = f64('mtimes', n)
  manifest.entries.forEach((entry, i) => (mtimes[i] = entry.mtime ?? NaN))
  const [offsets, lengths, sizes, withins, frameSizes] = ['offsets', 'lengths', 'sizes', 'withins', 'frameSizes'].map(
    name => f64(name, d)
  )
  const objectColumn = new Uint32Array(part.buffer, part.byteOffset + at.objects, d)
  locations.forEach((location, k) => {
    objectColumn[k] = objectIndex.get(location[0])!
    offsets[k] = location[1]
    lengths[k] = location[2]
    sizes[k] = location[3]
    part[at.codecs + k] = location[4]
    if (location[4] === 2) {
      withins[k] = location[5]
      frameSizes[k] = location[6]
    }
  })
  return { bytes: out, treePart: out.subarray(8, 8 + treeBytes.length) }
}

function referenceSeal(manifest: Manifest): { digest: string; encoded: Buffer } {
  const { bytes, treePart } = referenceColumnsWith(manifest, digest => manifest.blobs[digest])
  return { digest: sha256Hex(treePart), encoded: zstdSync(bytes) }
}

function referenceDelta(base: { digest: string; columns: ManifestColumns }, tree: Manifest): Buffer | undefined {
  const { columns } = base
  const locationOf = (digest: string) => tree.blobs[digest]
  const sameRoots = columns.roots.length === tree.roots.length && columns.roots.every((r, i) => r === tree.roots[i])
  if (columns.schema !== MANIFEST_SCHEMA || !sameRoots) return undefined
  const n = columns.paths.length
  const index = new Map<string, number>()
  for (let i = 0; i < n; i++) index.set(`${columns.rootIndexes[i]}\0${columns.paths.at(i)}`, i)
  const refStarts = new Uint32Array(n + 1)
  const targetIndexes = new Int32Array(n).fill(-1)
  let links = 0
  for (let i = 0; i < n; i++) {
    refStarts[i + 1] = refStarts[i] + (columns.types[i] === EntryCode.file ? columns.blobCounts[i] : 0)
    if (columns.types[i] === EntryCode.symlink) targetIndexes[i] = links++
  }
  const same = (entry: ManifestEntry, i: number): boolean => {
    if (columns.types[i] !== EntryCode[entry.type] || columns.modes[i] !== entry.mode) return false
    if (entry.type === 'symlink') return columns.targets[targetIndexes[i]] === entry.target
    if (entry.type !== 'file') return true
    const blobs = entry.blobs ?? []
    const mtime = columns.mtimes[i]
    if (columns.sizes[i] !== entry.size || blobs.length !== columns.blobCounts[i]) return false
    if (Number.isNaN(mtime) ? entry.mtime !== undefined : mtime !== entry.mtime) return false
    return blobs.every((digest, j) => {
      const k = columns.refs[refStarts[i] + j]
      const mine = locationOf(digest)
      const theirs = locationAt(columns, k)
      return (
        digestAt(columns, k) === digest &&
        mine !== undefined &&
        mine.length === theirs.length &&
        mine.every((v, x) => v === theirs[x])
      )
    })
  }
  const kept = new Uint8Array(n)
  const positions: number[] = []
  const added: ManifestEntry[] = []
  let last = -1
  tree.entries.forEach((entry, r) => {
    const i = index.get(`${entry.root}\0${entry.path}`)
    if (i !== undefined && i > last && same(entry, i)) {
      kept[i] = 1
      last = i
    } else {
      positions.push(r)
      added.push(entry)
    }
  })
  const removed: number[] = []
  for (let i = 0; i < n; i++) if (!kept[i]) removed.push(i)
  const addedBytes = referenceColumnsWith(
    { schema: MANIFEST_SCHEMA, roots: tree.roots, entries: added },
    locationOf
  ).bytes
  const header = Buffer.from(
    JSON.stringify({
      schema: DELTA_SCHEMA,
      base: base.digest,
      removed: removed.length,
      added: added.length,
      entries: tree.entries.length
    })
  )
  const removedAt = align(8 + header.length)
  const positionsAt = removedAt + 4 * removed.length
  const end = align(positionsAt + 4 * positions.length)
  const out = Buffer.from(new ArrayBuffer(end + addedBytes.length))
  out.write('AAMD', 0, 'latin1')
  out.writeUInt32LE(header.length, 4)
  header.copy(out, 8)
  new Uint32Array(out.buffer, removedAt, removed.length).set(removed)
  new Uint32Array(out.buffer, positionsAt, positions.length).set(positions)
  addedBytes.copy(out, end)
  return zstdSync(out)
}

// --- the tree as a save builds it: digest numbers in first-use order, locations set in any order ---

/** The columns of a manifest built the way snapshot.ts builds them; `order` says in which order blobs are located. */
function savedColumns(manifest: Manifest, order: (d: number) => number[]): ManifestColumns {
  const digests = DigestTable.empty()
  const locations = new BlobLocations()
  const n = manifest.entries.length
  const blobCounts = new Uint32Array(n)
  const refs: number[] = []
  manifest.entries.forEach((entry, i) => {
    for (const digest of entry.type === 'file' ? entry.blobs! : [])
      refs.push(digests.numberOf(Buffer.from(digest, 'hex')))
    blobCounts[i] = entry.type === 'file' ? entry.blobs!.length : 0
  })
  for (const k of order(digests.size)) {
    const [object, offset, length, size, codec, within, frameSize] = manifest.blobs[digests.hexAt(k)]
    // A pack's blobs are located before the pack has a name, as PackWriter does.
    locations.set(k, '', offset, length, size, codec, within, frameSize)
    locations.setObject(k, object)
  }
  return {
    schema: MANIFEST_SCHEMA,
    roots: manifest.roots,
    paths: PathColumn.of(manifest.entries.map(entry => entry.path)),
    types: Uint8Array.from(manifest.entries, entry => EntryCode[entry.type]),
    modes: Uint32Array.from(manifest.entries, entry => entry.mode),
    rootIndexes: Uint32Array.from(manifest.entries, entry => entry.root),
    sizes: Float64Array.from(manifest.entries, entry => entry.size ?? 0),
    mtimes: Float64Array.from(manifest.entries, entry => entry.mtime ?? NaN),
    blobCounts,
    targets: manifest.entries.filter(entry => entry.type === 'symlink').map(entry => entry.target!),
    refs: Uint32Array.from(refs),
    digests: digests.digests(),
    ...locations.columns(digests.size, () => '')
  }
}

// --- random trees ---

const hex = (n: number): string => sha256Hex(String(n))
const { manifestFrom, trees: editedTrees } = randomTrees({ hex, objects: 4, maxBlobs: 4 })

const trees = editedTrees.map(({ base, next, seed }) => {
  /** Blobs located in an order of the seed's: first to last, last to first, or every other one first. */
  const order = (d: number): number[] => {
    const ks = Array.from({ length: d }, (_, k) => k)
    if (seed % 3 === 1) return ks.reverse()
    if (seed % 3 === 2) return [...ks.filter(k => k % 2), ...ks.filter(k => k % 2 === 0)]
    return ks
  }
  return { base, next, order }
})

describe('sealing a tree from a save’s columns', () => {
  it('gives the bytes and digest the entries gave, as one frame that declares its size', async () => {
    await fc.assert(
      fc.asyncProperty(trees, async ({ base, next, order }) => {
        for (const manifest of [base, next]) {
          const columns = savedColumns(manifest, order)
          const sealed = await sealTree(columns)
          const reference = referenceSeal(manifest)
          expect(sealed.digest).toBe(reference.digest)
          const raw = unzstdSync(reference.encoded)
          expect(unzstdSync(sealed.encoded).equals(raw)).toBe(true)
          expect(frameContentSize(sealed.encoded)).toBe(raw.length)
        }
      }),
      { numRuns: 300 }
    )
  })

  it('gives the delta the entries gave', () => {
    fc.assert(
      fc.property(trees, ({ base, next, order }) => {
        const baseColumns = columnsOf(base)
        const digest = referenceSeal(base).digest
        const delta = encodeDelta({ digest, columns: baseColumns }, savedColumns(next, order))!
        const reference = referenceDelta({ digest, columns: baseColumns }, next)!
        expect(unzstdSync(delta).equals(unzstdSync(reference))).toBe(true)
      }),
      { numRuns: 300 }
    )
  })

  it('writes the paths and targets of a large tree as one NUL-joined UTF-8 text would', async () => {
    // No path holds a NUL: no walk finds one, and the column refuses one.
    const names = fc.array(
      fc
        .oneof(fc.string({ unit: 'binary', maxLength: 12 }), fc.string({ maxLength: 3 }))
        .map(s => s.replace(/\0/g, '')),
      { minLength: 4000, maxLength: 9000 }
    )
    await fc.assert(
      fc.asyncProperty(
        names,
        fc.array(fc.string({ unit: 'binary', maxLength: 6 }), { maxLength: 5000 }),
        async (paths, links) => {
          const entries: ManifestEntry[] = paths.map((path, i) =>
            i < links.length
              ? { root: 0, path, type: 'symlink', mode: 0o777, target: links[i] }
              : { root: 0, path, type: 'dir', mode: 0o755 }
          )
          const manifest: Manifest = { schema: MANIFEST_SCHEMA, roots: ['.'], entries, blobs: {} }
          const sealed = await sealTree(savedColumns(manifest, () => []))
          expect(unzstdSync(sealed.encoded).equals(unzstdSync(referenceSeal(manifest).encoded))).toBe(true)
        }
      ),
      { numRuns: 8 }
    )
  })

  it('refuses a tree with a blob that has no location', async () => {
    const manifest = manifestFrom(
      [{ root: 0, dir: 1, name: 2, kind: 'file', mode: 0o644, blobs: [3], mtime: 5, target: 0 }],
      new Map()
    )
    expect(() => savedColumns(manifest, () => [])).toThrow(IntegrityError)
    const columns = savedColumns(manifest, d => Array.from({ length: d }, (_, k) => k))
    expect([...readColumns(unzstdSync((await sealTree(columns)).encoded)).columns.paths]).toEqual(['', 'd1/f2', ''])
  })
})
