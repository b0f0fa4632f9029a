// One contract for every ObjectStore backend, run against a local directory (FsStore), a real S3
// server (S3Store on the radosgw that scripts/test.sh boots) and GitHub's cache service (its stand-in
// with Azurite), plus each backend's own failures. GitHub's cache cannot overwrite, delete or list
// everything under a prefix; the tests of those skip it.
import { randomBytes } from 'node:crypto'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import * as net from 'node:net'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { StoreError, type StoreFailure } from '../../src/core/errors.js'
import { FsStore } from '../../src/core/store/fs-store.js'
import type { ObjectInfo, ObjectStore, PutBody, PutOptions } from '../../src/core/store/object-store.js'
import { S3Store } from '../../src/core/store/s3-store.js'
import { CacheServiceClient } from '../../src/github/cache-service.js'
import { GitHubCacheStore } from '../../src/github/github-cache-store.js'
import { branchScopes, startCacheService } from '../helpers/github-cache-service.js'
import { createTestBucket, fsOnly, s3TestClient, s3TestConfig, uniqueBucketName } from '../helpers/s3.js'

interface Backend {
  /** A store of its own for one test, under a prefix no other test uses. */
  open(prefix: string): ObjectStore
  close(): Promise<void>
}

async function fsBackend(): Promise<Backend> {
  const root = await mkdtemp(path.join(tmpdir(), 'fs-store-'))
  return {
    open: prefix => new FsStore(path.join(root, prefix)),
    close: () => rm(root, { recursive: true, force: true })
  }
}

async function s3Backend(): Promise<Backend> {
  const config = await createTestBucket('contract')
  const opened: S3Store[] = []
  return {
    open: prefix => {
      const store = new S3Store({ ...config, prefix })
      opened.push(store)
      return store
    },
    close: async () => opened.forEach(store => store.destroy())
  }
}

/** A fresh token per prefix keeps tests apart: each test writes to a scope of its own. */
async function gitHubCacheBackend(): Promise<Backend> {
  const service = await startCacheService()
  return {
    open: prefix =>
      new GitHubCacheStore(
        new CacheServiceClient({ resultsUrl: service.url, token: service.token(branchScopes(prefix)) })
      ),
    close: () => service.stop()
  }
}

/** What a backend can do beyond create-only puts, gets and finding the newest object under a prefix. */
interface Abilities {
  overwrite: boolean
  listAll: boolean
  delete: boolean
}
const EVERYTHING: Abilities = { overwrite: true, listAll: true, delete: true }

let testNumber = 0
function freshPrefix(): string {
  return `t${++testNumber}-${randomBytes(3).toString('hex')}`
}

