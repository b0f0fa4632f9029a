import { mkdir, rm, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { restoreEntry, saveEntry, type SaveRequest, type SaveResult } from '../../src/core/cache/checkpoint-cache.js'
import { refKey } from '../../src/core/cache/cache-layout.js'
import { entryVersion, ENTRY_SCHEMA } from '../../src/core/cache/entry-refs.js'
import type { ObjectInfo, ObjectStore } from '../../src/core/store/object-store.js'
import { S3Store } from '../../src/core/store/s3-store.js'
import { createTestBucket } from '../helpers/s3.js'
import { runCliFromSource } from '../helpers/source-runner.js'
import { branchScopes, startCacheService, type CacheServiceStandIn } from '../helpers/github-cache-service.js'
import { cacheServiceFromEnv, CacheServiceClient } from '../../src/github/cache-service.js'
import { GitHubCacheStore } from '../../src/github/github-cache-store.js'
import { describeTree, seededBytes, tempDir } from '../helpers/trees.js'
import { wrapStore } from '../helpers/wrap-store.js'

const MAIN = 'branch/main'
const PATHS = ['out']
const VERSION = entryVersion(PATHS)
const KiB = 1024

type Files = Record<string, Buffer | string>

async function freshStore(name: string): Promise<S3Store> {
  return new S3Store(await createTestBucket(name))
}

/** A workspace whose out/ holds exactly these files. */
async function workspaceWith(files: Files, workspace?: string): Promise<string> {
  const dir = workspace ?? (await tempDir('update-ws'))
  await rm(path.join(dir, 'out'), { recursive: true, force: true })
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, 'out', name)), { recursive: true })
    await writeFile(path.join(dir, 'out', name), content)
  }
  return dir
}

/** Forty small files and a 3 MiB file of distinct bytes: a tree of about 3.4 MB. */
function baseFiles(): Files {
  const files: Files = { 'large.bin': seededBytes(3 * 1024 * KiB, 1) }
  for (let i = 0; i < 40; i++) files[`src/file${i}.txt`] = seededBytes(8 * KiB, 100 + i)
  return files
}

function save(store: ObjectStore, workspace: string, extra: Partial<SaveRequest> = {}): Promise<SaveResult> {
  return saveEntry({ store, key: 'deps-linux', paths: PATHS, workspace, readScopes: [MAIN], ...extra })
}

function saved(result: SaveResult): Extract<SaveResult, { status: 'saved' }> {
  if (result.status !== 'saved') throw new Error(`expected a save, got ${result.status}`)
  return result
}

/** Restores into a fresh folder; returns the match and the restored tree as lines. */
async function restore(
  store: ObjectStore,
  key: string,
  restoreKeys: string[] = [],
  scopes = [MAIN]
): Promise<{ key: string; tree: string; exact: boolean; files: string[] }> {
  const target = await tempDir('update-restore')
  const result = await restoreEntry({ store, key, restoreKeys, paths: PATHS, workspace: target, readScopes: scopes })
  if (result.status !== 'found') throw new Error(`expected ${key} to restore, got a miss`)
  const { record } = result.match
  return {
    key: record.key,
    tree: record.tree,
    exact: result.exact,
    files: await describeTree(path.join(target, 'out'))
  }
}

async function listing(store: ObjectStore): Promise<Map<string, ObjectInfo>> {
  const keys = new Map<string, ObjectInfo>()
  for await (const info of store.list('')) keys.set(info.key, info)
  return keys
}

async function refs(store: ObjectStore): Promise<string[]> {
  return [...(await listing(store)).keys()].filter(key => key.startsWith('refs/'))
}

