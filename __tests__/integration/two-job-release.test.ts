import { execFileSync } from 'node:child_process'
import { cp, mkdir, readdir, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { releaseLayout } from '../../src/core/release/release-layout.js'
import { S3Store, type S3StoreConfig } from '../../src/core/store/s3-store.js'
import { defaultBranchEvent, runStep } from '../helpers/action-runner.js'
import { startLocalSigstore, type LocalSigstore, type WorkflowIdentity } from '../helpers/local-sigstore.js'
import { createTestBucket, s3CredentialEnv } from '../helpers/s3.js'
import { tempDir } from '../helpers/trees.js'

/**
 * .github/workflows/example-release.yml, job by job, through the bundled actions: a build job without any signing
 * credential runs the pipeline and declares the packages' digests; a release job checks the packages it received
 * against them, signs keylessly and publishes, then verifies.
 */
describe('the two-job release example (build without credentials, then sign and publish)', () => {
  let sigstore: LocalSigstore
  let cache: S3StoreConfig
  let releases: S3StoreConfig
  let s3Env: Record<string, string>
  let eventPath: string

  const releaseJob: WorkflowIdentity = {
    repository: 'acme/hello',
    workflow: '.github/workflows/example-release.yml',
    ref: 'refs/tags/v1.0.0'
  }

  beforeAll(async () => {
    sigstore = await startLocalSigstore()
    cache = await createTestBucket('two-job-cache', 'ci')
    releases = await createTestBucket('two-job-releases')
    s3Env = s3CredentialEnv(cache)
    eventPath = await defaultBranchEvent()
  }, 60_000)

  afterAll(async () => sigstore?.close())

  it('runs both jobs in order: the build job cannot sign, the release job checks digests, signs and publishes', async () => {
    const connection = { endpoint: cache.endpoint! }
    const releaseInputs = {
      project: 'hello',
      'release-store': `s3://${releases.bucket}`,
      store: `s3://${cache.bucket}/ci`,
      signing: 'keyless',
      ...sigstore.signingInputs(),
      ...connection
    }

    // Job "build": the job's environment has no OIDC token endpoint and no signing key.
    const buildWorkspace = await tempDir('two-job-build')
    await cp(path.resolve('examples/hello'), path.join(buildWorkspace, 'examples/hello'), { recursive: true })
    const { ACTIONS_ID_TOKEN_REQUEST_URL, ACTIONS_ID_TOKEN_REQUEST_TOKEN, ...withoutToken } = sigstore.jobEnv({
      ...releaseJob,
      workflow: '.github/workflows/example-release.yml'
    })
    expect(ACTIONS_ID_TOKEN_REQUEST_URL && ACTIONS_ID_TOKEN_REQUEST_TOKEN).toBeTruthy()
    const buildEnv = {
      ...s3Env,
      ...withoutToken,
      GITHUB_JOB: 'build',
      GITHUB_WORKSPACE: buildWorkspace,
      GITHUB_EVENT_PATH: eventPath
    }
    const build = await runStep(
      'run',
      {
        pipeline: 'examples/hello/pipeline.yml',
        store: `s3://${cache.bucket}/ci`,
        'restore-policy': 'default-branch',
        ...sigstore.verifyInputs(),
        ...connection
      },
      buildEnv
    )
    expect(build.stdout).not.toMatch(/::error::/)
    expect(build.exitCode).toBe(0)
    expect(build.outputs.status).toBe('built')
    const distDir = path.join(buildWorkspace, 'examples/hello/dist')
    const packages = (await readdir(distDir)).filter(name => name.endsWith('.tar.gz'))
    const digests = execFileSync('sha256sum', packages, { cwd: distDir, encoding: 'utf8' })

    // A step of the build job cannot sign: there is no token to get.
    const forged = await runStep('release', { ...releaseInputs, packages: 'examples/hello/dist/*.tar.gz' }, buildEnv)
    expect(forged.exitCode).toBe(1)
    expect(forged.stdout).toContain("::error::signing: keyless signing needs the job's OIDC token")
    const releaseStore = new S3Store(releases)
    expect(await releaseStore.head(releaseLayout.record('hello', 'v1.0.0'))).toBeUndefined()

    // Job "release": receives the packages (artifact) and the digests and plan (job outputs) only.
    const releaseWorkspace = await tempDir('two-job-release')
    await mkdir(path.join(releaseWorkspace, 'packages'))
    for (const name of packages) await cp(path.join(distDir, name), path.join(releaseWorkspace, 'packages', name))
    await writeFile(path.join(releaseWorkspace, 'declared.sha256'), digests)
    execFileSync('sha256sum', ['-c', '../declared.sha256'], { cwd: path.join(releaseWorkspace, 'packages') })
    await writeFile(path.join(releaseWorkspace, 'plan.json'), build.outputs.plan)
    const releaseEnv = {
      ...s3Env,
      ...sigstore.jobEnv(releaseJob),
      GITHUB_JOB: 'release',
      GITHUB_WORKSPACE: releaseWorkspace,
      GITHUB_EVENT_PATH: eventPath
    }
    const released = await runStep(
      'release',
      { ...releaseInputs, packages: 'packages/*.tar.gz', 'plan-file': 'plan.json' },
      releaseEnv
    )
    expect(released.stdout).not.toMatch(/::error::/)
    expect(released.outputs).toMatchObject({ version: 'v1.0.0', status: 'published' })
    const verified = await runStep(
      'verify',
      {
        project: 'hello',
        version: 'v1.0.0',
        'release-store': `s3://${releases.bucket}`,
        ...sigstore.verifyInputs(),
        ...connection
      },
      releaseEnv
    )
    expect(verified.stdout).not.toMatch(/::error::/)
    expect(verified.outputs.verified).toBe('true')

    // What was signed is what the build job declared.
    const bundle = JSON.parse((await releaseStore.get(releaseLayout.provenance('hello', 'v1.0.0')))!.toString())
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString())
    const signed = statement.subject.map(
      (subject: { name: string; digest: { sha256: string } }) => `${subject.digest.sha256}  ${subject.name}`
    )
    expect(signed.join('\n')).toBe(digests.trim())
    expect(statement.predicate.buildDefinition.internalParameters).toMatchObject({
      artifactAction: { plan: JSON.parse(build.outputs.plan) }
    })
  })
})
