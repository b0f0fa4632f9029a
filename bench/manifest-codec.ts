// Times a manifest's encode, digest and decodes (objects, columns) on a real tree, 7 runs each, medians.
//   node --experimental-transform-types --no-warnings --import ./scripts/ts-register.mjs bench/manifest-codec.ts [tree]
// The default tree is the bench's 100,000-file one (`npm run bench` makes it).
// With --delta [files] it times resolving a stored delta (a 1% change of a generated tree) instead.
import type { ObjectStore } from '../src/core/store/object-store.js'
import { decodeManifest, decodeManifestColumns, sealManifest, treeDigest } from '../src/core/manifest/encoding.js'
import { snapshotTree } from '../src/core/store/snapshot.js'
import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { columnsOf } from '../src/core/manifest/columns.js'
import { applyDelta, encodeDelta } from '../src/core/manifest/delta.js'
import { readStored } from '../src/core/manifest/encoding.js'
import { comparePaths } from '../src/core/manifest/path-column.js'
import { MANIFEST_SCHEMA, type BlobLocation, type Manifest, type ManifestEntry } from '../src/core/manifest/model.js'

if (process.argv[2] === '--delta') {
  await benchDelta(Number(process.argv[3] ?? 100_000))
  process.exit(0)
}
if (process.argv[2] === '--delta-run') {
  resolveDeltaOnce(process.argv[3])
  process.exit(0)
}

const tree = process.argv[2] ?? '/tmp/artifact-action-bench/trees/tiny-x1/v1/tree'
/** Stores nothing: only the manifest is wanted. */
const nowhere: ObjectStore = {
  location: 'nowhere',
  identity: 'nowhere',
  put: async () => 'created' as const,
  get: async () => undefined,
  getStream: async () => undefined,
  head: async () => undefined,
  list: async function* () {},
  delete: async () => {},
  check: async () => {}
}

const { encoded: stored, digest } = await snapshotTree({ store: nowhere, roots: [{ spec: 'tree', absolute: tree }] })
const manifest = decodeManifest(stored, digest)
console.log(
  `${tree}: ${manifest.entries.length} entries, ${Object.keys(manifest.blobs).length} blobs, stored ${(stored.length / 1e6).toFixed(2)} MB`
)

function time(name: string, run: () => unknown): void {
  const runs: number[] = []
  for (let i = 0; i < 7; i++) {
    const start = performance.now()
    run()
    runs.push(performance.now() - start)
  }
  runs.sort((a, b) => a - b)
  console.log(`${name.padEnd(24)} median ${runs[3].toFixed(0)} ms (min ${runs[0].toFixed(0)})`)
}

time('seal (digest + encode)', () => sealManifest(manifest))
time('tree digest', () => treeDigest(manifest))
time('decode as columns', () => decodeManifestColumns(stored, digest))
time('decode as objects', () => decodeManifest(stored, digest))

/**
 * A generated tree of `files` files in shared frames, and the same tree with 1% of them changed
 * (new content elsewhere), stored as a delta; each run resolves it in a process of its own, so that
 * its peak RSS is the resolve's.
 */
