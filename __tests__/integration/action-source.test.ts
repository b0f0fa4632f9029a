import { jest } from '@jest/globals'
import { readFile, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { restoreCache } from '../../src/action/cache-restore.js'
import { saveCache } from '../../src/action/cache-save.js'
import { readCacheInputs, type CacheInputs } from '../../src/action/inputs/cache.js'
import { readReleaseInputs } from '../../src/action/inputs/release.js'
import { State } from '../../src/action/names.js'
import { memoryState, noState } from '../../src/action/state.js'
import type { StoreConfig } from '../../src/core/store/store-config.js'
import { parseCommandFile } from '../helpers/action-runner.js'
import { createTestBucket } from '../helpers/s3.js'
import { describeTree, makeBuildTree, tempDir } from '../helpers/trees.js'

/**
 * The action layer on the source: the steps take plain input objects and a state provider, with no
 * INPUT_* variables; the readers are checked with them. Outputs go to a GITHUB_OUTPUT file, as on a runner.
 */

let log = ''
let outputFile = ''
const saved = { ...process.env }

beforeEach(async () => {
  const dir = await tempDir('step')
  outputFile = path.join(dir, 'output')
  await writeFile(outputFile, '')
  for (const name of Object.keys(process.env))
    if (/^(INPUT_|STATE_|GITHUB_|AWS_|ARTIFACT_ACTION_)/.test(name)) delete process.env[name]
  process.env.GITHUB_OUTPUT = outputFile
  log = ''
  jest.spyOn(process.stdout, 'write').mockImplementation(chunk => {
    log += String(chunk)
    return true
  })
})

afterEach(() => {
  jest.restoreAllMocks()
  process.env = { ...saved }
})

async function outputs(): Promise<Record<string, string>> {
  return parseCommandFile(await readFile(outputFile, 'utf8'))
}

function cacheInputs(store: StoreConfig, workspace: string, overrides: Partial<CacheInputs> = {}): CacheInputs {
  return {
    paths: ['build'],
    key: 'build-1',
    restoreKeys: [],
    lookupOnly: false,
    failOnCacheMiss: false,
    exactMirror: false,
    update: false,
    store,
    workspace,
    ...overrides
  }
}

describe.each([
  ['a local directory', async (): Promise<StoreConfig> => ({ kind: 'fs', dir: await tempDir('store') })],
  ['RGW', async (): Promise<StoreConfig> => ({ kind: 's3', ...(await createTestBucket('action-source')) })]
])('the cache steps on %s, run from the source', (_name, makeStore) => {
  it('restore misses, save stores, and the next restore gets the tree back with the state it leaves', async () => {
    const store = await makeStore()
    const workspace = await tempDir('ws')
    await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 20, largeBytes: 64 * 1024 })

    const first = memoryState()
    await restoreCache(cacheInputs(store, workspace), first)
    expect(await outputs()).toMatchObject({ 'cache-hit': 'false', 'cache-primary-key': 'build-1' })
    expect(first.get(State.PrimaryKey)).toBe('build-1')
    expect(first.get(State.MatchedKey)).toBe('')

    await saveCache(cacheInputs(store, workspace), first)
    const savedTree = (await outputs())['tree-digest']
    expect(savedTree).toMatch(/^[0-9a-f]{64}$/)
    expect(log).toContain('Cache saved with key: build-1')

    const target = await tempDir('ws')
    const second = memoryState()
    await restoreCache(cacheInputs(store, target), second)
    expect(await outputs()).toMatchObject({ 'cache-hit': 'true', 'cache-matched-key': 'build-1' })
    expect(second.get(State.MatchedTree)).toBe(savedTree)
    expect(await describeTree(path.join(target, 'build'))).toEqual(await describeTree(path.join(workspace, 'build')))

    log = ''
    await saveCache(cacheInputs(store, target), second)
    expect(log).toContain('Cache hit occurred on the primary key build-1, not saving cache.')
  })
})

