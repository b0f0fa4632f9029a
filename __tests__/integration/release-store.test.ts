import { mkdir, readFile, stat, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { saveEntry } from '../../src/core/cache/checkpoint-cache.js'
import { parsePipeline } from '../../src/core/pipeline/definition.js'
import { runPipelineJob } from '../../src/core/pipeline/pipeline-job.js'
import { buildContextFromEnv } from '../../src/core/release/provenance.js'
import { publishRelease } from '../../src/core/release/publish-release.js'
import { keySigner, resolvePackages } from '../../src/core/release/release-job.js'
import { generateSigningKey } from '../../src/core/signing/keys.js'
import type { ObjectInfo } from '../../src/core/store/object-store.js'
import { S3Store, type S3StoreConfig } from '../../src/core/store/s3-store.js'
import { runStep } from '../helpers/action-runner.js'
import { createTestBucket } from '../helpers/s3.js'
import { tempDir } from '../helpers/trees.js'

const quietLog = {
  info: () => undefined,
  warning: () => undefined,
  output: () => undefined,
  group: <T>(_title: string, body: () => Promise<T>) => body()
}

function connection(config: S3StoreConfig): Record<string, string> {
  return {
    endpoint: config.endpoint!,
    'aws-access-key-id': config.credentials!.accessKeyId,
    'aws-secret-access-key': config.credentials!.secretAccessKey
  }
}

async function listing(store: S3Store): Promise<ObjectInfo[]> {
  const objects: ObjectInfo[] = []
  for await (const object of store.list('')) objects.push(object)
  return objects
}

describe('a release store refuses cache and pipeline writes', () => {
  let config: S3StoreConfig
  let store: S3Store
  let workspace: string

  beforeAll(async () => {
    config = await createTestBucket('release-store', 'rel')
    store = new S3Store(config)
    workspace = await tempDir('ws')
    await mkdir(path.join(workspace, 'build'))
    await writeFile(path.join(workspace, 'build', 'out.txt'), 'built\n')
    await publishRelease({
      store,
      project: 'app',
      version: 'v1.0.0',
      packages: await resolvePackages(['build/*'], workspace),
      context: buildContextFromEnv({
        GITHUB_ACTIONS: 'true',
        GITHUB_REPOSITORY: 'acme/app',
        GITHUB_SHA: 'a'.repeat(40),
        GITHUB_REF: 'refs/tags/v1.0.0'
      }),
      signer: keySigner(generateSigningKey().key)
    })
  })

  it('refuses a cache save with a one-line error, before writing anything', async () => {
    const before = await listing(store)
    const save = saveEntry({ store, key: 'deps-1', paths: ['build'], workspace, readScopes: ['branch/main'] })
    await expect(save).rejects.toThrow(
      /^store: s3:\/\/release-store-[a-z0-9-]+\/rel at .* is a release store \(it holds release-store.json\); caches and pipelines may not write there/
    )
    await expect(save).rejects.toMatchObject({ name: 'InputError' })
    expect(await listing(store)).toEqual(before)
  })

  it('fails the bundled save action (a configuration error, not a cache warning)', async () => {
    const before = await listing(store)
    const inputs = { path: 'build', key: 'deps-1', store: `s3://${config.bucket}/rel`, ...connection(config) }
    const step = await runStep('save-only', inputs, { GITHUB_WORKSPACE: workspace, GITHUB_REF: 'refs/heads/main' })
    expect(step.exitCode).toBe(1)
    expect(step.stdout).toMatch(
      /^::error::store: s3:\/\/.*\/rel at .* is a release store \(it holds release-store.json\)/m
    )
    expect(step.stdout).not.toMatch(/::warning::/)
    expect(await listing(store)).toEqual(before)
  })

  it('refuses a pipeline run before any stage runs', async () => {
    const before = await listing(store)
    const root = await tempDir('pipeline')
    const pipeline = parsePipeline(
      'stages:\n  - id: one\n    run: touch ran.txt && mkdir -p out && echo 1 > out/one.txt\n    paths: [out]\n',
      'pipeline.yml',
      root
    )
    const run = runPipelineJob({
      pipeline,
      store,
      readScopes: ['branch/main'],
      needFinalTree: true,
      log: quietLog,
      sourcesDir: path.join(root, 'sources')
    })
    await expect(run).rejects.toThrow(/^store: .* is a release store/)
    await expect(stat(path.join(root, 'ran.txt'))).rejects.toMatchObject({ code: 'ENOENT' })
    const step = await runStep(
      'run',
      {
        'pipeline-yaml': 'stages:\n  - id: one\n    run: touch ran.txt\n    paths: [ran.txt]\n',
        store: `s3://${config.bucket}/rel`,
        ...connection(config)
      },
      { GITHUB_WORKSPACE: root, GITHUB_REF: 'refs/heads/main' }
    )
    expect(step.exitCode).toBe(1)
    expect(step.stdout).toMatch(/^::error::store: .* is a release store/m)
    await expect(stat(path.join(root, 'ran.txt'))).rejects.toMatchObject({ code: 'ENOENT' })
    expect(await listing(store)).toEqual(before)
  })
})

describe('the bundled run action', () => {
  it('gives two run steps of one job their own plan files', async () => {
    const config = await createTestBucket('plan-files', 'ci')
    const workspace = await tempDir('job')
    const runnerTemp = await tempDir('runner-temp')
    const step = (id: string, stage: string) =>
      runStep(
        'run',
        {
          'pipeline-yaml': `stages:\n  - id: ${stage}\n    run: echo ${stage} > ${stage}.txt\n    paths: [${stage}.txt]\n`,
          store: `s3://${config.bucket}/ci`,
          ...connection(config)
        },
        { GITHUB_WORKSPACE: workspace, GITHUB_REF: 'refs/heads/main', RUNNER_TEMP: runnerTemp, GITHUB_ACTION: id }
      )
    // Two named steps, then two unnamed ones that the runner gives the same kind of id.
    const results = [
      await step('build', 'compile'),
      await step('test', 'check'),
      await step('__run', 'lint'),
      await step('__run', 'docs')
    ]
    for (const result of results) expect(result.exitCode).toBe(0)
    const files = results.map(result => result.outputs['plan-file'])
    expect(new Set(files).size).toBe(4)
    expect(files[0]).toMatch(/artifact-action-plan-build-[0-9a-f]{12}\.json$/)
    for (const [index, result] of results.entries()) {
      expect(path.dirname(files[index])).toBe(runnerTemp)
      expect(JSON.parse(await readFile(files[index], 'utf8'))).toEqual(JSON.parse(result.outputs.plan))
    }
    expect(JSON.parse(await readFile(files[0], 'utf8')).stages[0].id).toBe('compile')
  })
})