async function collect(items: AsyncIterable<ObjectInfo>): Promise<ObjectInfo[]> {
  const all: ObjectInfo[] = []
  for await (const item of items) all.push(item)
  return all
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

/** Runs `task` on every item, at most `limit` at once. */
async function inParallel<T>(items: T[], limit: number, task: (item: T) => Promise<unknown>): Promise<void> {
  let next = 0
  const worker = async () => {
    while (next < items.length) await task(items[next++])
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

/** The StoreError `promise` rejects with, failing the test when it resolves or throws something else. */
async function storeErrorOf(promise: Promise<unknown>): Promise<StoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(StoreError)
  return error as StoreError
}

async function expectFailure(promise: Promise<unknown>, failure: StoreFailure): Promise<StoreError> {
  const error = await storeErrorOf(promise)
  expect({ failure: error.failure, message: error.message }).toEqual({ failure, message: expect.any(String) })
  return error
}

/** Suites that need the S3 server; `npm run test:fs` leaves them out. */
const describeWithS3 = fsOnly ? describe.skip : describe
const backends: Array<[string, () => Promise<Backend>, Abilities]> = [
  ['FsStore', fsBackend, EVERYTHING],
  ['S3Store', s3Backend, EVERYTHING],
  ['GitHubCacheStore', gitHubCacheBackend, { overwrite: false, listAll: false, delete: false }]
]
describe.each(fsOnly ? backends.slice(0, 1) : backends)('%s contract', (_name, makeBackend, can) => {
  let backend: Backend
  let store: ObjectStore
  const testIf = (able: boolean) => (able ? test : test.skip)
  /** A write of a new key: create-only where the store can do nothing else. */
  const put = (key: string, body: PutBody, options: PutOptions = {}) =>
    store.put(key, body, can.overwrite ? options : { ...options, ifNoneMatch: true })

  beforeAll(async () => {
    backend = await makeBackend()
  })
  afterAll(async () => {
    await backend?.close()
  })
  beforeEach(() => {
    store = backend.open(freshPrefix())
  })

  test('check passes on a usable store', async () => {
    await expect(store.check()).resolves.toBeUndefined()
  })

  test('put then get and head return the bytes; missing keys are undefined', async () => {
    const bytes = randomBytes(5000)
    await expect(put('dir/sub/object.bin', bytes)).resolves.toBe('created')

    expect((await store.get('dir/sub/object.bin'))?.equals(bytes)).toBe(true)
    const info = await store.head('dir/sub/object.bin')
    expect(info).toEqual({ key: 'dir/sub/object.bin', size: 5000, lastModified: expect.any(Date) })
    expect(Math.abs(info!.lastModified.getTime() - Date.now())).toBeLessThan(60_000)

    await expect(store.get('dir/sub/missing.bin')).resolves.toBeUndefined()
    await expect(store.get('no/such/folder/key')).resolves.toBeUndefined()
    await expect(store.get('dir/sub/missing.bin', { start: 0, end: 9 })).resolves.toBeUndefined()
    await expect(store.head('dir/sub/missing.bin')).resolves.toBeUndefined()
    await expect(store.getStream('dir/sub/missing.bin')).resolves.toBeUndefined()
    // A "folder" is not an object.
    await expect(store.get('dir/sub')).resolves.toBeUndefined()
    await expect(store.head('dir')).resolves.toBeUndefined()
  })

  test('an empty object round-trips', async () => {
    await put('empty', new Uint8Array(0))
    expect(await store.get('empty')).toEqual(Buffer.alloc(0))
    expect((await store.head('empty'))?.size).toBe(0)
  })

  test('a ranged get returns exactly the inclusive range, the end clipped to the object', async () => {
    const bytes = randomBytes(100_000)
    await put('ranged', bytes)

    expect((await store.get('ranged', { start: 10, end: 19 }))?.equals(bytes.subarray(10, 20))).toBe(true)
    expect((await store.get('ranged', { start: 0, end: 0 }))?.equals(bytes.subarray(0, 1))).toBe(true)
    expect((await store.get('ranged', { start: 65_536, end: 99_999 }))?.equals(bytes.subarray(65_536))).toBe(true)
    expect((await store.get('ranged', { start: 99_990, end: 200_000 }))?.equals(bytes.subarray(99_990))).toBe(true)
    await expectFailure(store.get('ranged', { start: 100_000, end: 100_010 }), 'other')
  })

  test('getStream streams the whole object', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 17)
    await put('streamed', bytes)
    const stream = await store.getStream('streamed')
    expect(stream).toBeDefined()
    expect((await readAll(stream!)).equals(bytes)).toBe(true)
  })

  test('put with ifNoneMatch creates once and then reports exists, keeping the first bytes', async () => {
    const first = Buffer.from('first version')
    const second = Buffer.from('second version, longer than the first')

    await expect(put('refs/entry', first, { ifNoneMatch: true })).resolves.toBe('created')
    await expect(put('refs/entry', second, { ifNoneMatch: true })).resolves.toBe('exists')
    expect((await store.get('refs/entry'))?.toString()).toBe('first version')
    expect((await store.head('refs/entry'))?.size).toBe(first.length)

    if (!can.overwrite) {
      await expectFailure(store.put('refs/entry', second), 'other')
      expect((await store.get('refs/entry'))?.toString()).toBe('first version')
      return
    }
    // A plain put overwrites.
    await expect(store.put('refs/entry', second)).resolves.toBe('created')
    expect((await store.get('refs/entry'))?.toString()).toBe(second.toString())
  })

  test('concurrent create-only writes of one key: exactly one is created, and its bytes are stored', async () => {
    for (let round = 0; round < 3; round++) {
      const bodies = Array.from({ length: 16 }, (_, i) => Buffer.from(`writer ${i} `.repeat(10_000)))
      const results = await Promise.all(bodies.map(body => put(`race/${round}`, body, { ifNoneMatch: true })))
      expect(results.filter(result => result === 'created')).toHaveLength(1)
      const winner = bodies[results.indexOf('created')]
      expect((await store.get(`race/${round}`))?.equals(winner)).toBe(true)
    }
  })

  test('put with ifNoneMatch from a file body also reports exists', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'put-file-'))
    try {
      const file = path.join(dir, 'body')
      await writeFile(file, 'from a file')
      await expect(put('once', { path: file, size: 11 }, { ifNoneMatch: true })).resolves.toBe('created')
      await expect(put('once', Buffer.from('other'), { ifNoneMatch: true })).resolves.toBe('exists')
      await expect(put('once', { path: file, size: 11 }, { ifNoneMatch: true })).resolves.toBe('exists')
      expect((await store.get('once'))?.toString()).toBe('from a file')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  test('a file body is streamed with its size; a wrong size fails', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'put-file-'))
    try {
      const bytes = randomBytes(6 * 1024 * 1024 + 3)
      const file = path.join(dir, 'pack.bin')
      await writeFile(file, bytes)

      await expect(
        put('packs/pack.bin', { path: file, size: bytes.length }, { contentType: 'application/octet-stream' })
      ).resolves.toBe('created')
      expect((await store.get('packs/pack.bin'))?.equals(bytes)).toBe(true)
      expect((await store.head('packs/pack.bin'))?.size).toBe(bytes.length)

      await expectFailure(put('packs/short.bin', { path: file, size: bytes.length + 1 }), 'other')
      await expect(store.head('packs/short.bin')).resolves.toBeUndefined()
      await expectFailure(put('packs/none.bin', { path: path.join(dir, 'does-not-exist'), size: 1 }), 'other')
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })

  testIf(!can.listAll)(
    'list yields the newest object under a prefix, and nothing under a prefix without objects',
    async () => {
      await put('refs/a/old', Buffer.from('old'))
      await put('refs/a/new', Buffer.from('newer'))
      await put('refs/b/other', Buffer.from('other'))
      expect((await collect(store.list('refs/a/'))).map(info => [info.key, info.size])).toEqual([['refs/a/new', 5]])
      expect((await collect(store.list('refs/a/o'))).map(info => info.key)).toEqual(['refs/a/old'])
      expect(await collect(store.list('refs/c/'))).toEqual([])
      await expectFailure(store.delete(['refs/a/old']), 'other')
    }
  )

  testIf(can.listAll)(
    'list returns every object across pages of 1000, in key order, relative to the prefix; delete removes them in batches',
    async () => {
      const keys = Array.from({ length: 1234 }, (_, i) => `many/${String(i).padStart(4, '0')}`)
      await inParallel(keys, 32, key => put(key, Buffer.from(key)))
      await put('other/outside', Buffer.from('x'))

      const listed = await collect(store.list('many/'))
      expect(listed.map(info => info.key)).toEqual(keys)
      expect(listed.every(info => info.size === 9 && info.lastModified instanceof Date)).toBe(true)

      // A prefix that ends inside a name.
      expect((await collect(store.list('many/012'))).map(info => info.key)).toEqual(
        keys.filter(key => key.startsWith('many/012'))
      )
      expect((await collect(store.list(''))).length).toBe(keys.length + 1)
      expect(await collect(store.list('nothing-here/'))).toEqual([])

      await store.delete([...keys, 'many/never-existed'])
      expect(await collect(store.list('many/'))).toEqual([])
      expect((await collect(store.list(''))).map(info => info.key)).toEqual(['other/outside'])
      await expect(store.get('other/outside')).resolves.toBeDefined()
    }
  )

  testIf(can.listAll)('list orders keys by their bytes, as S3 does, across folder boundaries', async () => {
    // '-' (0x2d) < '.' (0x2e) < '/' (0x2f) < '0': a folder's keys sort between its neighbours' names.
    const keys = [
      'order/a',
      'order/a-c',
      'order/a.d',
      'order/a0',
      'order/b/x',
      'order/b-',
      'order/b/y/z',
      'order/é',
      'order/Z'
    ]
    const sorted = [...keys].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)))
    // 'order/a' is a key; 'order/b' a folder (an FsStore cannot hold both 'a' and 'a/...').
    await inParallel(keys, 8, key => put(key, Buffer.from(key)))
    expect((await collect(store.list('order/'))).map(info => info.key)).toEqual(sorted)
    expect((await collect(store.list('order/b'))).map(info => info.key)).toEqual(
      sorted.filter(key => key.startsWith('order/b'))
    )
  })

  testIf(can.delete)('delete ignores missing keys and leaves other objects alone', async () => {
    await put('keep', Buffer.from('keep'))
    await put('drop', Buffer.from('drop'))
    await store.delete(['drop', 'missing'])
    await store.delete([])
    await expect(store.get('drop')).resolves.toBeUndefined()
    expect((await store.get('keep'))?.toString()).toBe('keep')
  })

  test('location and identity name the store without credentials', () => {
    const secret = process.env.S3_TEST_SECRET_ACCESS_KEY
    expect(store.location.length).toBeGreaterThan(0)
    expect(store.identity.length).toBeGreaterThan(0)
    if (secret) {
      expect(store.location).not.toContain(secret)
      expect(store.identity).not.toContain(secret)
    }
    expect(backend.open('another-prefix').identity).not.toBe(store.identity)
  })
})