describe('updatable entries on RGW', () => {
  it('saves a changed tree as a new revision, uploading only the changed content, and restores the newest', async () => {
    const store = await freshStore('update-newest')
    const files = baseFiles()
    const workspace = await workspaceWith(files)
    const first = saved(await save(store, workspace, { update: true }))
    expect(first.revision).toBe(0)
    expect(first.stats.bytesUploaded).toBeGreaterThan(3 * 1024 * KiB)

    // One small file changes and one is added: one pack and the manifest are new.
    const changed = { ...files, 'src/file7.txt': 'changed', 'src/new.txt': 'new file' }
    await workspaceWith(changed, workspace)
    const update = saved(await save(store, workspace, { update: true }))
    expect(update.revision).toBe(1)
    expect(update.tree).not.toBe(first.tree)
    expect(update.stats.bytesUploaded).toBeGreaterThan(0)
    // The 320 KiB of unchanged small files are not packed again: only the new pack and the manifest go up.
    expect(update.stats.bytesUploaded).toBeLessThan(64 * KiB)
    expect(update.stats.bytesDeduplicated).toBeGreaterThanOrEqual(3 * 1024 * KiB)

    const expected = await describeTree(path.join(workspace, 'out'))
    expect(await restore(store, 'deps-linux')).toEqual({
      key: 'deps-linux',
      tree: update.tree,
      exact: true,
      files: expected
    })
    // A restore key's prefix finds the key's newest revision too.
    expect(await restore(store, 'deps-macos', ['deps-'])).toMatchObject({ tree: update.tree, exact: false })
    expect(await refs(store)).toEqual([refKey(MAIN, VERSION, 'deps-linux'), refKey(MAIN, VERSION, 'deps-linux', 1)])

    // Without update, the key stays as it is.
    await workspaceWith({ 'other.txt': 'x' }, workspace)
    expect(await save(store, workspace)).toEqual({ status: 'exists', retries: 0 })
    expect(await refs(store)).toHaveLength(2)
  })

  it('writes nothing when the tree did not change, in its own scope or after an exact hit from another', async () => {
    const store = await freshStore('update-unchanged')
    const workspace = await workspaceWith(baseFiles())
    const first = saved(await save(store, workspace, { update: true }))
    const before = await listing(store)
    expect(await save(store, workspace, { update: true, baseTrees: [first.tree] })).toEqual({
      status: 'unchanged',
      tree: first.tree,
      revision: 0,
      retries: 0
    })
    // A pull request restored main's entry exactly and left the tree as it was.
    const pr = { readScopes: ['pr/3', MAIN], update: true, baseTrees: [first.tree], hitTree: first.tree }
    expect(await save(store, workspace, pr)).toMatchObject({ status: 'unchanged', tree: first.tree })
    expect(await listing(store)).toEqual(before)

    // Changed in the pull request: its own first entry, in its own scope.
    await writeFile(path.join(workspace, 'out', 'src', 'file1.txt'), 'pr change')
    expect(saved(await save(store, workspace, pr))).toMatchObject({ scope: 'pr/3', revision: 0 })
  })

  it('lands racing updates of one key as successive revisions; the later one wins', async () => {
    const inner = await freshStore('update-race')
    const files = baseFiles()
    saved(await save(inner, await workspaceWith(files), { update: true }))
    const a = await workspaceWith({ ...files, 'a.txt': 'update a' })
    const b = await workspaceWith({ ...files, 'b.txt': 'update b' })

    // Both updates write their first ref attempt only once both have got there: they race for one slot.
    let waiting = 0
    let release!: () => void
    const bothThere = new Promise<void>(resolve => (release = resolve))
    const slots: string[] = []
    const store = wrapStore(inner, {
      async put(key, body, options) {
        if (key.startsWith('refs/')) {
          slots.push(key)
          if (++waiting === 2) release()
          await bothThere
        }
        return inner.put(key, body, options)
      }
    })
    const [ra, rb] = await Promise.all([save(store, a, { update: true }), save(store, b, { update: true })])
    // Both tried slot 1 first; one got it, the other took slot 2.
    expect(slots.slice(0, 2)).toEqual([refKey(MAIN, VERSION, 'deps-linux', 1), refKey(MAIN, VERSION, 'deps-linux', 1)])
    const revisions = [saved(ra).revision, saved(rb).revision]
    expect([...revisions].sort()).toEqual([1, 2])
    const later = revisions[0] === 2 ? { result: saved(ra), workspace: a } : { result: saved(rb), workspace: b }
    expect(await refs(inner)).toEqual([0, 1, 2].map(revision => refKey(MAIN, VERSION, 'deps-linux', revision)))
    const restored = await restore(inner, 'deps-linux')
    expect(restored.tree).toBe(later.result.tree)
    expect(restored.files).toEqual(await describeTree(path.join(later.workspace, 'out')))
  })

  it('passes over revision refs that do not agree with their names, and updates above them', async () => {
    const store = await freshStore('update-hostile')
    const workspace = await workspaceWith(baseFiles())
    const first = saved(await save(store, workspace, { update: true }))
    const record = {
      schema: ENTRY_SCHEMA,
      key: 'deps-linux',
      scope: MAIN,
      version: VERSION,
      tree: 'e'.repeat(64),
      files: 1,
      size: 1,
      created: new Date().toISOString()
    }
    const forged = (revision: number, body: object | string): Promise<unknown> =>
      store.put(
        refKey(MAIN, VERSION, 'deps-linux', revision),
        Buffer.from(typeof body === 'string' ? body : JSON.stringify(body))
      )
    await forged(7, { ...record, revision: 3 }) // names another slot
    await forged(8, { ...record, key: 'other', revision: 8 }) // names another key
    await forged(9, 'not json')
    await forged(10, { ...record, tree: '../../etc', revision: 10 })
    await store.put(`${refKey(MAIN, VERSION, 'deps-linux')}@99`, Buffer.from(JSON.stringify(record)))
    expect(await restore(store, 'deps-linux')).toMatchObject({ tree: first.tree, exact: true })
    expect(await restore(store, 'x', ['deps-'])).toMatchObject({ tree: first.tree, exact: false })

    await writeFile(path.join(workspace, 'out', 'src', 'file2.txt'), 'changed')
    const update = saved(await save(store, workspace, { update: true }))
    expect(update.revision).toBe(11)
    expect(await restore(store, 'deps-linux')).toMatchObject({ tree: update.tree })
  })

  it('saves only new keys on a store that cannot hold revisions, and says so', async () => {
    const inner = await freshStore('update-unsupported')
    const store: ObjectStore = { ...wrapStore(inner, {}), entryRevisions: false }
    const workspace = await workspaceWith(baseFiles())
    saved(await save(store, workspace, { update: true }))
    await writeFile(path.join(workspace, 'out', 'src', 'file2.txt'), 'changed')
    expect(await save(store, workspace, { update: true })).toEqual({
      status: 'exists',
      updateUnsupported: true,
      retries: 0
    })
    expect(await refs(inner)).toEqual([refKey(MAIN, VERSION, 'deps-linux')])
  })

  it('updates through the CLI on a local directory store', async () => {
    const storeDir = await tempDir('update-fs-store')
    const workspace = await workspaceWith({ 'a.txt': 'one' })
    const args = ['save', '--key', 'deps', '--update', '--store', storeDir, '--workspace', workspace, 'out']
    expect((await runCliFromSource(args)).stdout).toMatch(/^saved deps in scope local: tree [0-9a-f]{64}\n/)
    expect((await runCliFromSource(args)).stdout).toMatch(/^deps: unchanged \(tree [0-9a-f]{64}\); nothing saved\n$/)
    await workspaceWith({ 'a.txt': 'two' }, workspace)
    expect((await runCliFromSource(args)).stdout).toMatch(/^saved deps as revision 1 in scope local/)
    const target = await tempDir('update-fs-restore')
    const restoreArgs = ['restore', '--key', 'deps', '--store', storeDir, '--workspace', target, 'out']
    expect((await runCliFromSource(restoreArgs)).exitCode).toBe(0)
    expect(await describeTree(path.join(target, 'out'))).toEqual(await describeTree(path.join(workspace, 'out')))
    const listed = await runCliFromSource(['ls', '--store', storeDir])
    expect(listed.stdout.split('\n').map(line => line.split('\t')[1])).toEqual(['KEY', 'deps@1', 'deps', undefined])
  })
})

