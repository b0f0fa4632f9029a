/**
 * npm run bench: ours (saveEntry/restoreEntry on an S3Store) against the tar + zstd single-object
 * method of actions/cache and its S3 forks, side by side, on the same generated trees and server.
 * Each operation runs in a process of its own; the methods alternate within each round; medians are
 * reported in bench/out/report.{json,md}.
 *
 * Settings (environment):
 *   BENCH_DIR      work folder for the trees and the bench's radosgw (default /tmp/artifact-action-bench)
 *   BENCH_RESTORE_DIR  where restores write (default /dev/shm/artifact-action-bench: tmpfs, see README)
 *   BENCH_SCALE    tree size factor (default 1: about 1 GiB and 100,000 files; 0.1 for a quick run)
 *   BENCH_ROUNDS   rounds (default 3)
 *   BENCH_TREES    mixed,tiny (default both)
 *   BENCH_SERVERS  rgw,null (default both)
 *   BENCH_VERIFY   first (default: check restored trees in round 1), all, none
 *   BENCH_PROFILE  1: write V8 CPU profiles of our workers to <out>/profiles (see profile-summary.ts)
 *   BENCH_OUT_DIR  where the report goes (default bench/out)
 *   S3_TEST_ENDPOINT (with keys, S3_TEST_DIR): use that radosgw instead of starting one
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { compileWorkers, type CompiledWorkers } from './compile.js'
import { createBucket, deleteBucket, deleteObjects } from './buckets.js'
import type { BaselineJob, OursJob } from './jobs.js'
import { checkTargets, renderMarkdown, summarize, type Report, type Sample, type Scenario } from './report.js'
import { s3Client, type S3Target } from './s3-target.js'
import { startNullServer, startRgw, type BenchServer, type ServerName } from './servers.js'
import { summarizeTree } from './tree-digest.js'
import { ensureTree, TREE_NAMES, type BenchTree, type TreeName } from './trees.js'
import { runWorker, type Method } from './workers.js'

const OUT_DIR = path.resolve(process.env.BENCH_OUT_DIR ?? path.join(import.meta.dirname, 'out'))

interface Settings {
  benchDir: string
  restoreDir: string
  scale: number
  rounds: number
  trees: TreeName[]
  servers: ServerName[]
  verify: 'first' | 'all' | 'none'
  profile: boolean
}

function readSettings(): Settings {
  const list = <T extends string>(value: string | undefined, allowed: readonly T[]): T[] => {
    const items = (value ?? allowed.join(',')).split(',').map(item => item.trim()).filter(Boolean)
    for (const item of items) if (!allowed.includes(item as T)) throw new Error(`unknown value ${item}; expected one of ${allowed.join(', ')}`)
    return items as T[]
  }
  const verify = process.env.BENCH_VERIFY ?? 'first'
  if (!['first', 'all', 'none'].includes(verify)) throw new Error('BENCH_VERIFY: first, all or none')
  const settings: Settings = {
    benchDir: path.resolve(process.env.BENCH_DIR ?? '/tmp/artifact-action-bench'),
    restoreDir: path.resolve(process.env.BENCH_RESTORE_DIR ?? (existsSync('/dev/shm') ? '/dev/shm/artifact-action-bench' : path.join(process.env.BENCH_DIR ?? '/tmp/artifact-action-bench', 'restore'))),
    scale: Number(process.env.BENCH_SCALE ?? 1),
    rounds: Number(process.env.BENCH_ROUNDS ?? 3),
    trees: list(process.env.BENCH_TREES, TREE_NAMES),
    servers: list(process.env.BENCH_SERVERS, ['rgw', 'null'] as const),
    verify: verify as Settings['verify'],
    profile: process.env.BENCH_PROFILE === '1'
  }
  if (!(settings.scale > 0)) throw new Error('BENCH_SCALE must be a positive number')
  if (!(settings.rounds >= 1)) throw new Error('BENCH_ROUNDS must be at least 1')
  return settings
}

const startedAt = Date.now()

function log(line: string): void {
  const elapsed = Math.round((Date.now() - startedAt) / 1000)
  process.stderr.write(`bench [${Math.floor(elapsed / 60)}:${String(elapsed % 60).padStart(2, '0')}]: ${line}\n`)
}

/** The first line of `command --version`; fails the run when the tool is missing. */
function toolVersion(command: string): string {
  const result = spawnSync(command, ['--version'], { encoding: 'utf8' })
  if (result.status !== 0) throw new Error(`${command} is needed for the baseline: install it (e.g. apt-get install ${command})`)
  return result.stdout.split('\n')[0].replace(/^\*+\s*|\s*\*+$/g, '').replace(/, by .*$/, '')
}

