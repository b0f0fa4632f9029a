import { spawn } from 'node:child_process'
import { appendFile, chmod, lstat, mkdir, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { restoreEntry, saveEntry, type SaveResult } from '../../src/core/cache/checkpoint-cache.js'
import { entryVersion, ENTRY_SCHEMA, writeEntry } from '../../src/core/cache/entry-refs.js'
import { IntegrityError, StoreError } from '../../src/core/errors.js'
import { encodeManifest, treeDigest } from '../../src/core/manifest/encoding.js'
import { loadManifest } from '../../src/core/manifest/load.js'
import { Codec, MANIFEST_SCHEMA, type Manifest } from '../../src/core/manifest/model.js'
import { manifestKey, objectKey, refKey } from '../../src/core/cache/cache-layout.js'
import { S3Store, type S3StoreConfig } from '../../src/core/store/s3-store.js'
import { createTestBucket, s3TestClient, s3TestConfig, uniqueBucketName } from '../helpers/s3.js'
import { describeTree, listFiles, makeBuildTree, seededBytes, tempDir } from '../helpers/trees.js'

const MAIN = ['branch/main']

async function freshStore(name: string): Promise<{ store: S3Store; config: S3StoreConfig }> {
  const config = await createTestBucket(name)
  return { store: new S3Store(config), config }
}

function saved(result: SaveResult): Extract<SaveResult, { status: 'saved' }> {
  if (result.status !== 'saved') throw new Error(`expected a save, got ${result.status}`)
  return result
}

/** Restores `key` into a fresh workspace and expects its `dir` to equal `dir` in `source`. */
async function expectRestored(store: S3Store, key: string, dir: string, source: string): Promise<void> {
  const target = await tempDir('restore')
  await restoreEntry({ store, key, paths: [dir], workspace: target, readScopes: MAIN })
  expect(await describeTree(path.join(target, dir))).toEqual(await describeTree(path.join(source, dir)))
}

describe('checkpoint cache on RGW', () => {
  it('round-trips a tree byte for byte, with modes, empty directories and symlinks', async () => {
    const { store } = await freshStore('roundtrip')
    const workspace = await tempDir('ws')
    await makeBuildTree(path.join(workspace, 'build'))
    const result = saved(await saveEntry({ store, key: 'build-1', paths: ['build'], workspace, readScopes: MAIN }))
    expect(result.stats.files).toBeGreaterThan(300)

    const target = await tempDir('restore')
    const restored = await restoreEntry({
      store,
      key: 'build-1',
      paths: ['build'],
      workspace: target,
      readScopes: MAIN
    })
    expect(restored).toMatchObject({ status: 'found', exact: true })
    expect(await describeTree(path.join(target, 'build'))).toEqual(await describeTree(path.join(workspace, 'build')))
  })

  it('uploads nothing for an unchanged tree, and a small fraction after a 1% change', async () => {
    const { store } = await freshStore('dedup')
    const workspace = await tempDir('ws')
    await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 1000, largeBytes: 4 * 1024 * 1024 })
    const first = saved(await saveEntry({ store, key: 'build-a', paths: ['build'], workspace, readScopes: MAIN }))
    expect(first.stats.bytesUploaded).toBeGreaterThan(0)

    const unchanged = saved(
      await saveEntry({ store, key: 'build-b', restoreKeys: ['build-'], paths: ['build'], workspace, readScopes: MAIN })
    )
    expect(unchanged.stats.bytesUploaded).toBe(0)
    expect(unchanged.tree).toBe(first.tree)

    // 1% of the small files change, and the large log grows.
    for (let i = 0; i < 1000; i += 100)
      await appendFile(path.join(workspace, 'build', `pkg${i % 10}`, `mod${i % 7}`, `file${i}.js`), '// changed\n')
    await appendFile(path.join(workspace, 'build', 'large-text.log'), 'appended line\n'.repeat(1000))
    const changed = saved(
      await saveEntry({ store, key: 'build-c', restoreKeys: ['build-'], paths: ['build'], workspace, readScopes: MAIN })
    )
    expect(changed.tree).not.toBe(first.tree)
    expect(changed.stats.bytesUploaded).toBeGreaterThan(0)
    expect(changed.stats.bytesUploaded / changed.stats.treeBytes).toBeLessThan(0.1)

    await expectRestored(store, 'build-c', 'build', workspace)
  })

  it('restores mtimes, so a save after a restore reads only the files that changed', async () => {
    const { store } = await freshStore('mtimes')
    const workspace = await tempDir('ws')
    await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 200, largeBytes: 2 * 1024 * 1024 })
    const first = saved(await saveEntry({ store, key: 'm-1', paths: ['build'], workspace, readScopes: MAIN }))
    const runner = await tempDir('runner')
    await restoreEntry({ store, key: 'm-1', paths: ['build'], workspace: runner, readScopes: MAIN })
    const original = await stat(path.join(workspace, 'build', 'large-random.bin'))
    const restored = await stat(path.join(runner, 'build', 'large-random.bin'))
    expect(Math.floor(restored.mtimeMs)).toBe(Math.floor(original.mtimeMs))

    await appendFile(path.join(runner, 'build', 'pkg3', 'mod3', 'file3.js'), '// changed\n')
    const second = saved(
      await saveEntry({
        store,
        key: 'm-2',
        paths: ['build'],
        workspace: runner,
        readScopes: MAIN,
        baseTrees: [first.tree]
      })
    )
    expect(second.stats.filesUnchanged).toBe(second.stats.files - 1)
    expect(second.tree).not.toBe(first.tree)
    const check = await tempDir('check')
    await restoreEntry({ store, key: 'm-2', paths: ['build'], workspace: check, readScopes: MAIN })
    expect(await describeTree(path.join(check, 'build'))).toEqual(await describeTree(path.join(runner, 'build')))
  })

  it('matches restore-keys newest first, and an exact key before any prefix', async () => {
    const { store } = await freshStore('restore-keys')
    const workspace = await tempDir('ws')
    for (const version of ['old', 'new']) {
      await rm(path.join(workspace, 'out'), { recursive: true, force: true })
      await mkdir(path.join(workspace, 'out'))
      await writeFile(path.join(workspace, 'out', 'version.txt'), version)
      saved(await saveEntry({ store, key: `deps-${version}`, paths: ['out'], workspace, readScopes: MAIN }))
    }
    const target = await tempDir('restore')
    const prefix = await restoreEntry({
      store,
      key: 'deps-missing',
      restoreKeys: ['nothing-', 'deps-'],
      paths: ['out'],
      workspace: target,
      readScopes: MAIN
    })
    expect(prefix).toMatchObject({ status: 'found', exact: false, match: { record: { key: 'deps-new' } } })
    expect(await readFile(path.join(target, 'out', 'version.txt'), 'utf8')).toBe('new')

    const exact = await restoreEntry({
      store,
      key: 'deps-old',
      restoreKeys: ['deps-'],
      paths: ['out'],
      workspace: target,
      readScopes: MAIN,
      lookupOnly: true
    })
    expect(exact).toMatchObject({ status: 'found', exact: true, match: { record: { key: 'deps-old' } } })
    expect(await restoreEntry({ store, key: 'other', paths: ['out'], workspace: target, readScopes: MAIN })).toEqual({
      status: 'miss',
      retries: 0
    })
  })

  it('finds a prefix match among more than 1,000 keys', async () => {
    const { store } = await freshStore('many-keys')
    const version = entryVersion(['out'])
    const record = {
      schema: ENTRY_SCHEMA as typeof ENTRY_SCHEMA,
      scope: 'branch/main',
      version,
      tree: 'f'.repeat(64),
      files: 0,
      size: 0
    }
    const keys = Array.from({ length: 1050 }, (_, i) => `k-${String(i).padStart(5, '0')}`)
    const created = (i: number): string => new Date(Date.UTC(2026, 0, 1, 0, 0, i)).toISOString()
    for (let i = 0; i < keys.length - 1; i += 50) {
      await Promise.all(
        keys
          .slice(i, Math.min(i + 50, keys.length - 1))
          .map((key, j) => writeEntry(store, { ...record, key, created: created(i + j) }))
      )
    }
    // The newest is written alone, a second later, so that its LastModified is the latest.
    await new Promise(resolve => setTimeout(resolve, 1100))
    await writeEntry(store, { ...record, key: keys.at(-1)!, created: created(keys.length) })
    const newest = await restoreEntry({
      store,
      key: 'k-',
      paths: ['out'],
      workspace: await tempDir('x'),
      readScopes: MAIN,
      lookupOnly: true
    })
    expect(newest).toMatchObject({ status: 'found', match: { record: { key: keys.at(-1) } } })
  })

  it('keeps scopes apart: a PR cannot overwrite main, yet restores from it', async () => {
    const { store } = await freshStore('scopes')
    const workspace = await tempDir('ws')
    await mkdir(path.join(workspace, 'out'))
    await writeFile(path.join(workspace, 'out', 'who.txt'), 'main')
    saved(await saveEntry({ store, key: 'k', paths: ['out'], workspace, readScopes: ['branch/main'] }))

    const prScopes = ['pr/7', 'branch/main']
    const target = await tempDir('pr')
    const fromMain = await restoreEntry({ store, key: 'k', paths: ['out'], workspace: target, readScopes: prScopes })
    expect(fromMain).toMatchObject({ status: 'found', exact: true, match: { record: { scope: 'branch/main' } } })

    await writeFile(path.join(workspace, 'out', 'who.txt'), 'pr')
    const prSave = saved(await saveEntry({ store, key: 'k', paths: ['out'], workspace, readScopes: prScopes }))
    expect(prSave.scope).toBe('pr/7')

    const mainTarget = await tempDir('main')
    await restoreEntry({ store, key: 'k', paths: ['out'], workspace: mainTarget, readScopes: ['branch/main'] })
    expect(await readFile(path.join(mainTarget, 'out', 'who.txt'), 'utf8')).toBe('main')
    const prTarget = await tempDir('pr2')
    await restoreEntry({ store, key: 'k', paths: ['out'], workspace: prTarget, readScopes: prScopes })
    expect(await readFile(path.join(prTarget, 'out', 'who.txt'), 'utf8')).toBe('pr')
  })

  it('leaves no entry when a save is killed mid-upload, and the previous entry still restores', async () => {
    const { store, config } = await freshStore('killed')
    const workspace = await tempDir('ws')
    await mkdir(path.join(workspace, 'out'))
    await writeFile(path.join(workspace, 'out', 'small.txt'), 'first')
    saved(await saveEntry({ store, key: 'run-1', paths: ['out'], workspace, readScopes: MAIN }))
    await writeFile(path.join(workspace, 'out', 'big.bin'), seededBytes(160 * 1024 * 1024, 9))

    const child = spawn(
      process.execPath,
      [
        path.resolve('dist/cli/index.js'),
        'save',
        '--key',
        'run-2',
        '--store',
        `s3://${config.bucket}`,
        '--endpoint',
        config.endpoint!,
        '--ref',
        'refs/heads/main',
        '--workspace',
        workspace,
        'out'
      ],
      {
        env: {
          ...process.env,
          AWS_ACCESS_KEY_ID: config.credentials!.accessKeyId,
          AWS_SECRET_ACCESS_KEY: config.credentials!.secretAccessKey
        },
        stdio: 'ignore'
      }
    )
    const exited = new Promise(resolve => child.on('exit', resolve))
    const deadline = Date.now() + 60_000
    let objects = 0
    while (objects < 5 && Date.now() < deadline) {
      objects = 0
      for await (const _ of store.list('objects/')) objects++
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    child.kill('SIGKILL')
    await exited
    expect(objects).toBeGreaterThanOrEqual(5)

    expect(await store.head(refKey('branch/main', entryVersion(['out']), 'run-2'))).toBeUndefined()
    const target = await tempDir('restore')
    expect(await restoreEntry({ store, key: 'run-2', paths: ['out'], workspace: target, readScopes: MAIN })).toEqual({
      status: 'miss',
      retries: 0
    })
    const previous = await restoreEntry({
      store,
      key: 'run-2',
      restoreKeys: ['run-'],
      paths: ['out'],
      workspace: target,
      readScopes: MAIN
    })
    expect(previous).toMatchObject({ status: 'found', match: { record: { key: 'run-1' } } })
    expect(listFiles(path.join(target, 'out')).map(file => path.basename(file))).toEqual(['small.txt'])
  })

  it('treats a corrupted object as an error, leaving no partial tree', async () => {
    const { store, config } = await freshStore('corrupt')
    const workspace = await tempDir('ws')
    await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 50, largeBytes: 1024 * 1024 })
    const result = saved(await saveEntry({ store, key: 'k', paths: ['build'], workspace, readScopes: MAIN }))
    const manifest = await loadManifest(store, result.tree)
    const victim = Object.values(manifest.blobs).find(location => location[3] > 600 * 1024)!
    const original = (await store.get(objectKey(victim[0])))!
    const corrupted = Buffer.from(original)
    corrupted[Math.floor(corrupted.length / 2)] ^= 0xff
    const client = s3TestClient()
    await client.send(new PutObjectCommand({ Bucket: config.bucket, Key: objectKey(victim[0]), Body: corrupted }))
    client.destroy()

    const target = await tempDir('restore')
    await expect(
      restoreEntry({ store, key: 'k', paths: ['build'], workspace: target, readScopes: MAIN })
    ).rejects.toThrow(IntegrityError)
    expect(listFiles(target)).toEqual([])
  })

  it('compresses small files together in shared frames, and refuses a corrupted frame', async () => {
    const { store, config } = await freshStore('frames')
    const workspace = await tempDir('ws')
    await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 2000, largeBytes: 0 })
    const result = saved(await saveEntry({ store, key: 'k', paths: ['build'], workspace, readScopes: MAIN }))
    const manifest = await loadManifest(store, result.tree)
    const framed = Object.values(manifest.blobs).filter(location => location[4] === Codec.sharedFrame)
    expect(framed.length).toBeGreaterThan(1900)
    // Many blobs share each frame, and a frame is smaller than the files in it.
    const frames = new Set(framed.map(location => `${location[0]}:${location[1]}`))
    expect(frames.size).toBeLessThan(framed.length / 20)
    expect(result.stats.bytesUploaded).toBeLessThan(result.stats.treeBytes / 3)

    await expectRestored(store, 'k', 'build', workspace)

    const [object, offset, length] = framed[0]
    const corrupted = Buffer.from((await store.get(objectKey(object)))!)
    corrupted[offset + Math.floor(length / 2)] ^= 0xff
    const client = s3TestClient()
    await client.send(new PutObjectCommand({ Bucket: config.bucket, Key: objectKey(object), Body: corrupted }))
    client.destroy()
    const second = await tempDir('restore')
    await expect(
      restoreEntry({ store, key: 'k', paths: ['build'], workspace: second, readScopes: MAIN })
    ).rejects.toThrow(IntegrityError)
    expect(listFiles(second)).toEqual([])
  })

  it('restores a pack of more than 4,096 files in several ranged reads, each frame whole', async () => {
    const { store } = await freshStore('many-in-a-pack')
    const workspace = await tempDir('ws')
    await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 5000, largeBytes: 0 })
    const result = saved(await saveEntry({ store, key: 'k', paths: ['build'], workspace, readScopes: MAIN }))
    const framed = Object.values((await loadManifest(store, result.tree)).blobs).filter(
      location => location[4] === Codec.sharedFrame
    )
    const packs = new Set(framed.map(location => location[0]))
    expect(packs.size).toBe(1)
    expect(new Set(framed.map(location => location[1])).size).toBeGreaterThan(1)

    const target = await tempDir('restore')
    const restored = await restoreEntry({ store, key: 'k', paths: ['build'], workspace: target, readScopes: MAIN })
    if (restored.status !== 'found') throw new Error('expected a hit')
    expect(restored.stats?.objectsDownloaded).toBeGreaterThan(1)
    // No frame is fetched twice: the reads add up to at most the pack.
    expect(restored.stats?.bytesDownloaded).toBeLessThanOrEqual((await store.head(objectKey([...packs][0])))!.size)
    expect(await describeTree(path.join(target, 'build'))).toEqual(await describeTree(path.join(workspace, 'build')))
  })

  it('stores random data raw, without a compressed copy that would not pay', async () => {
    const { store } = await freshStore('random')
    const workspace = await tempDir('ws')
    await mkdir(path.join(workspace, 'out'))
    await writeFile(path.join(workspace, 'out', 'random.bin'), seededBytes(3 * 1024 * 1024, 7))
    for (let i = 0; i < 50; i++)
      await writeFile(path.join(workspace, 'out', `small${i}.bin`), seededBytes(4096, 100 + i))
    const result = saved(await saveEntry({ store, key: 'k', paths: ['out'], workspace, readScopes: MAIN }))
    const manifest = await loadManifest(store, result.tree)
    for (const location of Object.values(manifest.blobs)) {
      expect(location[4]).toBe(Codec.raw)
      expect(location[2]).toBe(location[3])
    }
    await expectRestored(store, 'k', 'out', workspace)
  })

  it('replaces a symlink where a file goes without following it, and refuses a directory in the way', async () => {
    const { store } = await freshStore('in-the-way')
    const workspace = await tempDir('ws')
    await mkdir(path.join(workspace, 'out'))
    await writeFile(path.join(workspace, 'out', 'a.txt'), 'restored a\n')
    await writeFile(path.join(workspace, 'out', 'b.txt'), 'restored b\n')
    saved(await saveEntry({ store, key: 'k', paths: ['out'], workspace, readScopes: MAIN }))

    const outside = path.join(await tempDir('outside'), 'victim.txt')
    await writeFile(outside, 'untouched\n')
    const target = await tempDir('restore')
    await mkdir(path.join(target, 'out'))
    await symlink(outside, path.join(target, 'out', 'a.txt'))
    await restoreEntry({ store, key: 'k', paths: ['out'], workspace: target, readScopes: MAIN })
    expect((await lstat(path.join(target, 'out', 'a.txt'))).isFile()).toBe(true)
    expect(await readFile(path.join(target, 'out', 'a.txt'), 'utf8')).toBe('restored a\n')
    expect(await readFile(outside, 'utf8')).toBe('untouched\n')

    const blocked = await tempDir('restore')
    await mkdir(path.join(blocked, 'out', 'b.txt'), { recursive: true })
    await expect(
      restoreEntry({ store, key: 'k', paths: ['out'], workspace: blocked, readScopes: MAIN })
    ).rejects.toThrow(/b\.txt: a directory is in the way/)
  })

  it('gives directories their modes, a read-only one after its files, also over directories and files already there', async () => {
    const { store } = await freshStore('dir-modes')
    const workspace = await tempDir('ws')
    const modes: Array<[string, number]> = [
      ['private', 0o700],
      ['shared', 0o775],
      ['sealed', 0o555],
      ['sticky', 0o1777],
      ['plain', 0o755]
    ]
    for (const [dir, mode] of modes) {
      await mkdir(path.join(workspace, 'out', dir, 'inner'), { recursive: true })
      await writeFile(path.join(workspace, 'out', dir, 'inner', 'f.txt'), dir)
      await chmod(path.join(workspace, 'out', dir), mode)
    }
    saved(await saveEntry({ store, key: 'k', paths: ['out'], workspace, readScopes: MAIN }))
    await expectRestored(store, 'k', 'out', workspace)

    const target = await tempDir('restore')
    await mkdir(path.join(target, 'out', 'private'), { recursive: true })
    await chmod(path.join(target, 'out', 'private'), 0o755)
    await writeFile(path.join(target, 'out', 'shared'), 'a file where a directory goes\n')
    await restoreEntry({ store, key: 'k', paths: ['out'], workspace: target, readScopes: MAIN })
    expect(await describeTree(path.join(target, 'out'))).toEqual(await describeTree(path.join(workspace, 'out')))
  })

  it('refuses a manifest with ../ paths and writes nothing outside the target', async () => {
    const { store } = await freshStore('traversal')
    const content = Buffer.from('owned')
    const digest = (await import('node:crypto')).createHash('sha256').update(content).digest('hex')
    await store.put(objectKey(digest), content)
    const manifest: Manifest = {
      schema: MANIFEST_SCHEMA,
      roots: ['out'],
      entries: [
        { root: 0, path: '', type: 'dir', mode: 0o755 },
        { root: 0, path: '../../escaped.txt', type: 'file', mode: 0o644, size: content.length, blobs: [digest] }
      ],
      blobs: { [digest]: [digest, 0, content.length, content.length, 0] }
    }
    const tree = treeDigest(manifest)
    await store.put(manifestKey(tree), encodeManifest(manifest))
    await writeEntry(store, {
      schema: ENTRY_SCHEMA,
      key: 'evil',
      scope: 'branch/main',
      version: entryVersion(['out']),
      tree,
      files: 1,
      size: content.length,
      created: new Date().toISOString()
    })

    const parent = await tempDir('parent')
    const target = path.join(parent, 'a', 'workspace')
    await mkdir(target, { recursive: true })
    await expect(
      restoreEntry({ store, key: 'evil', paths: ['out'], workspace: target, readScopes: MAIN })
    ).rejects.toThrow(/unsafe/)
    expect(listFiles(parent)).toEqual([])
  })

  it('ends eight concurrent saves of one key with one entry that restores intact', async () => {
    const { store } = await freshStore('concurrent')
    const workspaces: string[] = []
    for (let i = 0; i < 8; i++) {
      const workspace = await tempDir(`ws${i}`)
      await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 100, largeBytes: 1024 * 1024 })
      await writeFile(path.join(workspace, 'build', 'job.txt'), `job ${i}`)
      workspaces.push(workspace)
    }
    const results = await Promise.all(
      workspaces.map(workspace => saveEntry({ store, key: 'same-key', paths: ['build'], workspace, readScopes: MAIN }))
    )
    expect(results.filter(result => result.status === 'saved')).toHaveLength(1)
    expect(results.filter(result => result.status === 'exists')).toHaveLength(7)

    const winner = workspaces[results.findIndex(result => result.status === 'saved')]
    await expectRestored(store, 'same-key', 'build', winner)
  })

  it('stores again the blobs of a base whose objects a prune removed meanwhile', async () => {
    const { store } = await freshStore('vanished')
    const workspace = await tempDir('ws')
    await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 100, largeBytes: 1024 * 1024 })
    const first = saved(await saveEntry({ store, key: 'tree-1', paths: ['build'], workspace, readScopes: MAIN }))
    const manifest = await loadManifest(store, first.tree)
    const objects = [...new Set(Object.values(manifest.blobs).map(location => location[0]))]
    await store.delete(objects.slice(0, 2).map(objectKey))

    const second = saved(
      await saveEntry({ store, key: 'tree-2', restoreKeys: ['tree-'], paths: ['build'], workspace, readScopes: MAIN })
    )
    expect(second.tree).toBe(first.tree)
    expect(second.stats.bytesUploaded).toBeGreaterThan(0)
    await expectRestored(store, 'tree-2', 'build', workspace)
  })

  it('reports a missing bucket before reading the tree, naming the store input', async () => {
    const bucket = uniqueBucketName('absent')
    const store = new S3Store({ ...s3TestConfig(), bucket })
    let puts = 0
    const put = store.put.bind(store)
    store.put = async (...args) => (puts++, put(...args))
    let progressed = 0
    const workspace = await tempDir('ws')
    await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 20, largeBytes: 1024 * 1024 })
    const onProgress = () => progressed++
    const saving = saveEntry({ store, key: 'k', paths: ['build'], workspace, readScopes: MAIN, onProgress })
    const error = await saving.then(
      () => undefined,
      (failure: unknown) => failure
    )
    expect(error).toBeInstanceOf(StoreError)
    expect(error).toMatchObject({ failure: 'no-bucket' })
    expect((error as Error).message).toContain(`bucket "${bucket}" does not exist`)
    expect((error as Error).message).toContain('create it or fix the `store` input')
    expect(puts).toBe(0)
    expect(progressed).toBe(0)
  })

  it('saves and restores a path outside the workspace only when it is requested', async () => {
    const { store } = await freshStore('outside')
    const workspace = await tempDir('ws')
    const outside = await tempDir('outside')
    await writeFile(path.join(outside, 'dep.txt'), 'dependency')
    saved(await saveEntry({ store, key: 'abs', paths: [outside], workspace, readScopes: MAIN }))
    await rm(outside, { recursive: true })
    await restoreEntry({ store, key: 'abs', paths: [outside], workspace: await tempDir('other'), readScopes: MAIN })
    expect(await readFile(path.join(outside, 'dep.txt'), 'utf8')).toBe('dependency')
    await rm(outside, { recursive: true })
  })
})
