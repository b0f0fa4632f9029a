// The two designs for GitHub's cache as the store, measured on the service's stand-in (Twirp on
// loopback, blobs in Azurite): requests and seconds for a save and a restore of a small tree.
//   node --experimental-transform-types --no-warnings --import ./scripts/ts-register.mjs bench/github-cache.ts
// - content-addressed (ours): GitHubCacheStore under saveEntry/restoreEntry: objects, manifests and
//   refs as cache entries, every byte verified on restore;
// - one entry per key: @actions/cache's own saveCache/restoreCache (a tar.zst of the paths per key).
// Rounds alternate the two; the median is printed. GH_BENCH_ROUNDS (default 3), GH_BENCH_FILES (200).
import { appendFile, mkdir, rm } from 'node:fs/promises'
import * as path from 'node:path'
import { restoreEntry, saveEntry } from '../src/core/cache/checkpoint-cache.js'
import { CacheServiceClient } from '../src/github/cache-service.js'
import { GitHubCacheStore } from '../src/github/github-cache-store.js'
import { branchScopes, startCacheService, type ServiceCounts } from '../__tests__/helpers/github-cache-service.js'
import { makeBuildTree, tempDir } from '../__tests__/helpers/trees.js'

const rounds = Number(process.env.GH_BENCH_ROUNDS ?? 3)
const smallFiles = Number(process.env.GH_BENCH_FILES ?? 200)
const service = await startCacheService()
const work = await tempDir('gh-bench')
const source = path.join(work, 'source')
await makeBuildTree(path.join(source, 'build'), { smallFiles, largeBytes: 1024 * 1024 })

// @actions/cache reads the service from the environment; our store gets it injected.
Object.assign(process.env, {
  GITHUB_WORKSPACE: source,
  RUNNER_TEMP: path.join(work, 'tmp'),
  GITHUB_SERVER_URL: 'https://github.com'
})
const actionsCache = await import('@actions/cache')

type Sample = { seconds: number; counts: ServiceCounts }
const samples: Record<string, Sample[]> = {}

async function measure(name: string, task: () => Promise<void>): Promise<void> {
  await service.resetCounts()
  const started = performance.now()
  await task()
  const seconds = (performance.now() - started) / 1000
  ;(samples[name] ??= []).push({ seconds, counts: await service.settledCounts() })
}

const silence =
  <T>(task: () => Promise<T>) =>
  async () => {
    const write = process.stdout.write.bind(process.stdout)
    process.stdout.write = () => true
    try {
      await task()
    } finally {
      process.stdout.write = write
    }
  }

for (let round = 0; round < rounds; round++) {
  const key = 'build-v1'
  // A branch of its own per round and design: every save starts cold.
  const ours = async () => {
    const scopes = branchScopes(`ours-${round}`)
    const store = () =>
      new GitHubCacheStore(new CacheServiceClient({ resultsUrl: service.url, token: service.token(scopes) }))
    const request = { paths: ['build'], readScopes: [`branch/ours-${round}`] }
    await measure('content-addressed: cold save', async () => {
      const saved = await saveEntry({ ...request, store: store(), key, workspace: source })
      if (saved.status !== 'saved') throw new Error(`save: ${saved.status}`)
    })
    const target = path.join(work, `ours-${round}`)
    await measure('content-addressed: restore', async () => {
      const restored = await restoreEntry({ ...request, store: store(), key, workspace: target })
      if (restored.status !== 'found') throw new Error('restore missed')
    })
    await appendFile(path.join(target, 'build', 'pkg1', 'mod1', 'file1.js'), `// round ${round}\n`)
    await measure('content-addressed: save after a one-file change', async () => {
      const saved = await saveEntry({
        ...request,
        store: store(),
        key: `${key}-changed`,
        restoreKeys: [key],
        workspace: target
      })
      if (saved.status !== 'saved') throw new Error(`save: ${saved.status}`)
    })
    await rm(target, { recursive: true, force: true })
  }
  const perKey = async () => {
    Object.assign(process.env, service.env(branchScopes(`tar-${round}`)))
    process.chdir(source)
    await measure(
      'one entry per key (@actions/cache): save',
      silence(async () => {
        if ((await actionsCache.saveCache(['build'], key)) < 0) throw new Error('saveCache failed')
      })
    )
    await appendFile(path.join(source, 'build', 'pkg1', 'mod1', 'file1.js'), `// round ${round}\n`)
    await measure(
      'one entry per key (@actions/cache): save after a one-file change',
      silence(async () => {
        if ((await actionsCache.saveCache(['build'], `${key}-changed`)) < 0) throw new Error('saveCache failed')
      })
    )
    const target = path.join(work, `tar-${round}`)
    await mkdir(target, { recursive: true })
    process.chdir(target)
    process.env.GITHUB_WORKSPACE = target
    await measure(
      'one entry per key (@actions/cache): restore',
      silence(async () => {
        if (!(await actionsCache.restoreCache(['build'], key))) throw new Error('restoreCache missed')
      })
    )
    process.env.GITHUB_WORKSPACE = source
    process.chdir(source)
    await rm(target, { recursive: true, force: true })
  }
  if (round % 2 === 0) {
    await ours()
    await perKey()
  } else {
    await perKey()
    await ours()
  }
}
await service.stop()
await rm(work, { recursive: true, force: true })

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
console.log(`tree: ${smallFiles} small files, two files of 1 MiB, symlinks; ${rounds} rounds, medians`)
console.log('| design: step | s | Create | Finalize | GetDownloadURL | blob requests | bytes uploaded |')
console.log('| --- | --- | --- | --- | --- | --- | --- |')
for (const [name, list] of Object.entries(samples)) {
  const counts = (field: keyof ServiceCounts) => median(list.map(sample => sample.counts[field]))
  console.log(
    `| ${name} | ${median(list.map(sample => sample.seconds)).toFixed(2)} | ${counts('CreateCacheEntry')} | ${counts('FinalizeCacheEntryUpload')} | ${counts('GetCacheEntryDownloadURL')} | ${counts('blob')} | ${counts('bytesFinalized')} |`
  )
}
