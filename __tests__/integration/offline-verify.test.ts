import { createHash } from 'node:crypto'
import { cp, mkdir, readFile, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { releaseLayout } from '../../src/core/release/release-layout.js'
import { generateSigningKey } from '../../src/core/signing/keys.js'
import { S3Store, type S3StoreConfig } from '../../src/core/store/s3-store.js'
import { startLocalSigstore, type LocalSigstore } from '../helpers/local-sigstore.js'
import { createTestBucket, s3CredentialEnv } from '../helpers/s3.js'
import { runActionFromSource, runCliFromSource, runCliWithoutNetwork } from '../helpers/source-runner.js'
import { seededBytes, tempDir } from '../helpers/trees.js'

describe('the offline verification kit: verify --offline on a copied release, with no network', () => {
  let sigstore: LocalSigstore
  let config: S3StoreConfig
  let store: S3Store
  let s3Env: Record<string, string>
  let packagesDir: string
  const signing = generateSigningKey()

  const storeFlags = () => ['--release-store', `s3://${config.bucket}`, '--endpoint', config.endpoint!]
  /** Copies one release's folder out of the store, as `aws s3 cp --recursive` would. */
  const copyRelease = async (version: string): Promise<string> => {
    const dir = await tempDir('offline-copy')
    const prefix = releaseLayout.version('app', version)
    for await (const object of store.list(prefix)) {
      const file = path.join(dir, object.key.slice(prefix.length))
      await mkdir(path.dirname(file), { recursive: true })
      await writeFile(file, (await store.get(object.key))!)
    }
    return dir
  }
  const verifyOffline = (dir: string, flags: string[]) => runCliWithoutNetwork(['verify', '--offline', dir, ...flags])
  const tampered = async (dir: string, edit: (copy: string) => Promise<void>): Promise<string> => {
    const copy = await tempDir('offline-tampered')
    await cp(dir, copy, { recursive: true })
    await edit(copy)
    return copy
  }

  beforeAll(async () => {
    sigstore = await startLocalSigstore()
    config = await createTestBucket('offline-kit')
    store = new S3Store(config)
    s3Env = s3CredentialEnv(config)
    packagesDir = await tempDir('offline-pkgs')
    await writeFile(path.join(packagesDir, 'app-1.0.0.tgz'), seededBytes(40_000, 3))
    await writeFile(path.join(packagesDir, 'release.key'), signing.privateKeyPem)
    const common = [
      'release',
      '--project',
      'app',
      ...storeFlags(),
      '--repository',
      'acme/app',
      '--commit',
      'b'.repeat(40)
    ]
    const keyed = await runCliFromSource(
      [...common, '--version', 'v1.0.0', '--signing-key-file', 'release.key', '*.tgz'],
      s3Env,
      packagesDir
    )
    expect(keyed.exitCode).toBe(0)
    const keyless = await runCliFromSource(
      [
        ...common,
        '--version',
        'v1.0.0-keyless',
        '--signing',
        'keyless',
        ...sigstore.signingFlags(),
        '--kit-trusted-root',
        sigstore.trustedRootPath,
        '*.tgz'
      ],
      { ...s3Env, ...sigstore.jobEnv({ repository: 'acme/app', ref: 'refs/tags/v1.0.0-keyless' }) },
      packagesDir
    )
    expect(keyless.stderr).toBe('')
    expect(keyless.exitCode).toBe(0)
  }, 120_000)

  afterAll(async () => sigstore?.close())

  it('a key-signed release carries its public key and VERIFY.md; verify --offline passes with the pinned fingerprint', async () => {
    const dir = await copyRelease('v1.0.0')
    expect(await readFile(path.join(dir, 'public-key.pem'), 'utf8')).toBe(signing.key.publicKeyPem)
    const readme = await readFile(path.join(dir, 'VERIFY.md'), 'utf8')
    expect(readme).toContain(`npx artifact-action verify --offline . --public-key-fingerprint ${signing.key.keyId}`)
    expect(readme).toMatch(/openssl dgst -sha256 -verify public-key.pem/)
    expect(readme).toMatch(/cosign verify-blob-attestation/)

    const passed = await verifyOffline(dir, ['--public-key-fingerprint', signing.key.keyId])
    expect(passed.stderr).toBe('')
    expect(passed.stdout).toContain(`pinned: the key with fingerprint ${signing.key.keyId}`)
    expect(passed.stdout).toMatch(/verified offline app v1.0.0 \(https:\/\/github.com\/acme\/app@bbbbbbbbbbbb\)/)
    expect(passed.exitCode).toBe(0)

    const unpinned = await verifyOffline(dir, [])
    expect(unpinned.stderr).toMatch(/^artifact-action verify: --public-key-fingerprint: required with --offline/)
    expect(unpinned.exitCode).toBe(2)
  })

  it('verify --offline fails on a tampered copy: a package byte, or a replaced key and signature', async () => {
    const dir = await copyRelease('v1.0.0')
    const flipped = await tampered(dir, async copy => {
      const file = path.join(copy, 'packages', 'app-1.0.0.tgz')
      const bytes = await readFile(file)
      bytes[100] ^= 1
      await writeFile(file, bytes)
    })
    const byte = await verifyOffline(flipped, ['--public-key-fingerprint', signing.key.keyId])
    expect(byte.stderr).toContain('packages/app-1.0.0.tgz: does not match its signed sha256')
    expect(byte.exitCode).toBe(1)

    // Mallory swaps the carried public key for hers, to go with a signature of her own.
    const mallory = generateSigningKey()
    const resigned = await tampered(dir, async copy => {
      await writeFile(path.join(copy, 'public-key.pem'), mallory.key.publicKeyPem)
    })
    const replaced = await verifyOffline(resigned, ['--public-key-fingerprint', signing.key.keyId])
    expect(replaced.stderr).toContain(
      `public-key.pem: fingerprint ${mallory.key.keyId}, not the pinned ${signing.key.keyId}`
    )
    expect(replaced.exitCode).toBe(1)
  })

  it('a keyless release carries the trusted root; verify --offline needs it pinned and an identity', async () => {
    const dir = await copyRelease('v1.0.0-keyless')
    const rootBytes = await readFile(path.join(dir, 'trusted_root.json'))
    const rootSha = createHash('sha256').update(rootBytes).digest('hex')
    expect(await readFile(path.join(dir, 'VERIFY.md'), 'utf8')).toMatch(
      /gh attestation verify packages\/app-1.0.0.tgz --bundle/
    )

    const pins = ['--trusted-root-sha256', rootSha, '--source-repository', 'acme/app']
    const passed = await verifyOffline(dir, pins)
    expect(passed.stderr).toBe('')
    expect(passed.stdout).toContain(`pinned: the trusted root with sha256 ${rootSha}`)
    expect(passed.stdout).toContain('pinned: source-repository acme/app')
    expect(passed.exitCode).toBe(0)

    const noIdentity = await verifyOffline(dir, ['--trusted-root-sha256', rootSha])
    expect(noIdentity.stderr).toMatch(/--source-repository: required with --offline for a keyless release/)
    expect(noIdentity.exitCode).toBe(2)
    const noRoot = await verifyOffline(dir, ['--source-repository', 'acme/app'])
    expect(noRoot.stderr).toMatch(/--trusted-root-sha256: required with --offline for a keyless release/)
    expect(noRoot.exitCode).toBe(2)

    const forgedRoot = await tampered(dir, async copy => {
      const root = JSON.parse(rootBytes.toString())
      root.tlogs = []
      await writeFile(path.join(copy, 'trusted_root.json'), JSON.stringify(root))
    })
    const forged = await verifyOffline(forgedRoot, pins)
    expect(forged.stderr).toContain(`trusted_root.json: sha256 `)
    expect(forged.stderr).toContain(`not the pinned ${rootSha}; the trusted root was replaced`)
    expect(forged.exitCode).toBe(1)

    const otherRepo = await verifyOffline(dir, ['--trusted-root-sha256', rootSha, '--source-repository', 'acme/other'])
    expect(otherRepo.stderr).toContain(
      'provenance names repository https://github.com/acme/app, not https://github.com/acme/other'
    )
    expect(otherRepo.exitCode).toBe(1)
  })

  it('the release action carries kit-trusted-root, and the copy verifies offline', async () => {
    const released = await runActionFromSource(
      'release',
      {
        project: 'app',
        version: 'v1.1.0',
        packages: '*.tgz',
        'release-store': `s3://${config.bucket}`,
        endpoint: config.endpoint!,
        signing: 'keyless',
        ...sigstore.signingInputs(),
        'kit-trusted-root': sigstore.trustedRootPath
      },
      {
        ...s3Env,
        ...sigstore.jobEnv({ repository: 'acme/app', ref: 'refs/tags/v1.1.0' }),
        GITHUB_WORKSPACE: packagesDir
      }
    )
    expect(released.stdout).not.toMatch(/::error::/)
    expect(released.exitCode).toBe(0)
    const dir = await copyRelease('v1.1.0')
    const carried = await readFile(path.join(dir, 'trusted_root.json'))
    expect(JSON.parse(carried.toString())).toEqual(JSON.parse(await readFile(sigstore.trustedRootPath, 'utf8')))
    const rootSha = createHash('sha256').update(carried).digest('hex')
    const passed = await verifyOffline(dir, ['--trusted-root-sha256', rootSha, '--source-repository', 'acme/app'])
    expect(passed.stderr).toBe('')
    expect(passed.exitCode).toBe(0)
  })
})