/** The commit, and whether src/ has uncommitted changes (they are measured too). */
function commitMeasured(): string {
  const repo = path.resolve(import.meta.dirname, '..')
  const head = spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).stdout?.trim() || 'unknown'
  const changed = spawnSync('git', ['status', '--porcelain', '--', 'src'], { cwd: repo, encoding: 'utf8' }).stdout?.trim()
  return changed ? `${head}+changes` : head
}

/** The folder a restore writes into, emptied before and after (unmeasured). */
function emptyFolder(folder: string): void {
  rmSync(folder, { recursive: true, force: true })
  mkdirSync(folder, { recursive: true })
}

/** What one step of a session runs, for each method. */
interface Step {
  scenario: Scenario
  operation: 'save' | 'restore'
  version: 'v1' | 'v2'
}

const STEPS: Step[] = [
  { scenario: 'cold save', operation: 'save', version: 'v1' },
  { scenario: 'restore', operation: 'restore', version: 'v1' },
  { scenario: 'incremental save', operation: 'save', version: 'v2' },
  { scenario: 'restore changed', operation: 'restore', version: 'v2' }
]

/** The worker's job for one method and step; restores write into `restoreWorkspace`. */
function jobFor(method: Method, step: Step, tree: BenchTree, target: S3Target, restoreWorkspace: string): OursJob | BaselineJob {
  const key = `${tree.name}-${step.version}`
  const workspace = step.operation === 'restore' ? restoreWorkspace : step.version === 'v1' ? tree.baseWorkspace : tree.changedWorkspace
  if (method === 'baseline') return { operation: step.operation, target, dir: path.join(workspace, 'tree'), key }
  // As a workflow would: the incremental save names the first entry in restore-keys, so it is the base.
  const restoreKeys = step.scenario === 'incremental save' ? [`${tree.name}-v1`] : undefined
  return { operation: step.operation, target, workspace, paths: ['tree'], key, restoreKeys }
}

/**
 * One tree on one server in one round: both methods run the four steps in turn, each into a fresh
 * bucket of its own, which is deleted (and its space collected) at the end.
 */
async function runSession(settings: Settings, compiled: CompiledWorkers, server: BenchServer, tree: BenchTree, round: number, samples: Sample[]): Promise<void> {
  const methods: Method[] = round % 2 === 1 ? ['baseline', 'ours'] : ['ours', 'baseline']
  const admin = s3Client(server.target)
  const targets = new Map<Method, S3Target>()
  try {
    for (const method of methods) targets.set(method, { ...server.target, bucket: await createBucket(admin, `${tree.name}-${method}`) })
    for (const step of STEPS) {
      for (const method of methods) {
        const summary = step.version === 'v1' ? tree.base : tree.changed
        const restoreWorkspace = path.join(settings.restoreDir, method)
        if (step.operation === 'restore') emptyFolder(restoreWorkspace)
        const profileName = `${server.name}-${tree.name}-${step.scenario.replace(/ /g, '-')}-r${round}`
        const profile = settings.profile && method === 'ours' ? { profileDir: path.join(OUT_DIR, 'profiles'), profileName } : {}
        const serverCpuBefore = server.cpuSeconds()
        const result = await runWorker(method, jobFor(method, step, tree, targets.get(method)!, restoreWorkspace), { compiled, ...profile })
        const serverCpuAfter = server.cpuSeconds()
        const m = result.measurement
        samples.push({
          round,
          server: server.name,
          tree: tree.name,
          scenario: step.scenario,
          method,
          treeBytes: summary.bytes,
          measurement: m,
          serverCpuSeconds: serverCpuBefore === undefined || serverCpuAfter === undefined ? undefined : serverCpuAfter - serverCpuBefore,
          detail: result.detail
        })
        log(`  r${round} ${server.name} ${tree.name} ${step.scenario} ${method}: ${m.seconds.toFixed(2)} s, ↑${(m.bytesUp / 1e6).toFixed(1)} MB ↓${(m.bytesDown / 1e6).toFixed(1)} MB, CPU ${m.cpuSeconds.toFixed(2)} s, RSS ${(m.peakRssBytes / 2 ** 20).toFixed(0)} MiB`)
        if (step.operation === 'restore') {
          if (settings.verify === 'all' || (settings.verify === 'first' && round === 1)) {
            const restored = summarizeTree(path.join(restoreWorkspace, 'tree'))
            if (restored.digest !== summary.digest) throw new Error(`${method} restored ${tree.name} ${step.version} wrongly: ${JSON.stringify(restored)} vs ${JSON.stringify(summary)}`)
          }
          rmSync(restoreWorkspace, { recursive: true, force: true })
          spawnSync('sync')
        }
      }
      if (step.scenario === 'restore') {
        // The baseline's first archive is no longer needed: drop it so the server holds less.
        await deleteObjects(admin, targets.get('baseline')!.bucket)
        server.collectGarbage()
      }
    }
  } finally {
    for (const target of targets.values()) await deleteBucket(admin, target.bucket).catch(error => log(`warning: could not delete ${target.bucket}: ${(error as Error).message}`))
    admin.destroy()
    server.collectGarbage()
  }
}

