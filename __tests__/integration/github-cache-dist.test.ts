// The bundled action with no `store` input, run as the runner runs it, in a runner environment that
// has GitHub's cache service (its stand-in, with the blobs in Azurite), and in one that has not.
import { existsSync } from 'node:fs'
import { appendFile, readdir } from 'node:fs/promises'
import * as path from 'node:path'
import { runStep, type StepResult } from '../helpers/action-runner.js'
import {
  branchScopes,
  pullRequestScopes,
  startCacheService,
  type CacheServiceStandIn,
  type TokenScope
} from '../helpers/github-cache-service.js'
import { describeTree, makeBuildTree, tempDir } from '../helpers/trees.js'

let service: CacheServiceStandIn

beforeAll(async () => {
  service = await startCacheService()
})
afterAll(async () => {
  await service?.stop()
})

/** A job of a workflow run: its workspace, its ref and the runtime token of its scopes. No store input anywhere. */
async function job(ref: string, scopes: TokenScope[] | undefined, extra: Record<string, string> = {}) {
  const workspace = await tempDir('gh-job')
  const home = await tempDir('gh-home')
  const env: Record<string, string> = {
    GITHUB_WORKSPACE: workspace,
    GITHUB_REF: ref,
    XDG_CACHE_HOME: path.join(home, '.cache'),
    // What a runner without the service (or a developer's shell) would not have.
    ACTIONS_CACHE_SERVICE_V2: '',
    ACTIONS_RESULTS_URL: '',
    ACTIONS_RUNTIME_TOKEN: '',
    GITHUB_ACTIONS: 'true',
    ...(scopes ? service.env(scopes) : {}),
    ...extra
  }
  return { workspace, localStore: path.join(home, '.cache', 'artifact-action', 'store'), env }
}

const inputs = (key: string, restoreKeys = 'build-') => ({
  path: 'build',
  key,
  'restore-keys': restoreKeys,
  'lookup-only': 'false',
  'fail-on-cache-miss': 'false'
})

/** The log as the runner shows it: it consumes ::add-mask:: commands and masks their values. */
function visibleLog(step: StepResult): string {
  return step.stdout
    .split('\n')
    .filter(line => !line.startsWith('::add-mask::'))
    .join('\n')
}

function warnings(step: StepResult): string[] {
  return step.stdout.split('\n').filter(line => line.startsWith('::warning::'))
}

