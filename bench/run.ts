/**
 * npm run bench: ours (saveEntry/restoreEntry on an S3Store) against the tar + zstd single-object
 * method of actions/cache and its S3 forks, side by side, on the same generated trees and server.
 * Each operation runs in a process of its own; the methods alternate within each round; medians are
 * reported in bench/out/report.{json,md}.
 *
 * Settings (environment):
 *   BENCH_DIR      work folder for the trees, the dir store and the bench's radosgw (default /tmp/artifact-action-bench)
 *   BENCH_RESTORE_DIR  where restores write (default /dev/shm/artifact-action-bench: tmpfs, see README)
 *   BENCH_DISK_RESTORE_DIR  where the large tree's restores write (default <BENCH_DIR>/restore: disk)
 *   BENCH_SCALE    tree size factor (default 1: about 1 GiB and 100,000 files; 0.1 for a quick run)
 *   BENCH_ROUNDS   rounds (default 3)
 *   BENCH_TREES    mixed,tiny,large,million (default all)
 *   BENCH_LARGE_FACTOR  the large tree's bytes over mixed's (default 4; 10 for the 10×)
 *   BENCH_SERVERS  rgw,null,dir (default all; rgw runs mixed and tiny only)
 *   BENCH_THROTTLE share of requests answered 503 SlowDown in the throttled scenarios (default 0.2; 0: skip them)
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
import type { BaselineJob, OursJob } from './jobs.js'
import { checkTargets, renderMarkdown, summarize, type Report, type Sample, type Scenario } from './report.js'
import type { Target } from './s3-target.js'
import {
  SERVER_NAMES,
  startDirServer,
  startNullServer,
  startRgw,
  type BenchServer,
  type ServerName
} from './servers.js'
import { summarizeTree } from './tree-digest.js'
import { DEFAULT_LARGE_FACTOR, ensureTree, TREE_NAMES, type BenchTree, type TreeName } from './trees.js'
import { runWorker, type Method } from './workers.js'

const OUT_DIR = path.resolve(process.env.BENCH_OUT_DIR ?? path.join(import.meta.dirname, 'out'))

interface Settings {
  benchDir: string
  restoreDir: string
  diskRestoreDir: string
  scale: number
  rounds: number
  trees: TreeName[]
  largeFactor: number
  servers: ServerName[]
  throttleShare: number
  verify: 'first' | 'all' | 'none'
  profile: boolean
}

function readSettings(): Settings {
  const list = <T extends string>(value: string | undefined, allowed: readonly T[]): T[] => {
    const items = (value ?? allowed.join(','))
      .split(',')
      .map(item => item.trim())
      .filter(Boolean)
    for (const item of items)
      if (!allowed.includes(item as T)) throw new Error(`unknown value ${item}; expected one of ${allowed.join(', ')}`)
    return items as T[]
  }
  const verify = process.env.BENCH_VERIFY ?? 'first'
  if (!['first', 'all', 'none'].includes(verify)) throw new Error('BENCH_VERIFY: first, all or none')
  const benchDir = path.resolve(process.env.BENCH_DIR ?? '/tmp/artifact-action-bench')
  const settings: Settings = {
    benchDir,
    restoreDir: path.resolve(
      process.env.BENCH_RESTORE_DIR ??
        (existsSync('/dev/shm') ? '/dev/shm/artifact-action-bench' : path.join(benchDir, 'restore'))
    ),
    diskRestoreDir: path.resolve(process.env.BENCH_DISK_RESTORE_DIR ?? path.join(benchDir, 'restore')),
    scale: Number(process.env.BENCH_SCALE ?? 1),
    rounds: Number(process.env.BENCH_ROUNDS ?? 3),
    trees: list(process.env.BENCH_TREES, TREE_NAMES),
    largeFactor: Number(process.env.BENCH_LARGE_FACTOR ?? DEFAULT_LARGE_FACTOR),
    servers: list(process.env.BENCH_SERVERS, SERVER_NAMES),
    throttleShare: Number(process.env.BENCH_THROTTLE ?? 0.2),
    verify: verify as Settings['verify'],
    profile: process.env.BENCH_PROFILE === '1'
  }
  if (!(settings.scale > 0)) throw new Error('BENCH_SCALE must be a positive number')
  if (!(settings.rounds >= 1)) throw new Error('BENCH_ROUNDS must be at least 1')
  if (!(settings.largeFactor >= 1)) throw new Error('BENCH_LARGE_FACTOR must be at least 1')
  if (!(settings.throttleShare >= 0 && settings.throttleShare < 1)) throw new Error('BENCH_THROTTLE must be in [0, 1)')
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
  if (result.status !== 0)
    throw new Error(`${command} is needed for the baseline: install it (e.g. apt-get install ${command})`)
  return result.stdout
    .split('\n')[0]
    .replace(/^\*+\s*|\s*\*+$/g, '')
    .replace(/, by .*$/, '')
}

/** The commit, and whether src/ has uncommitted changes (they are measured too). */
function commitMeasured(): string {
  const repo = path.resolve(import.meta.dirname, '..')
  const head =
    spawnSync('git', ['rev-parse', '--short', 'HEAD'], { cwd: repo, encoding: 'utf8' }).stdout?.trim() || 'unknown'
  const changed = spawnSync('git', ['status', '--porcelain', '--', 'src'], {
    cwd: repo,
    encoding: 'utf8'
  }).stdout?.trim()
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
  /** Through the throttling proxy (S3 servers, BENCH_THROTTLE > 0). */
  throttled?: boolean
  /** Into the session's second store, empty, emptied again right after. */
  spare?: boolean
  /**
   * Restore into a folder that holds v1 instead of an empty one (unmeasured): as our restore of v1 left
   * it, with its stat index (a persistent runner), or a copy made with cp -a.
   */
  overPrevious?: 'restored' | 'copied'
}

