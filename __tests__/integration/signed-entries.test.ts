import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { restoreEntry, saveEntry, type RestoreRequest } from '../../src/core/cache/checkpoint-cache.js'
import { refKey, signatureKey } from '../../src/core/cache/cache-layout.js'
import { entryVersion } from '../../src/core/cache/entry-refs.js'
import type { PolicyRule, RestorePolicy } from '../../src/core/cache/entry-signature.js'
import { keySigner } from '../../src/core/release/release-job.js'
import { resolveIdentityPolicy } from '../../src/core/signing/identity-policy.js'
import { generateSigningKey } from '../../src/core/signing/keys.js'
import { resolveSigstoreInstance } from '../../src/core/signing/sigstore-instance.js'
import { S3Store, type S3StoreConfig } from '../../src/core/store/s3-store.js'
import { defaultBranchEvent } from '../helpers/action-runner.js'
import { ciJob, startLocalSigstore, type LocalSigstore, type WorkflowIdentity } from '../helpers/local-sigstore.js'
import { createTestBucket, s3CredentialEnv } from '../helpers/s3.js'
import { runActionFromSource, runCliFromSource } from '../helpers/source-runner.js'
import { tempDir } from '../helpers/trees.js'

const prJob = ciJob('refs/pull/12/merge')
const mainJob = ciJob('refs/heads/main')
const releaseJob: WorkflowIdentity = {
  repository: 'acme/app',
  workflow: '.github/workflows/release.yml',
  ref: 'refs/tags/v1.0.0'
}
const PATHS = ['deps']
const version = entryVersion(PATHS)

