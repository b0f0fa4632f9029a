import { chmod, chown, mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { S3Store, type S3StoreConfig } from '../../src/core/store/s3-store.js'
import { runStep } from '../helpers/action-runner.js'
import { createTestBucket, s3ConnectionInputs } from '../helpers/s3.js'
import { describeTree, makeBuildTree, seededBytes, tempDir } from '../helpers/trees.js'

/** Inputs a workflow would give, as the runner passes them (declared defaults included). */
function cacheInputs(config: S3StoreConfig, extra: Record<string, string> = {}): Record<string, string> {
  return {
    path: 'build\n~/never-created-by-tests-artifact-action',
    key: 'build-v1',
    'restore-keys': 'build-',
    'lookup-only': 'false',
    'fail-on-cache-miss': 'false',
    store: `s3://${config.bucket}/ci`,
    ...s3ConnectionInputs(config),
    ...extra
  }
}

/** The log as the runner shows it: ::add-mask:: commands are consumed by the runner, not printed. */
function visibleLog(stdout: string): string {
  return stdout
    .split('\n')
    .filter(line => !line.startsWith('::add-mask::'))
    .join('\n')
}

async function countObjects(config: S3StoreConfig): Promise<number> {
  let count = 0
  for await (const _ of new S3Store(config).list('')) count++
  return count
}

describe('the bundled action, run as the runner runs it', () => {
  it('misses, saves in the post step, then hits in a later job and skips the save', async () => {
    const config = await createTestBucket('dist')
    const workspace = await tempDir('job1')
    const env = { GITHUB_WORKSPACE: workspace, GITHUB_REF: 'refs/heads/main' }

    const main1 = await runStep('restore', cacheInputs(config), env)
    expect(main1.exitCode).toBe(0)
    expect(main1.outputs['cache-hit']).toBe('false')
    expect(main1.outputs['cache-primary-key']).toBe('build-v1')
    expect(main1.state['primary-key']).toBe('build-v1')

    await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 200, largeBytes: 1024 * 1024 })
    const post1 = await runStep('save', cacheInputs(config), env, main1.state)
    expect(post1.exitCode).toBe(0)
    expect(post1.stdout).toMatch(/Cache saved with key: build-v1/)
    expect(post1.summary).toContain('Cache save')
    expect(visibleLog(post1.stdout)).not.toContain(config.credentials!.secretAccessKey)
    expect(post1.stdout).toContain(`::add-mask::${config.credentials!.secretAccessKey}`)

    const workspace2 = await tempDir('job2')
    const env2 = { GITHUB_WORKSPACE: workspace2, GITHUB_REF: 'refs/heads/main' }
    const main2 = await runStep('restore', cacheInputs(config), env2)
    expect(main2.exitCode).toBe(0)
    expect(main2.outputs['cache-hit']).toBe('true')
    expect(main2.outputs['cache-matched-key']).toBe('build-v1')
    expect(main2.outputs['tree-digest']).toMatch(/^[0-9a-f]{64}$/)
    expect(Number(main2.outputs['bytes-downloaded'])).toBeGreaterThan(0)
    expect(main2.summary).toContain('Cache restore')
    expect(await describeTree(path.join(workspace2, 'build'))).toEqual(
      await describeTree(path.join(workspace, 'build'))
    )

    const post2 = await runStep('save', cacheInputs(config), env2, main2.state)
    expect(post2.exitCode).toBe(0)
    expect(post2.stdout).toMatch(/Cache hit occurred on the primary key build-v1, not saving cache/)
  })

  it('restores read-only files, large ones too, as a user who is not root (as on GitHub-hosted runners)', async () => {
    const config = await createTestBucket('dist-readonly')
    const workspace = await tempDir('job1')
    const env = { GITHUB_WORKSPACE: workspace, GITHUB_REF: 'refs/heads/main' }
    const inputs = cacheInputs(config, { path: 'out', key: 'readonly-v1', 'restore-keys': '' })
    await mkdir(path.join(workspace, 'out'))
    await writeFile(path.join(workspace, 'out', 'large.bin'), seededBytes(3 * 1024 * 1024, 5))
    await writeFile(path.join(workspace, 'out', 'small.txt'), 'read only\n')
    await chmod(path.join(workspace, 'out', 'large.bin'), 0o444)
    await chmod(path.join(workspace, 'out', 'small.txt'), 0o444)
    expect((await runStep('save-only', inputs, env)).exitCode).toBe(0)

    // As root, the step runs as nobody; as anyone else, as that user.
    const user = process.getuid!() === 0 ? { uid: 65534, gid: 65534 } : undefined
    const workspace2 = await tempDir('job2')
    if (user) await chown(workspace2, user.uid, user.gid)
    const restored = await runStep(
      'restore-only',
      inputs,
      { GITHUB_WORKSPACE: workspace2, GITHUB_REF: 'refs/heads/main' },
      {},
      user
    )
    expect(restored.stdout).not.toMatch(/::warning::/)
    expect(restored.outputs['cache-hit']).toBe('true')
    expect(await describeTree(path.join(workspace2, 'out'))).toEqual(await describeTree(path.join(workspace, 'out')))

    // Again over the read-only files the first restore left: they are replaced, not opened.
    const again = await runStep(
      'restore-only',
      inputs,
      { GITHUB_WORKSPACE: workspace2, GITHUB_REF: 'refs/heads/main' },
      {},
      user
    )
    expect(again.stdout).not.toMatch(/::warning::/)
    expect(again.outputs['cache-hit']).toBe('true')
    expect(await describeTree(path.join(workspace2, 'out'))).toEqual(await describeTree(path.join(workspace, 'out')))
  })

  it('restores a PR from its base branch, and its own save goes to the PR scope', async () => {
    const config = await createTestBucket('dist-pr')
    const mainWorkspace = await tempDir('main')
    await makeBuildTree(path.join(mainWorkspace, 'build'), { smallFiles: 20, largeBytes: 1024 })
    const mainEnv = { GITHUB_WORKSPACE: mainWorkspace, GITHUB_REF: 'refs/heads/main' }
    expect((await runStep('save-only', cacheInputs(config), mainEnv)).exitCode).toBe(0)

    const prWorkspace = await tempDir('pr')
    const prEnv = { GITHUB_WORKSPACE: prWorkspace, GITHUB_REF: 'refs/pull/5/merge', GITHUB_BASE_REF: 'main' }
    const restored = await runStep('restore-only', cacheInputs(config), prEnv)
    expect(restored.outputs['cache-hit']).toBe('true')
    await writeFile(path.join(prWorkspace, 'build', 'tool.sh'), 'changed in the PR')
    const prSave = await runStep('save-only', cacheInputs(config), prEnv)
    expect(prSave.stdout).toMatch(/scope pr\/5/)

    const again = await tempDir('main2')
    await runStep('restore-only', cacheInputs(config), { GITHUB_WORKSPACE: again, GITHUB_REF: 'refs/heads/main' })
    expect(await readFile(path.join(again, 'build', 'tool.sh'), 'utf8')).toBe('#!/bin/sh\necho tool\n')
  })

  describe('bad input', () => {
    let config: S3StoreConfig
    let workspace: string
    beforeAll(async () => {
      config = await createTestBucket('bad-input')
      workspace = await tempDir('bad')
      await mkdir(path.join(workspace, 'build'))
      await writeFile(path.join(workspace, 'build', 'a.txt'), 'a')
    })
    const env = (): Record<string, string> => ({ GITHUB_WORKSPACE: workspace, GITHUB_REF: 'refs/heads/main' })

    it.each([
      ['a missing key', { key: '' }, /::error::key: required/],
      ['an unknown input', { paths: 'build' }, /::error::paths: unknown input; valid inputs are path, key/],
      ['a key with a comma', { key: 'a,b' }, /::error::key: "a,b" contains a comma/],
      ['a key over 512 characters', { key: 'k'.repeat(513) }, /::error::key: .* at most 512/],
      ['a bad boolean', { 'lookup-only': 'maybe' }, /::error::lookup-only: "maybe" is not a boolean/]
    ])('fails the step with a one-line error for %s', async (_case, extra, message) => {
      const result = await runStep('restore', cacheInputs(config, extra), env())
      expect(result.exitCode).toBe(1)
      const errors = result.stdout.split('\n').filter(line => line.startsWith('::error::'))
      expect(errors).toHaveLength(1)
      expect(errors[0]).toMatch(message)
    })

    it('fails on a miss only when fail-on-cache-miss is set', async () => {
      const result = await runStep(
        'restore',
        cacheInputs(config, { key: 'absent', 'restore-keys': '', 'fail-on-cache-miss': 'true' }),
        env()
      )
      expect(result.exitCode).toBe(1)
      expect(result.stdout).toMatch(/::error::Failed to restore cache entry. Exiting as fail-on-cache-miss is set/)
    })

    it('warns and writes nothing when the path matches nothing', async () => {
      const before = await countObjects(config)
      const result = await runStep('save-only', cacheInputs(config, { path: 'no-such-dir' }), env())
      expect(result.exitCode).toBe(0)
      expect(result.stdout).toMatch(/::warning::Path Validation Error/)
      expect(await countObjects(config)).toBe(before)
    })

    it('warns, without failing the build, for a bucket that does not exist', async () => {
      const missing = { ...config, bucket: `${config.bucket}-missing` }
      const restore = await runStep('restore', cacheInputs(missing), env())
      expect(restore.exitCode).toBe(0)
      expect(restore.stdout).toMatch(/::warning::Failed to restore from s3:\/\/.*-missing.*does not exist/)
      const save = await runStep('save-only', cacheInputs(missing), env())
      expect(save.exitCode).toBe(0)
      expect(save.stdout).toMatch(/::warning::Failed to save/)
    })

    it('warns for wrong credentials, writes nothing and never prints the secret', async () => {
      const before = await countObjects(config)
      const wrong = cacheInputs(config, { 'aws-secret-access-key': 'wrong-secret-value-123' })
      const save = await runStep('save-only', wrong, env())
      expect(save.exitCode).toBe(0)
      expect(save.stdout).toMatch(/::warning::Failed to save .*access denied/)
      expect(visibleLog(save.stdout)).not.toContain('wrong-secret-value-123')
      expect(await countObjects(config)).toBe(before)
    })

    // The default 15 s bound is waited out by action-network.test.ts's dead endpoint; here the user's own bound applies.
    it('reports an unreachable endpoint within a bounded time', async () => {
      const result = await runStep('restore', cacheInputs(config, { endpoint: 'http://127.0.0.1:9' }), {
        ...env(),
        ARTIFACT_ACTION_NETWORK_TIMEOUT_SECONDS: '1'
      })
      expect(result.exitCode).toBe(0)
      expect(result.stdout).toMatch(/::warning::Failed to restore .*cannot reach the S3 endpoint/)
      expect(result.seconds).toBeLessThan(45)
      expect(result.seconds).toBeLessThan(10)
    })
  })

  afterAll(async () => {
    await rm(path.join(process.env.HOME ?? '/root', 'never-created-by-tests-artifact-action'), {
      recursive: true,
      force: true
    })
  })
})