/**
 * A session's steps, in the order they run. The throttled ones come while the stores hold v1 only;
 * the baseline's v1 archive is dropped after the last step that reads it, so a server holds about
 * one compressed tree per method at a time.
 */
const STEPS: Step[] = [
  { scenario: 'cold save', operation: 'save', version: 'v1' },
  { scenario: 'restore', operation: 'restore', version: 'v1' },
  { scenario: 'throttled restore', operation: 'restore', version: 'v1', throttled: true },
  { scenario: 'throttled save', operation: 'save', version: 'v1', throttled: true, spare: true },
  { scenario: 'incremental save', operation: 'save', version: 'v2' },
  { scenario: 'restore changed', operation: 'restore', version: 'v2' },
  { scenario: 'restore over previous', operation: 'restore', version: 'v2', overPrevious: 'restored' },
  { scenario: 'restore over previous (copied)', operation: 'restore', version: 'v2', overPrevious: 'copied' }
]

/** The worker's job for one method and step; restores write into `restoreWorkspace`, ours with stat indexes in `statIndex`. */
function jobFor(
  method: Method,
  step: Step,
  tree: BenchTree,
  target: Target,
  restoreWorkspace: string,
  statIndex: string
): OursJob | BaselineJob {
  const key = `${tree.name}-${step.version}`
  const workspace =
    step.operation === 'restore' ? restoreWorkspace : step.version === 'v1' ? tree.baseWorkspace : tree.changedWorkspace
  if (method === 'baseline') return { operation: step.operation, target, dir: path.join(workspace, 'tree'), key }
  // As a workflow would: the incremental save names the first entry in restore-keys, so it is the base.
  const restoreKeys = step.scenario === 'incremental save' ? [`${tree.name}-v1`] : undefined
  const restoring = step.operation === 'restore' ? { statIndex } : {}
  return { operation: step.operation, target, workspace, paths: ['tree'], key, restoreKeys, ...restoring }
}

