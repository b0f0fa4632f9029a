import type { Measurement } from './measure.js'
import { SERVER_NAMES, type ServerName } from './servers.js'
import { TREE_NAMES, type BenchTree, type TreeName } from './trees.js'
import type { Method } from './workers.js'

/** In the order the tables list them (a session runs them in run.ts's order). */
export const SCENARIOS = [
  'cold save',
  'restore',
  'incremental save',
  'restore changed',
  'restore over previous',
  'restore over previous (copied)',
  'throttled save',
  'throttled restore'
] as const
export type Scenario = (typeof SCENARIOS)[number]

/** One measured operation of one round. */
export interface Sample {
  round: number
  server: ServerName
  tree: TreeName
  scenario: Scenario
  method: Method
  /** The tree saved or restored (v1 for the first two scenarios, v2 for the others). */
  treeBytes: number
  measurement: Measurement
  serverCpuSeconds?: number
  detail: unknown
  /** Set when the operation failed (its measurement then holds only the seconds until it did). */
  error?: string
  /** Throttled scenarios: the requests the proxy saw during the operation, and how many it answered 503. */
  throttle?: { requests: number; throttled: number }
}

/** The medians over the rounds of one (server, tree, scenario, method). */
export interface Summary {
  server: ServerName
  tree: TreeName
  scenario: Scenario
  method: Method
  rounds: number
  /** Operations that completed (the medians are of these), of `rounds` attempted. */
  successes: number
  /** Throttled scenarios: requests and 503s, summed over the rounds. */
  throttle?: { requests: number; throttled: number }
  treeBytes: number
  seconds: number
  secondsMin: number
  secondsMax: number
  mbPerSecond: number
  bytesUp: number
  bytesDown: number
  cpuSeconds: number
  cpuChildrenSeconds: number
  peakRssBytes: number
  childPeakRssBytes: number
  serverCpuSeconds?: number
  /** Ours only: ours ÷ baseline, of the medians. */
  ratio?: { seconds: number; bytesMoved: number; cpuSeconds: number }
}

export interface TargetCheck {
  target: string
  measured: string
  met: boolean
}

export interface ReportMeta {
  date: string
  /** The commit measured, with "+changes" when src/ differed from it. */
  commit: string
  machine: { cpus: number; cpuModel: string; memoryGiB: number; kernel: string }
  node: string
  tools: { tar: string; zstd: string }
  servers: Record<string, string>
  scale: number
  rounds: number
  restoreDir: string
  /** Where the large tree's restores write (a disk folder). */
  diskRestoreDir: string
  /** The large tree's factor over mixed's bytes. */
  largeFactor: number
  /** Share of the requests the throttled scenarios answer with 503 SlowDown (0: not run). */
  throttleShare: number
  /** (tree, server) pairs not run, and why. */
  skipped: string[]
  /** 1-minute load average before and after the run: other work on the machine skews the numbers. */
  loadAverage: { before: number; after: number }
  trees: BenchTree[]
}

export interface Report {
  meta: ReportMeta
  summaries: Summary[]
  targets: TargetCheck[]
  samples: Sample[]
}

const MiB = 1024 * 1024

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  const middle = Math.floor(sorted.length / 2)
  return sorted.length % 2 === 1 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2
}

