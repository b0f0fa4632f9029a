import { appendFile, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { verifyPublishedRelease } from '../../src/core/release/release-job.js'
import { releaseLayout } from '../../src/core/release/release-layout.js'
import { generateSigningKey } from '../../src/core/signing/keys.js'
import { S3Store, type S3StoreConfig } from '../../src/core/store/s3-store.js'
import { defaultBranchEvent } from '../helpers/action-runner.js'
import { ciJob, startLocalSigstore, type LocalSigstore, type WorkflowIdentity } from '../helpers/local-sigstore.js'
import { createTestBucket, s3CredentialEnv } from '../helpers/s3.js'
import { runActionFromSource, runCliFromSource } from '../helpers/source-runner.js'
import { tempDir } from '../helpers/trees.js'

const prJob = ciJob('refs/pull/7/merge')
const mainJob = ciJob('refs/heads/main')
const tagJob = ciJob('refs/tags/v2.0.0')

/** The pipeline; a PR that changes it (here its salt) gets checkpoints of its own. */
const pipeline = (salt: string) => `version: 1
salt: ${salt}
stages:
  - id: build
    run: mkdir -p out && echo "built by $GITHUB_REF" > out/app.tgz
    paths: [out]
    checkpoint: true
`

describe('the provenance names the caches a release was built from (radosgw, local Sigstore)', () => {
  let sigstore: LocalSigstore
  let cache: S3StoreConfig
  let releases: S3Store
  let releaseUrl: string
  let eventPath: string
  let s3Env: Record<string, string>
  const signing = generateSigningKey()

  const connection = () => ({ endpoint: cache.endpoint! })
  const sigstoreInputs = () => ({ ...sigstore.signingInputs(), ...sigstore.verifyInputs() })
  /** One job: a workspace and RUNNER_TEMP shared by its steps, as on a runner. */
  const job = async (identity: WorkflowIdentity, jobName = 'build', salt = 'main') => {
    const workspace = await tempDir('prov-ws')
    const runnerTemp = await tempDir('prov-tmp')
    await writeFile(path.join(workspace, 'pipeline.yml'), pipeline(salt))
    const env = {
      ...s3Env,
      ...sigstore.jobEnv(identity),
      GITHUB_JOB: jobName,
      GITHUB_WORKSPACE: workspace,
      GITHUB_EVENT_PATH: eventPath,
      RUNNER_TEMP: runnerTemp
    }
    const step = async (entry: string, inputs: Record<string, string>) => {
      const run = await runActionFromSource(entry, inputs, env)
      expect(run.stdout).not.toMatch(/::error::/)
      expect(run.exitCode).toBe(0)
      return run
    }
    return {
      workspace,
      runnerTemp,
      run: (policy: string) =>
        step('run', {
          pipeline: 'pipeline.yml',
          store: `s3://${cache.bucket}/ci`,
          ...connection(),
          signing: 'keyless',
          'restore-policy': policy,
          ...sigstoreInputs()
        }),
      release: (version: string) =>
        step('release', {
          project: 'app',
          version,
          packages: 'out/*.tgz',
          'release-store': releaseUrl,
          'signing-key': signing.privateKeyPem,
          ...connection()
        })
    }
  }
  const statementOf = async (version: string) => {
    const bundle = JSON.parse((await releases.get(releaseLayout.provenance('app', version)))!.toString())
    return JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString())
  }
  const verify = (
    version: string,
    requireCacheFrom?: Parameters<typeof verifyPublishedRelease>[0]['requireCacheFrom']
  ) =>
    verifyPublishedRelease({
      store: releases,
      project: 'app',
      version,
      publicKeyPem: signing.key.publicKeyPem,
      requireCacheFrom
    })

  beforeAll(async () => {
    sigstore = await startLocalSigstore()
    cache = await createTestBucket('cache-prov', 'ci')
    const releaseConfig = await createTestBucket('release-prov')
    releases = new S3Store(releaseConfig)
    releaseUrl = `s3://${releaseConfig.bucket}`
    s3Env = s3CredentialEnv(cache)
    eventPath = await defaultBranchEvent()
  }, 60_000)

  afterAll(async () => sigstore?.close())

  it('a release built from a checkpoint main wrote names it, and passes verify --require-cache-from default-branch', async () => {
    const main = await job(mainJob)
    expect((await main.run('any')).outputs.status).toBe('built')

    const tag = await job(tagJob, 'release')
    const restored = await tag.run('default-branch')
    expect(restored.outputs.status).toBe('up-to-date')
    // A line of another job in the same folder (a job that ran before on this runner) is not this job's.
    await appendFile(
      path.join(tag.runnerTemp, 'artifact-action-restored.jsonl'),
      `${JSON.stringify({ job: 'acme/app/4242/1/other', kind: 'cache-entry', key: 'stray', scope: 'pr/9', version: '0', tree: 'f'.repeat(64) })}\n`
    )
    const released = await tag.release('v2.0.0')
    expect(released.stdout).toMatch(
      /The provenance names the restored checkpoint stage-build-[0-9a-f]+ \(scope branch\/main\)/
    )

    const dependencies = (await statementOf('v2.0.0')).predicate.buildDefinition.resolvedDependencies
    expect(dependencies).toHaveLength(2)
    expect(dependencies[1]).toMatchObject({
      uri: expect.stringMatching(/^artifact-action-cache:branch\/main\/stage-build-[0-9a-f]+$/),
      digest: { sha256: expect.stringMatching(/^[0-9a-f]{64}$/) },
      annotations: {
        kind: 'checkpoint',
        scope: 'branch/main',
        signer: { signer: sigstore.identityURI(mainJob), ref: 'refs/heads/main', event: 'push' }
      }
    })
    const verified = await verify('v2.0.0', { kind: 'default-branch', branch: 'main' })
    expect(verified.checked).toContain(
      'every cache entry and checkpoint it was built from passes default-branch (main)'
    )
  })

  it('verify with the policy refuses a release whose checkpoint came from a PR', async () => {
    const pr = await job(prJob, 'build', 'pr-7')
    expect((await pr.run('signed')).outputs.status).toBe('built')
    const again = await job(prJob, 'build', 'pr-7')
    expect((await again.run('signed')).outputs.status).toBe('up-to-date')
    await again.release('v2.0.0-pr.7')

    await expect(verify('v2.0.0-pr.7')).resolves.toBeDefined()
    await expect(verify('v2.0.0-pr.7', { kind: 'default-branch', branch: 'main' })).rejects.toThrow(
      /^provenance: built from checkpoint pr\/7\/stage-build-[0-9a-f]+, written by refs\/pull\/7\/merge \(pull_request\), not by a push to main or a tag$/
    )
    await expect(verify('v2.0.0-pr.7', { kind: 'refs', patterns: ['refs/pull/*'] })).resolves.toBeDefined()

    const keyFile = path.join(again.workspace, 'release.pub')
    await writeFile(keyFile, signing.key.publicKeyPem)
    const flags = [
      '--project',
      'app',
      '--version',
      'v2.0.0-pr.7',
      '--release-store',
      releaseUrl,
      '--endpoint',
      cache.endpoint!
    ]
    const cli = await runCliFromSource(
      [
        'verify',
        ...flags,
        '--public-key',
        keyFile,
        '--require-cache-from',
        'default-branch',
        '--default-branch',
        'main'
      ],
      s3Env
    )
    expect(cli.stderr).toMatch(
      /^artifact-action verify: provenance: built from checkpoint pr\/7\/stage-build-[0-9a-f]+, written by/
    )
    expect(cli.exitCode).toBe(1)
  })

  it('refuses, under a policy, a release built from a cache restored without a signature check', async () => {
    const unchecked = await job(prJob, 'build', 'pr-7')
    expect((await unchecked.run('any')).outputs.status).toBe('up-to-date')
    await unchecked.release('v2.0.0-pr.7b')
    await expect(verify('v2.0.0-pr.7b', { kind: 'signed' })).rejects.toThrow(
      /^provenance: built from checkpoint pr\/7\/stage-build-[0-9a-f]+, restored without a signature check$/
    )
  })
})