describe("no store input, in GitHub Actions with the cache service: GitHub's cache is the store", () => {
  let mainTree: Awaited<ReturnType<typeof describeTree>>

  test('a main job misses, saves in the post step to its own scope, and writes nothing locally', async () => {
    const main = await job('refs/heads/main', branchScopes('main'))
    const restore = await runStep('restore', inputs('build-v1'), main.env)
    expect(restore.exitCode).toBe(0)
    expect(restore.outputs['cache-hit']).toBe('false')
    expect(restore.stdout).toContain(
      "Store: GitHub's cache service (scope refs/heads/main) (no `store` input, and the job runs in GitHub Actions)"
    )
    expect(restore.stdout).toContain(`::add-mask::${main.env.ACTIONS_RUNTIME_TOKEN}`)
    expect(visibleLog(restore)).not.toContain(main.env.ACTIONS_RUNTIME_TOKEN)

    await makeBuildTree(path.join(main.workspace, 'build'), { smallFiles: 200, largeBytes: 1024 * 1024 })
    mainTree = await describeTree(path.join(main.workspace, 'build'))
    const save = await runStep('save', inputs('build-v1'), main.env, restore.state)
    expect(save.exitCode).toBe(0)
    expect(save.stdout).toMatch(/Cache saved with key: build-v1 \(scope branch\/main/)
    expect(warnings(save)).toEqual([])
    expect(visibleLog(save)).not.toContain(main.env.ACTIONS_RUNTIME_TOKEN)
    expect(visibleLog(save)).not.toMatch(/sig=/)
    expect(Number(save.outputs['bytes-uploaded'])).toBeGreaterThan(0)

    const entries = service.entries()
    expect(new Set(entries.map(entry => entry.scope))).toEqual(new Set(['refs/heads/main']))
    expect(entries.map(entry => entry.key.split('/')[0]).sort()).toEqual(
      expect.arrayContaining(['manifests', 'objects', 'refs'])
    )
    expect(existsSync(main.localStore)).toBe(false)
  })

  test('a later main job restores the exact key, every byte verified, and skips the save', async () => {
    const main = await job('refs/heads/main', branchScopes('main'))
    const restore = await runStep('restore', inputs('build-v1'), main.env)
    expect(restore.exitCode).toBe(0)
    expect(restore.outputs['cache-hit']).toBe('true')
    expect(restore.outputs['cache-matched-key']).toBe('build-v1')
    expect(warnings(restore)).toEqual([])
    expect(await describeTree(path.join(main.workspace, 'build'))).toEqual(mainTree)

    const save = await runStep('save', inputs('build-v1'), main.env, restore.state)
    expect(save.stdout).toContain('Cache hit occurred on the primary key build-v1, not saving cache.')
  })

  test("a pull request restores main's entry by restore-keys, saves only what changed into its own scope, which main never reads", async () => {
    const pr = await job('refs/pull/7/merge', pullRequestScopes(7, 'main'), { GITHUB_BASE_REF: 'main' })
    const restore = await runStep('restore', inputs('build-v2'), pr.env)
    expect(restore.exitCode).toBe(0)
    expect(restore.outputs['cache-hit']).toBe('false')
    expect(restore.outputs['cache-matched-key']).toBe('build-v1')
    expect(await describeTree(path.join(pr.workspace, 'build'))).toEqual(mainTree)

    await appendFile(path.join(pr.workspace, 'build', 'pkg1', 'mod1', 'file1.js'), '// changed by the pull request\n')
    const before = service.entries().length
    const save = await runStep('save', inputs('build-v2'), pr.env, restore.state)
    expect(save.exitCode).toBe(0)
    expect(save.stdout).toMatch(/Cache saved with key: build-v2 \(scope pr\/7/)
    const added = service.entries().slice(before)
    expect(new Set(added.map(entry => entry.scope))).toEqual(new Set(['refs/pull/7/merge']))
    // One pack with the changed file, the manifest and the ref; main's large files are reused, not uploaded.
    expect(Number(save.outputs['bytes-uploaded'])).toBeLessThan(Number(save.outputs['bytes-deduplicated']))
    expect(added.length).toBeLessThanOrEqual(3)

    // The same key prefix on main finds main's own entry, not the pull request's newer one.
    const main = await job('refs/heads/main', branchScopes('main'))
    const mainRestore = await runStep('restore', inputs('build-v2'), main.env)
    expect(mainRestore.outputs['cache-matched-key']).toBe('build-v1')
  })

  test('with update, a main job that changed the tree saves a revision of the exact key; the next job restores it and writes nothing', async () => {
    const main = await job('refs/heads/main', branchScopes('main'))
    const update = { ...inputs('build-v1'), update: 'true' }
    const restore = await runStep('restore', update, main.env)
    expect(restore.outputs['cache-hit']).toBe('true')
    await appendFile(path.join(main.workspace, 'build', 'pkg2', 'mod2', 'file2.js'), '// changed on main\n')
    const save = await runStep('save', update, main.env, restore.state)
    expect(save.exitCode).toBe(0)
    expect(save.stdout).toMatch(/Cache saved with key: build-v1 as revision 1 \(scope branch\/main/)
    expect(Number(save.outputs['bytes-uploaded'])).toBeLessThan(Number(save.outputs['bytes-deduplicated']) / 10)
    const updated = await describeTree(path.join(main.workspace, 'build'))

    const next = await job('refs/heads/main', branchScopes('main'))
    const again = await runStep('restore', update, next.env)
    expect(again.outputs['cache-hit']).toBe('true')
    expect(await describeTree(path.join(next.workspace, 'build'))).toEqual(updated)
    const before = service.entries().length
    const unchanged = await runStep('save', update, next.env, again.state)
    expect(unchanged.stdout).toContain('Cache entry build-v1 is unchanged')
    expect(service.entries()).toHaveLength(before)
  })

  test('a corrupt blob in the storage is a miss with a warning, and leaves no tree', async () => {
    const packs = service
      .entries()
      .filter(entry => entry.scope === 'refs/heads/main' && entry.key.startsWith('objects/'))
    const largest = packs.reduce((a, b) => (b.size > a.size ? b : a))
    await service.corrupt(largest.key, 'refs/heads/main', bytes => {
      bytes[Math.floor(bytes.length / 2)] ^= 0x5a
      return bytes
    })
    const main = await job('refs/heads/main', branchScopes('main'))
    const restore = await runStep('restore', inputs('build-v1'), main.env)
    expect(restore.exitCode).toBe(0)
    expect(restore.outputs['cache-hit']).toBe('false')
    expect(warnings(restore).join('\n')).toMatch(/Failed to restore from GitHub's cache service/)
    expect(await readdir(main.workspace)).toEqual([])
  })

  test('a rate-limited service is a warning, not a failed step', async () => {
    const main = await job('refs/heads/main', branchScopes('main'))
    await makeBuildTree(path.join(main.workspace, 'build'), { smallFiles: 20, largeBytes: 1024 })
    service.rateLimited = true
    try {
      const save = await runStep('save-only', { path: 'build', key: 'rate-limited-v1' }, main.env)
      expect(save.exitCode).toBe(0)
      expect(warnings(save).join('\n')).toMatch(/Failed to save to GitHub's cache service.*429.*rate limited/)
    } finally {
      service.rateLimited = false
    }
  })
})

describe('no store input, without the cache service: the local directory', () => {
  test('in GitHub Actions without the service, and outside Actions, the log says the local directory is used', async () => {
    for (const actions of ['true', '']) {
      const local = await job('refs/heads/main', undefined, { GITHUB_ACTIONS: actions })
      await makeBuildTree(path.join(local.workspace, 'build'), { smallFiles: 20, largeBytes: 1024 })
      const save = await runStep('save-only', { path: 'build', key: 'local-v1' }, local.env)
      expect(save.exitCode).toBe(0)
      expect(save.stdout).toContain(
        `Store: the local directory ${local.localStore} (no \`store\` input; GitHub's cache service is not available here)`
      )
      expect(save.stdout).toMatch(/Cache saved with key: local-v1/)
      expect(existsSync(local.localStore)).toBe(true)
    }
  })
})

describe('every input of actions/cache v4 and v5, with realistic values, is accepted', () => {
  const everyInput = {
    path: 'build',
    key: 'deps-Linux-3f2a9c',
    'restore-keys': 'deps-Linux-\ndeps-',
    'upload-chunk-size': '4194304',
    enableCrossOsArchive: 'true',
    'fail-on-cache-miss': 'false',
    'lookup-only': 'false',
    'save-always': 'true'
  }

  test('by the root action, restore then save, with a notice for each input that changes nothing here', async () => {
    const main = await job('refs/heads/compat', branchScopes('compat'))
    await makeBuildTree(path.join(main.workspace, 'build'), { smallFiles: 50, largeBytes: 12 * 1024 * 1024 })
    const restore = await runStep('restore', everyInput, main.env)
    expect(restore.exitCode).toBe(0)
    const save = await runStep('save', everyInput, main.env, restore.state)
    expect(save.exitCode).toBe(0)
    expect(save.stdout).toMatch(/Cache saved with key: deps-Linux-3f2a9c/)
    for (const step of [restore, save]) {
      expect(step.stdout).not.toMatch(/unknown input/)
      const notices = step.stdout.split('\n').filter(line => line.startsWith('::notice::'))
      expect(notices).toEqual([
        expect.stringMatching(/^::notice::enableCrossOsArchive: accepted/),
        expect.stringMatching(/^::notice::save-always: accepted/)
      ])
    }
    const again = await job('refs/heads/compat', branchScopes('compat'))
    const hit = await runStep(
      'restore-only',
      {
        path: 'build',
        key: 'deps-Linux-3f2a9c',
        'restore-keys': 'deps-',
        enableCrossOsArchive: 'false',
        'fail-on-cache-miss': 'true',
        'lookup-only': 'false'
      },
      again.env
    )
    expect(hit.exitCode).toBe(0)
    expect(hit.outputs['cache-hit']).toBe('true')
    expect(await describeTree(path.join(again.workspace, 'build'))).toEqual(
      await describeTree(path.join(main.workspace, 'build'))
    )
  })

  test('upload-chunk-size outside 1 MiB to 256 MiB fails the step, naming the input', async () => {
    const main = await job('refs/heads/compat', branchScopes('compat'))
    const save = await runStep(
      'save-only',
      { path: 'build', key: 'k', 'upload-chunk-size': '32MB', enableCrossOsArchive: 'false' },
      main.env
    )
    expect(save.exitCode).not.toBe(0)
    expect(save.stdout).toMatch(/::error::upload-chunk-size: "32MB" is not a size in bytes/)
  })
})