export function summarize(samples: Sample[]): Summary[] {
  const groups = new Map<string, Sample[]>()
  for (const sample of samples) {
    const id = [sample.server, sample.tree, sample.scenario, sample.method].join('|')
    groups.set(id, [...(groups.get(id) ?? []), sample])
  }
  const summaries: Summary[] = []
  for (const all of groups.values()) {
    const first = all[0]
    // Medians of the operations that completed; NaN when none did.
    const group = all.filter(sample => !sample.error)
    const of = (pick: (m: Measurement) => number): number =>
      group.length > 0 ? median(group.map(sample => pick(sample.measurement))) : NaN
    const serverCpu = group
      .map(sample => sample.serverCpuSeconds)
      .filter((value): value is number => value !== undefined)
    const throttled = all.filter(sample => sample.throttle)
    const seconds = of(m => m.seconds)
    summaries.push({
      server: first.server,
      tree: first.tree,
      scenario: first.scenario,
      method: first.method,
      rounds: all.length,
      successes: group.length,
      throttle:
        throttled.length > 0
          ? {
              requests: throttled.reduce((sum, sample) => sum + sample.throttle!.requests, 0),
              throttled: throttled.reduce((sum, sample) => sum + sample.throttle!.throttled, 0)
            }
          : undefined,
      treeBytes: first.treeBytes,
      seconds,
      secondsMin: Math.min(...group.map(sample => sample.measurement.seconds)),
      secondsMax: Math.max(...group.map(sample => sample.measurement.seconds)),
      mbPerSecond: first.treeBytes / 1e6 / seconds,
      bytesUp: of(m => m.bytesUp),
      bytesDown: of(m => m.bytesDown),
      cpuSeconds: of(m => m.cpuSeconds),
      cpuChildrenSeconds: of(m => m.cpuChildrenSeconds),
      peakRssBytes: of(m => m.peakRssBytes),
      childPeakRssBytes: of(m => m.childPeakRssBytes),
      serverCpuSeconds: serverCpu.length > 0 ? median(serverCpu) : undefined
    })
  }
  for (const ours of summaries.filter(summary => summary.method === 'ours')) {
    const baseline = find(summaries, ours.server, ours.tree, ours.scenario, 'baseline')
    if (!baseline || ours.successes === 0 || baseline.successes === 0) continue
    ours.ratio = {
      seconds: ours.seconds / baseline.seconds,
      bytesMoved: (ours.bytesUp + ours.bytesDown) / (baseline.bytesUp + baseline.bytesDown),
      cpuSeconds: ours.cpuSeconds / baseline.cpuSeconds
    }
  }
  const order = (summary: Summary): string =>
    `${SERVER_NAMES.indexOf(summary.server)}${TREE_NAMES.indexOf(summary.tree)}${SCENARIOS.indexOf(summary.scenario)}${summary.method === 'baseline' ? 0 : 1}`
  return summaries.sort((a, b) => (order(a) < order(b) ? -1 : 1))
}

function find(
  summaries: Summary[],
  server: ServerName,
  tree: TreeName,
  scenario: Scenario,
  method: Method
): Summary | undefined {
  return summaries.find(s => s.server === server && s.tree === tree && s.scenario === scenario && s.method === method)
}

/** A scale pair: the larger tree, the smaller one, and what grows between them. */
export interface ScalePair {
  small: TreeName
  large: TreeName
  /** What the flatness target is stated against: bytes (mixed → large) or files (tiny → million). */
  measure: 'bytes' | 'files'
  /** Peak RSS may grow at most this much at 10× the measure. */
  limitAt10x: number
}

export const SCALE_PAIRS: ScalePair[] = [
  { small: 'mixed', large: 'large', measure: 'bytes', limitAt10x: 1.25 },
  { small: 'tiny', large: 'million', measure: 'files', limitAt10x: 2 }
]

/** How much larger the large tree of a pair is (bytes or files), from the trees as generated. */
export function growthOf(pair: ScalePair, trees: BenchTree[]): number | undefined {
  const small = trees.find(tree => tree.name === pair.small)
  const large = trees.find(tree => tree.name === pair.large)
  if (!small || !large) return undefined
  return pair.measure === 'bytes' ? large.base.bytes / small.base.bytes : large.base.files / small.base.files
}

/**
 * The allowed RSS growth at `growth` times the size: the issue's limit at 10×, pro-rated linearly
 * below it (at 4× the bytes: 1 + 0.25 × 3/9 ≈ 1.08×), the limit itself at 10× and above.
 */
export function allowedRssGrowth(pair: ScalePair, growth: number): number {
  return 1 + (pair.limitAt10x - 1) * Math.min(1, Math.max(0, growth - 1) / 9)
}

const ok = (summary: Summary | undefined): summary is Summary => summary !== undefined && summary.successes > 0

/**
 * The issue's targets (issue 16), checked on the real server (or on whatever S3 server was measured
 * when it was not); the flatness of peak RSS on every server that ran both trees of a scale pair.
 */
