// One save or restore of a bench tree on a store in a local folder (tmpfs by default): no S3 server,
// for quick A/B runs of the client's own cost. Prints seconds, CPU (all threads), peak RSS and the
// save's upload count; run it alternately against two checkouts and compare medians.
//   node --experimental-transform-types --no-warnings --import ./scripts/ts-register.mjs bench/local.ts <step> <tree>
// step: save (cold, v1 into an empty store), incremental (v2 with v1 as its base; after save),
// restore (v1 into an empty folder; after save), restore-changed (the newest v2 into an empty folder;
// after incremental), restore-over (the newest v2 over a folder that holds our restore of v1 with its stat
// index, as a persistent runner keeps them; the v1 restore runs in a process of its own, not measured).
// tree: mixed, tiny, large or million, as `npm run bench` made them (BENCH_SCALE, BENCH_LARGE_FACTOR as there).
// LOCAL_DIR (default /dev/shm/artifact-action-local) holds the store and the restored tree.
import { spawnSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import * as path from 'node:path'
import { restoreEntry, saveEntry } from '../src/core/cache/checkpoint-cache.js'
import { FsStore } from '../src/core/store/fs-store.js'
import { DEFAULT_LARGE_FACTOR, treeFolder, TREE_NAMES, type TreeName } from './trees.js'

const STEPS = ['save', 'incremental', 'restore', 'restore-changed', 'restore-over'] as const
/** Not measured: restore-over's first restore, run by restore-over itself. */
const BASE_RESTORE = 'restore-over-base'
const [step, tree] = process.argv.slice(2) as [(typeof STEPS)[number] | typeof BASE_RESTORE, TreeName]
if (![...STEPS, BASE_RESTORE].includes(step) || !TREE_NAMES.includes(tree)) {
  console.error(`usage: bench/local.ts <${STEPS.join('|')}> <${TREE_NAMES.join('|')}>`)
  process.exit(2)
}
const local = process.env.LOCAL_DIR ?? '/dev/shm/artifact-action-local'
const trees = treeFolder(
  process.env.BENCH_DIR ?? '/tmp/artifact-action-bench',
  tree,
  Number(process.env.BENCH_SCALE ?? 1),
  Number(process.env.BENCH_LARGE_FACTOR ?? DEFAULT_LARGE_FACTOR)
)
const storeDir = path.join(local, `store-${tree}`)
if (step === 'save') rmSync(storeDir, { recursive: true, force: true })
const store = new FsStore(storeDir)
const request = { store, paths: ['tree'], readScopes: ['branch/main'] }

const target = path.join(local, `restored-${tree}`)
const statIndex = path.join(local, `stat-index-${tree}`)
/** The newest v2 entry (incremental saves name theirs v2-<time>). */
const v2 = { key: 'v2-newest', restoreKeys: ['v2-'] }
if (step === 'restore' || step === 'restore-changed' || step === BASE_RESTORE) {
  rmSync(target, { recursive: true, force: true })
  rmSync(statIndex, { recursive: true, force: true })
}
if (step === 'restore-over') {
  rmSync(target, { recursive: true, force: true })
  rmSync(statIndex, { recursive: true, force: true })
  const script = new URL(import.meta.url).pathname
  const base = spawnSync(process.execPath, [...process.execArgv, script, BASE_RESTORE, tree], { stdio: 'inherit' })
  if (base.status !== 0) throw new Error(`the restore of v1 of ${tree} failed`)
}

const start = performance.now()
let detail: string
if (step !== 'save' && step !== 'incremental') {
  const entry = step === 'restore' || step === BASE_RESTORE ? { key: 'v1' } : v2
  const indexed = step === 'restore-over' || step === BASE_RESTORE ? { statIndex } : {}
  const result = await restoreEntry({ ...request, ...entry, ...indexed, workspace: target })
  if (result.status !== 'found') throw new Error(`no ${entry.key} entry of ${tree}: run save (and incremental) first`)
  const { filesUnchanged, filesTrusted, bytesDownloaded } = result.stats!
  detail = `, ${filesUnchanged} files unchanged (${filesTrusted} trusted), ${(bytesDownloaded / 1e6).toFixed(1)} MB read`
} else {
  const incremental = step === 'incremental'
  const key = incremental ? `v2-${Date.now()}` : 'v1'
  const result = await saveEntry({
    ...request,
    key,
    restoreKeys: incremental ? ['v1'] : [],
    workspace: path.join(trees, incremental ? 'v2' : 'v1')
  })
  if (result.status !== 'saved') throw new Error(`save of ${tree}: ${result.status}`)
  detail = `, ${(result.stats.bytesUploaded / 1e6).toFixed(1)} MB in ${result.stats.objectsUploaded} objects`
}
const seconds = (performance.now() - start) / 1000
const usage = process.resourceUsage()
const cpu = (usage.userCPUTime + usage.systemCPUTime) / 1e6
console.log(
  `${tree} ${step}: ${seconds.toFixed(2)} s, CPU ${cpu.toFixed(2)} s, peak RSS ${(usage.maxRSS / 1024).toFixed(0)} MiB${detail}`
)
