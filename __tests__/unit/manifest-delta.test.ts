import fc from 'fast-check'
import { IntegrityError } from '../../src/core/errors.js'
import { columnsOf, manifestOf } from '../../src/core/manifest/columns.js'
import { applyDelta, encodeDelta, readDelta } from '../../src/core/manifest/delta.js'
import { decodeManifest, readStored, sealManifest, treeDigest } from '../../src/core/manifest/encoding.js'
import { manifestKey } from '../../src/core/cache/cache-layout.js'
import { loadManifest, loadManifestColumns, storedFormOf } from '../../src/core/manifest/load.js'
import type { ObjectStore } from '../../src/core/store/object-store.js'
import { MANIFEST_SCHEMA, type BlobLocation, type Manifest, type ManifestEntry } from '../../src/core/manifest/model.js'
import { comparePaths } from '../../src/core/manifest/path-column.js'
import { unzstdSync, zstdSync } from '../../src/core/store/codec.js'

const hex = (n: number): string => n.toString(16).padStart(64, '0')

/** A file entry of `size` bytes in one blob, with its location in a shared frame of `pack`. */
function file(path: string, blob: number, extra: Partial<ManifestEntry> = {}): ManifestEntry {
  return {
    root: 0,
    path,
    type: 'file',
    mode: 0o644,
    size: 100 + (blob % 50),
    blobs: [hex(blob)],
    mtime: 1e12,
    ...extra
  }
}

function located(entries: ManifestEntry[], pack = 'p'.repeat(64)): Record<string, BlobLocation> {
  const blobs: Record<string, BlobLocation> = {}
  for (const entry of entries)
    for (const digest of entry.blobs ?? []) blobs[digest] ??= [pack, 0, 4096, entry.size!, 2, 0, 1 << 20]
  return blobs
}

function tree(entries: ManifestEntry[], blobs = located(entries)): Manifest {
  const sorted = [...entries].sort((a, b) => comparePaths(a.path, b.path))
  return {
    schema: MANIFEST_SCHEMA,
    roots: ['build'],
    entries: [{ root: 0, path: '', type: 'dir', mode: 0o755 }, ...sorted],
    blobs
  }
}

/** The stored delta of `next` against `base`, as load.ts reads it: its bytes, its digest and the base's columns. */
function deltaOf(base: Manifest, next: Manifest) {
  const baseSealed = sealManifest(base)
  const baseColumns = columnsOf(base)
  const digest = treeDigest(next)
  const encoded = encodeDelta({ digest: baseSealed.digest, columns: baseColumns }, columnsOf(next))!
  return { encoded, digest, baseColumns, full: sealManifest(next).encoded }
}

function resolve(encoded: Buffer, baseColumns: ReturnType<typeof columnsOf>, digest: string) {
  const stored = readStored(encoded, digest)
  if (!('delta' in stored)) throw new Error('not a delta')
  return manifestOf(applyDelta(stored.delta, baseColumns, digest))
}