describe("updatable entries on GitHub's cache service (the stand-in, with Azurite)", () => {
  let service: CacheServiceStandIn
  beforeAll(async () => {
    service = await startCacheService()
  })
  afterAll(async () => {
    await service?.stop()
  })

  it('saves revisions, restores the newest, writes nothing for an unchanged tree, and lands racing updates', async () => {
    const config = cacheServiceFromEnv(service.env(branchScopes('main')))!
    const inner = new GitHubCacheStore(new CacheServiceClient(config))
    const files = baseFiles()
    const workspace = await workspaceWith(files)
    saved(await save(inner, workspace, { update: true }))
    await workspaceWith({ ...files, 'src/file3.txt': 'changed' }, workspace)
    const update = saved(await save(inner, workspace, { update: true }))
    expect(update.revision).toBe(1)
    expect(update.stats.bytesUploaded).toBeLessThan(64 * KiB)
    expect(await restore(inner, 'deps-linux')).toMatchObject({ tree: update.tree, exact: true })
    expect(await restore(inner, 'deps-windows', ['deps-'])).toMatchObject({ tree: update.tree, exact: false })

    const entries = service.entries().length
    expect(await save(inner, workspace, { update: true })).toMatchObject({ status: 'unchanged', tree: update.tree })
    expect(service.entries()).toHaveLength(entries)

    let waiting = 0
    let release!: () => void
    const bothThere = new Promise<void>(resolve => (release = resolve))
    const store = wrapStore(inner, {
      async put(key, body, options) {
        if (key.startsWith('refs/') && waiting < 2) {
          if (++waiting === 2) release()
          await bothThere
        }
        return inner.put(key, body, options)
      }
    })
    const a = await workspaceWith({ ...files, 'a.txt': 'update a' })
    const b = await workspaceWith({ ...files, 'b.txt': 'update b' })
    const results = (await Promise.all([save(store, a, { update: true }), save(store, b, { update: true })])).map(saved)
    expect(results.map(result => result.revision).sort()).toEqual([2, 3])
    const later = results.find(result => result.revision === 3)!
    expect(await restore(inner, 'deps-linux')).toMatchObject({ tree: later.tree })
  })
})