describe('the cache steps without a post step', () => {
  it('keep no state, and a save uses the key input', async () => {
    const store: StoreConfig = { kind: 'fs', dir: await tempDir('store') }
    const workspace = await tempDir('ws')
    await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 5, largeBytes: 1024 })
    await saveCache(cacheInputs(store, workspace, { key: 'only-1' }), noState)
    expect(log).toContain('Cache saved with key: only-1')
    await restoreCache(cacheInputs(store, await tempDir('ws'), { key: 'only-1' }), noState)
    expect(await outputs()).toMatchObject({ 'cache-hit': 'true', 'cache-matched-key': 'only-1' })
  })

  it('fail on a miss with fail-on-cache-miss, naming the keys', async () => {
    const store: StoreConfig = { kind: 'fs', dir: await tempDir('store') }
    const inputs = cacheInputs(store, await tempDir('ws'), { key: 'absent', failOnCacheMiss: true })
    await expect(restoreCache(inputs, noState)).rejects.toThrow(/fail-on-cache-miss is set.*absent/)
  })
})

describe('the input readers', () => {
  const setInputs = (inputs: Record<string, string>): void => {
    for (const [name, value] of Object.entries(inputs)) process.env[`INPUT_${name.toUpperCase()}`] = value
  }

  it('read the cache inputs into a typed object', () => {
    setInputs({ path: 'build\ndist', key: 'k', 'restore-keys': 'k-', 'lookup-only': 'true', store: '/tmp/x' })
    process.env.GITHUB_WORKSPACE = '/work/space'
    expect(readCacheInputs()).toEqual({
      paths: ['build', 'dist'],
      key: 'k',
      restoreKeys: ['k-'],
      lookupOnly: true,
      failOnCacheMiss: false,
      exactMirror: false,
      update: false,
      policy: expect.anything(),
      uploadChunkSize: undefined,
      store: { kind: 'fs', dir: '/tmp/x' },
      workspace: '/work/space'
    })
  })

  it('take the S3 endpoint and region from the environment, as the CLI does', () => {
    setInputs({ path: 'build', key: 'k', store: 's3://bucket/prefix' })
    process.env.AWS_ENDPOINT_URL = 'http://127.0.0.1:9000'
    process.env.AWS_DEFAULT_REGION = 'eu-west-3'
    expect(readCacheInputs().store).toMatchObject({
      kind: 's3',
      bucket: 'bucket',
      prefix: 'prefix',
      endpoint: 'http://127.0.0.1:9000',
      region: 'eu-west-3',
      forcePathStyle: true
    })
    process.env.AWS_ENDPOINT_URL_S3 = 'http://127.0.0.1:9001'
    setInputs({ 'path-style': 'false' })
    expect(readCacheInputs().store).toMatchObject({ endpoint: 'http://127.0.0.1:9001', forcePathStyle: false })
  })

  it('take the silence bound from ARTIFACT_ACTION_NETWORK_TIMEOUT_SECONDS, and refuse one that is not seconds', () => {
    setInputs({ path: 'build', key: 'k', store: 's3://bucket/prefix' })
    expect(readCacheInputs().store).not.toHaveProperty('retry')
    process.env.ARTIFACT_ACTION_NETWORK_TIMEOUT_SECONDS = '2.5'
    expect(readCacheInputs().store).toMatchObject({ kind: 's3', retry: { silenceMs: 2500 } })
    for (const bad of ['0', '-1', '15s', '1e3', '3601', 'NaN']) {
      process.env.ARTIFACT_ACTION_NETWORK_TIMEOUT_SECONDS = bad
      expect(() => readCacheInputs()).toThrow(
        new RegExp(`^ARTIFACT_ACTION_NETWORK_TIMEOUT_SECONDS: "${bad}" is not a number of seconds; give one above 0`)
      )
    }
  })

  /** release/'s inputs for a package into a fresh folder, with `github-release` as given. */
  const setReleaseInputs = async (githubRelease: string) =>
    setInputs({
      project: 'p',
      version: 'v1.0.0',
      packages: 'x.tgz',
      'release-store': await tempDir('releases'),
      'github-release': githubRelease
    })

  it('refuse a bad boolean in github-release before anything is published', async () => {
    await setReleaseInputs('ture')
    await expect(readReleaseInputs()).rejects.toThrow('github-release: "ture" is not a boolean; use true or false')
  })

  it('ask for github-token with github-release before anything is published', async () => {
    await setReleaseInputs('true')
    await expect(readReleaseInputs()).rejects.toThrow(/^github-token: required/)
  })
})
