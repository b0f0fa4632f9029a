// One save or restore of a bench tree on a store in a local folder (tmpfs by default): no S3 server,
// for quick A/B runs of the client's own cost. Prints seconds, CPU (all threads), peak RSS and the
// save's upload count; run it alternately against two checkouts and compare medians.
//   node --experimental-transform-types --no-warnings --import ./scripts/ts-register.mjs bench/local.ts <step> <tree>
// step: save (cold, v1 into an empty store), incremental (v2 with v1 as its base; after save),
// restore (v1 into an empty folder; after save). tree: mixed, tiny, large or million, as `npm run bench`
// made them (BENCH_SCALE, BENCH_LARGE_FACTOR as there).
// LOCAL_DIR (default /dev/shm/artifact-action-local) holds the store and the restored tree.
import { rmSync } from 'node:fs'
import * as path from 'node:path'
import { restoreEntry, saveEntry } from '../src/core/cache/checkpoint-cache.js'
import { FsStore } from '../src/core/store/fs-store.js'
import { DEFAULT_LARGE_FACTOR, treeFolder, TREE_NAMES, type TreeName } from './trees.js'

const [step, tree] = process.argv.slice(2) as ['save' | 'incremental' | 'restore', TreeName]
if (!['save', 'incremental', 'restore'].includes(step) || !TREE_NAMES.includes(tree)) {
  console.error(`usage: bench/local.ts <save|incremental|restore> <${TREE_NAMES.join('|')}>`)
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

const start = performance.now()
let detail = ''
if (step === 'restore') {
  const target = path.join(local, `restored-${tree}`)
  rmSync(target, { recursive: true, force: true })
  const result = await restoreEntry({ ...request, key: 'v1', workspace: target })
  if (result.status !== 'found') throw new Error(`no v1 entry of ${tree}: run the save step first`)
} else {
  const v2 = step === 'incremental'
  const key = v2 ? `v2-${Date.now()}` : 'v1'
  const result = await saveEntry({
    ...request,
    key,
    restoreKeys: v2 ? ['v1'] : [],
    workspace: path.join(trees, v2 ? 'v2' : 'v1')
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