export function checkTargets(summaries: Summary[], trees: BenchTree[] = [], throttleShare = 0.2): TargetCheck[] {
  const server: ServerName = summaries.some(s => s.server === 'rgw')
    ? 'rgw'
    : summaries.some(s => s.server === 'null')
      ? 'null'
      : 'dir'
  const checks: TargetCheck[] = []
  const pair = (tree: TreeName, scenario: Scenario) => ({
    ours: find(summaries, server, tree, scenario, 'ours'),
    baseline: find(summaries, server, tree, scenario, 'baseline')
  })
  const timeRatio = (ours: Summary, baseline: Summary): string =>
    `${(ours.seconds / baseline.seconds).toFixed(2)}× (${fmt(ours.seconds, 2)} s vs ${fmt(baseline.seconds, 2)} s)`
  for (const tree of ['mixed', 'tiny'] as const) {
    for (const scenario of ['cold save', 'restore'] as const) {
      const { ours, baseline } = pair(tree, scenario)
      if (!ok(ours) || !ok(baseline)) continue
      checks.push({
        target: `${tree}: ${scenario} ≤ 0.8× the baseline's time`,
        measured: timeRatio(ours, baseline),
        met: ours.seconds / baseline.seconds <= 0.8
      })
    }
  }
  for (const tree of ['mixed', 'tiny'] as const) {
    const { ours, baseline } = pair(tree, 'incremental save')
    if (!ok(ours) || !ok(baseline)) continue
    checks.push({
      target: `${tree}: incremental save ≤ 0.1× the baseline's time`,
      measured: timeRatio(ours, baseline),
      met: ours.seconds / baseline.seconds <= 0.1
    })
    const share = ours.bytesUp / ours.treeBytes
    checks.push({
      target: `${tree}: incremental save uploads ≤ 3% of the tree's bytes`,
      measured: `${(share * 100).toFixed(2)}% (${fmt(ours.bytesUp / 1e6, 1)} MB of ${fmt(ours.treeBytes / 1e6, 0)} MB)`,
      met: share <= 0.03
    })
  }
  for (const tree of ['mixed', 'tiny'] as const) {
    const { ours, baseline } = pair(tree, 'restore over previous')
    if (!ok(ours) || !ok(baseline)) continue
    const plain = find(summaries, server, tree, 'restore changed', 'baseline')
    const intoEmpty = ok(plain) ? `; the baseline's restore of v2 into an empty folder: ${fmt(plain.seconds, 2)} s` : ''
    checks.push({
      target: `${tree}: restore over the previous version ≤ 0.2× the baseline's restore (over the previous version too)`,
      measured: `${timeRatio(ours, baseline)}${intoEmpty}`,
      met: ours.seconds / baseline.seconds <= 0.2
    })
  }
  for (const scalePair of SCALE_PAIRS) {
    const growth = growthOf(scalePair, trees)
    if (growth === undefined) continue
    const allowed = allowedRssGrowth(scalePair, growth)
    for (const name of SERVER_NAMES) {
      const ratios = SCENARIOS.flatMap(scenario => {
        const small = find(summaries, name, scalePair.small, scenario, 'ours')
        const large = find(summaries, name, scalePair.large, scenario, 'ours')
        return ok(small) && ok(large)
          ? [{ scenario, ratio: large.peakRssBytes / small.peakRssBytes, small, large }]
          : []
      })
      if (ratios.length === 0) continue
      const worst = ratios.sort((a, b) => b.ratio - a.ratio)[0]
      const stated =
        growth >= 10
          ? `${fmt(scalePair.limitAt10x, 2)}×`
          : `${fmt(allowed, 2)}× (${fmt(scalePair.limitAt10x, 2)}× at 10×, pro-rated)`
      checks.push({
        target: `ours: peak RSS of ${scalePair.large} ≤ ${stated} of ${scalePair.small}'s at ${fmt(growth, 1)}× the ${scalePair.measure}, every scenario (${name})`,
        measured: `${fmt(worst.ratio, 2)}× at most (${worst.scenario}: ${fmt(worst.large.peakRssBytes / MiB, 0)} vs ${fmt(worst.small.peakRssBytes / MiB, 0)} MiB)`,
        met: worst.ratio <= allowed
      })
    }
  }
  const throttledServer: ServerName | undefined = (['rgw', 'null'] as const).find(name =>
    summaries.some(s => s.server === name && s.scenario.startsWith('throttled'))
  )
  if (throttledServer) {
    for (const tree of TREE_NAMES) {
      const parts: string[] = []
      let met = true
      let any = false
      for (const [scenario, plain] of [
        ['throttled save', 'cold save'],
        ['throttled restore', 'restore']
      ] as const) {
        const ours = find(summaries, throttledServer, tree, scenario, 'ours')
        const unthrottled = find(summaries, throttledServer, tree, plain, 'ours')
        if (!ours) continue
        any = true
        const ratio = ok(ours) && ok(unthrottled) ? ours.seconds / unthrottled.seconds : NaN
        met &&= ours.successes === ours.rounds && ratio <= 2
        const baseline = find(summaries, throttledServer, tree, scenario, 'baseline')
        const baselinePlain = find(summaries, throttledServer, tree, plain, 'baseline')
        const baselineText = baseline
          ? `; baseline ${baseline.successes}/${baseline.rounds}${ok(baseline) && ok(baselinePlain) ? `, ${fmt(baseline.seconds / baselinePlain.seconds, 2)}×` : ''}`
          : ''
        parts.push(
          `${scenario.replace('throttled ', '')}: ${ours.successes}/${ours.rounds} succeeded, ${Number.isNaN(ratio) ? '–' : `${fmt(ratio, 2)}×`}${baselineText}`
        )
      }
      if (!any) continue
      checks.push({
        target: `${tree}: with ${fmt(throttleShare * 100, 0)}% of requests throttled, every save and restore of ours succeeds, ≤ 2× its unthrottled time (${throttledServer})`,
        measured: parts.join('; '),
        met
      })
    }
  }
  return checks
}