async function main(): Promise<void> {
  const settings = readSettings()
  const tools = { tar: toolVersion('tar'), zstd: toolVersion('zstd') }
  const loadBefore = os.loadavg()[0]
  if (loadBefore > 0.5 * os.availableParallelism()) log(`warning: load average ${loadBefore.toFixed(2)}: other work on this machine will skew the numbers`)
  mkdirSync(OUT_DIR, { recursive: true })
  if (settings.profile) emptyFolder(path.join(OUT_DIR, 'profiles'))
  const trees = settings.trees.map(name => ensureTree(settings.benchDir, name, settings.scale, log))
  const commit = commitMeasured()
  const compiled = compileWorkers(log)
  const servers: BenchServer[] = []
  const descriptions: Record<string, string> = {}
  const cleanUp = async (): Promise<void> => {
    for (const server of servers.splice(0)) await server.stop()
    rmSync(settings.restoreDir, { recursive: true, force: true })
    compiled.remove()
  }
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)))
  const samples: Sample[] = []
  try {
    for (const name of settings.servers) {
      const server = name === 'rgw' ? startRgw(settings.benchDir, log) : await startNullServer()
      servers.push(server)
      descriptions[name] = server.description
    }
    for (const server of servers) {
      // A session holds the baseline's archive and our store at once: at most about twice the tree.
      const largest = Math.max(...trees.map(tree => tree.changed.bytes))
      if (server.capacityBytes && 2 * largest > 0.85 * server.capacityBytes) {
        throw new Error(`the ${server.name} server holds ${(server.capacityBytes / 2 ** 30).toFixed(1)} GiB; a ${(largest / 2 ** 30).toFixed(1)} GiB tree needs more: lower BENCH_SCALE`)
      }
    }
    for (let round = 1; round <= settings.rounds; round++) {
      for (const tree of trees) {
        for (const server of servers) {
          log(`round ${round}/${settings.rounds}: ${tree.name} on ${server.name}`)
          await runSession(settings, compiled, server, tree, round, samples)
        }
      }
    }
  } finally {
    await cleanUp()
  }

  const summaries = summarize(samples)
  const report: Report = {
    meta: {
      date: new Date().toISOString(),
      commit,
      machine: {
        cpus: os.availableParallelism(),
        cpuModel: os.cpus()[0]?.model.trim() ?? 'unknown',
        memoryGiB: Math.round(os.totalmem() / 2 ** 30),
        kernel: os.release()
      },
      node: process.version,
      tools,
      servers: descriptions,
      scale: settings.scale,
      rounds: settings.rounds,
      restoreDir: settings.restoreDir,
      loadAverage: { before: loadBefore, after: os.loadavg()[0] },
      trees
    },
    summaries,
    targets: checkTargets(summaries),
    samples
  }
  const markdown = renderMarkdown(report)
  writeFileSync(path.join(OUT_DIR, 'report.json'), JSON.stringify(report, null, 2))
  writeFileSync(path.join(OUT_DIR, 'report.md'), markdown)
  process.stdout.write(markdown)
  log(`wrote ${path.join(OUT_DIR, 'report.json')} and report.md`)
}

await main()
