import type { Measurement } from './measure.js'
import type { ServerName } from './servers.js'
import type { BenchTree, TreeName } from './trees.js'
import type { Method } from './workers.js'

export const SCENARIOS = ['cold save', 'restore', 'incremental save', 'restore changed'] as const
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
}

/** The medians over the rounds of one (server, tree, scenario, method). */
export interface Summary {
  server: ServerName
  tree: TreeName
  scenario: Scenario
  method: Method
  rounds: number
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
  for (const group of groups.values()) {
    const first = group[0]
    const of = (pick: (m: Measurement) => number): number => median(group.map(sample => pick(sample.measurement)))
    const serverCpu = group.map(sample => sample.serverCpuSeconds).filter((value): value is number => value !== undefined)
    const seconds = of(m => m.seconds)
    summaries.push({
      server: first.server,
      tree: first.tree,
      scenario: first.scenario,
      method: first.method,
      rounds: group.length,
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
    if (!baseline) continue
    ours.ratio = {
      seconds: ours.seconds / baseline.seconds,
      bytesMoved: (ours.bytesUp + ours.bytesDown) / (baseline.bytesUp + baseline.bytesDown),
      cpuSeconds: ours.cpuSeconds / baseline.cpuSeconds
    }
  }
  const order = (summary: Summary): string => `${summary.server === 'rgw' ? 0 : 1}${summary.tree}${SCENARIOS.indexOf(summary.scenario)}${summary.method === 'baseline' ? 0 : 1}`
  return summaries.sort((a, b) => (order(a) < order(b) ? -1 : 1))
}

function find(summaries: Summary[], server: ServerName, tree: TreeName, scenario: Scenario, method: Method): Summary | undefined {
  return summaries.find(s => s.server === server && s.tree === tree && s.scenario === scenario && s.method === method)
}

/** The targets, checked on the real server (or on whatever server was measured when it was not). */
export function checkTargets(summaries: Summary[]): TargetCheck[] {
  const server: ServerName = summaries.some(s => s.server === 'rgw') ? 'rgw' : 'null'
  const checks: TargetCheck[] = []
  const pair = (tree: TreeName, scenario: Scenario) => ({ ours: find(summaries, server, tree, scenario, 'ours'), baseline: find(summaries, server, tree, scenario, 'baseline') })
  for (const tree of ['mixed', 'tiny'] as const) {
    const { ours, baseline } = pair(tree, 'incremental save')
    if (!ours || !baseline) continue
    const timeRatio = ours.seconds / baseline.seconds
    checks.push({ target: `${tree}: incremental save ≤ 0.1× the baseline's time`, measured: `${timeRatio.toFixed(3)}× (${fmt(ours.seconds, 2)} s vs ${fmt(baseline.seconds, 2)} s)`, met: timeRatio <= 0.1 })
    const share = ours.bytesUp / ours.treeBytes
    checks.push({ target: `${tree}: incremental save uploads ≤ 3% of the tree's bytes`, measured: `${(share * 100).toFixed(2)}% (${fmt(ours.bytesUp / 1e6, 1)} MB of ${fmt(ours.treeBytes / 1e6, 0)} MB)`, met: share <= 0.03 })
  }
  for (const scenario of ['cold save', 'restore'] as const) {
    const { ours, baseline } = pair('mixed', scenario)
    if (!ours || !baseline) continue
    const speedup = baseline.seconds / ours.seconds
    checks.push({ target: `mixed: ${scenario} ≥ 1.2× the baseline's throughput`, measured: `${speedup.toFixed(2)}× (${fmt(ours.mbPerSecond, 0)} vs ${fmt(baseline.mbPerSecond, 0)} MB/s)`, met: speedup >= 1.2 })
  }
  const { ours, baseline } = pair('tiny', 'restore')
  if (ours && baseline) {
    checks.push({ target: 'tiny: restore no slower than the baseline', measured: `${fmt(ours.seconds, 2)} s vs ${fmt(baseline.seconds, 2)} s`, met: ours.seconds <= baseline.seconds })
  }
  const worst = summaries.filter(s => s.method === 'ours').sort((a, b) => b.peakRssBytes - a.peakRssBytes)[0]
  if (worst) {
    checks.push({
      target: 'ours: peak RSS ≤ 256 MiB in every scenario',
      measured: `${fmt(worst.peakRssBytes / MiB, 0)} MiB at most (${worst.tree} ${worst.scenario}, ${worst.server})`,
      met: worst.peakRssBytes <= 256 * MiB
    })
  }
  return checks
}

function fmt(value: number, digits: number): string {
  return value.toFixed(digits)
}

function resultsTable(summaries: Summary[]): string {
  const rows = [
    '| tree | scenario | method | MB up / down | s (min–max) | MB/s | CPU s (children) | peak RSS MiB (children) | server CPU s | ours ÷ baseline: time, bytes, CPU |',
    '| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |'
  ]
  for (const s of summaries) {
    const children = s.cpuChildrenSeconds > 0.005 ? ` (${fmt(s.cpuChildrenSeconds, 2)})` : ''
    const childRss = s.childPeakRssBytes > 0 ? ` (+${fmt(s.childPeakRssBytes / MiB, 0)})` : ''
    const ratio = s.ratio ? `**${fmt(s.ratio.seconds, 2)}×**, ${fmt(s.ratio.bytesMoved, 2)}×, ${fmt(s.ratio.cpuSeconds, 2)}×` : ''
    rows.push(
      `| ${s.tree} | ${s.scenario} | ${s.method} | ${fmt(s.bytesUp / 1e6, 1)} / ${fmt(s.bytesDown / 1e6, 1)} | ${fmt(s.seconds, 2)} (${fmt(s.secondsMin, 2)}–${fmt(s.secondsMax, 2)}) | ${fmt(s.mbPerSecond, 0)} | ${fmt(s.cpuSeconds, 2)}${children} | ${fmt(s.peakRssBytes / MiB, 0)}${childRss} | ${s.serverCpuSeconds === undefined ? '–' : fmt(s.serverCpuSeconds, 2)} | ${ratio} |`
    )
  }
  return rows.join('\n')
}

export function renderMarkdown(report: Report): string {
  const { meta } = report
  const lines: string[] = []
  lines.push(`Run of ${meta.date} (commit ${meta.commit}) on ${meta.machine.cpus} × ${meta.machine.cpuModel}, ${meta.machine.memoryGiB} GiB RAM, Linux ${meta.machine.kernel}; Node ${meta.node}; ${meta.tools.tar}; ${meta.tools.zstd}.`)
  lines.push(`Scale ${meta.scale}, ${meta.rounds} round(s), medians; the methods alternate within each round. Restores write to ${meta.restoreDir}. Load average before/after: ${meta.loadAverage.before.toFixed(2)} / ${meta.loadAverage.after.toFixed(2)}.`)
  lines.push('')
  lines.push('Trees:')
  for (const tree of meta.trees) {
    lines.push(
      `- **${tree.name}**: ${tree.base.files} files, ${tree.base.dirs} dirs, ${tree.base.symlinks} symlinks, ${fmt(tree.base.bytes / 1e6, 0)} MB; ` +
        `changed: ${tree.change.filesChanged} files (${fmt(tree.change.bytesRewritten / 1e6, 1)} MB rewritten), ${fmt(tree.change.bytesAppended / 1e6, 1)} MB appended`
    )
  }
  for (const server of ['rgw', 'null'] as const) {
    const rows = report.summaries.filter(s => s.server === server)
    if (rows.length === 0) continue
    lines.push('')
    lines.push(`### ${server === 'rgw' ? 'Real server' : "Client's ceiling"}: ${meta.servers[server]}`)
    lines.push('')
    lines.push(resultsTable(rows))
  }
  lines.push('')
  lines.push('MB/s is the tree\'s bytes over the seconds. Bytes are what the worker\'s sockets sent and received (HTTP included). ' +
    'CPU and peak RSS are the worker process\'s; "children" are tar and zstd (their CPU is included in the total). Server CPU is radosgw + OSD + monitor (or the null server) during the operation.')
  if (report.targets.length > 0) {
    lines.push('')
    lines.push('### Targets')
    lines.push('')
    lines.push('| target | measured | met |')
    lines.push('| --- | --- | --- |')
    for (const check of report.targets) lines.push(`| ${check.target} | ${check.measured} | ${check.met ? 'yes' : '**no**'} |`)
  }
  return lines.join('\n') + '\n'
}