function fmt(value: number, digits: number): string {
  return Number.isFinite(value) ? value.toFixed(digits) : '–'
}

function resultsTable(summaries: Summary[]): string {
  const rows = [
    '| tree | scenario | method | MB up / down | s (min–max) | MB/s | CPU s (children) | peak RSS MiB (children) | server CPU s | ours ÷ baseline: time, bytes, CPU |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
  ]
  for (const s of summaries) {
    const children = s.cpuChildrenSeconds > 0.005 ? ` (${fmt(s.cpuChildrenSeconds, 2)})` : ''
    const childRss = s.childPeakRssBytes > 0 ? ` (+${fmt(s.childPeakRssBytes / MiB, 0)})` : ''
    const ratio = s.ratio
      ? `**${fmt(s.ratio.seconds, 2)}×**, ${fmt(s.ratio.bytesMoved, 2)}×, ${fmt(s.ratio.cpuSeconds, 2)}×`
      : ''
    // Failures and the throttling proxy's count, where there are any.
    const notes = [
      s.successes < s.rounds ? `${s.rounds - s.successes} of ${s.rounds} failed` : '',
      s.throttle ? `${s.throttle.throttled} of ${s.throttle.requests} requests got 503` : ''
    ].filter(Boolean)
    const scenario = notes.length > 0 ? `${s.scenario} (${notes.join('; ')})` : s.scenario
    rows.push(
      `| ${s.tree} | ${scenario} | ${s.method} | ${fmt(s.bytesUp / 1e6, 1)} / ${fmt(s.bytesDown / 1e6, 1)} | ${fmt(s.seconds, 2)} (${fmt(s.secondsMin, 2)}–${fmt(s.secondsMax, 2)}) | ${fmt(s.mbPerSecond, 0)} | ${fmt(s.cpuSeconds, 2)}${children} | ${fmt(s.peakRssBytes / MiB, 0)}${childRss} | ${s.serverCpuSeconds === undefined ? '–' : fmt(s.serverCpuSeconds, 2)} | ${ratio} |`
    )
  }
  return rows.join('\n')
}

function treeLabel(tree: BenchTree, measure: ScalePair['measure']): string {
  return measure === 'bytes'
    ? `${tree.name} ${fmt(tree.base.bytes / 2 ** 30, 2)} GiB`
    : `${tree.name} ${tree.base.files.toLocaleString('en-US')} files`
}

/**
 * Time and peak RSS against size, on one server: a row per scenario and method, for each scale pair
 * run there the smaller tree, the larger, and larger ÷ smaller (time, RSS).
 */
