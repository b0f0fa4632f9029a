import { mkdir, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { restoreEntry, saveEntry } from '../../src/core/cache/checkpoint-cache.js'
import {
  accessKey,
  manifestKey,
  objectKey,
  parseEntryKey,
  refKey,
  signatureKey
} from '../../src/core/cache/cache-layout.js'
import { entryVersion, readEntry } from '../../src/core/cache/entry-refs.js'
import type { EntrySigning } from '../../src/core/cache/entry-signature.js'
import { RELEASE_STORE_MARKER, type PruneReport } from '../../src/core/cache/prune-plan.js'
import { PruneRefusedError } from '../../src/core/errors.js'
import { pruneStore, type PruneOptions } from '../../src/core/cache/prune.js'
import { MANIFEST_REFRESH_MS } from '../../src/core/cache/save-commit.js'
import { main } from '../../src/cli/main.js'
import { keySigner } from '../../src/core/release/release-job.js'
import { generateSigningKey } from '../../src/core/signing/keys.js'
import type { Clock } from '../../src/core/clock.js'
import { InputError } from '../../src/core/errors.js'
import { encodeManifest } from '../../src/core/manifest/encoding.js'
import { loadManifest } from '../../src/core/manifest/load.js'
import type { Manifest } from '../../src/core/manifest/model.js'
import type { ObjectInfo, ObjectStore } from '../../src/core/store/object-store.js'
import { S3Store, type S3StoreConfig } from '../../src/core/store/s3-store.js'
import { defaultBranchEvent } from '../helpers/action-runner.js'
import { runActionFromSource, runCliFromSource } from '../helpers/source-runner.js'
import { createTestBucket, s3ConnectionInputs, s3CredentialEnv } from '../helpers/s3.js'
import { describeTree, seededBytes, tempDir } from '../helpers/trees.js'
import { wrapStore } from '../helpers/wrap-store.js'

/** Short, as a real prune's hour would be; tests age their data past it by setting the prune's clock. */
const GRACE_MS = 1500
const MiB = 1024 * 1024
const PATHS = ['out']
const MAIN = 'branch/main'

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** The prunes' clock: the system's, or a moment a test has set. */
class TestClock implements Clock {
  private at: number | undefined
  now(): number {
    return this.at ?? Date.now()
  }
  set(at: number | undefined): void {
    this.at = at
  }
}
const clock = new TestClock()

/**
 * Ages what is stored so far past the grace period: the prunes' clock stops a grace period after
 * this moment. What a test stores from the next millisecond on (the store's listing times are in
 * milliseconds) stays younger than the grace period, as it would right after a real wait.
 */
async function ageData(): Promise<void> {
  const agedAt = Date.now()
  clock.set(agedAt + GRACE_MS)
  while (Date.now() <= agedAt) await sleep(1)
}

type Files = Record<string, Buffer | string>

async function freshStore(name: string): Promise<{ store: S3Store; config: S3StoreConfig }> {
  const config = await createTestBucket(name)
  return { store: new S3Store(config), config }
}

async function writeTree(workspace: string, files: Files): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(workspace, 'out', name)), { recursive: true })
    await writeFile(path.join(workspace, 'out', name), content)
  }
}

interface SavedTree {
  key: string
  scope: string
  workspace: string
  tree: string
}

async function saveTree(
  store: ObjectStore,
  key: string,
  scopes: string[],
  files: Files,
  extra: { baseTrees?: string[]; restoreKeys?: string[]; clock?: Clock; signing?: EntrySigning; update?: boolean } = {}
): Promise<SavedTree> {
  const workspace = await tempDir('prune-ws')
  await writeTree(workspace, files)
  const result = await saveEntry({ store, key, paths: PATHS, workspace, readScopes: scopes, ...extra })
  if (result.status !== 'saved') throw new Error(`expected ${key} to be saved, got ${result.status}`)
  return { key, scope: scopes[0], workspace, tree: result.tree }
}

/** Restores an entry into a fresh folder and returns the tree as lines, to compare with the saved one. */
async function restoredTree(store: ObjectStore, saved: SavedTree): Promise<string[]> {
  const target = await tempDir('prune-restore')
  const result = await restoreEntry({
    store,
    key: saved.key,
    paths: PATHS,
    workspace: target,
    readScopes: [saved.scope]
  })
  if (result.status !== 'found' || !result.exact)
    throw new Error(`expected ${saved.key} to restore exactly, got ${result.status}`)
  return describeTree(path.join(target, 'out'))
}

async function expectRestoresIntact(store: ObjectStore, saved: SavedTree): Promise<void> {
  expect(await restoredTree(store, saved)).toEqual(await describeTree(path.join(saved.workspace, 'out')))
}

/** Every key with its size and time, to tell whether anything changed. */
async function snapshotKeys(store: ObjectStore): Promise<Map<string, ObjectInfo>> {
  const keys = new Map<string, ObjectInfo>()
  for await (const info of store.list('')) keys.set(info.key, info)
  return keys
}

function keysUnder(keys: Map<string, ObjectInfo>, prefix: string): string[] {
  return [...keys.keys()].filter(key => key.startsWith(prefix))
}

async function objectsOf(store: ObjectStore, tree: string): Promise<Set<string>> {
  const manifest = await loadManifest(store, tree)
  return new Set(Object.values(manifest.blobs).map(location => objectKey(location[0])))
}

/** The object keys holding one file of a tree. */
async function fileObjects(store: ObjectStore, tree: string, file: string): Promise<string[]> {
  const manifest: Manifest = await loadManifest(store, tree)
  const entry = manifest.entries.find(candidate => candidate.path === file)
  if (!entry?.blobs) throw new Error(`${file} is not in tree ${tree}`)
  return entry.blobs.map(digest => objectKey(manifest.blobs[digest][0]))
}

function removedKeys(report: PruneReport): string[] {
  return report.removed.map(entry => entry.key).sort()
}

