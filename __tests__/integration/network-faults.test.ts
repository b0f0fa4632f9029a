// The S3 store on a bad network: a fault-injecting proxy on loopback (helpers/fault-proxy.ts) in front
// of the real radosgw throttles, resets, cuts and lengthens answers, or a server never answers at all.
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import { restoreEntry, saveEntry, type SaveResult } from '../../src/core/cache/checkpoint-cache.js'
import { refKey } from '../../src/core/cache/cache-layout.js'
import { entryVersion } from '../../src/core/cache/entry-refs.js'
import { StoreError } from '../../src/core/errors.js'
import type { RetryClock } from '../../src/core/retry.js'
import { S3Store, type S3StoreConfig } from '../../src/core/store/s3-store.js'
import { FaultProxy, seededRandom, silentServer, type Fault, type ProxiedRequest } from '../helpers/fault-proxy.js'
import { createTestBucket } from '../helpers/s3.js'
import { describeTree, makeBuildTree, tempDir } from '../helpers/trees.js'

const MAIN = ['branch/main']

/** Real time, but backoff waits are skipped: the tests never sleep for a retry. */
const noWaitClock: RetryClock = {
  now: () => Date.now(),
  sleep: () => new Promise(resolve => setImmediate(resolve)),
  random: () => Math.random()
}

let proxy: FaultProxy
let bucket: S3StoreConfig
const opened: S3Store[] = []

/** A store that talks to radosgw through the proxy. */
function proxied(overrides: Partial<S3StoreConfig> = {}): S3Store {
  const store = new S3Store({ ...bucket, endpoint: proxy.endpoint, retry: { clock: noWaitClock }, ...overrides })
  opened.push(store)
  return store
}

function direct(prefix?: string): S3Store {
  const store = new S3Store({ ...bucket, prefix })
  opened.push(store)
  return store
}

beforeAll(async () => {
  bucket = await createTestBucket('faults')
  proxy = await FaultProxy.start(bucket.endpoint!)
})
beforeEach(() => {
  proxy.decide = () => undefined
  proxy.log.length = 0
})
afterAll(async () => {
  opened.forEach(store => store.destroy())
  await proxy?.close()
})

function saved(result: SaveResult): Extract<SaveResult, { status: 'saved' }> {
  if (result.status !== 'saved') throw new Error(`expected a save, got ${result.status}`)
  return result
}

/** The first request for each object that `applies` meets `fault`; later ones pass. */
function firstTimeOnly(
  fault: Fault,
  applies: (request: ProxiedRequest) => boolean
): (request: ProxiedRequest) => Fault | undefined {
  const seen = new Set<string>()
  return request => {
    const id = `${request.method} ${request.path}${request.query}`
    if (!applies(request) || seen.has(id)) return undefined
    seen.add(id)
    return fault
  }
}

const isObjectGet = (request: ProxiedRequest): boolean => request.method === 'GET' && request.path.includes('/objects/')

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e
  )
  expect(error).toBeInstanceOf(Error)
  return error as Error
}

describe('a good network', () => {
  test('retries cost nothing: a clean round trip asks for nothing twice and counts no retry', async () => {
    const store = proxied({ prefix: 'clean' })
    const workspace = await tempDir('clean')
    await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 100, largeBytes: 700 * 1024 })
    const asked = (): string[] => proxy.log.map(r => `${r.method} ${r.path}${r.query} ${r.range ?? ''}`)
    const twice = (requests: string[]): string[] => requests.filter((request, i) => requests.indexOf(request) !== i)
    const result = saved(await saveEntry({ store, key: 'clean', paths: ['build'], workspace, readScopes: MAIN }))
    const ofSave = asked()
    const target = await tempDir('clean-restore')
    const restored = await restoreEntry({ store, key: 'clean', paths: ['build'], workspace: target, readScopes: MAIN })
    const ofRestore = asked().slice(ofSave.length)
    expect([result.retries, restored.retries, store.retries]).toEqual([0, 0, 0])
    // The save heads the objects it reused twice on purpose (before and after waiting out a prune).
    expect(twice(ofSave.filter(request => !request.startsWith('HEAD')))).toEqual([])
    expect(twice(ofRestore)).toEqual([])
  })
})

