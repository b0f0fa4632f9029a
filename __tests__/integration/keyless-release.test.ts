import { createHash } from 'node:crypto'
import { mkdir, writeFile } from 'node:fs/promises'
import { createServer } from 'node:net'
import * as path from 'node:path'
import { PutObjectCommand } from '@aws-sdk/client-s3'
import { verifyPublishedRelease } from '../../src/core/release/release-job.js'
import { releaseLayout } from '../../src/core/release/release-layout.js'
import { resolveIdentityPolicy, type IdentityInputValues } from '../../src/core/signing/identity-policy.js'
import { resolveSigstoreInstance } from '../../src/core/signing/sigstore-instance.js'
import { S3Store, type S3StoreConfig } from '../../src/core/store/s3-store.js'
import { runStep } from '../helpers/action-runner.js'
import { startLocalSigstore, type LocalSigstore, type WorkflowIdentity } from '../helpers/local-sigstore.js'
import { createTestBucket, s3ConnectionInputs, s3CredentialEnv, s3TestClient } from '../helpers/s3.js'
import { runActionFromSource, runCliFromSource } from '../helpers/source-runner.js'
import { seededBytes, tempDir } from '../helpers/trees.js'

const acme: WorkflowIdentity = { repository: 'acme/app' }
const mallory: WorkflowIdentity = { repository: 'mallory/widget' }