/** Runs `action` once, just before the first write of a key matching `when` goes to the store. */
function beforeFirstPut(
  inner: ObjectStore,
  when: (key: string) => boolean,
  action: () => Promise<unknown>
): ObjectStore {
  let done = false
  return wrapStore(inner, {
    async put(key, body, options) {
      if (!done && when(key)) {
        done = true
        await action()
      }
      return inner.put(key, body, options)
    }
  })
}

const prune = (store: ObjectStore, options: Omit<PruneOptions, 'store'> = {}): Promise<PruneReport> =>
  pruneStore({ store, graceMs: GRACE_MS, clock, ...options })

describe('prune on RGW', () => {
  beforeEach(() => clock.set(undefined))

  it('meets a size budget by evicting the least recently used entries first, and collects only their objects', async () => {
    const { store } = await freshStore('prune-lru')
    const shared = seededBytes(MiB, 99)
    const saves: SavedTree[] = []
    for (const n of [1, 2, 3, 4]) {
      saves.push(
        await saveTree(store, `build-${n}`, [MAIN], {
          'shared.bin': shared,
          'unique.bin': seededBytes(MiB, n),
          'id.txt': `entry ${n}\n`
        })
      )
      await sleep(30)
    }
    // Restoring build-1 makes it the most recently used: the order of use is now 2, 3, 4, 1.
    await restoredTree(store, saves[0])
    await ageData()

    const everything = (await prune(store, { dryRun: true })).liveBytes
    const budget = everything - 1.5 * MiB // room lacking for about one and a half unique files: two entries must go
    const before = await snapshotKeys(store)
    const uniqueObjects = await Promise.all(saves.map(saved => fileObjects(store, saved.tree, 'unique.bin')))
    const sharedObjects = await fileObjects(store, saves[0].tree, 'shared.bin')

    const report = await prune(store, { maxBytes: budget })
    expect(report.removed.map(entry => [entry.key, entry.reason])).toEqual([
      ['build-2', 'max-size'],
      ['build-3', 'max-size']
    ])
    expect(report.kept.map(entry => entry.key).sort()).toEqual(['build-1', 'build-4'])
    expect(report.liveBytes).toBeLessThanOrEqual(budget)
    expect(report.liveBytes).toBeGreaterThan(budget - 2 * MiB)

    const after = await snapshotKeys(store)
    expect(keysUnder(after, 'refs/')).toEqual([
      refKey(MAIN, entryVersion(PATHS), 'build-1'),
      refKey(MAIN, entryVersion(PATHS), 'build-4')
    ])
    for (const key of [...uniqueObjects[1], ...uniqueObjects[2]]) expect(after.has(key)).toBe(false)
    for (const key of [...uniqueObjects[0], ...uniqueObjects[3], ...sharedObjects]) expect(after.has(key)).toBe(true)
    // What remains is exactly what the kept entries reference, and the bytes freed are the bytes that went.
    const live = new Set([...(await objectsOf(store, saves[0].tree)), ...(await objectsOf(store, saves[3].tree))])
    expect(keysUnder(after, 'objects/').sort()).toEqual([...live].sort())
    const gone = [...before.keys()].filter(key => !after.has(key))
    expect(report.bytesFreed).toBe(gone.reduce((sum, key) => sum + before.get(key)!.size, 0))
    expect(report.objectsRemoved).toBe(gone.filter(key => key.startsWith('objects/')).length)
    await expectRestoresIntact(store, saves[0])
    await expectRestoresIntact(store, saves[3])
  })

  it("deletes a closed pull request's scope and collects the objects only it used", async () => {
    const { store } = await freshStore('prune-pr')
    const base = {
      'toolchain.bin': seededBytes(2 * MiB, 7),
      'lib/a.js': 'export const a = 1\n',
      'lib/b.js': 'export const b = 2\n'
    }
    const main = await saveTree(store, 'deps-main', [MAIN], base)
    // The PR restores main's entry and saves its own, reusing main's objects.
    const pr = await saveTree(
      store,
      'deps-pr',
      ['pr/12', MAIN],
      { ...base, 'pr-only.bin': seededBytes(MiB, 12), 'lib/b.js': 'export const b = 3\n' },
      { baseTrees: [main.tree] }
    )
    await restoredTree(store, pr)
    expect(await store.head(accessKey(refKey('pr/12', entryVersion(PATHS), 'deps-pr')))).toBeDefined()
    const prOnly = await fileObjects(store, pr.tree, 'pr-only.bin')
    const mainObjects = await objectsOf(store, main.tree)
    await ageData()

    const report = await prune(store, { deleteScopes: ['pr/12'] })
    expect(report.removed.map(entry => [entry.scope, entry.key, entry.reason])).toEqual([
      ['pr/12', 'deps-pr', 'deleted-scope']
    ])
    expect(report.kept.map(entry => entry.key)).toEqual(['deps-main'])
    expect(report.warnings).toEqual([])

    const after = await snapshotKeys(store)
    expect(keysUnder(after, 'refs/')).toEqual([refKey(MAIN, entryVersion(PATHS), 'deps-main')])
    expect(keysUnder(after, 'access/')).toEqual([])
    expect(keysUnder(after, 'manifests/')).toEqual([manifestKey(main.tree)])
    for (const key of prOnly) expect(after.has(key)).toBe(false)
    expect(new Set(keysUnder(after, 'objects/'))).toEqual(mainObjects)
    expect(report.objectsRemoved).toBeGreaterThanOrEqual(2) // the PR's chunk and its pack of changed small files
    expect(report.bytesFreed).toBeGreaterThan(MiB)
    await expectRestoresIntact(store, main)
  })

  it('keeps unreferenced data younger than the grace period: objects, and manifests with the objects they name', async () => {
    const { store } = await freshStore('prune-grace')
    const pending = await saveTree(store, 'pending', [MAIN], { 'big.bin': seededBytes(MiB, 3) })
    await store.put(objectKey('a'.repeat(64)), Buffer.from('old orphan'))
    await ageData()
    // As if a save had written its manifest but not yet its entry: an old tree, a manifest just written.
    await store.delete([refKey(MAIN, entryVersion(PATHS), 'pending')])
    await store.put(manifestKey(pending.tree), encodeManifest(await loadManifest(store, pending.tree)))
    await store.put(objectKey('b'.repeat(64)), Buffer.from('young orphan'))

    const report = await prune(store)
    expect(report.objectsRemoved).toBe(1)
    // The young orphan, the young manifest and the objects it names.
    expect(report.keptByGrace).toBe(2 + (await objectsOf(store, pending.tree)).size)
    const after = await snapshotKeys(store)
    expect(after.has(objectKey('a'.repeat(64)))).toBe(false)
    expect(after.has(objectKey('b'.repeat(64)))).toBe(true)
    for (const key of await objectsOf(store, pending.tree)) expect(after.has(key)).toBe(true)

    // Once older than the grace period, and still unnamed, they go.
    await ageData()
    const later = await prune(store)
    expect(later.manifestsRemoved).toBe(1)
    expect(keysUnder(await snapshotKeys(store), 'objects/')).toEqual([])
  })

  describe('a save running concurrently with a prune', () => {
    const oldFiles = {
      'toolchain.bin': seededBytes(3 * MiB, 21),
      'lib/x.js': 'export const x = 1\n',
      'lib/y.js': 'export const y = 2\n'
    }
    const newFiles = { ...oldFiles, 'fresh.bin': seededBytes(MiB, 22), 'lib/z.js': 'export const z = 3\n' }

    /** An entry of a closed PR, older than the grace period, whose content a new save shares. */
    async function closedPrEntry(name: string): Promise<{ store: S3Store; old: SavedTree }> {
      const { store } = await freshStore(name)
      const old = await saveTree(store, 'deps', ['pr/7'], oldFiles)
      await ageData()
      return { store, old }
    }

    it.each([0, 15, 40, 80])('restores intact when the prune starts %i ms after the save', async delay => {
      const { store, old } = await closedPrEntry('prune-race')
      const [saved, report] = await Promise.all([
        saveTree(store, 'deps', [MAIN], newFiles),
        sleep(delay).then(() => prune(store, { deleteScopes: ['pr/7'] }))
      ])
      expect(removedKeys(report)).toEqual(['deps'])
      expect(await store.head(refKey('pr/7', entryVersion(PATHS), old.key))).toBeUndefined()
      expect(report.warnings).toEqual([])
      await expectRestoresIntact(store, saved)
    })

    it('restores intact when the prune runs between its uploads and its manifest (objects found in the store)', async () => {
      const { store, old } = await closedPrEntry('prune-race-head')
      let report: PruneReport | undefined
      // No base entry: the save finds the PR's objects by HEAD, then the prune deletes them.
      const racing = beforeFirstPut(
        store,
        key => key.startsWith('manifests/'),
        async () => (report = await prune(store, { deleteScopes: ['pr/7'] }))
      )
      const saved = await saveTree(racing, 'deps', [MAIN], newFiles)
      expect(report?.objectsRemoved).toBeGreaterThan(0)
      expect(saved.tree).not.toBe(old.tree)
      await expectRestoresIntact(store, saved)
    })

    it('restores intact when the prune runs between its uploads and its manifest (objects named by its base)', async () => {
      const { store, old } = await closedPrEntry('prune-race-base')
      let report: PruneReport | undefined
      // The job restored the PR's entry and saves on top of it while the PR's scope is deleted.
      const racing = beforeFirstPut(
        store,
        key => key.startsWith('manifests/'),
        async () => (report = await prune(store, { deleteScopes: ['pr/7'] }))
      )
      const saved = await saveTree(racing, 'deps-next', ['pr/7'], newFiles, { baseTrees: [old.tree] })
      expect(report?.objectsRemoved).toBeGreaterThan(0)
      await expectRestoresIntact(store, saved)
    })

    it("restores intact when its manifest appears between the prune's last listing and its deletion", async () => {
      const { store } = await closedPrEntry('prune-race-window')
      let saving: Promise<SavedTree> | undefined
      // The save starts after the prune listed manifests and before it deletes: the prune's lease
      // makes it check its objects only after the deletion, and store again what was deleted.
      const racing = wrapStore(store, {
        async delete(keys) {
          if (!saving && keys.some(key => key.startsWith('objects/'))) {
            saving = saveTree(store, 'deps', [MAIN], newFiles)
            await sleep(300)
          }
          return store.delete(keys)
        }
      })
      const report = await prune(racing, { deleteScopes: ['pr/7'] })
      expect(report.objectsRemoved).toBeGreaterThan(0)
      expect(report.warnings).toEqual([])
      await expectRestoresIntact(store, await saving!)
    })

    it('replaces a manifest of the same tree that names objects taken after it, in order: manifest, lease wait, manifest, ref', async () => {
      const { store, old } = await closedPrEntry('prune-race-same-tree')
      const taken = [...(await objectsOf(store, old.tree))]
      const steps: string[] = []
      let deleted = false
      // The job restored the PR's entry and saves the same tree; a prune's batch takes the objects
      // right after the save's first manifest write (which leaves the PR's manifest, naming them).
      const racing = wrapStore(store, {
        async put(key, body, options) {
          const result = await store.put(key, body, options)
          if (/^(manifests|refs)\//.test(key)) steps.push(`${options?.ifNoneMatch ? 'create' : 'replace'} ${key}`)
          if (key.startsWith('manifests/') && !deleted) {
            deleted = true
            await store.delete(taken)
          }
          return result
        },
        list(prefix) {
          if (prefix.startsWith('leases/')) steps.push('wait for leases')
          return store.list(prefix)
        }
      })
      const saved = await saveTree(racing, 'deps', [MAIN], oldFiles, { baseTrees: [old.tree] })

      expect(saved.tree).toBe(old.tree)
      const ref = refKey(MAIN, entryVersion(PATHS), 'deps')
      expect(steps.slice(0, 2)).toEqual([`create ${manifestKey(old.tree)}`, 'wait for leases'])
      expect(steps.slice(-2)).toEqual([`replace ${manifestKey(old.tree)}`, `create ${ref}`])
      for (const key of await objectsOf(store, saved.tree)) expect(await store.head(key)).toBeDefined()
      await expectRestoresIntact(store, saved)
      await expectRestoresIntact(store, old)
    })

    /** The PR's entry evicted, its manifest left: unreferenced, and older than the grace period. */
    async function evictedEntry(name: string): Promise<{ store: S3Store; old: SavedTree; saveClock: TestClock }> {
      const { store, old } = await closedPrEntry(name)
      await store.delete([refKey('pr/7', entryVersion(PATHS), old.key)])
      // To a save, that manifest is older than the age at which it is rewritten.
      const saveClock = new TestClock()
      saveClock.set(clock.now() + MANIFEST_REFRESH_MS)
      return { store, old, saveClock }
    }

    it('rewrites an old manifest of its tree, so that a prune starting before its entry keeps it', async () => {
      const { store, old, saveClock } = await evictedEntry('prune-race-old-manifest')
      let report: PruneReport | undefined
      const racing = beforeFirstPut(
        store,
        key => key.startsWith('refs/'),
        async () => (report = await prune(store))
      )
      const saved = await saveTree(racing, 'deps', [MAIN], oldFiles, { clock: saveClock })
      expect(saved.tree).toBe(old.tree)
      expect(report?.manifestsRemoved).toBe(0)
      expect(report?.objectsRemoved).toBe(0)
      expect(await store.head(manifestKey(saved.tree))).toBeDefined()
      await expectRestoresIntact(store, saved)
    })

    it('writes the manifest again when a prune deletes it after the rewrite', async () => {
      const { store, old, saveClock } = await evictedEntry('prune-race-rewritten-manifest')
      let deleted = false
      // A prune's batch that listed the old manifest deletes it right after the save rewrote it.
      const racing = wrapStore(store, {
        async put(key, body, options) {
          const result = await store.put(key, body, options)
          if (key === manifestKey(old.tree) && !options?.ifNoneMatch && !deleted) {
            deleted = true
            await store.delete([key])
          }
          return result
        }
      })
      const saved = await saveTree(racing, 'deps', [MAIN], oldFiles, { clock: saveClock })
      expect(deleted).toBe(true)
      expect(await store.head(manifestKey(saved.tree))).toBeDefined()
      await expectRestoresIntact(store, saved)
    })

    it("stamps its entry's creation with the save's clock, as a prune reads it", async () => {
      const { store, saveClock } = await evictedEntry('prune-race-created')
      const saved = await saveTree(store, 'deps', [MAIN], newFiles, { clock: saveClock })
      const record = await readEntry(store, refKey(MAIN, entryVersion(PATHS), saved.key))
      expect(record?.created).toBe(new Date(saveClock.now()).toISOString())
    })

    it('leaves a young manifest of its tree as it is', async () => {
      const { store, old } = await closedPrEntry('prune-race-young-manifest')
      const writes: string[] = []
      const recording = wrapStore(store, {
        put(key, body, options) {
          if (key.startsWith('manifests/')) writes.push(`${options?.ifNoneMatch ? 'create' : 'replace'} ${key}`)
          return store.put(key, body, options)
        }
      })
      const saved = await saveTree(recording, 'deps', [MAIN], oldFiles)
      expect(saved.tree).toBe(old.tree)
      expect(writes).toEqual([`create ${manifestKey(old.tree)}`])
    })

    it('restores intact when the prune runs between its manifest and its entry', async () => {
      const { store } = await closedPrEntry('prune-race-ref')
      let report: PruneReport | undefined
      const racing = beforeFirstPut(
        store,
        key => key.startsWith('refs/'),
        async () => (report = await prune(store, { deleteScopes: ['pr/7'] }))
      )
      const saved = await saveTree(racing, 'deps', [MAIN], newFiles)
      expect(report?.keptByGrace).toBeGreaterThan(0) // the new manifest, younger than the grace period
      await expectRestoresIntact(store, saved)
    })
  })

  it('deletes nothing in a dry run, and reports exactly what a real run then removes', async () => {
    const { store } = await freshStore('prune-dry')
    const main = await saveTree(store, 'a', [MAIN], { 'one.bin': seededBytes(MiB, 1) })
    await saveTree(store, 'b', ['pr/3'], { 'two.bin': seededBytes(MiB, 2) })
    await store.put(objectKey('c'.repeat(64)), Buffer.from('orphan'))
    await ageData()
    const before = await snapshotKeys(store)

    const dry = await prune(store, { deleteScopes: ['pr/3'], dryRun: true })
    expect(dry.dryRun).toBe(true)
    expect(removedKeys(dry)).toEqual(['b'])
    expect(dry.bytesFreed).toBeGreaterThan(MiB)
    expect(await snapshotKeys(store)).toEqual(before)

    const real = await prune(store, { deleteScopes: ['pr/3'] })
    expect({
      removed: real.removed,
      kept: real.kept,
      bytesFreed: real.bytesFreed,
      objectsRemoved: real.objectsRemoved,
      manifestsRemoved: real.manifestsRemoved
    }).toEqual({
      removed: dry.removed,
      kept: dry.kept,
      bytesFreed: dry.bytesFreed,
      objectsRemoved: dry.objectsRemoved,
      manifestsRemoved: dry.manifestsRemoved
    })
    await expectRestoresIntact(store, main)
  })

  describe('signatures', () => {
    const signing: EntrySigning = {
      sign: keySigner(generateSigningKey().key).sign,
      writer: { ref: 'refs/heads/main', event: 'push' }
    }
    const signatureOf = (saved: SavedTree): string =>
      signatureKey(refKey(saved.scope, entryVersion(PATHS), saved.key), saved.tree)

    it("collects evicted entries' signatures, keeps kept and young ones, and a dry run deletes none", async () => {
      const { store } = await freshStore('prune-signatures')
      const kept = await saveTree(store, 'a', [MAIN], { 'one.bin': seededBytes(4096, 1) }, { signing })
      const evicted = await saveTree(store, 'b', ['pr/3'], { 'two.bin': seededBytes(4096, 2) }, { signing })
      await ageData()
      // As if a signing save had written its signature but not yet its ref.
      const young = signatureKey(refKey(MAIN, entryVersion(PATHS), 'c'), 'c'.repeat(64))
      await store.put(young, Buffer.from('{}'))
      const before = await snapshotKeys(store)
      expect(keysUnder(before, 'signatures/')).toEqual([signatureOf(kept), signatureOf(evicted), young].sort())

      const dry = await prune(store, { deleteScopes: ['pr/3'], dryRun: true })
      expect(dry.signaturesRemoved).toBe(1)
      expect(await snapshotKeys(store)).toEqual(before)

      const real = await prune(store, { deleteScopes: ['pr/3'] })
      expect(removedKeys(real)).toEqual(['b'])
      expect(real.signaturesRemoved).toBe(1)
      expect(real.bytesFreed).toBe(dry.bytesFreed)
      expect(keysUnder(await snapshotKeys(store), 'signatures/')).toEqual([signatureOf(kept), young].sort())

      // Once older than the grace period, and still named by no ref, the young one goes too.
      await ageData()
      expect((await prune(store)).signaturesRemoved).toBe(1)
      expect(keysUnder(await snapshotKeys(store), 'signatures/')).toEqual([signatureOf(kept)])
    })

    it('writes its signature before the lease wait, and again when a prune deletes it after the rewrite', async () => {
      const { store } = await freshStore('prune-signature-rewritten')
      const files = { 'a.txt': 'signed' }
      const old = await saveTree(store, 'deps', [MAIN], files, { signing })
      // Evicted: its signature stays behind, older than the grace period, as a prune's batch lists it.
      await store.delete([refKey(MAIN, entryVersion(PATHS), old.key)])
      await ageData()
      const steps: string[] = []
      let deleted = false
      const racing = wrapStore(store, {
        async put(key, body, options) {
          const result = await store.put(key, body, options)
          if (key.startsWith('signatures/') || key.startsWith('refs/')) steps.push(`put ${key.split('/')[0]}`)
          // That batch deletes the old signature right after the save rewrote it.
          if (key === signatureOf(old) && !deleted) {
            deleted = true
            await store.delete([key])
          }
          return result
        },
        list(prefix) {
          if (prefix.startsWith('leases/')) steps.push('wait for leases')
          return store.list(prefix)
        }
      })
      const saved = await saveTree(racing, 'deps', [MAIN], files, { signing })
      expect(saved.tree).toBe(old.tree)
      expect(deleted).toBe(true)
      expect(steps).toEqual(['put signatures', 'wait for leases', 'put signatures', 'wait for leases', 'put refs'])
      expect(await store.head(signatureOf(saved))).toBeDefined()
    })

    it('keeps the signature of a tree that any remaining revision of its key names', async () => {
      const { store } = await freshStore('prune-signature-revisions')
      const saves: SavedTree[] = []
      // Revisions 0 and 2 have one tree and share its signature; revision 1 has its own.
      for (const content of ['one', 'two', 'one'])
        saves.push(await saveTree(store, 'deps', [MAIN], { 'a.txt': content }, { signing, update: true }))
      expect(saves[2].tree).toBe(saves[0].tree)
      await ageData()
      const report = await prune(store)
      expect(report.removed.map(entry => entry.revision)).toEqual([0, 1])
      expect(report.signaturesRemoved).toBe(1)
      expect(keysUnder(await snapshotKeys(store), 'signatures/')).toEqual([signatureOf(saves[0])])
    })
  })

  describe('refusals', () => {
    /** A store with an entry in pr/1; refusals come before any age matters, so it is not aged. */
    async function storeWithAnEvictableEntry(name: string): Promise<{ store: S3Store; saved: SavedTree }> {
      const { store } = await freshStore(name)
      const saved = await saveTree(store, 'k', ['pr/1'], { 'f.bin': seededBytes(600 * 1024, 5) })
      return { store, saved }
    }

    it.each([
      ['the release-store marker', RELEASE_STORE_MARKER],
      ['a release record', 'myproject/releases/v1.0.0/release.json'],
      ['a release index', 'myproject/index.json']
    ])('refuses a store holding %s, and deletes nothing', async (_what, releaseKey) => {
      const { store } = await storeWithAnEvictableEntry('prune-release')
      await store.put(releaseKey, Buffer.from('{}'))
      const before = await snapshotKeys(store)
      await expect(prune(store, { deleteScopes: ['pr/1'] })).rejects.toThrow(InputError)
      await expect(prune(store, { deleteScopes: ['pr/1'] })).rejects.toThrow(
        /^store: s3:\/\/.* holds releases \(.*\); releases are never pruned/
      )
      expect(await snapshotKeys(store)).toEqual(before)
    })

    it('refuses a store that does not look like a cache', async () => {
      const { store } = await freshStore('prune-not-cache')
      await store.put('photos/cat.jpg', Buffer.from('meow'))
      await expect(prune(store)).rejects.toThrow(/does not look like a cache store/)
      expect([...(await snapshotKeys(store)).keys()]).toEqual(['photos/cat.jpg'])
    })

    it('refuses, deleting nothing, when a listing fails partway', async () => {
      const { store } = await storeWithAnEvictableEntry('prune-list-fails')
      const before = await snapshotKeys(store)
      const failing = wrapStore(store, {
        async *list(prefix) {
          let count = 0
          for await (const info of store.list(prefix)) {
            if (++count > 2) throw new Error('connection reset while listing')
            yield info
          }
        }
      })
      await expect(prune(failing, { deleteScopes: ['pr/1'] })).rejects.toThrow(
        new PruneRefusedError(
          `refusing to prune ${store.location}: connection reset while listing; nothing was deleted`
        )
      )
      expect(await snapshotKeys(store)).toEqual(before)
    })

    it('refuses a listing out of key order', async () => {
      const { store } = await storeWithAnEvictableEntry('prune-list-order')
      const before = await snapshotKeys(store)
      const shuffled = wrapStore(store, {
        async *list(prefix) {
          const all: ObjectInfo[] = []
          for await (const info of store.list(prefix)) all.push(info)
          yield* all.reverse()
        }
      })
      await expect(prune(shuffled, { deleteScopes: ['pr/1'] })).rejects.toThrow(
        /out of order; it looks incomplete; nothing was deleted/
      )
      expect(await snapshotKeys(store)).toEqual(before)
    })

    it('refuses when an entry names a missing manifest, unless that entry is in a scope being deleted', async () => {
      const { store, saved } = await storeWithAnEvictableEntry('prune-no-manifest')
      const kept = await saveTree(store, 'main', [MAIN], { 'g.bin': seededBytes(600 * 1024, 6) })
      await store.delete([manifestKey(saved.tree)])
      await ageData()
      const before = await snapshotKeys(store)
      await expect(prune(store, { maxAgeMs: 1 })).rejects.toThrow(
        /entry pr\/1 "k" \(refs\/pr%2F1\/.*\/k\) names manifest .*, which is missing; delete that ref if the entry is broken; nothing was deleted/
      )
      expect(await snapshotKeys(store)).toEqual(before)

      const report = await prune(store, { deleteScopes: ['pr/1'] })
      expect(removedKeys(report)).toEqual(['k'])
      expect(report.warnings).toEqual(['entry pr/1 "k" names a missing manifest; removed with its scope'])
      expect(keysUnder(await snapshotKeys(store), 'objects/')).toEqual([...(await objectsOf(store, kept.tree))])
    })

    it('refuses an entry it cannot read', async () => {
      const { store } = await storeWithAnEvictableEntry('prune-bad-ref')
      await store.put(refKey(MAIN, entryVersion(PATHS), 'garbled'), Buffer.from('not json'))
      await expect(prune(store)).rejects.toThrow(/refs\/branch%2Fmain\/.*\/garbled is not JSON; nothing was deleted/)
    })

    it('removes an entry whose objects are gone, as broken, and says so', async () => {
      const { store, saved } = await storeWithAnEvictableEntry('prune-broken')
      await store.delete([...(await objectsOf(store, saved.tree))])
      await ageData()
      const report = await prune(store)
      expect(report.removed.map(entry => [entry.key, entry.reason])).toEqual([['k', 'broken']])
      expect(report.warnings).toEqual(['entry pr/1 "k" names objects missing from the store; removed as broken'])
      expect([...(await snapshotKeys(store)).keys()]).toEqual([])
    })
  })

  describe('revisions and the default branch', () => {
    const revisionRef = (key: string, revision: number): string => refKey(MAIN, entryVersion(PATHS), key, revision)

    it('keeps the newest revisions of an updated key, and the newest still restores', async () => {
      const { store } = await freshStore('prune-revisions')
      const workspace = await tempDir('prune-ws')
      const trees: string[] = []
      for (const content of ['one', 'two', 'three']) {
        await writeTree(workspace, { 'a.txt': content, 'big.bin': seededBytes(200 * 1024, 4) })
        const result = await saveEntry({
          store,
          key: 'deps',
          paths: PATHS,
          workspace,
          readScopes: [MAIN],
          update: true
        })
        if (result.status !== 'saved') throw new Error(`expected a save, got ${result.status}`)
        trees.push(result.tree)
      }
      await ageData()
      const two = await prune(store, { keepVersions: 2, dryRun: true })
      expect(two.removed.map(entry => [entry.key, entry.revision, entry.reason])).toEqual([['deps', 0, 'old-version']])
      const report = await prune(store)
      expect(report.removed.map(entry => [entry.revision, entry.reason])).toEqual([
        [0, 'old-version'],
        [1, 'old-version']
      ])
      expect(report.kept.map(entry => entry.revision)).toEqual([2])
      const after = await snapshotKeys(store)
      expect(keysUnder(after, 'refs/')).toEqual([revisionRef('deps', 2)])
      expect(after.has(manifestKey(trees[0]))).toBe(false)
      expect(after.has(manifestKey(trees[2]))).toBe(true)
      const restored = await restoreEntry({
        store,
        key: 'deps',
        paths: PATHS,
        workspace: await tempDir('r'),
        readScopes: [MAIN]
      })
      expect(restored).toMatchObject({ status: 'found', match: { record: { tree: trees[2], revision: 2 } } })
    })

    it('refuses to prune when a revision ref disagrees with its name, deleting nothing', async () => {
      const { store } = await freshStore('prune-forged-revision')
      const workspace = await tempDir('prune-ws')
      await writeTree(workspace, { 'a.txt': 'one' })
      await saveEntry({ store, key: 'deps', paths: PATHS, workspace, readScopes: [MAIN], update: true })
      await writeTree(workspace, { 'a.txt': 'two' })
      await saveEntry({ store, key: 'deps', paths: PATHS, workspace, readScopes: [MAIN], update: true })
      // A ref at slot 9 that says it is revision 1: counted as the newest, it would push out the real one.
      const real = (await store.get(revisionRef('deps', 1)))!
      await store.put(revisionRef('deps', 9), real)
      await ageData()
      const before = await snapshotKeys(store)
      await expect(prune(store)).rejects.toThrow(/deps@0000000009 names key "deps" revision 1, not its own; nothing/)
      expect(await snapshotKeys(store)).toEqual(before)
    })

    /** Main's deps family (old, new) and build family, two pull requests and a feature branch, each tree 300 KiB. */
    async function mainAndBranches(store: ObjectStore): Promise<void> {
      const tree = (seed: number): Files => ({ 'x.bin': seededBytes(300 * 1024, seed) })
      await saveTree(store, 'deps-aaa', [MAIN], tree(1))
      await sleep(20)
      await saveTree(store, 'build-aaa', [MAIN], tree(2))
      await sleep(20)
      await saveTree(store, 'deps-bbb', [MAIN], tree(3))
      await sleep(20)
      await saveTree(store, 'deps-ccc', ['branch/feature', MAIN], tree(4))
      await sleep(20)
      await saveTree(store, 'deps-ddd', ['pr/5', MAIN], tree(5))
      await sleep(20)
      await saveTree(store, 'build-bbb', ['pr/6', MAIN], tree(6))
      await ageData()
    }

    it("a dry run over budget evicts pull request and branch entries first and keeps main's newest of each family", async () => {
      const { store, config } = await freshStore('prune-branches-first')
      await mainAndBranches(store)
      const before = await snapshotKeys(store)
      const env = s3CredentialEnv(config)
      const storeArgs = ['--store', `s3://${config.bucket}`, '--endpoint', config.endpoint!]
      // Six trees of about 300 KiB; a budget of 700 KB leaves room for two.
      const args = ['prune', ...storeArgs, '--max-size', '700KB', '--default-branch', 'main']
      const dry = await runCliFromSource([...args, '--dry-run'], env)
      expect(dry.exitCode).toBe(0)
      const rows = dry.stdout
        .trim()
        .split('\n')
        .slice(1, 7)
        .map(line => line.split('\t').slice(0, 5))
      expect(rows).toEqual([
        // Least recently used first among the other scopes, then main's older deps entry.
        ['1', 'would remove', 'max-size', 'branch/feature', 'deps-ccc'],
        ['2', 'would remove', 'max-size', 'pr/5', 'deps-ddd'],
        ['3', 'would remove', 'max-size', 'pr/6', 'build-bbb'],
        ['4', 'would remove', 'max-size', MAIN, 'deps-aaa'],
        ['-', 'kept', 'protected', MAIN, 'deps-bbb'],
        ['-', 'kept', 'protected', MAIN, 'build-aaa']
      ])
      expect(await snapshotKeys(store)).toEqual(before)

      // By last use alone, main's entries, the oldest, would go first.
      const lru = await prune(store, { maxBytes: 700_000, defaultBranch: 'main', evictOrder: 'lru', dryRun: true })
      expect(lru.removed.map(entry => entry.key)).toEqual(['deps-aaa', 'deps-ccc', 'deps-ddd', 'build-bbb'])
      const unprotected = { maxBytes: 700_000, evictOrder: 'lru', protectDefaultBranch: false, dryRun: true } as const
      expect((await prune(store, { ...unprotected, defaultBranch: 'main' })).removed.map(entry => entry.key)).toEqual([
        'deps-aaa',
        'build-aaa',
        'deps-bbb',
        'deps-ccc'
      ])
    })

    it('the save/ step of a job on the default branch prunes to max-size; elsewhere it does not', async () => {
      const { store, config } = await freshStore('prune-after-save')
      await mainAndBranches(store)
      const workspace = await tempDir('prune-ws')
      await writeTree(workspace, { 'y.bin': seededBytes(300 * 1024, 7) })
      const event = await defaultBranchEvent()
      const inputs = {
        path: 'out',
        key: 'deps-eee',
        store: `s3://${config.bucket}`,
        ...s3ConnectionInputs(config),
        'max-size': '700KB'
      }
      const env = { GITHUB_WORKSPACE: workspace, GITHUB_EVENT_PATH: event }
      const bad = await runActionFromSource('save-only', { ...inputs, 'max-size': 'lots' }, env)
      expect(bad.exitCode).toBe(1)
      expect(bad.stdout.split('\n').filter(line => line.startsWith('::error::'))).toEqual([
        '::error::max-size: "lots" is not a size; give a number and a unit B, KB, MB, GB, TB (or KiB, MiB, GiB, TiB), e.g. 10GB'
      ])
      const onPr = await runActionFromSource(
        'save-only',
        { ...inputs, key: 'deps-fff' },
        { ...env, GITHUB_REF: 'refs/pull/7/merge' }
      )
      expect(onPr.exitCode).toBe(0)
      expect(onPr.stdout).toMatch(
        /max-size: the store is pruned by jobs on the default branch; this job runs on refs\/pull\/7\/merge/
      )
      expect(keysUnder(await snapshotKeys(store), 'refs/')).toHaveLength(7)

      const onMain = await runActionFromSource('save-only', inputs, { ...env, GITHUB_REF: 'refs/heads/main' })
      expect(onMain.exitCode).toBe(0)
      expect(onMain.stdout).toMatch(/Cache saved with key: deps-eee/)
      expect(onMain.stdout).toMatch(/Pruned to max-size .*: removed 6 entries/)
      // Main keeps its newest deps (the one just saved) and build entries: about 600 KiB fit the budget.
      const left = keysUnder(await snapshotKeys(store), 'refs/').map(key => parseEntryKey(key)!)
      expect(left.map(name => `${name.scope} ${name.key}`).sort()).toEqual([`${MAIN} build-aaa`, `${MAIN} deps-eee`])
    })
  })

  describe('the CLI and the prune/ sub-action', () => {
    let config: S3StoreConfig
    let store: S3Store
    const storeArgs = (): string[] => ['--store', `s3://${config.bucket}`, '--endpoint', config.endpoint!]
    const credentialEnv = (): Record<string, string> => s3CredentialEnv(config)

    /** A fresh bucket with three entries older than the grace period: old and new in main, pr in pr/4. */
    async function populate(): Promise<void> {
      ;({ store, config } = await freshStore('prune-cli'))
      // Each tree is one small file: one pack object per entry.
      await saveTree(store, 'old', [MAIN], { 'a.bin': seededBytes(300 * 1024, 8) })
      await sleep(30)
      await saveTree(store, 'new', [MAIN], { 'b.bin': seededBytes(300 * 1024, 9) })
      await saveTree(store, 'pr', ['pr/4'], { 'c.bin': seededBytes(300 * 1024, 10) })
      await ageData()
    }
    beforeAll(async () => {
      ;({ store, config } = await freshStore('prune-cli')) // bad input is refused before the store is read
    })

    /** Runs the CLI in this process and captures what it prints. */
    async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
      const env = credentialEnv()
      const previous = Object.fromEntries(Object.keys(env).map(name => [name, process.env[name]]))
      Object.assign(process.env, env)
      const output = { stdout: '', stderr: '' }
      const writes = { stdout: process.stdout.write, stderr: process.stderr.write }
      process.stdout.write = ((chunk: string | Uint8Array) => (
        (output.stdout += String(chunk)),
        true
      )) as typeof process.stdout.write
      process.stderr.write = ((chunk: string | Uint8Array) => (
        (output.stderr += String(chunk)),
        true
      )) as typeof process.stderr.write
      try {
        const code = await main(args, { clock })
        return { code, ...output }
      } finally {
        process.stdout.write = writes.stdout
        process.stderr.write = writes.stderr
        for (const [name, value] of Object.entries(previous)) {
          if (value === undefined) delete process.env[name]
          else process.env[name] = value
        }
      }
    }

    it('prints a table and totals, and a JSON report with --json', async () => {
      await populate()
      const before = await snapshotKeys(store)
      const dry = await cli([
        'prune',
        ...storeArgs(),
        '--max-entries-per-scope',
        '1',
        '--delete-scope',
        'refs/pull/4/merge',
        '--grace',
        '1s',
        '--dry-run'
      ])
      expect(dry.code).toBe(0)
      const lines = dry.stdout.trim().split('\n')
      expect(lines[0]).toBe('#\tOUTCOME\tREASON\tSCOPE\tKEY\tSIZE\tLAST USED')
      // Removed entries in the order of eviction: the rules in turn.
      expect(lines.slice(1, 4).map(line => line.split('\t').slice(0, 5))).toEqual([
        ['1', 'would remove', 'deleted-scope', 'pr/4', 'pr'],
        ['2', 'would remove', 'max-entries-per-scope', MAIN, 'old'],
        ['-', 'kept', '-', MAIN, 'new']
      ])
      expect(lines[4]).toMatch(
        /^would remove 2 of 3 entries; 2 manifests and 2 objects; would free \d+\.\d KB; kept 1 entry referencing \d+\.\d KB; kept 0 unreferenced keys younger than the 1s grace period$/
      )
      expect(lines[5]).toBe('dry run: nothing was deleted')
      expect(await snapshotKeys(store)).toEqual(before)

      const real = await cli([
        'prune',
        ...storeArgs(),
        '--max-entries-per-scope',
        '1',
        '--delete-scope',
        'pr/4',
        '--grace',
        '1s',
        '--json'
      ])
      expect(real.code).toBe(0)
      const report = JSON.parse(real.stdout) as PruneReport
      expect(report).toMatchObject({
        dryRun: false,
        removed: [{ key: 'pr' }, { key: 'old' }],
        kept: [{ key: 'new' }],
        manifestsRemoved: 2,
        objectsRemoved: 2
      })
      expect(keysUnder(await snapshotKeys(store), 'refs/')).toEqual([refKey(MAIN, entryVersion(PATHS), 'new')])
    })

    it.each([
      [
        ['--max-age', '7x'],
        /^artifact-action prune: --max-age: "7x" is not a duration; give a number and a unit s, m, h, d or w, e\.g\. 7d or 12h\n$/
      ],
      [['--max-size', 'lots'], /^artifact-action prune: --max-size: "lots" is not a size; .* e\.g\. 10GB\n$/],
      [
        ['--max-entries-per-scope', '0'],
        /^artifact-action prune: --max-entries-per-scope: "0" is not a whole number of entries of at least 1, e\.g\. 5\n$/
      ],
      [['--delete-scope', '12'], /^artifact-action prune: --delete-scope: "12" is not a scope; give one such as pr\/12/]
    ])('exits 2 with a one-line error for %j', async (args, message) => {
      const result = await cli(['prune', ...storeArgs(), ...args])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(message)
      expect(result.stdout).toBe('')
    })

    it('exits 2 on a release store', async () => {
      const { store: releases, config: releaseConfig } = await freshStore('prune-cli-release')
      await releases.put(RELEASE_STORE_MARKER, Buffer.from('{}'))
      const result = await cli([
        'prune',
        '--store',
        `s3://${releaseConfig.bucket}`,
        '--endpoint',
        releaseConfig.endpoint!,
        '--max-age',
        '1s'
      ])
      expect(result.code).toBe(2)
      expect(result.stderr).toMatch(
        /^artifact-action prune: store: s3:\/\/.* holds releases \(release-store\.json\); releases are never pruned/
      )
    })

    /** Runs src/entry/prune.ts as the runner runs an action, its clock starting at the test's. */
    const runPruneStep = (inputs: Record<string, string>) =>
      runActionFromSource(
        'prune',
        { store: `s3://${config.bucket}`, ...s3ConnectionInputs(config), ...inputs },
        { CLOCK_START_MS: String(clock.now()) },
        ['__tests__/helpers/clock-start.ts']
      )

    it('the sub-action deletes the scopes given, sets its outputs and writes the job summary', async () => {
      await populate()
      const step = await runPruneStep({
        'max-age': '',
        'max-size': '10GB',
        'delete-scopes': 'pr/4\n\nrefs/pull/99/merge\n',
        'grace-period': '1s',
        'dry-run': 'false'
      })
      expect(step.exitCode).toBe(0)
      expect(step.outputs).toMatchObject({ 'entries-removed': '1', 'entries-kept': '2' })
      expect(Number(step.outputs['bytes-freed'])).toBeGreaterThan(300 * 1024)
      expect(step.stdout).toMatch(/::warning::scope pr\/99 has no entries/)
      expect(step.summary).toMatch(/<h3>Cache prune<\/h3>/)
      expect(step.summary).toMatch(/<td>entries removed<\/td><td>1<\/td>/)
      expect(step.summary).toMatch(/<td>removed<\/td><td>deleted-scope<\/td><td>pr\/4<\/td><td>pr<\/td>/)
      expect(step.summary).toMatch(/<td>kept<\/td><td>-<\/td><td>branch\/main<\/td><td>new<\/td>/)
      expect(keysUnder(await snapshotKeys(store), 'refs/').length).toBe(2)
    })

    it('the sub-action fails with one line naming a bad input', async () => {
      const before = await snapshotKeys(store)
      const step = await runPruneStep({ 'max-age': '7x' })
      expect(step.exitCode).toBe(1)
      const errors = step.stdout.split('\n').filter(line => line.startsWith('::error::'))
      expect(errors).toEqual([
        '::error::max-age: "7x" is not a duration; give a number and a unit s, m, h, d or w, e.g. 7d or 12h'
      ])
      expect(await snapshotKeys(store)).toEqual(before)
    })
  })
})