describe('throttling', () => {
  test('with 20% of requests answered 503 SlowDown, every save and restore succeeds byte for byte', async () => {
    const random = seededRandom(20)
    proxy.decide = () => (random() < 0.2 ? 'slow-down' : undefined)
    const store = proxied({ prefix: 'throttled' })
    let retries = 0
    for (let round = 0; round < 4; round++) {
      const workspace = await tempDir('throttled')
      await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 150, largeBytes: 700 * 1024 + round })
      await writeFile(path.join(workspace, 'build', 'round.txt'), `round ${round}`)
      const result = saved(
        await saveEntry({ store, key: `throttled-${round}`, paths: ['build'], workspace, readScopes: MAIN })
      )
      const target = await tempDir('throttled-restore')
      const restored = await restoreEntry({
        store,
        key: `throttled-${round}`,
        paths: ['build'],
        workspace: target,
        readScopes: MAIN
      })
      expect(restored).toMatchObject({ status: 'found', exact: true })
      expect(await describeTree(path.join(target, 'build'))).toEqual(await describeTree(path.join(workspace, 'build')))
      retries += result.retries + restored.retries
    }
    const throttled = proxy.faults.length
    expect(throttled).toBeGreaterThan(10)
    // Every 503 was retried once, and nothing else was.
    expect(retries).toBe(throttled)
    expect(store.retries).toBe(throttled)
  })

  test('500 answers and throttled file uploads are retried with a fresh body', async () => {
    const dir = await tempDir('put-file')
    const bytes = randomBytes(300_000)
    const file = path.join(dir, 'body')
    await writeFile(file, bytes)
    let putNumber = 0
    proxy.decide = request =>
      request.method === 'PUT' && ++putNumber <= 2 ? (putNumber === 1 ? 'slow-down' : 'server-error') : undefined
    const store = proxied({ prefix: 'file-bodies' })
    await expect(store.put('packs/file', { path: file, size: bytes.length })).resolves.toBe('created')
    expect(store.retries).toBe(2)
    expect((await direct('file-bodies').get('packs/file'))?.equals(bytes)).toBe(true)
  })
})

