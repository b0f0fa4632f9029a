import { mkdir, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { restoreEntry, saveEntry } from '../../src/core/cache/checkpoint-cache.js'
import { manifestKey } from '../../src/core/cache/cache-layout.js'
import { pruneStore } from '../../src/core/cache/prune.js'
import { encodeManifest } from '../../src/core/manifest/encoding.js'
import { loadManifest } from '../../src/core/manifest/load.js'
import { unzstdSync } from '../../src/core/store/codec.js'
import type { ObjectStore } from '../../src/core/store/object-store.js'
import { S3Store } from '../../src/core/store/s3-store.js'
import { createTestBucket } from '../helpers/s3.js'
import { describeTree, seededBytes, tempDir } from '../helpers/trees.js'
import { wrapStore } from '../helpers/wrap-store.js'

const PATHS = ['out']
const MAIN = 'branch/main'
const FILES = 500

/** A workspace of FILES small files, or the files of an entry restored as a job would; those in `changed` hold other bytes. */
async function workspaceWith(
  changed: readonly number[] = [],
  from?: { store: ObjectStore; key: string; scope?: string }
): Promise<string> {
  const workspace = await tempDir('delta-ws')
  if (from) {
    const { store, key, scope = MAIN } = from
    const result = await restoreEntry({ store, key, paths: PATHS, workspace, readScopes: [scope] })
    if (result.status !== 'found') throw new Error(`expected ${key} to restore`)
  }
  for (let i = 0; i < FILES; i++) {
    if (from && !changed.includes(i)) continue
    const file = path.join(workspace, 'out', `dir${i % 10}`, `file${i}.txt`)
    await mkdir(path.dirname(file), { recursive: true })
    await writeFile(file, seededBytes(300, changed.includes(i) ? 10_000 + i : i))
  }
  return workspace
}

async function save(store: ObjectStore, key: string, workspace: string, base?: string, scope = MAIN): Promise<string> {
  const result = await saveEntry({
    store,
    key,
    paths: PATHS,
    workspace,
    readScopes: [scope],
    baseTrees: base ? [base] : []
  })
  if (result.status !== 'saved') throw new Error(`expected ${key} to be saved, got ${result.status}`)
  return result.tree
}

/** The stored form of a tree's manifest: its magic (AAMD a delta, AAM3 full) and stored bytes. */
async function stored(store: ObjectStore, tree: string): Promise<{ magic: string; bytes: number }> {
  const bytes = (await store.get(manifestKey(tree)))!
  return { magic: unzstdSync(bytes).subarray(0, 4).toString('latin1'), bytes: bytes.length }
}

async function restoresIntact(store: ObjectStore, key: string, workspace: string): Promise<void> {
  const target = await tempDir('delta-restore')
  const result = await restoreEntry({ store, key, paths: PATHS, workspace: target, readScopes: [MAIN] })
  expect(result.status).toBe('found')
  expect(await describeTree(path.join(target, 'out'))).toEqual(await describeTree(path.join(workspace, 'out')))
}

describe('manifest deltas on RGW', () => {
  it('stores a 1% change as a small delta that restores byte-identical; its base stays a full manifest', async () => {
    const store = new S3Store(await createTestBucket('delta-save'))
    const first = await save(store, 'v1', await workspaceWith())
    const changed = await workspaceWith([3, 120, 250, 377, 499], { store, key: 'v1' })
    const second = await save(store, 'v2', changed, first)
    expect(await stored(store, first)).toMatchObject({ magic: 'AAM3' })
    const delta = await stored(store, second)
    const full = encodeManifest(await loadManifest(store, second)).length
    expect(delta.magic).toBe('AAMD')
    expect(delta.bytes).toBeLessThan(full / 10)
    await restoresIntact(store, 'v2', changed)
  })

  it('writes a full manifest when the base is itself a delta, or when most of the tree changed', async () => {
    const store = new S3Store(await createTestBucket('delta-chain'))
    const first = await save(store, 'v1', await workspaceWith())
    const second = await save(store, 'v2', await workspaceWith([1], { store, key: 'v1' }), first)
    const thirdTree = await workspaceWith([2], { store, key: 'v2' })
    const third = await save(store, 'v3', thirdTree, second)
    const rewritten = await save(
      store,
      'v4',
      await workspaceWith([...Array(FILES).keys()], { store, key: 'v1' }),
      first
    )
    expect([await stored(store, second), await stored(store, third), await stored(store, rewritten)]).toMatchObject([
      { magic: 'AAMD' },
      { magic: 'AAM3' },
      { magic: 'AAM3' }
    ])
    await restoresIntact(store, 'v3', thirdTree)
  })

  it("keeps a live delta's base manifest when a prune removes the base's own entry", async () => {
    const store = new S3Store(await createTestBucket('delta-prune'))
    const first = await save(store, 'v1', await workspaceWith(), undefined, 'pr/1')
    const changed = await workspaceWith([7], { store, key: 'v1', scope: 'pr/1' })
    const second = await save(store, 'v2', changed, first)
    expect(await stored(store, second)).toMatchObject({ magic: 'AAMD' })
    const later = { now: () => Date.now() + 60_000 }
    const report = await pruneStore({ store, graceMs: 1000, clock: later, deleteScopes: ['pr/1'] })
    expect(report.removed.map(entry => entry.key)).toEqual(['v1'])
    expect(await store.head(manifestKey(first))).toBeDefined()
    await restoresIntact(store, 'v2', changed)
  })

  it('removes an entry whose delta lost its base as broken, and restores nothing from it', async () => {
    const store = new S3Store(await createTestBucket('delta-lost-base'))
    const first = await save(store, 'v1', await workspaceWith(), undefined, 'pr/1')
    const second = await save(store, 'v2', await workspaceWith([7], { store, key: 'v1', scope: 'pr/1' }), first)
    await store.delete([manifestKey(first)])
    const target = await tempDir('delta-restore')
    await expect(
      restoreEntry({ store, key: 'v2', paths: PATHS, workspace: target, readScopes: [MAIN] })
    ).rejects.toThrow(/missing from the store/)
    const later = { now: () => Date.now() + 60_000 }
    const report = await pruneStore({ store, graceMs: 1000, clock: later, deleteScopes: ['pr/1'] })
    expect(report.removed.map(entry => [entry.key, entry.reason]).sort()).toEqual([
      ['v1', 'deleted-scope'],
      ['v2', 'broken']
    ])
    expect(await store.head(manifestKey(second))).toBeUndefined()
  })

  it('replaces its delta with the full manifest when a prune takes the base while it saves', async () => {
    const inner = new S3Store(await createTestBucket('delta-base-taken'))
    const first = await save(inner, 'v1', await workspaceWith())
    const changed = await workspaceWith([7], { store: inner, key: 'v1' })
    // As a prune would between the save's manifest and its check.
    const store = wrapStore(inner, {
      async put(key, body, options) {
        const result = await inner.put(key, body, options)
        if (key.startsWith('manifests/') && key !== manifestKey(first)) await inner.delete([manifestKey(first)])
        return result
      }
    })
    const second = await save(store, 'v2', changed, first)
    expect(await stored(inner, second)).toMatchObject({ magic: 'AAM3' })
    await restoresIntact(inner, 'v2', changed)
  })
})
