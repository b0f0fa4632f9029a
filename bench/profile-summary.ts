/**
 * Where a worker's main thread spent its time, from a V8 CPU profile (BENCH_PROFILE=1 writes them to
 * bench/out/profiles): self time by function, and by inclusive time of the functions that matter.
 * Work on libuv's thread pool (zstd, fs) shows here only as the main thread idling.
 * Usage: node --experimental-transform-types bench/profile-summary.ts <file.cpuprofile> [rows]
 */
import { readFileSync } from 'node:fs'
import * as path from 'node:path'

interface ProfileNode {
  id: number
  callFrame: { functionName: string; url: string; lineNumber: number }
  children?: number[]
}

interface CpuProfile {
  nodes: ProfileNode[]
  samples: number[]
  timeDeltas: number[]
}

function label(node: ProfileNode): string {
  const { functionName, url, lineNumber } = node.callFrame
  const file = url ? `${path.basename(url)}:${lineNumber + 1}` : ''
  return `${functionName || '(anonymous)'}${file ? ` ${file}` : ''}`
}

export function summarizeProfile(profile: CpuProfile, rows = 25): string {
  const byId = new Map(profile.nodes.map(node => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const self = new Map<string, number>()
  const inclusive = new Map<string, number>()
  let total = 0
  profile.samples.forEach((id, index) => {
    const micros = profile.timeDeltas[index] ?? 0
    total += micros
    const node = byId.get(id)!
    self.set(label(node), (self.get(label(node)) ?? 0) + micros)
    // Each function on the stack once, however deep its recursion.
    const seen = new Set<string>()
    for (let current: number | undefined = id; current !== undefined; current = parent.get(current)) {
      const name = label(byId.get(current)!)
      if (seen.has(name)) continue
      seen.add(name)
      inclusive.set(name, (inclusive.get(name) ?? 0) + micros)
    }
  })
  const table = (map: Map<string, number>, title: string): string[] => [
    title,
    ...[...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, rows)
      .map(
        ([name, micros]) =>
          `${(micros / 1e6).toFixed(2).padStart(8)} s ${((100 * micros) / total).toFixed(1).padStart(5)}%  ${name}`
      )
  ]
  return [
    `total ${(total / 1e6).toFixed(2)} s`,
    ...table(self, 'self time:'),
    ...table(inclusive, 'inclusive time:')
  ].join('\n')
}

if (import.meta.main) {
  const [file, rows] = process.argv.slice(2)
  if (!file) throw new Error('usage: profile-summary.ts <file.cpuprofile> [rows]')
  console.log(summarizeProfile(JSON.parse(readFileSync(file, 'utf8')) as CpuProfile, rows ? Number(rows) : 25))
}