describe('bodies that break', () => {
  let key: string
  let source: string

  beforeAll(async () => {
    source = await tempDir('bodies')
    await makeBuildTree(path.join(source, 'build'), { smallFiles: 200, largeBytes: 2 * 1024 * 1024 })
    key = 'bodies'
    saved(await saveEntry({ store: direct('bodies'), key, paths: ['build'], workspace: source, readScopes: MAIN }))
  })

  test.each([['reset-mid-body'], ['short-body']] as Array<[Fault]>)(
    'a restore whose ranged reads meet %s succeeds, reading only the rest again',
    async fault => {
      proxy.decide = firstTimeOnly(fault, isObjectGet)
      const store = proxied({ prefix: 'bodies' })
      const target = await tempDir('bodies-restore')
      const restored = await restoreEntry({ store, key, paths: ['build'], workspace: target, readScopes: MAIN })
      expect(restored).toMatchObject({ status: 'found' })
      expect(await describeTree(path.join(target, 'build'))).toEqual(await describeTree(path.join(source, 'build')))
      const broken = proxy.faults
      expect(broken.length).toBeGreaterThanOrEqual(3) // a pack and the two large files
      expect(restored.retries).toBe(broken.length)
      // Each broken read is followed by one for the rest of its range, from the same object.
      for (const request of broken) {
        const [, start, end] = /^bytes=(\d+)-(\d+)$/.exec(request.range!)!.map(Number)
        const rest = proxy.log.filter(
          other => other.path === request.path && !other.fault && other.range !== request.range
        )
        const resumed = rest
          .map(other => /^bytes=(\d+)-(\d+)$/.exec(other.range ?? '')!.map(Number))
          .find(([, s, e]) => s > start && e === end)
        expect(resumed).toBeDefined()
      }
    }
  )

  test('a reset in the middle of a whole-object read (a manifest, an entry) is resumed too', async () => {
    proxy.decide = firstTimeOnly('reset-mid-body', request => request.method === 'GET' && !request.range)
    const store = proxied({ prefix: 'bodies' })
    const target = await tempDir('bodies-whole')
    const restored = await restoreEntry({ store, key, paths: ['build'], workspace: target, readScopes: MAIN })
    expect(restored).toMatchObject({ status: 'found' })
    expect(proxy.faults.length).toBeGreaterThanOrEqual(2) // the entry and the manifest
    expect(await describeTree(path.join(target, 'build'))).toEqual(await describeTree(path.join(source, 'build')))
  })

  test('getStream survives a reset mid-body', async () => {
    const bytes = randomBytes(3 * 1024 * 1024 + 11)
    await direct('stream').put('big', bytes)
    proxy.decide = firstTimeOnly('reset-mid-body', request => request.method === 'GET')
    const stream = await proxied({ prefix: 'stream' }).getStream('big')
    expect((await readAll(stream!)).equals(bytes)).toBe(true)
    expect(proxy.faults.length).toBe(1)
  })

  test('a body longer than asked for is reported as longer, and not retried', async () => {
    proxy.decide = request => (isObjectGet(request) ? 'long-body' : undefined)
    const store = proxied({ prefix: 'bodies' })
    const target = await tempDir('bodies-long')
    const error = await rejection(restoreEntry({ store, key, paths: ['build'], workspace: target, readScopes: MAIN }))
    expect(error).toBeInstanceOf(StoreError)
    expect(error.message).toMatch(/longer than asked for \(\d+ bytes for the \d+-byte range/)
    expect(error.message).not.toContain('shorter')
    const objectGets = proxy.log.filter(isObjectGet)
    expect(new Set(objectGets.map(request => `${request.path} ${request.range}`)).size).toBe(objectGets.length)
    expect(store.retries).toBe(0)
  })
})

describe('create-only writes whose answer is lost', () => {
  const lostFirstPut = (): ((request: ProxiedRequest) => Fault | undefined) => {
    let puts = 0
    return request => (request.method === 'PUT' && ++puts === 1 ? 'lost-response' : undefined)
  }

  test("a retry's 412 after this call's own write is recognised as created", async () => {
    proxy.decide = lostFirstPut()
    const store = proxied({ prefix: 'lost' })
    await expect(store.put('objects/mine', Buffer.from('my bytes'), { ifNoneMatch: true })).resolves.toBe('created')
    expect(proxy.log.map(request => `${request.method} ${request.status}`)).toEqual(['PUT 200', 'PUT 412', 'GET 200'])
  })

  test("a retry's 412 over another writer's bytes is exists", async () => {
    await direct('lost').put('objects/theirs', Buffer.from('their bytes'))
    proxy.decide = lostFirstPut()
    const store = proxied({ prefix: 'lost' })
    await expect(store.put('objects/theirs', Buffer.from('my bytes'), { ifNoneMatch: true })).resolves.toBe('exists')
    expect((await direct('lost').get('objects/theirs'))?.toString()).toBe('their bytes')
  })

  test('a first attempt answered 412 is exists, without reading the object back', async () => {
    await direct('lost').put('objects/present', Buffer.from('present'))
    const store = proxied({ prefix: 'lost' })
    await expect(store.put('objects/present', Buffer.from('present'), { ifNoneMatch: true })).resolves.toBe('exists')
    expect(proxy.log.map(request => `${request.method} ${request.status}`)).toEqual(['PUT 412'])
  })

  test("a save whose entry write lost its answer reports saved, not another job's entry", async () => {
    const workspace = await tempDir('lost-entry')
    await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 20, largeBytes: 100_000 })
    const entry = refKey(MAIN[0], entryVersion(['build']), 'lost-entry')
    let lost = false
    proxy.decide = request =>
      request.method === 'PUT' && request.path.endsWith(entry.split('/').pop()!) && !lost
        ? ((lost = true), 'lost-response')
        : undefined
    const result = await saveEntry({
      store: proxied({ prefix: 'lost-entry' }),
      key: 'lost-entry',
      paths: ['build'],
      workspace,
      readScopes: MAIN
    })
    expect(lost).toBe(true)
    expect(result).toMatchObject({ status: 'saved', retries: 1 })
  })
})