describe('signed cache entries and restore policies (radosgw, keyless against a local Sigstore)', () => {
  let sigstore: LocalSigstore
  let config: S3StoreConfig
  let store: S3Store
  let eventPath: string
  let s3Env: Record<string, string>

  const storeInputs = () => ({ store: `s3://${config.bucket}/ci`, endpoint: config.endpoint! })
  /** A workspace holding deps/lib.txt with `content`. */
  const workspace = async (content: string): Promise<string> => {
    const dir = await tempDir('signed-ws')
    await mkdir(path.join(dir, 'deps'), { recursive: true })
    await writeFile(path.join(dir, 'deps', 'lib.txt'), content)
    return dir
  }
  const jobEnv = (identity: WorkflowIdentity, dir: string, extra: Record<string, string> = {}) => ({
    ...s3Env,
    ...sigstore.jobEnv(identity),
    ...(identity.ref?.startsWith('refs/pull/') ? { GITHUB_BASE_REF: 'main' } : {}),
    GITHUB_WORKSPACE: dir,
    GITHUB_EVENT_PATH: eventPath,
    ...extra
  })
  /** The save sub-action in a job of `identity`, signing keylessly through the local Sigstore. */
  const keylessSave = async (
    identity: WorkflowIdentity,
    key: string,
    content: string,
    env: Record<string, string> = {}
  ) => {
    const dir = await workspace(content)
    const run = await runActionFromSource(
      'save-only',
      {
        path: 'deps',
        key,
        ...storeInputs(),
        signing: 'keyless',
        ...sigstore.signingInputs()
      },
      jobEnv(identity, dir, env)
    )
    expect(run.stdout).not.toMatch(/::(error|warning)::/)
    expect(run.exitCode).toBe(0)
    return run
  }
  /** The restore sub-action in a job of `identity`; returns the run and the restored file (or undefined). */
  const restoreAction = async (identity: WorkflowIdentity, inputs: Record<string, string>) => {
    const dir = await tempDir('signed-restore')
    const run = await runActionFromSource(
      'restore-only',
      { path: 'deps', ...storeInputs(), ...sigstore.verifyInputs(), ...inputs },
      jobEnv(identity, dir)
    )
    const restored = await readFile(path.join(dir, 'deps', 'lib.txt'), 'utf8').catch(() => undefined)
    return { run, restored }
  }
  const keylessPolicy = (rule: PolicyRule): RestorePolicy => ({
    rule,
    publicKeys: [],
    keyless: {
      instance: resolveSigstoreInstance(sigstore.verifyInputs(), 'verify'),
      identity: resolveIdentityPolicy({ 'source-repository': 'acme/app' })
    }
  })
  const restoreIn = async (scopes: string[], key: string, policy: RestorePolicy, extra: Partial<RestoreRequest> = {}) =>
    restoreEntry({
      store,
      key,
      paths: PATHS,
      workspace: await tempDir('signed-core'),
      readScopes: scopes,
      policy,
      ...extra
    })
  /** Copies an object as anyone with write access to the bucket could; `edit` may change it on the way. */
  const copy = async (from: string, to: string, edit: (text: string) => string = text => text) => {
    const bytes = (await store.get(from))!
    await store.put(to, Buffer.from(edit(bytes.toString('utf8'))))
  }

  beforeAll(async () => {
    sigstore = await startLocalSigstore()
    config = await createTestBucket('signed-entries', 'ci')
    store = new S3Store(config)
    s3Env = s3CredentialEnv(config)
    eventPath = await defaultBranchEvent()
    await keylessSave(prJob, 'deps-pr-1', 'from the PR')
    await keylessSave(mainJob, 'deps-main-1', 'from main')
  }, 120_000)

  afterAll(async () => sigstore?.close())

  it('stores one signature object per entry, outside refs/', async () => {
    const objects: string[] = []
    for await (const object of store.list('signatures/')) objects.push(object.key)
    expect(objects).toHaveLength(2)
    const refs: string[] = []
    for await (const object of store.list('refs/')) refs.push(object.key)
    expect(refs.sort()).toEqual([refKey('branch/main', version, 'deps-main-1'), refKey('pr/12', version, 'deps-pr-1')])
  })

  it("a PR-scope entry is refused by a release job's strict policy and restored by a PR job's default policy", async () => {
    // A bucket writer plants the PR's entry, ref and signature, in main's scope under the key the release wants.
    const prRef = refKey('pr/12', version, 'deps-pr-1')
    const planted = refKey('branch/main', version, 'deps-pr-1')
    const tree = JSON.parse((await store.get(prRef))!.toString()).tree as string
    await copy(prRef, planted, text => text.replace('"pr/12"', '"branch/main"'))
    await copy(signatureKey(prRef, tree), signatureKey(planted, tree))

    const strict = await restoreAction(releaseJob, {
      key: 'deps-pr-1',
      'restore-keys': 'deps-main-',
      'restore-policy': 'default-branch'
    })
    expect(strict.run.stdout).toContain(
      '::warning::Cache entry deps-pr-1 (scope branch/main) refused by restore-policy default-branch: ' +
        'its signature covers scope pr/12, but its ref names branch/main'
    )
    expect(strict.run.outputs['cache-matched-key']).toBe('deps-main-1')
    expect(strict.run.outputs['cache-hit']).toBe('false')
    expect(strict.restored).toBe('from main')
    expect(strict.run.stdout).toContain(`Signed by ${sigstore.identityURI(mainJob)} for refs/heads/main (push)`)

    const pr = await restoreAction(prJob, { key: 'deps-pr-1' })
    expect(pr.run.exitCode).toBe(0)
    expect(pr.run.stdout).not.toMatch(/::warning::/)
    expect(pr.run.outputs['cache-hit']).toBe('true')
    expect(pr.restored).toBe('from the PR')

    // The same PR entry in its own scope is signed and valid, but was not written by the default branch.
    const ownScope = await restoreIn(['pr/12'], 'deps-pr-1', keylessPolicy({ kind: 'default-branch', branch: 'main' }))
    expect(ownScope.status).toBe('miss')
    expect(ownScope.refused).toEqual([
      {
        key: 'deps-pr-1',
        scope: 'pr/12',
        reason: 'written by refs/pull/12/merge (pull_request), not by a push to main or a tag'
      }
    ])
    expect((await restoreIn(['pr/12'], 'deps-pr-1', keylessPolicy({ kind: 'signed' }))).status).toBe('found')
  })

  it('refuses a ref copied into another scope unchanged, and a fail-on-cache-miss restore fails only then', async () => {
    const prRef = refKey('pr/12', version, 'deps-pr-1')
    const planted = refKey('branch/main', version, 'deps-copied')
    const tree = JSON.parse((await store.get(prRef))!.toString()).tree as string
    await copy(prRef, planted, text => text.replace('"deps-pr-1"', '"deps-copied"'))
    await copy(signatureKey(prRef, tree), signatureKey(planted, tree))
    const result = await restoreIn(['branch/main'], 'deps-copied', keylessPolicy({ kind: 'signed' }))
    expect(result.refused?.map(entry => entry.reason)).toEqual([
      'its signature covers key deps-pr-1, but its ref names deps-copied'
    ])
    const failing = await restoreAction(releaseJob, {
      key: 'deps-copied',
      'restore-policy': 'signed',
      'fail-on-cache-miss': 'true'
    })
    expect(failing.run.exitCode).toBe(1)
    expect(failing.run.stdout).toMatch(
      /::warning::Cache entry deps-copied \(scope branch\/main\) refused by restore-policy signed: /
    )
    expect(failing.run.stdout).toMatch(/::error::Failed to restore cache entry/)
    // Without a policy nothing is checked: today's behaviour.
    expect((await restoreIn(['branch/main'], 'deps-copied', { rule: { kind: 'any' }, publicKeys: [] })).status).toBe(
      'found'
    )
  })

  it('refuses an entry whose signature does not match its ref (tree digest swapped)', async () => {
    await keylessSave(mainJob, 'deps-swap', 'main, to be swapped')
    const mainRef = refKey('branch/main', version, 'deps-swap')
    const record = JSON.parse((await store.get(mainRef))!.toString()) as { tree: string }
    const prTree = JSON.parse((await store.get(refKey('pr/12', version, 'deps-pr-1')))!.toString()).tree as string
    const policy = keylessPolicy({ kind: 'default-branch', branch: 'main' })
    expect((await restoreIn(['branch/main'], 'deps-swap', policy)).status).toBe('found')

    await copy(mainRef, mainRef, text => text.replace(record.tree, prTree))
    const unsigned = await restoreIn(['branch/main'], 'deps-swap', policy)
    expect(unsigned).toMatchObject({ status: 'miss', refused: [{ reason: 'unsigned (no signature for its tree)' }] })

    await copy(signatureKey(mainRef, record.tree), signatureKey(mainRef, prTree))
    const swapped = await restoreIn(['branch/main'], 'deps-swap', policy)
    expect(swapped.refused?.map(entry => entry.reason)).toEqual([
      `its signature covers tree ${record.tree.slice(0, 12)}, but its ref names ${prTree.slice(0, 12)}`
    ])
  })

  it("takes the writer's ref and event from the certificate, not from what the job claims", async () => {
    // A PR job that pretends to be main: its environment says refs/heads/main, its OIDC token says the PR.
    await keylessSave(prJob, 'deps-liar', 'poison', { GITHUB_REF: 'refs/heads/main', GITHUB_EVENT_NAME: 'push' })
    const result = await restoreIn(['branch/main'], 'deps-liar', keylessPolicy({ kind: 'signed' }))
    expect(result.refused?.map(entry => entry.reason)).toEqual([
      'its signature claims ref refs/heads/main, but the certificate says refs/pull/12/merge'
    ])
  })

  it('key-signed entries: a trusted key and listed refs are restored; another key, or no signature, is a miss', async () => {
    const trusted = generateSigningKey()
    const other = generateSigningKey('ed25519')
    const dir = await workspace('key signed')
    const saved = await saveEntry({
      store,
      key: 'deps-key-1',
      paths: PATHS,
      workspace: dir,
      readScopes: ['branch/release'],
      signing: { sign: keySigner(trusted.key).sign, writer: { ref: 'refs/heads/release', event: 'push' } }
    })
    expect(saved).toMatchObject({ status: 'saved', signed: true })
    await saveEntry({ store, key: 'deps-key-unsigned', paths: PATHS, workspace: dir, readScopes: ['branch/release'] })
    const keyPolicy = (rule: PolicyRule, key = trusted.key.publicKeyPem): RestorePolicy => ({ rule, publicKeys: [key] })

    const found = await restoreIn(
      ['branch/release'],
      'deps-key-1',
      keyPolicy({ kind: 'refs', patterns: ['refs/heads/rel*'] })
    )
    expect(found).toMatchObject({
      status: 'found',
      signer: { signer: `key ${trusted.key.keyId.slice(0, 12)}`, ref: 'refs/heads/release' }
    })
    const otherRef = await restoreIn(
      ['branch/release'],
      'deps-key-1',
      keyPolicy({ kind: 'refs', patterns: ['refs/heads/main'] })
    )
    expect(otherRef.refused?.[0].reason).toBe('written by refs/heads/release (push), not by refs/heads/main')
    const otherKey = await restoreIn(
      ['branch/release'],
      'deps-key-1',
      keyPolicy({ kind: 'signed' }, other.key.publicKeyPem)
    )
    expect(otherKey.refused?.[0].reason).toBe(`signed by key ${trusted.key.keyId.slice(0, 12)}, which is not trusted`)
    const unsigned = await restoreIn(['branch/release'], 'deps-key-unsigned', keyPolicy({ kind: 'signed' }))
    expect(unsigned).toMatchObject({ status: 'miss', refused: [{ reason: 'unsigned (no signature for its tree)' }] })
  })

  it('the CLI signs with --signing-key-file and restores under --restore-policy; a bad policy is a one-line error', async () => {
    const { key, privateKeyPem } = generateSigningKey()
    const dir = await workspace('cli signed')
    await writeFile(path.join(dir, 'release.key'), privateKeyPem)
    await writeFile(path.join(dir, 'release.pub'), key.publicKeyPem)
    const flags = ['--store', `s3://${config.bucket}/ci`, '--endpoint', config.endpoint!, '--path', 'deps']
    const cli = (args: string[]) => runCliFromSource([...args, ...flags], s3Env, dir)
    const saved = await cli(['save', '--key', 'cli-1', '--ref', 'refs/heads/main', '--signing-key-file', 'release.key'])
    expect(saved.stdout).toContain('saved cli-1 in scope branch/main')
    expect(saved.exitCode).toBe(0)
    await rm(path.join(dir, 'deps'), { recursive: true })
    const policy = ['--restore-policy', 'refs/heads/main', '--restore-public-key', 'release.pub']
    const restored = await cli(['restore', '--key', 'cli-1', '--ref', 'refs/heads/main', ...policy])
    expect(restored.stdout).toContain(`signed by key ${key.keyId.slice(0, 12)} for refs/heads/main`)
    expect(restored.exitCode).toBe(0)
    expect(await readFile(path.join(dir, 'deps', 'lib.txt'), 'utf8')).toBe('cli signed')
    const refused = await cli([
      'restore',
      '--key',
      'cli-1',
      '--ref',
      'refs/heads/main',
      '--restore-policy',
      'refs/tags/*',
      '--restore-public-key',
      'release.pub'
    ])
    expect(refused.stderr).toContain(
      'warning: entry cli-1 (scope branch/main) refused by --restore-policy refs: written by refs/heads/main'
    )
    expect(refused.exitCode).toBe(3)
    const bad = await cli(['restore', '--key', 'cli-1', '--restore-policy', 'main'])
    expect(bad.stderr.trim().split('\n')).toHaveLength(1)
    expect(bad.stderr).toContain('--restore-policy: "main" is not any, signed, default-branch, or refs')
    expect(bad.exitCode).toBe(2)
  })
})