describe('FsStore', () => {
  let root: string
  beforeAll(async () => {
    root = await mkdtemp(path.join(tmpdir(), 'fs-store-own-'))
  })
  afterAll(async () => {
    await rm(root, { recursive: true, force: true })
  })

  test('check creates the directory', async () => {
    const dir = path.join(root, 'not', 'yet', 'there')
    await new FsStore(dir).check()
    expect(await readdir(dir)).toEqual([])
  })

  test('writes leave no temporary files behind, whether they create, overwrite or find the key', async () => {
    const dir = path.join(root, 'temps')
    const store = new FsStore(dir)
    await store.put('a/key', Buffer.from('1'), { ifNoneMatch: true })
    await store.put('a/key', Buffer.from('2'), { ifNoneMatch: true })
    await store.put('a/key', Buffer.from('3'))
    await expectFailure(store.put('a/bad', { path: path.join(root, 'missing-file'), size: 1 }), 'other')
    expect(await readdir(path.join(dir, 'a'))).toEqual(['key'])
    expect((await store.get('a/key'))?.toString()).toBe('3')
  })

  test('refuses keys that would leave the directory', async () => {
    const store = new FsStore(path.join(root, 'inside'))
    await expectFailure(store.put('../outside', Buffer.from('x')), 'other')
    await expectFailure(store.get('a/../../outside'), 'other')
    await expectFailure(collect(store.list('../')), 'other')
    await expect(readdir(root)).resolves.not.toContain('outside')
  })

  test('check fails when the directory cannot be made', async () => {
    const file = path.join(root, 'a-file')
    await writeFile(file, 'not a directory')
    const error = await expectFailure(new FsStore(path.join(file, 'store')).check(), 'other')
    expect(error.message).toContain(file)
  })
})