describe('failures that cannot pass', () => {
  test('a wrong secret (403) is not retried', async () => {
    const store = proxied({
      prefix: 'denied',
      credentials: { accessKeyId: bucket.credentials!.accessKeyId, secretAccessKey: 'wrong'.padEnd(40, 'x') }
    })
    for (const operation of [
      () => store.get('k'),
      () => store.put('k', Buffer.from('x')),
      () => store.head('k'),
      () => store.check()
    ]) {
      proxy.log.length = 0
      const error = await rejection(operation())
      expect((error as StoreError).failure).toBe('denied')
      expect(proxy.log).toHaveLength(1)
    }
    expect(store.retries).toBe(0)
  })

  test('a missing object (404) is not retried', async () => {
    const store = proxied({ prefix: 'missing' })
    await expect(store.get('nothing')).resolves.toBeUndefined()
    await expect(store.head('nothing')).resolves.toBeUndefined()
    expect(proxy.log).toHaveLength(2)
  })
})

describe('a dead endpoint', () => {
  // Default timeouts and policy, real time: the bound is what a user gets.
  test('connections accepted, never answered: save and restore each give up within 30 s, as unreachable', async () => {
    const dead = await silentServer()
    try {
      const workspace = await tempDir('dead')
      await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 10, largeBytes: 10_000 })
      const attempt = async (
        operation: (store: S3Store) => Promise<unknown>
      ): Promise<{ seconds: number; error: Error }> => {
        const store = new S3Store({ ...bucket, endpoint: dead.endpoint })
        opened.push(store)
        const began = Date.now()
        const error = await rejection(operation(store))
        return { seconds: (Date.now() - began) / 1000, error }
      }
      const [save, restore] = await Promise.all([
        attempt(store => saveEntry({ store, key: 'dead', paths: ['build'], workspace, readScopes: MAIN })),
        attempt(store => restoreEntry({ store, key: 'dead', paths: ['build'], workspace, readScopes: MAIN }))
      ])
      for (const { seconds, error } of [save, restore]) {
        expect(seconds).toBeLessThan(30)
        expect(seconds).toBeGreaterThan(8) // it did wait for an answer
        expect(error).toBeInstanceOf(StoreError)
        expect((error as StoreError).failure).toBe('unreachable')
        expect(error.message).toContain(dead.endpoint)
        expect(error.message).not.toContain('\n')
      }
      expect(dead.connections()).toBeGreaterThan(0)
    } finally {
      await dead.close()
    }
  }, 60_000)

  test('once a call gives up on the endpoint, calls in flight and later ones fail at once', async () => {
    const dead = await silentServer()
    try {
      const store = new S3Store({ ...bucket, endpoint: dead.endpoint, retry: { silenceMs: 1_000, clock: noWaitClock } })
      opened.push(store)
      const began = Date.now()
      const calls = [store.get('a'), store.head('b'), store.get('c', { start: 0, end: 9 })].map(rejection)
      const errors = await Promise.all(calls)
      const later = Date.now()
      await rejection(store.get('d'))
      expect(Date.now() - later).toBeLessThan(100)
      expect(errors.every(error => (error as StoreError).failure === 'unreachable')).toBe(true)
      expect((Date.now() - began) / 1000).toBeLessThan(20)
    } finally {
      await dead.close()
    }
  }, 30_000)
})
