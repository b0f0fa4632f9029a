// A restore over the tree it restored before, with the stat index and without it: seconds and the files
// read and hashed. Generates a tree of STAT_FILES files (default 20,000) of ~5 KiB (~100 MB) once.
//   node --experimental-transform-types --no-warnings --import ./scripts/ts-register.mjs bench/stat-index.ts
// LOCAL_DIR (default /dev/shm/artifact-action-stat-index) holds the tree, the store, the target and the
// index; STAT_ROUNDS (default 5) restores of each kind alternate, and the medians are printed.
import { existsSync, lstatSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import * as path from 'node:path'
import { restoreEntry, saveEntry } from '../src/core/cache/checkpoint-cache.js'
import { FsStore } from '../src/core/store/fs-store.js'
import type { MaterializeStats } from '../src/core/store/materialize.js'
import { racyWindowNs } from '../src/core/store/stat-index.js'

const local = process.env.LOCAL_DIR ?? '/dev/shm/artifact-action-stat-index'
const files = Number(process.env.STAT_FILES ?? 20_000)
const rounds = Number(process.env.STAT_ROUNDS ?? 5)
const source = path.join(local, `source-${files}`)
const store = new FsStore(path.join(local, `store-${files}`))
const target = path.join(local, 'target')
const statIndex = path.join(local, 'stat-index')
const request = { store, key: 'v1', paths: ['tree'], readScopes: ['branch/main'] }

if (!existsSync(path.join(source, 'done'))) {
  rmSync(local, { recursive: true, force: true })
  // Varied bytes per file (compressible, like build output), 100 files a folder.
  const line = (i: number, j: number): string => `export const value${i}_${j} = ${(i * 7919 + j * 104729) % 1e9}\n`
  for (let i = 0; i < files; i++) {
    const dir = path.join(source, 'tree', `d${Math.floor(i / 100)}`)
    if (i % 100 === 0) mkdirSync(dir, { recursive: true })
    let text = ''
    for (let j = 0; text.length < 4096 + (i % 2048); j++) text += line(i, j)
    writeFileSync(path.join(dir, `f${i}.js`), text)
  }
  const saved = await saveEntry({ ...request, workspace: source })
  if (saved.status !== 'saved') throw new Error(`save: ${saved.status}`)
  writeFileSync(path.join(source, 'done'), '')
}

const restore = async (index: string | undefined): Promise<{ seconds: number; stats: MaterializeStats }> => {
  const started = performance.now()
  const result = await restoreEntry({ ...request, workspace: target, statIndex: index })
  if (result.status !== 'found' || !result.stats) throw new Error(`restore: ${result.status}`)
  return { seconds: (performance.now() - started) / 1000, stats: result.stats }
}

type Run = { seconds: number; stats: MaterializeStats }
const samples: Record<string, Run[]> = {}
const sample = (kind: string, run: Run): void => void (samples[kind] ??= []).push(run)
// Into an empty folder, where the index only costs its writing (an lstat per file, the file itself).
for (let round = 0; round < rounds; round++) {
  for (const [kind, index] of [
    ['into an empty folder without', undefined],
    ['into an empty folder with', statIndex]
  ] as const) {
    rmSync(target, { recursive: true, force: true })
    sample(kind, await restore(index))
  }
}
rmSync(target, { recursive: true, force: true })
rmSync(statIndex, { recursive: true, force: true })
await restore(statIndex)
// Past the racy window, one restore hashes what the first could not record yet, and records it.
const ctime = lstatSync(path.join(target, 'tree', 'd0', 'f0.js'), { bigint: true }).ctimeNs
await new Promise(resolve => setTimeout(resolve, Number(racyWindowNs(ctime) / 1_000_000n) + 50))
await restore(statIndex)
for (let round = 0; round < rounds; round++) {
  sample('over itself without', await restore(undefined))
  sample('over itself with', await restore(statIndex))
}
const median = (values: number[]): number => values.sort((a, b) => a - b)[values.length >> 1]
const { files: total, treeBytes } = samples['over itself with'][0].stats
console.log(`${total} files, ${(treeBytes / 1e6).toFixed(1)} MB, ${rounds} rounds`)
for (const [kind, runs] of Object.entries(samples)) {
  const { filesUnchanged, filesTrusted } = runs[0].stats
  const seconds = runs.map(run => run.seconds)
  console.log(
    `${kind} the stat index: median ${median(seconds).toFixed(2)} s (${seconds.map(s => s.toFixed(2)).join(', ')}); ` +
      `${filesUnchanged} unchanged, ${filesUnchanged - filesTrusted} read and hashed`
  )
}