/** The large tree restores to disk (tmpfs would hold it in RAM); the others to BENCH_RESTORE_DIR. */
function restoreDirOf(settings: Settings, tree: BenchTree): string {
  return tree.name === 'large' ? settings.diskRestoreDir : settings.restoreDir
}

/** A failure ends the run with exit status 1 once the report is written (throttled steps excepted: their failures are a result). */
let failures = 0

/**
 * One tree on one server in one round: both methods run the steps in turn, each into a fresh store
 * of its own, which is deleted (and its space collected) at the end.
 */
async function runSession(
  settings: Settings,
  compiled: CompiledWorkers,
  server: BenchServer,
  tree: BenchTree,
  round: number,
  samples: Sample[]
): Promise<void> {
  const methods: Method[] = round % 2 === 1 ? ['baseline', 'ours'] : ['ours', 'baseline']
  const steps = STEPS.filter(step => !step.throttled || (server.throttled && settings.throttleShare > 0))
  const lastV1Read = steps.filter(step => step.operation === 'restore' && step.version === 'v1').at(-1)
  const targets = new Map<Method, Target>()
  const spares = new Map<Method, Target>()
  try {
    for (const method of methods) targets.set(method, await server.createTarget(`${tree.name}-${method}`))
    if (steps.some(step => step.spare))
      for (const method of methods) spares.set(method, await server.createTarget(`${tree.name}-${method}-spare`))
    for (const step of steps) {
      for (const method of methods) {
        const summary = step.version === 'v1' ? tree.base : tree.changed
        const restoreWorkspace = path.join(restoreDirOf(settings, tree), method)
        const statIndex = path.join(restoreDirOf(settings, tree), `${method}-stat-index`)
        if (step.operation === 'restore') {
          emptyFolder(restoreWorkspace)
          rmSync(statIndex, { recursive: true, force: true })
          if (step.overPrevious === 'copied') {
            // A real copy (no hard links into the source tree, which a restore would write through).
            const copy = spawnSync(
              'cp',
              ['-a', path.join(tree.baseWorkspace, 'tree'), path.join(restoreWorkspace, 'tree')],
              { stdio: 'inherit' }
            )
            if (copy.status !== 0) throw new Error('cp -a of v1 into the restore folder failed')
          }
          if (step.overPrevious === 'restored') {
            // For both methods our restore of v1, from our store: the folder and our index as it leaves them.
            const v1 = jobFor(
              'ours',
              { ...step, version: 'v1' },
              tree,
              targets.get('ours')!,
              restoreWorkspace,
              statIndex
            )
            await runWorker('ours', v1, { compiled })
          }
        }
        // Dirty pages of earlier steps (the copy, a dir store's writes) are written back now, not during this step.
        spawnSync('sync')
        const store = step.spare ? spares.get(method)! : targets.get(method)!
        const target = step.throttled ? server.throttled!(store) : store
        const profileName = `${server.name}-${tree.name}-${step.scenario.replace(/ /g, '-')}-r${round}`
        const profile =
          settings.profile && method === 'ours' ? { profileDir: path.join(OUT_DIR, 'profiles'), profileName } : {}
        const serverCpu = (): number | undefined => {
          const cpu = server.cpuSeconds()
          return step.throttled && cpu !== undefined ? cpu + (server.throttleCpuSeconds?.() ?? 0) : cpu
        }
        const throttleBefore = step.throttled ? await server.throttleStats?.() : undefined
        const serverCpuBefore = serverCpu()
        const started = performance.now()
        const sample: Sample = {
          round,
          server: server.name,
          tree: tree.name,
          scenario: step.scenario,
          method,
          treeBytes: summary.bytes,
          measurement: {
            seconds: 0,
            cpuSeconds: 0,
            cpuSelfSeconds: 0,
            cpuChildrenSeconds: 0,
            peakRssBytes: 0,
            childPeakRssBytes: 0,
            bytesUp: 0,
            bytesDown: 0
          },
          detail: undefined
        }
        try {
          const result = await runWorker(method, jobFor(method, step, tree, target, restoreWorkspace, statIndex), {
            compiled,
            ...profile
          })
          sample.measurement = result.measurement
          sample.detail = result.detail
        } catch (error) {
          sample.error = (error as Error).message
          sample.measurement.seconds = (performance.now() - started) / 1000
        }
        const serverCpuAfter = serverCpu()
        sample.serverCpuSeconds =
          serverCpuBefore === undefined || serverCpuAfter === undefined ? undefined : serverCpuAfter - serverCpuBefore
        const throttleAfter = step.throttled ? await server.throttleStats?.() : undefined
        if (throttleBefore && throttleAfter)
          sample.throttle = {
            requests: throttleAfter.requests - throttleBefore.requests,
            throttled: throttleAfter.throttled - throttleBefore.throttled
          }
        const m = sample.measurement
        const throttleNote = sample.throttle
          ? `, ${sample.throttle.throttled} of ${sample.throttle.requests} requests throttled`
          : ''
        if (sample.error) {
          if (!step.throttled) failures++
          log(
            `  r${round} ${server.name} ${tree.name} ${step.scenario} ${method}: FAILED after ${m.seconds.toFixed(2)} s${throttleNote}: ${sample.error.split('\n').slice(0, 6).join(' | ')}`
          )
        } else {
          log(
            `  r${round} ${server.name} ${tree.name} ${step.scenario} ${method}: ${m.seconds.toFixed(2)} s, ↑${(m.bytesUp / 1e6).toFixed(1)} MB ↓${(m.bytesDown / 1e6).toFixed(1)} MB, CPU ${m.cpuSeconds.toFixed(2)} s, RSS ${(m.peakRssBytes / 2 ** 20).toFixed(0)} MiB${throttleNote}`
          )
        }
        if (step.operation === 'restore') {
          if (!sample.error && (settings.verify === 'all' || (settings.verify === 'first' && round === 1))) {
            const restored = summarizeTree(path.join(restoreWorkspace, 'tree'))
            if (restored.digest !== summary.digest) {
              sample.error = `restored ${tree.name} ${step.version} wrongly: ${JSON.stringify(restored)} vs ${JSON.stringify(summary)}`
              failures++
              log(`  ${method} ${sample.error}`)
            }
          }
          rmSync(restoreWorkspace, { recursive: true, force: true })
          rmSync(statIndex, { recursive: true, force: true })
        }
        samples.push(sample)
        if (step.spare) {
          await server.emptyTarget(store)
          server.collectGarbage()
        }
      }
      if (step === lastV1Read) {
        // The baseline's first archive is no longer needed: drop it so the server holds less.
        await server.emptyTarget(targets.get('baseline')!)
        server.collectGarbage()
      }
    }
  } finally {
    for (const target of [...targets.values(), ...spares.values()])
      await server
        .deleteTarget(target)
        .catch(error => log(`warning: could not delete a store of the session: ${(error as Error).message}`))
    server.collectGarbage()
  }
}