describe('manifest delta', () => {
  it('resolves to the full manifest with the same digest, for random trees and changes', () => {
    const change = fc.record({
      kind: fc.constantFrom('remove', 'content', 'mode', 'mtime', 'location', 'symlink'),
      at: fc.nat()
    })
    fc.assert(
      fc.property(
        fc.uniqueArray(fc.integer({ min: 1, max: 400 }), { minLength: 0, maxLength: 60 }),
        fc.array(change, { maxLength: 80 }),
        fc.uniqueArray(fc.integer({ min: 401, max: 800 }), { maxLength: 20 }),
        (ids, changes, extra) => {
          const before = ids.map(id => file(`d${id % 7}/f${id}`, id))
          const base = tree(before)
          const after = before.map(entry => ({ ...entry }))
          const blobs = { ...base.blobs }
          const gone = new Set<number>()
          for (const { kind, at } of changes) {
            if (after.length === 0) break
            const i = at % after.length
            const entry = after[i]
            if (kind === 'remove') gone.add(i)
            else if (kind === 'content' && entry.type === 'file') {
              entry.blobs = [hex(1000 + at)]
              blobs[hex(1000 + at)] = ['q'.repeat(64), at, 10, entry.size!, 1]
            } else if (kind === 'mode') entry.mode = 0o600
            else if (kind === 'mtime') entry.mtime = 2e12 + at
            else if (kind === 'location' && entry.type === 'file')
              blobs[entry.blobs![0]] = ['r'.repeat(64), at, 7, entry.size!, 1]
            else if (kind === 'symlink')
              after[i] = { root: 0, path: entry.path, type: 'symlink', mode: 0o777, target: `t${at}` }
          }
          const kept = after.filter((_, i) => !gone.has(i))
          const added = extra.map(id => file(`d${id % 5}/g${id}`, id))
          const next = tree([...kept, ...added], { ...blobs, ...located(added) })
          const used = new Set(next.entries.flatMap(entry => entry.blobs ?? []))
          next.blobs = Object.fromEntries(Object.entries(next.blobs).filter(([d]) => used.has(d)))
          const { encoded, digest, baseColumns, full } = deltaOf(base, next)
          expect(resolve(encoded, baseColumns, digest)).toEqual(decodeManifest(full, digest))
        }
      ),
      { numRuns: 200 }
    )
  })

  it('keeps only what changed: a 1% change of 100,000 files is a small fraction of the full manifest', () => {
    const entries: ManifestEntry[] = []
    for (let i = 0; i < 100_000; i++)
      entries.push(file(`packages/pkg-${i % 400}/src/module-${Math.floor(i / 400)}/file-${i}.ts`, i + 1))
    const base = tree(entries)
    const changed = base.entries.map((entry, i) => (i % 100 === 50 ? { ...entry, blobs: [hex(500_000 + i)] } : entry))
    const blobs = { ...base.blobs }
    for (const entry of changed) blobs[entry.blobs?.[0] ?? ''] ??= ['s'.repeat(64), 0, 50, entry.size!, 1]
    const next: Manifest = { ...base, entries: changed, blobs }
    const { encoded, digest, baseColumns, full } = deltaOf(base, next)
    expect(encoded.length).toBeLessThan(full.length / 20)
    expect(resolve(encoded, baseColumns, digest)).toEqual(decodeManifest(full, digest))
  })

  it('is none for a base of other roots or another schema', () => {
    const base = tree([file('a', 1)])
    const next = { ...tree([file('a', 2)]), roots: ['other'] }
    expect(encodeDelta({ digest: hex(1), columns: columnsOf(base) }, columnsOf(next))).toBeUndefined()
  })

  describe('refuses a hostile delta', () => {
    const base = tree([file('a', 1), file('b', 2), file('c', 3)])
    const next = tree([file('a', 1), file('b', 9), file('d', 4)])
    const { encoded, digest, baseColumns } = deltaOf(base, next)

    /** The delta's bytes with its header, removed indexes or positions rewritten. */
    function tampered(edit: (header: Record<string, unknown>, removed: number[], positions: number[]) => void) {
      const stored = readDelta(unzstdSync(encoded))
      const header: Record<string, unknown> = {
        schema: 'artifact-action/manifest@4',
        base: stored.base,
        removed: stored.removed.length,
        added: stored.positions.length,
        entries: stored.entries
      }
      const removed = [...stored.removed]
      const positions = [...stored.positions]
      edit(header, removed, positions)
      header.removed = removed.length
      const raw = unzstdSync(encoded)
      const addedStart = raw.indexOf('AAM3')
      const headerBytes = Buffer.from(JSON.stringify(header))
      const start = Math.ceil((8 + headerBytes.length) / 8) * 8
      const end = Math.ceil((start + 4 * (removed.length + positions.length)) / 8) * 8
      const out = Buffer.alloc(end + raw.length - addedStart)
      out.write('AAMD', 0, 'latin1')
      out.writeUInt32LE(headerBytes.length, 4)
      headerBytes.copy(out, 8)
      ;[...removed, ...positions].forEach((v, k) => out.writeUInt32LE(v, start + 4 * k))
      raw.copy(out, end, addedStart)
      return zstdSync(out)
    }

    it('that is untouched resolves', () => {
      expect(
        resolve(
          tampered(() => {}),
          baseColumns,
          digest
        )
      ).toEqual(decodeManifest(sealManifest(next).encoded, digest))
    })

    it.each<[string, (h: Record<string, unknown>, removed: number[], positions: number[]) => void]>([
      ['removes a path its base does not have', (_, removed) => removed.push(99)],
      ['removes a path twice', (_, removed) => removed.push(removed[removed.length - 1])],
      ['places an entry twice', (_, __, positions) => (positions[1] = positions[0])],
      ['has huge counts', h => (h.entries = 2 ** 40)],
      ['has a count that is not a number', h => (h.added = 'many')],
      ['names a malformed base', h => (h.base = '../x')],
      ['has another schema', h => (h.schema = 'artifact-action/manifest@9')],
      ['resolves to another tree', (_, removed) => removed.pop()]
    ])('that %s', (_, edit) => {
      expect(() => resolve(tampered(edit), baseColumns, digest)).toThrow(IntegrityError)
    })

    it.each([
      ['a path listed twice', file('b', 9), /listed twice/],
      ['an unsafe path', file('../escape', 9), /unsafe/]
    ])('that resolves, under its own digest, to a tree with %s', (_, extra, message) => {
      const hostile: Manifest = { ...base, entries: [...base.entries, extra], blobs: located([...base.entries, extra]) }
      const delta = deltaOf(base, hostile)
      expect(() => resolve(delta.encoded, delta.baseColumns, delta.digest)).toThrow(message)
    })

    it('that is stored under another digest, or cut short', () => {
      expect(() => resolve(encoded, baseColumns, hex(7))).toThrow(IntegrityError)
      const raw = unzstdSync(encoded)
      expect(() => resolve(zstdSync(raw.subarray(0, raw.length - 9)), baseColumns, digest)).toThrow(IntegrityError)
    })

    it('against a base of other roots', () => {
      const other = columnsOf({ ...base, roots: ['elsewhere'] })
      expect(() => resolve(encoded, other, digest)).toThrow(/other roots/)
    })

    it('that a full-manifest reader meets', () => {
      expect(() => decodeManifest(encoded, digest)).toThrow(/is a delta/)
    })
  })

  describe('loaded from a store', () => {
    const base = tree([file('a', 1), file('b', 2), file('c', 3)])
    const next = tree([file('a', 1), file('b', 9), file('d', 4)])
    const baseSealed = sealManifest(base)
    const { encoded, digest } = deltaOf(base, next)
    const storeOf = (objects: Record<string, Buffer>) =>
      ({ get: async (key: string) => objects[key] }) as unknown as ObjectStore

    it('resolves against its base, and says which base it was stored against', async () => {
      const store = storeOf({ [manifestKey(digest)]: encoded, [manifestKey(baseSealed.digest)]: baseSealed.encoded })
      expect(await loadManifest(store, digest)).toEqual(decodeManifest(sealManifest(next).encoded, digest))
      const columns = await loadManifestColumns(store, digest)
      expect(storedFormOf(columns)).toEqual({ digest, base: baseSealed.digest })
      expect(storedFormOf(await loadManifestColumns(store, baseSealed.digest))).toEqual({ digest: baseSealed.digest })
    })

    it('refuses a delta whose base is missing, or is itself a delta', async () => {
      await expect(loadManifest(storeOf({ [manifestKey(digest)]: encoded }), digest)).rejects.toThrow(
        /missing from the store/
      )
      const chained = storeOf({ [manifestKey(digest)]: encoded, [manifestKey(baseSealed.digest)]: encoded })
      await expect(loadManifest(chained, digest)).rejects.toThrow(IntegrityError)
      const third = tree([file('a', 1), file('b', 9), file('e', 5)])
      const onDelta = encodeDelta({ digest, columns: columnsOf(next) }, columnsOf(third))!
      const chain = storeOf({
        [manifestKey(treeDigest(third))]: onDelta,
        [manifestKey(digest)]: encoded,
        [manifestKey(baseSealed.digest)]: baseSealed.encoded
      })
      await expect(loadManifest(chain, treeDigest(third))).rejects.toThrow(/itself a delta/)
    })
  })
})