describe('keyless releases against a local Sigstore (Fulcio, Rekor, TSA on loopback) and RGW', () => {
  let sigstore: LocalSigstore
  let config: S3StoreConfig
  let store: S3Store
  let packagesDir: string
  let s3Env: Record<string, string>

  const storeFlags = () => ['--release-store', `s3://${config.bucket}/rel`, '--endpoint', config.endpoint!]
  /** A keyless release by the CLI in a job of `identity`; `claims` is the repository the provenance names. */
  const release = (version: string, identity: WorkflowIdentity, extra: string[] = []) =>
    runCliFromSource(
      [
        'release',
        '--project',
        'app',
        '--version',
        version,
        ...storeFlags(),
        '--signing',
        'keyless',
        ...sigstore.signingFlags(),
        ...extra,
        '*.tgz'
      ],
      { ...s3Env, ...sigstore.jobEnv(identity) },
      packagesDir
    )
  const verifyCli = (version: string, extra: string[]) =>
    runCliFromSource(['verify', '--project', 'app', '--version', version, ...storeFlags(), ...extra], s3Env)
  /** Verifies in this process with the instance's trusted root and the policy the inputs describe. */
  const verify = (version: string, identity: IdentityInputValues = {}) =>
    verifyPublishedRelease({
      store,
      project: 'app',
      version,
      keyless: {
        instance: resolveSigstoreInstance(sigstore.verifyInputs(), 'verify'),
        policy: resolveIdentityPolicy(identity)
      }
    })
  /** A job of acme on tag v`version` whose workspace holds dist/app-`version`.tgz. */
  const tagJob = async (version: string, size: number, seed: number): Promise<Record<string, string>> => {
    const workspace = await tempDir('keyless-ws')
    await mkdir(path.join(workspace, 'dist'))
    await writeFile(path.join(workspace, 'dist', `app-${version}.tgz`), seededBytes(size, seed))
    return { ...sigstore.jobEnv({ ...acme, ref: `refs/tags/v${version}` }), GITHUB_WORKSPACE: workspace }
  }
  /** Overwrites an object behind the store's back, as anyone with write access to the bucket could. */
  const overwrite = async (objectKey: string, body: Buffer): Promise<Buffer> => {
    const original = (await store.get(objectKey))!
    const client = s3TestClient()
    await client.send(new PutObjectCommand({ Bucket: config.bucket, Key: `rel/${objectKey}`, Body: body }))
    client.destroy()
    return original
  }

  beforeAll(async () => {
    sigstore = await startLocalSigstore()
    config = await createTestBucket('keyless', 'rel')
    store = new S3Store(config)
    s3Env = s3CredentialEnv(config)
    packagesDir = await tempDir('keyless-pkgs')
    await writeFile(path.join(packagesDir, 'app-1.0.0.tgz'), seededBytes(50_000, 7))
    const published = await release('v1.0.0', acme)
    expect(published.stderr).toBe('')
    expect(published.exitCode).toBe(0)
  })

  afterAll(async () => sigstore?.close())

  it('signs through Fulcio, Rekor and the TSA, and verify passes offline with the trusted root', async () => {
    expect(sigstore.requests.map(request => `${request.service} ${request.status}`)).toEqual(
      expect.arrayContaining(['oidc 200', 'fulcio 201', 'rekor 201', 'tsa 201'])
    )
    const bundle = JSON.parse((await store.get(releaseLayout.provenance('app', 'v1.0.0')))!.toString())
    expect(bundle.verificationMaterial.tlogEntries).toHaveLength(1)
    expect(bundle.verificationMaterial.timestampVerificationData.rfc3161Timestamps).toHaveLength(1)

    const verified = await verifyCli('v1.0.0', ['--sigstore', 'custom', '--trusted-root', sigstore.trustedRootPath])
    expect(verified.stderr).toBe('')
    expect(verified.stdout).toMatch(/ok: provenance signature is valid/)
    expect(verified.exitCode).toBe(0)
  })

  it('applies the identity policy: exact identity, regular expression, source repository', async () => {
    const signer = sigstore.identityURI(acme)
    await expect(verify('v1.0.0', { 'certificate-identity': signer })).resolves.toBeDefined()
    await expect(
      verify('v1.0.0', { 'certificate-identity-regexp': '^https://github\\.com/acme/app/' })
    ).resolves.toBeDefined()
    await expect(verify('v1.0.0', { 'source-repository': 'acme/app' })).resolves.toBeDefined()

    const other = 'https://github.com/acme/app/.github/workflows/nightly.yml@refs/heads/main'
    await expect(verify('v1.0.0', { 'certificate-identity': other })).rejects.toThrow(
      `provenance was signed by ${signer}, not by ${other}`
    )
    await expect(
      verify('v1.0.0', { 'certificate-identity-regexp': '^https://github\\.com/acme/app/.*@refs/heads/main$' })
    ).rejects.toThrow(/which does not match/)
    await expect(verify('v1.0.0', { 'source-repository': 'acme/other' })).rejects.toThrow(
      'provenance names repository https://github.com/acme/app, not https://github.com/acme/other'
    )
    await expect(
      verify('v1.0.0', { 'certificate-identity': signer, 'certificate-oidc-issuer': 'https://gitlab.com' })
    ).rejects.toThrow(/is for OIDC issuer https:\/\/token.actions.githubusercontent.com, not https:\/\/gitlab.com/)

    const cli = await verifyCli('v1.0.0', [
      '--sigstore',
      'custom',
      '--trusted-root',
      sigstore.trustedRootPath,
      '--certificate-identity',
      other
    ])
    expect(cli.exitCode).toBe(1)
    expect(cli.stderr.trim().split('\n')).toEqual([
      `artifact-action verify: provenance was signed by ${signer}, not by ${other}`
    ])
  })

  it("refuses a bundle from another repository's workflow that claims this repository, with the reason", async () => {
    const forged = await release('v1.0.1', mallory, ['--repository', 'acme/app'])
    expect(forged.exitCode).toBe(0)
    await expect(verify('v1.0.1')).rejects.toThrow(
      `provenance was signed by ${sigstore.identityURI(mallory)}, ` +
        'not by a workflow of https://github.com/acme/app, the repository it names'
    )
    // Pinned to the signer, the same bundle verifies: the signature itself is sound.
    await expect(verify('v1.0.1', { 'certificate-identity': sigstore.identityURI(mallory) })).resolves.toBeDefined()
  })

  it("refuses this repository's reusable workflow run by another repository", async () => {
    const reusable = {
      repository: 'mallory/widget',
      jobWorkflowRef: 'acme/app/.github/workflows/release.yml@refs/heads/main'
    }
    expect(sigstore.identityURI(reusable)).toMatch(/^https:\/\/github.com\/acme\/app\//)
    expect((await release('v1.0.2', reusable, ['--repository', 'acme/app'])).exitCode).toBe(0)
    await expect(verify('v1.0.2')).rejects.toThrow(
      'provenance was signed by a workflow run in https://github.com/mallory/widget, not in https://github.com/acme/app'
    )
  })

  it('fails verify when the signed statement or the signature is altered', async () => {
    const provenanceKey = releaseLayout.provenance('app', 'v1.0.0')
    const recordKey = releaseLayout.record('app', 'v1.0.0')
    const bundle = JSON.parse((await store.get(provenanceKey))!.toString())
    const record = JSON.parse((await store.get(recordKey))!.toString())
    const alter = async (change: (copy: typeof bundle) => void, reason: RegExp) => {
      const copy = structuredClone(bundle)
      change(copy)
      const forged = Buffer.from(JSON.stringify(copy))
      // release.json is rewritten too, so that only the signature stands in the way.
      const originalProvenance = await overwrite(provenanceKey, forged)
      const originalRecord = await overwrite(
        recordKey,
        Buffer.from(JSON.stringify({ ...record, provenance: { ...record.provenance, sha256: sha256(forged) } }))
      )
      try {
        await expect(verify('v1.0.0')).rejects.toThrow(reason)
      } finally {
        await overwrite(provenanceKey, originalProvenance)
        await overwrite(recordKey, originalRecord)
      }
    }
    const payload = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString())
    await alter(copy => {
      copy.dsseEnvelope.payload = Buffer.from(
        JSON.stringify({ ...payload, predicate: { ...payload.predicate, note: 'added' } })
      ).toString('base64')
    }, /provenance signature is invalid/)
    await alter(copy => {
      const signature = Buffer.from(copy.dsseEnvelope.signatures[0].sig, 'base64')
      signature[signature.length - 1] ^= 1
      copy.dsseEnvelope.signatures[0].sig = signature.toString('base64')
    }, /provenance signature is invalid/)
    await alter(copy => {
      copy.verificationMaterial.tlogEntries = []
      copy.verificationMaterial.timestampVerificationData.rfc3161Timestamps = []
    }, /provenance signature is invalid: .*timestamp/)
    await expect(verify('v1.0.0')).resolves.toBeDefined()
  })

  it('without a trusted root and with no TUF reachable, fails with its own error, naming --trusted-root', async () => {
    // A proxy on a closed loopback port: Sigstore's TUF repository cannot be reached, with or without a network.
    const closed = await closedPort()
    const offline = {
      https_proxy: `http://127.0.0.1:${closed}`,
      XDG_DATA_HOME: await tempDir('tuf-cache'),
      HOME: await tempDir('home')
    }
    const result = await runCliFromSource(['verify', '--project', 'app', '--version', 'v1.0.0', ...storeFlags()], {
      ...s3Env,
      ...offline
    })
    expect(result.exitCode).toBe(1)
    const lines = result.stderr.trim().split('\n')
    expect(lines).toHaveLength(1)
    expect(lines[0]).toMatch(
      new RegExp(
        '^artifact-action verify: cannot fetch the Sigstore trust root ' +
          'from https://tuf-repo-cdn.sigstore.dev \\(.+\\); ' +
          'to verify offline, pass --trusted-root with a trusted root JSON file$'
      )
    )
    expect(lines[0]).not.toMatch(/signature is invalid/)

    const github = await verifyCli('v1.0.0', ['--sigstore', 'github'])
    expect(github.exitCode).toBe(2)
    expect(github.stderr).toMatch(
      /--trusted-root: required for GitHub's Sigstore instance; write it with `gh attestation trusted-root/
    )
  })

  it('a GitHub-shaped instance (Fulcio and a TSA, no Rekor) signs and verifies with its trusted root', async () => {
    const noRekor = ['--sigstore', 'custom', '--fulcio-url', sigstore.fulcioURL, '--timestamp-url', sigstore.tsaURL]
    const before = sigstore.requests.filter(request => request.service === 'rekor').length
    const published = await runCliFromSource(
      [
        'release',
        '--project',
        'app',
        '--version',
        'v2.0.0',
        ...storeFlags(),
        '--signing',
        'keyless',
        ...noRekor,
        '*.tgz'
      ],
      { ...s3Env, ...sigstore.jobEnv(acme) },
      packagesDir
    )
    expect(published.exitCode).toBe(0)
    expect(sigstore.requests.filter(request => request.service === 'rekor')).toHaveLength(before)
    const bundle = JSON.parse((await store.get(releaseLayout.provenance('app', 'v2.0.0')))!.toString())
    expect(bundle.verificationMaterial.tlogEntries ?? []).toEqual([])
    const verified = await verifyCli('v2.0.0', ['--sigstore', 'github', '--trusted-root', sigstore.trustedRootPath])
    expect(verified.stderr).toBe('')
    expect(verified.exitCode).toBe(0)
    // A trusted root that lists a transparency log requires an entry in it.
    const custom = await verifyCli('v2.0.0', ['--sigstore', 'custom', '--trusted-root', sigstore.trustedRootPath])
    expect(custom.stderr).toMatch(/provenance signature is invalid: .*tlog entries/)
  })

  it('the bundled release and verify actions sign and verify keylessly as the runner runs them', async () => {
    const connection = s3ConnectionInputs(config)
    const job = await tagJob('4.0.0', 10_000, 4)
    const released = await runStep(
      'release',
      {
        project: 'app',
        packages: 'dist/*.tgz',
        'release-store': `s3://${config.bucket}/rel`,
        signing: 'keyless',
        ...sigstore.signingInputs(),
        ...connection
      },
      job
    )
    expect(released.outputs).toMatchObject({ version: 'v4.0.0', status: 'published' })
    const verifyInputs = { project: 'app', 'release-store': `s3://${config.bucket}/rel`, ...connection }
    const verified = await runStep('verify', { ...verifyInputs, ...sigstore.verifyInputs() }, job)
    expect(verified.outputs.verified).toBe('true')
    const offline = await runStep('verify', verifyInputs, {
      ...job,
      https_proxy: `http://127.0.0.1:${await closedPort()}`
    })
    expect(offline.exitCode).toBe(1)
    expect(offline.stdout).toMatch(
      /::error::cannot fetch the Sigstore trust root .*; to verify offline, pass trusted-root /
    )
  })

  it('the release and verify sub-actions take the Sigstore and identity inputs', async () => {
    const connection = s3ConnectionInputs(config)
    const job = await tagJob('3.0.0', 20_000, 3)
    const inputs = {
      project: 'app',
      packages: 'dist/*.tgz',
      'release-store': `s3://${config.bucket}/rel`,
      signing: 'keyless',
      ...connection
    }
    const released = await runActionFromSource('release', { ...inputs, ...sigstore.signingInputs() }, job)
    expect(released.stdout).not.toMatch(/::error::/)
    expect(released.outputs).toMatchObject({ version: 'v3.0.0', status: 'published' })
    expect(released.stdout).not.toContain(job.ACTIONS_ID_TOKEN_REQUEST_TOKEN)

    const verifyInputs = {
      project: 'app',
      version: 'v3.0.0',
      'release-store': `s3://${config.bucket}/rel`,
      ...sigstore.verifyInputs(),
      ...connection
    }
    const verified = await runActionFromSource('verify', verifyInputs, job)
    expect(verified.outputs.verified).toBe('true')
    const refused = await runActionFromSource('verify', { ...verifyInputs, 'source-repository': 'acme/other' }, job)
    expect(refused.outputs.verified).toBe('false')
    expect(refused.stdout).toMatch(
      /::error::provenance names repository https:\/\/github.com\/acme\/app, not https:\/\/github.com\/acme\/other/
    )

    const stray = await runActionFromSource(
      'release',
      { ...inputs, signing: 'key', 'signing-key': 'unused', 'fulcio-url': sigstore.fulcioURL },
      job
    )
    expect(stray.stdout).toMatch(/::error::fulcio-url: only for keyless signing; drop it, or set signing to keyless/)
    const missing = await runActionFromSource(
      'release',
      { ...inputs, version: 'v3.0.1', sigstore: 'custom', 'rekor-url': sigstore.rekorURL },
      job
    )
    expect(missing.stdout).toMatch(/::error::fulcio-url: required for sigstore custom; give your Fulcio's URL/)
  })

  it('a keyless release whose signing fails (Fulcio refuses) leaves no object in the release store', async () => {
    const empty = await createTestBucket('keyless-refused', 'rel')
    const flags = [
      '--release-store',
      `s3://${empty.bucket}/rel`,
      '--endpoint',
      config.endpoint!,
      '--signing',
      'keyless',
      ...sigstore.signingFlags()
    ]
    const args = ['release', '--project', 'app', '--version', 'v5.0.0', ...flags, '*.tgz']
    sigstore.refuseCertificates('the identity token was refused')
    let refused
    try {
      refused = await runCliFromSource(args, { ...s3Env, ...sigstore.jobEnv(acme) }, packagesDir)
    } finally {
      sigstore.refuseCertificates(undefined)
    }
    expect(refused.exitCode).toBe(1)
    expect(refused.stderr).toMatch(
      /^artifact-action release: keyless signing through the custom Sigstore \(Fulcio http:\/\/127\.0\.0\.1:\d+/
    )
    expect(refused.stderr).toMatch(/failed: .*\(401\)/)
    const keys: string[] = []
    for await (const object of new S3Store(empty).list('')) keys.push(object.key)
    expect(keys).toEqual([])
    // The version is not burned: the retry publishes it.
    const retried = await runCliFromSource(args, { ...s3Env, ...sigstore.jobEnv(acme) }, packagesDir)
    expect(retried.exitCode).toBe(0)
  })
})

function sha256(bytes: Buffer): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** A loopback port that nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as { port: number }
  await new Promise<void>(resolve => server.close(() => resolve()))
  return port
}