describeWithS3('S3Store', () => {
  let bucketConfig: Awaited<ReturnType<typeof createTestBucket>>
  const opened: S3Store[] = []
  /** Gives up on an endpoint that says nothing after 1 s, where the default waits 15 s. */
  const SHORT_SILENCE = { silenceMs: 1_000 }
  function open(...args: ConstructorParameters<typeof S3Store>): S3Store {
    const store = new S3Store(...args)
    opened.push(store)
    return store
  }

  beforeAll(async () => {
    bucketConfig = await createTestBucket('s3-store')
  })
  afterAll(() => opened.forEach(store => store.destroy()))

  test('keys join under the prefix with exactly one slash', async () => {
    const store = open({ ...bucketConfig, prefix: '/nested/prefix/' })
    expect(store.identity).toBe(open({ ...bucketConfig, prefix: 'nested/prefix' }).identity)
    expect(store.location).toBe(`s3://${bucketConfig.bucket}/nested/prefix at ${s3TestConfig().endpoint}`)
    await store.put('a/b', Buffer.from('x'))
    await store.put('/c', Buffer.from('y'))

    const client = s3TestClient()
    try {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucketConfig.bucket }))
      expect(page.Contents?.map(object => object.Key)).toEqual(['nested/prefix/a/b', 'nested/prefix/c'])
    } finally {
      client.destroy()
    }
    expect((await collect(store.list(''))).map(info => info.key)).toEqual(['a/b', 'c'])

    // Without a prefix, keys are the object names.
    const bare = open({ ...bucketConfig })
    expect((await bare.get('nested/prefix/c'))?.toString()).toBe('y')
  })

  test('a bucket that does not exist fails with no-bucket, naming the bucket', async () => {
    const bucket = uniqueBucketName('absent')
    const store = open({ ...s3TestConfig(), bucket, prefix: 'p' })
    for (const operation of [
      () => store.check(),
      () => store.put('k', Buffer.from('x')),
      () => store.get('k'),
      () => collect(store.list(''))
    ]) {
      const error = await expectFailure(operation(), 'no-bucket')
      expect(error.message).toContain(`"${bucket}"`)
      expect(error.message).toContain('create it or fix the `store` input')
    }
  })

  test('a wrong secret fails with denied, without the secret in the message', async () => {
    const config = s3TestConfig()
    const wrongSecret = 'wrong' + config.credentials!.secretAccessKey.slice(5)
    const store = open({
      ...bucketConfig,
      credentials: { accessKeyId: config.credentials!.accessKeyId, secretAccessKey: wrongSecret }
    })
    for (const operation of [
      () => store.check(),
      () => store.put('k', Buffer.from('x')),
      () => store.get('k'),
      () => collect(store.list(''))
    ]) {
      const error = await expectFailure(operation(), 'denied')
      expect(error.message).toContain('check the credentials')
      expect(error.message).not.toContain(wrongSecret)
      expect(error.message).not.toContain(config.credentials!.secretAccessKey)
    }
  })

  test('an unknown access key fails with denied', async () => {
    const store = open({
      ...bucketConfig,
      credentials: { accessKeyId: 'AKIDNOTAUSER00000000', secretAccessKey: 'x'.repeat(40) }
    })
    await expectFailure(store.check(), 'denied')
  })

  test('an endpoint nothing listens on fails with unreachable within the bound, naming the endpoint', async () => {
    // A short silence bound: the default's 15 s is tested through the bundle (action-dist.test.ts).
    const store = open({ ...bucketConfig, endpoint: 'http://127.0.0.1:1', retry: SHORT_SILENCE })
    const began = Date.now()
    const error = await expectFailure(store.check(), 'unreachable')
    expect(Date.now() - began).toBeLessThan(30_000) // refused connections are retried for 15 s
    expect(error.message).toContain('http://127.0.0.1:1')
    await expectFailure(store.get('k'), 'unreachable')
  })

  test('an endpoint that takes connections but never answers fails check with unreachable within 30 s', async () => {
    const sockets: net.Socket[] = []
    const silent = net.createServer(socket => sockets.push(socket)) // accepts, reads nothing, says nothing
    await new Promise<void>(resolve => silent.listen(0, '127.0.0.1', resolve))
    try {
      const endpoint = `http://127.0.0.1:${(silent.address() as net.AddressInfo).port}`
      const store = open({ ...bucketConfig, endpoint, retry: SHORT_SILENCE })
      const began = Date.now()
      const error = await expectFailure(store.check(), 'unreachable')
      expect(Date.now() - began).toBeLessThan(30_000)
      expect(error.message).toContain(endpoint)
      expect(sockets.length).toBeGreaterThan(0) // it did connect: this is the request timeout, not the connection's
    } finally {
      sockets.forEach(socket => socket.destroy())
      await new Promise(resolve => silent.close(resolve))
    }
  }, 60_000)

  test('the endpoint is shown without credentials in it', () => {
    const store = open({ ...bucketConfig, endpoint: 'http://someone:hunter2@127.0.0.1:9/base/' })
    expect(store.location).not.toContain('hunter2')
    expect(store.identity).not.toContain('hunter2')
    expect(store.location).toContain('http://127.0.0.1:9/base')
  })
})