/**
 * Whether a server runs a tree: radosgw only the 1 GiB and 100,000-file trees (its 3 GiB memstore);
 * the others while a session fits: the baseline's archive and our store at once, about 1.3 times the
 * tree's bytes at most (both compress; the null server keeps them in RAM, dir on disk).
 */
function skipReason(server: BenchServer, tree: BenchTree): string | undefined {
  if (server.name === 'rgw' && (tree.name === 'large' || tree.name === 'million'))
    return 'radosgw runs the mixed and tiny trees only, for its 3 GiB memstore'
  const needed = 1.3 * tree.changed.bytes
  if (server.capacityBytes !== undefined && needed > 0.85 * server.capacityBytes) {
    return `a session needs about ${(needed / 2 ** 30).toFixed(1)} GiB and the ${server.name} server holds ${(server.capacityBytes / 2 ** 30).toFixed(1)} GiB`
  }
  return undefined
}

async function main(): Promise<void> {
  const settings = readSettings()
  const tools = { tar: toolVersion('tar'), zstd: toolVersion('zstd') }
  const loadBefore = os.loadavg()[0]
  if (loadBefore > 0.5 * os.availableParallelism())
    log(`warning: load average ${loadBefore.toFixed(2)}: other work on this machine will skew the numbers`)
  mkdirSync(OUT_DIR, { recursive: true })
  if (settings.profile) emptyFolder(path.join(OUT_DIR, 'profiles'))
  const trees = settings.trees.map(name =>
    ensureTree(settings.benchDir, name, settings.scale, log, settings.largeFactor)
  )
  const commit = commitMeasured()
  const compiled = compileWorkers(log)
  const servers: BenchServer[] = []
  const descriptions: Record<string, string> = {}
  const cleanUp = async (): Promise<void> => {
    for (const server of servers.splice(0)) await server.stop()
    rmSync(settings.restoreDir, { recursive: true, force: true })
    rmSync(settings.diskRestoreDir, { recursive: true, force: true })
    compiled.remove()
  }
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)))
  const samples: Sample[] = []
  const skipped: string[] = []
  try {
    for (const name of settings.servers) {
      const server =
        name === 'rgw'
          ? await startRgw(settings.benchDir, log, settings.throttleShare)
          : name === 'null'
            ? await startNullServer(settings.throttleShare)
            : startDirServer(settings.benchDir)
      servers.push(server)
      descriptions[name] = server.description
    }
    const sessions: Array<{ tree: BenchTree; server: BenchServer }> = []
    for (const tree of trees) {
      for (const server of servers) {
        const reason = skipReason(server, tree)
        if (reason) {
          skipped.push(`${tree.name} on ${server.name}: ${reason}`)
          log(`not running ${tree.name} on ${server.name}: ${reason}`)
        } else {
          sessions.push({ tree, server })
        }
      }
    }
    for (let round = 1; round <= settings.rounds; round++) {
      for (const { tree, server } of sessions) {
        log(`round ${round}/${settings.rounds}: ${tree.name} on ${server.name}`)
        await runSession(settings, compiled, server, tree, round, samples)
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
      diskRestoreDir: settings.diskRestoreDir,
      largeFactor: settings.largeFactor,
      throttleShare: settings.throttleShare,
      skipped,
      loadAverage: { before: loadBefore, after: os.loadavg()[0] },
      trees
    },
    summaries,
    targets: checkTargets(summaries, trees, settings.throttleShare),
    samples
  }
  const markdown = renderMarkdown(report) + signedSaveSection(log)
  writeFileSync(path.join(OUT_DIR, 'report.json'), JSON.stringify(report, null, 2))
  writeFileSync(path.join(OUT_DIR, 'report.md'), markdown)
  process.stdout.write(markdown)
  log(`wrote ${path.join(OUT_DIR, 'report.json')} and report.md`)
  if (failures > 0) {
    log(`${failures} operation(s) failed or restored wrongly (see the report and the log above)`)
    process.exitCode = 1
  }
}

await main()

/**
 * What signing a cache entry costs (bench/signed-save.ts, in a process of its own, after the sessions): a markdown
 * section for the report. BENCH_SIGNED_SAVE=0 leaves it out.
 */
function signedSaveSection(log: (line: string) => void): string {
  if (process.env.BENCH_SIGNED_SAVE === '0') return ''
  log('timing signed saves (bench/signed-save.ts)')
  const script = path.join(import.meta.dirname, 'signed-save.ts')
  const flags = ['--experimental-transform-types', '--no-warnings', '--import', './scripts/ts-register.mjs']
  const run = spawnSync(process.execPath, [...flags, script], {
    encoding: 'utf8',
    cwd: path.dirname(import.meta.dirname)
  })
  const output =
    run.status === 0 ? run.stdout.trim() : `failed (exit ${run.status}): ${run.stderr.trim().split('\n').pop()}`
  return `\n### Signed saves\n\n\`\`\`\n${output}\n\`\`\`\n`
}