function scaleTable(summaries: Summary[], trees: BenchTree[], server: ServerName): string | undefined {
  const pairs = SCALE_PAIRS.filter(pair =>
    [pair.small, pair.large].every(
      name => trees.some(tree => tree.name === name) && summaries.some(s => s.server === server && s.tree === name)
    )
  )
  if (pairs.length === 0) return undefined
  const treeOf = (name: TreeName): BenchTree => trees.find(tree => tree.name === name)!
  const header = ['scenario', 'method']
  for (const pair of pairs) {
    header.push(
      `${treeLabel(treeOf(pair.small), pair.measure)}: s, RSS MiB`,
      `${treeLabel(treeOf(pair.large), pair.measure)}: s, RSS MiB`,
      `${pair.large} ÷ ${pair.small} (${fmt(growthOf(pair, trees)!, 1)}× the ${pair.measure}): time, RSS`
    )
  }
  const rows = [`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`]
  const cell = (s: Summary | undefined): string =>
    ok(s) ? `${fmt(s.seconds, 2)} s, ${fmt(s.peakRssBytes / MiB, 0)}` : s ? 'failed' : '–'
  for (const scenario of SCENARIOS) {
    for (const method of ['baseline', 'ours'] as const) {
      const cells: string[] = []
      let any = false
      for (const pair of pairs) {
        const small = find(summaries, server, pair.small, scenario, method)
        const large = find(summaries, server, pair.large, scenario, method)
        any ||= Boolean(small || large)
        const ratio =
          ok(small) && ok(large)
            ? `${fmt(large.seconds / small.seconds, 2)}×, ${method === 'ours' ? '**' : ''}${fmt(large.peakRssBytes / small.peakRssBytes, 2)}×${method === 'ours' ? '**' : ''}`
            : '–'
        cells.push(cell(small), cell(large), ratio)
      }
      if (any) rows.push(`| ${scenario} | ${method} | ${cells.join(' | ')} |`)
    }
  }
  return rows.join('\n')
}

const SERVER_HEADINGS: Record<ServerName, string> = {
  rgw: 'Real server',
  null: "Client's ceiling",
  dir: 'Local folder'
}

export function renderMarkdown(report: Report): string {
  const { meta } = report
  const lines: string[] = []
  lines.push(
    `Run of ${meta.date} (commit ${meta.commit}) on ${meta.machine.cpus} × ${meta.machine.cpuModel}, ${meta.machine.memoryGiB} GiB RAM, Linux ${meta.machine.kernel}; Node ${meta.node}; ${meta.tools.tar}; ${meta.tools.zstd}.`
  )
  lines.push(
    `Scale ${meta.scale}, ${meta.rounds} round(s), medians; the methods alternate within each round. Restores write to ${meta.restoreDir} (the large tree's to ${meta.diskRestoreDir}). ` +
      `Throttled scenarios: ${meta.throttleShare > 0 ? `${fmt(meta.throttleShare * 100, 0)}% of requests get 503 SlowDown` : 'not run'}. Load average before/after: ${meta.loadAverage.before.toFixed(2)} / ${meta.loadAverage.after.toFixed(2)}.`
  )
  lines.push('')
  lines.push('Trees:')
  for (const tree of meta.trees) {
    lines.push(
      `- **${tree.name}**: ${tree.base.files} files, ${tree.base.dirs} dirs, ${tree.base.symlinks} symlinks, ${fmt(tree.base.bytes / 1e6, 0)} MB; ` +
        `changed: ${tree.change.filesChanged} files (${fmt(tree.change.bytesRewritten / 1e6, 1)} MB rewritten), ${fmt(tree.change.bytesAppended / 1e6, 1)} MB appended`
    )
  }
  if (meta.skipped.length > 0) lines.push('', `Not run: ${meta.skipped.join('; ')}.`)
  for (const server of SERVER_NAMES) {
    const rows = report.summaries.filter(s => s.server === server)
    if (rows.length === 0) continue
    lines.push('')
    lines.push(`### ${SERVER_HEADINGS[server]}: ${meta.servers[server]}`)
    lines.push('')
    lines.push(resultsTable(rows))
  }
  lines.push('')
  lines.push(
    "MB/s is the tree's bytes over the seconds. Bytes are what the worker's sockets sent and received (HTTP included); on the dir server, what the method wrote to or read from the store. " +
      'CPU and peak RSS are the worker process\'s; "children" are tar and zstd (their CPU is included in the total). Server CPU is radosgw + OSD + monitor (or the null server), and the throttling proxy in the throttled scenarios, during the operation.'
  )
  const scaleTables = SERVER_NAMES.map(server => ({
    server,
    table: scaleTable(report.summaries, meta.trees, server)
  })).filter(entry => entry.table)
  if (scaleTables.length > 0) {
    lines.push('')
    lines.push('### Time and peak RSS against size')
    for (const { server, table } of scaleTables) {
      lines.push('')
      lines.push(`${SERVER_HEADINGS[server]} (${server}):`)
      lines.push('')
      lines.push(table!)
    }
  }
  if (report.targets.length > 0) {
    lines.push('')
    lines.push('### Targets')
    lines.push('')
    lines.push('| target | measured | met |')
    lines.push('| --- | --- | --- |')
    for (const check of report.targets)
      lines.push(`| ${check.target} | ${check.measured} | ${check.met ? 'yes' : '**no**'} |`)
  }
  return lines.join('\n') + '\n'
}