async function benchDelta(files: number): Promise<void> {
  const hex = (n: number): string => createHash('sha256').update(String(n)).digest('hex')
  const pack = (n: number): string => `${'p'.repeat(56)}${n.toString(16).padStart(8, '0')}`
  // Shaped like node_modules: packages of 6 to 125 files in a few folders, shared licenses, .bin links.
  const entries: ManifestEntry[] = [{ root: 0, path: '', type: 'dir', mode: 0o755 }]
  const blobs: Record<string, BlobLocation> = {}
  const dirs = new Set<string>()
  const addDir = (dir: string) => {
    for (let at = dir.indexOf('/'); ; at = dir.indexOf('/', at + 1)) {
      const prefix = at < 0 ? dir : dir.slice(0, at)
      if (!dirs.has(prefix)) {
        dirs.add(prefix)
        entries.push({ root: 0, path: prefix, type: 'dir', mode: 0o755 })
      }
      if (at < 0) return
    }
  }
  const subdirs = ['lib', 'dist', 'src', 'types', 'lib/internal', 'dist/esm', 'dist/cjs']
  addDir('.bin')
  let count = 0
  const addFile = (path: string, id: number) => {
    const size = 100 + (id % 9000)
    blobs[hex(id)] ??= [pack(Math.floor(count / 4096)), 0, 1 << 19, size, 2, (count % 4096) * 1000, 1 << 24]
    entries.push({ root: 0, path, type: 'file', mode: 0o644, size, blobs: [hex(id)], mtime: 1.7e12 + count++ })
  }
  for (let p = 0; count < files; p++) {
    const root = p % 10 === 3 && p > 10 ? `pkg${p - 7}/node_modules/pkg${p}` : `pkg${p}`
    addDir(root)
    addFile(`${root}/package.json`, 10 + count)
    addFile(`${root}/LICENSE`, 1 + (p % 3))
    for (let i = 0; i < 4 + ((p * 37) % 120) && count < files; i++) {
      const folder = `${root}/${subdirs[(p + i) % subdirs.length]}`
      addDir(folder)
      addFile(`${folder}/f${i}.js`, 10 + count)
    }
    if (p % 5 === 0 && !root.includes('/'))
      entries.push({ root: 0, path: `.bin/pkg${p}`, type: 'symlink', mode: 0o777, target: `../${root}/package.json` })
  }
  entries.sort((a, b) => comparePaths(a.path, b.path))
  const base: Manifest = { schema: MANIFEST_SCHEMA, roots: ['build'], entries, blobs }
  const nextBlobs = { ...blobs }
  const changed = entries.map((entry, i) => {
    if (entry.type !== 'file' || entry.path.endsWith('LICENSE') || i % 100 !== 50) return entry
    const digest = hex(10_000_000 + i)
    nextBlobs[digest] = ['s'.repeat(64), i * 10, 500, entry.size!, 1]
    return { ...entry, blobs: [digest], mtime: 1.8e12 + i }
  })
  const next: Manifest = { ...base, entries: changed, blobs: nextBlobs }
  const sealed = sealManifest(base)
  const digest = treeDigest(next)
  const delta = encodeDelta({ digest: sealed.digest, columns: columnsOf(base) }, columnsOf(next))!
  const dir = mkdtempSync(path.join(tmpdir(), 'manifest-delta-'))
  writeFileSync(path.join(dir, 'base'), sealed.encoded)
  writeFileSync(path.join(dir, 'delta'), delta)
  writeFileSync(path.join(dir, 'digests'), JSON.stringify({ base: sealed.digest, digest }))
  console.log(
    `${count} files (+ ${entries.length - count} dirs and links), ${changed.filter((e, i) => e !== entries[i]).length} changed: ` +
      `base ${(sealed.encoded.length / 1e6).toFixed(2)} MB, delta ${(delta.length / 1e3).toFixed(1)} kB stored`
  )
  const runs: Array<{ ms: number; cpuMs: number; peakRss: number; peakRssAdded: number; heapAdded: number }> = []
  try {
    for (let i = 0; i < 5; i++) {
      const args = [...process.execArgv, '--expose-gc', process.argv[1], '--delta-run', dir]
      runs.push(JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8' })))
    }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
  const median = (key: keyof (typeof runs)[0]) => runs.map(run => run[key]).sort((a, b) => a - b)[2]
  const mib = (kb: number) => `${(kb / 1024).toFixed(1)} MiB`
  console.log(`resolve (applyDelta), median of 5 processes:`)
  console.log(`  wall ${median('ms').toFixed(0)} ms, cpu ${median('cpuMs').toFixed(0)} ms`)
  console.log(`  peak RSS ${mib(median('peakRss'))} (+${mib(median('peakRssAdded'))} over the loaded base and delta)`)
  console.log(`  memory held by the result (heap and array buffers) ${mib(median('heapAdded'))}`)
}

/** Bytes of JS heap and array buffers in use. */
function held(): number {
  const usage = process.memoryUsage()
  return usage.heapUsed + usage.arrayBuffers
}

/** One resolve of the delta benchDelta stored in `dir`, as JSON on stdout. */
function resolveDeltaOnce(dir: string): void {
  const gc = (globalThis as { gc?: () => void }).gc!
  const digests = JSON.parse(readFileSync(path.join(dir, 'digests'), 'utf8')) as { base: string; digest: string }
  const baseStored = readStored(readFileSync(path.join(dir, 'base')), digests.base)
  const stored = readStored(readFileSync(path.join(dir, 'delta')), digests.digest)
  if (!('columns' in baseStored) || !('delta' in stored)) throw new Error('not a full base and a delta')
  gc()
  const rssBefore = process.resourceUsage().maxRSS
  const heapBefore = held()
  const cpuBefore = process.cpuUsage()
  const start = performance.now()
  const columns = applyDelta(stored.delta, baseStored.columns, digests.digest)
  const ms = performance.now() - start
  const cpu = process.cpuUsage(cpuBefore)
  const peakRss = process.resourceUsage().maxRSS
  gc()
  const heapAdded = (held() - heapBefore) / 1024
  if (columns.paths.length === 0) throw new Error('resolved to nothing')
  console.log(
    JSON.stringify({ ms, cpuMs: (cpu.user + cpu.system) / 1000, peakRss, peakRssAdded: peakRss - rssBefore, heapAdded })
  )
}
