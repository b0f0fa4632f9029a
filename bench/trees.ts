import { spawnSync } from 'node:child_process'
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  openSync,
  readFileSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
  writeSync
} from 'node:fs'
import * as path from 'node:path'
import { compressibleBytes, Random, randomBytes } from './content.js'
import { summarizeTree, type TreeSummary } from './tree-digest.js'

/**
 * The benchmark's trees, generated from fixed seeds so every run and machine sees the same bytes:
 * - mixed: a build tree of about 1 GiB: tens of thousands of small files, some medium ones, ten large
 *   ones (half compressible, half random), symlinks, a few modes;
 * - tiny: about 100,000 tiny files shaped like node_modules (packages, nested node_modules, .bin links);
 * - large: mixed's shape at `largeFactor` times its bytes (4 by default, about 4.3 GB): the same small
 *   files, more medium and large ones, so the bytes grow and the file count barely does;
 * - million: tiny's shape with 1,000,000 files (its first ~100,000 are tiny's).
 * Every block of every file has a seed of its own: no two files or blocks repeat (but the LICENSE
 * files that node_modules repeats), nothing is sparse, and v1 shares no inode within itself.
 * Each is written twice: v1/tree, and v2/tree, a copy (hard links) with 1% of its files changed and
 * one large file appended to. Generated once under the bench folder and reused while the marker matches.
 */
export type TreeName = 'mixed' | 'tiny' | 'large' | 'million'
export const TREE_NAMES: TreeName[] = ['mixed', 'tiny', 'large', 'million']
/** The default factor of the large tree over mixed's bytes (BENCH_LARGE_FACTOR). */
export const DEFAULT_LARGE_FACTOR = 4
/** million has this many times tiny's files. */
export const MILLION_FACTOR = 10

export interface BenchTree {
  name: TreeName
  /** Workspaces: each holds the tree in `tree/`. */
  baseWorkspace: string
  changedWorkspace: string
  base: TreeSummary
  changed: TreeSummary
  /** How v2 differs from v1. */
  change: { filesChanged: number; bytesAppended: number; bytesRewritten: number }
}

/** Bump when the generator changes, so old trees are regenerated. */
const GENERATOR_VERSION = 1
const MiB = 1024 * 1024
/** Large files are written in blocks of this size, each from its own seed. */
const BLOCK = 4 * MiB
/** Mirrors the store's small-file limit: changed files below it are rewritten, larger ones edited in place. */
const SMALL_LIMIT = 512 * 1024
const UMASK = process.umask()

type Kind = 'text' | 'random'

interface PlannedFile {
  path: string
  size: number
  kind: Kind
  mode: number
  seed: string
}

interface TreePlan {
  dirs: Array<{ path: string; mode: number }>
  files: PlannedFile[]
  symlinks: Array<{ path: string; target: string }>
}

export function treeFolder(
  benchDir: string,
  name: TreeName,
  scale: number,
  largeFactor = DEFAULT_LARGE_FACTOR
): string {
  return path.join(benchDir, 'trees', name === 'large' ? `large${largeFactor}-x${scale}` : `${name}-x${scale}`)
}

function planOf(name: TreeName, scale: number, largeFactor: number): TreePlan {
  switch (name) {
    case 'mixed':
      return planMixed(scale)
    case 'large':
      return planMixed(scale, largeFactor)
    case 'tiny':
      return planTiny(scale)
    case 'million':
      return planTiny(scale, MILLION_FACTOR)
  }
}

/** Generates the tree unless a complete copy from this generator version is already there. */
export function ensureTree(
  benchDir: string,
  name: TreeName,
  scale: number,
  log: (line: string) => void,
  largeFactor = DEFAULT_LARGE_FACTOR
): BenchTree {
  const folder = treeFolder(benchDir, name, scale, largeFactor)
  const marker = path.join(folder, 'tree.json')
  if (existsSync(marker)) {
    const saved = JSON.parse(readFileSync(marker, 'utf8')) as BenchTree & { generator: number }
    if (saved.generator === GENERATOR_VERSION) return saved
  }
  log(`generating the ${name} tree (scale ${scale}) in ${folder}`)
  const started = Date.now()
  rmSync(folder, { recursive: true, force: true })
  const plan = planOf(name, scale, largeFactor)
  const baseWorkspace = path.join(folder, 'v1')
  const changedWorkspace = path.join(folder, 'v2')
  const phases: string[] = []
  let phaseStarted = Date.now()
  const phase = (label: string): void => {
    phases.push(`${label} ${((Date.now() - phaseStarted) / 1000).toFixed(0)} s`)
    phaseStarted = Date.now()
  }
  writeTree(path.join(baseWorkspace, 'tree'), plan)
  phase('writing v1')
  mkdirSync(changedWorkspace, { recursive: true })
  const copy = spawnSync(
    'cp',
    ['-a', '--link', path.join(baseWorkspace, 'tree'), path.join(changedWorkspace, 'tree')],
    { stdio: 'inherit' }
  )
  if (copy.status !== 0) throw new Error('cp -a --link failed')
  const change = changeTree(
    path.join(baseWorkspace, 'tree'),
    path.join(changedWorkspace, 'tree'),
    plan,
    new Random(`${name} change`),
    scale
  )
  phase('v2')
  const base = summarizeTree(path.join(baseWorkspace, 'tree'))
  const changed = summarizeTree(path.join(changedWorkspace, 'tree'))
  phase('digests')
  const tree: BenchTree = { name, baseWorkspace, changedWorkspace, base, changed, change }
  writeFileSync(marker, JSON.stringify({ generator: GENERATOR_VERSION, ...tree }, null, 2))
  log(
    `  ${tree.base.files} files, ${(tree.base.bytes / MiB).toFixed(0)} MiB, in ${((Date.now() - started) / 1000).toFixed(0)} s (${phases.join(', ')})`
  )
  return tree
}

function scaled(count: number, scale: number, minimum = 1): number {
  return Math.max(minimum, Math.round(count * scale))
}

function fileMode(random: Random): number {
  return random.chance(0.1) ? 0o755 : random.chance(0.03) ? 0o600 : 0o644
}

/**
 * A build tree: sources, object files, assets, large artifacts. With a bytes factor F > 1 (the large
 * tree), the small files and directories stay as they are and the medium and large files are
 * repeated m times, m chosen so the tree has about F times mixed's bytes; each repeat has seeds of its own.
 */
function planMixed(scale: number, bytesFactor = 1): TreePlan {
  const random = new Random('mixed plan')
  // mixed: ~258 MB of small files, ~821 MB of medium and large ones (at scale 1).
  const repeats = bytesFactor === 1 ? 1 : (1079 * bytesFactor - 258) / 821
  const plan: TreePlan = { dirs: [], files: [], symlinks: [] }
  const top = ['src', 'build', 'build/obj', 'build/assets', 'dist', 'vendor', 'tools', 'docs']
  for (const dir of top) plan.dirs.push({ path: dir, mode: 0o755 })
  for (let i = 0; i < scaled(1500, scale, 10); i++) {
    const parent = random.pick(plan.dirs).path
    plan.dirs.push({ path: `${parent}/d${i}`, mode: random.chance(0.02) ? 0o700 : 0o755 })
  }
  const textExtensions = ['js', 'ts', 'o', 'json', 'map', 'h', 'c', 'txt']
  const randomExtensions = ['png', 'gz', 'woff2', 'jpg']
  const addFile = (name: string, size: number, textShare: number, dir = random.pick(plan.dirs).path): void => {
    const kind: Kind = random.chance(textShare) ? 'text' : 'random'
    const extension = random.pick(kind === 'text' ? textExtensions : randomExtensions)
    plan.files.push({ path: `${dir}/${name}.${extension}`, size, kind, mode: fileMode(random), seed: `mixed ${name}` })
  }
  for (let i = 0; i < scaled(30000, scale); i++)
    addFile(`s${i}`, random.chance(0.01) ? 0 : random.logUniform(32, 64 * 1024), 0.8)
  for (let i = 0; i < scaled(400 * repeats, scale); i++) addFile(`m${i}`, random.logUniform(64 * 1024, 2 * MiB), 0.7)
  const largeSizes = [24, 40, 56, 72, 88]
  for (let copy = 0; copy < Math.round(repeats); copy++) {
    // mixed's own names for the first set; each further set in dist/set-N and build/set-N.
    const dist = copy === 0 ? 'dist' : `dist/set-${copy}`
    const build = copy === 0 ? 'build' : `build/set-${copy}`
    const suffix = copy === 0 ? '' : ` set ${copy}`
    if (copy > 0) plan.dirs.push({ path: dist, mode: 0o755 }, { path: build, mode: 0o755 })
    for (const [i, size] of largeSizes.entries()) {
      const bytes = Math.round(size * MiB * scale)
      plan.files.push({
        path: `${dist}/artifact-${i}.bin`,
        size: bytes,
        kind: 'text',
        mode: 0o644,
        seed: `mixed large text ${i}${suffix}`
      })
      plan.files.push({
        path: `${build}/blob-${i}.pack`,
        size: bytes,
        kind: 'random',
        mode: 0o644,
        seed: `mixed large random ${i}${suffix}`
      })
    }
  }
  for (let i = 0; i < scaled(300, scale); i++) {
    const dir = random.pick(plan.dirs).path
    const target = random.chance(0.02)
      ? 'missing-target'
      : random.chance(0.3)
        ? random.pick(plan.dirs).path
        : random.pick(plan.files).path
    plan.symlinks.push({
      path: `${dir}/link${i}`,
      target: target === 'missing-target' ? target : path.posix.relative(dir, target)
    })
  }
  return plan
}

/**
 * A node_modules folder: packages with package.json, README, LICENSE, code; nested node_modules; .bin
 * links. `filesFactor` multiplies the file count (the million tree); the sequence is tiny's, continued.
 */
function planTiny(scale: number, filesFactor = 1): TreePlan {
  const random = new Random('tiny plan')
  const plan: TreePlan = { dirs: [{ path: '.bin', mode: 0o755 }], files: [], symlinks: [] }
  const targetFiles = scaled(100000 * filesFactor, scale, 100)
  const packages: string[] = []
  const knownDirs = new Set(plan.dirs.map(dir => dir.path))
  const licenses = [0, 1, 2].map(i => ({ seed: `license ${i}`, size: 1000 + i * 90 }))
  const subdirs = ['lib', 'dist', 'src', 'types', 'lib/internal', 'dist/esm', 'dist/cjs']
  for (let p = 0; plan.files.length < targetFiles; p++) {
    const name = random.chance(0.1) ? `@scope${random.int(0, 40)}/pkg${p}` : `pkg${p}`
    const nested = packages.length > 10 && random.chance(0.2)
    const root = nested ? `${random.pick(packages)}/node_modules/${name}` : name
    packages.push(root)
    const dirs = new Set<string>()
    const dir = (relative: string): string => {
      const full = relative ? `${root}/${relative}` : root
      const parts = full.split('/')
      for (let i = 1; i <= parts.length; i++) dirs.add(parts.slice(0, i).join('/'))
      return full
    }
    const base = dir('')
    const seed = (file: string): string => `tiny ${root}/${file}`
    plan.files.push({
      path: `${base}/package.json`,
      size: random.int(400, 3000),
      kind: 'text',
      mode: 0o644,
      seed: seed('package.json')
    })
    plan.files.push({
      path: `${base}/README.md`,
      size: random.logUniform(200, 20000),
      kind: 'text',
      mode: 0o644,
      seed: seed('README.md')
    })
    const license = random.pick(licenses)
    plan.files.push({ path: `${base}/LICENSE`, size: license.size, kind: 'text', mode: 0o644, seed: license.seed })
    const count = random.logUniform(4, 200)
    for (let i = 0; i < count; i++) {
      const folder = dir(random.pick(subdirs))
      const kind: Kind = random.chance(0.04) ? 'random' : 'text'
      const extension =
        kind === 'random'
          ? random.pick(['wasm', 'png', 'node'])
          : random.pick(['js', 'js', 'd.ts', 'js.map', 'cjs', 'mjs', 'json'])
      plan.files.push({
        path: `${folder}/f${i}.${extension}`,
        size: random.logUniform(32, 12 * 1024),
        kind,
        mode: 0o644,
        seed: seed(`f${i}`)
      })
    }
    if (random.chance(0.2)) {
      const cli = `${dir('bin')}/cli.js`
      plan.files.push({ path: cli, size: random.int(300, 4000), kind: 'text', mode: 0o755, seed: seed('cli') })
      if (!nested) plan.symlinks.push({ path: `.bin/${name.replace('/', '-')}`, target: `../${name}/bin/cli.js` })
    }
    for (const d of dirs) {
      if (knownDirs.has(d)) continue
      knownDirs.add(d)
      plan.dirs.push({ path: d, mode: 0o755 })
    }
  }
  return plan
}

function contentOf(file: Pick<PlannedFile, 'kind' | 'seed'>, length: number, block = 0): Buffer {
  const seed = `${file.seed} #${block}`
  return file.kind === 'text' ? compressibleBytes(seed, length) : randomBytes(seed, length)
}

function writePlannedFile(target: string, file: PlannedFile, seedSuffix = ''): void {
  const planned = { ...file, seed: file.seed + seedSuffix }
  const fd = openSync(target, 'w', file.mode)
  try {
    for (let offset = 0, block = 0; offset < file.size; offset += BLOCK, block++) {
      const bytes = contentOf(planned, Math.min(BLOCK, file.size - offset), block)
      writeSync(fd, bytes)
    }
  } finally {
    closeSync(fd)
  }
  // open() applied the mode less the umask: set it again only where the umask took bits away.
  if ((file.mode & UMASK) !== 0) chmodSync(target, file.mode)
}

function writeTree(root: string, plan: TreePlan): void {
  mkdirSync(root, { recursive: true })
  for (const dir of plan.dirs) mkdirSync(path.join(root, dir.path), { recursive: true })
  for (const file of plan.files) writePlannedFile(path.join(root, file.path), file)
  for (const link of plan.symlinks) symlinkSync(link.target, path.join(root, link.path))
  for (const dir of plan.dirs) chmodSync(path.join(root, dir.path), dir.mode)
}

/**
 * Changes 1% of the files of a hard-linked copy (each replaced, never written through the link):
 * small ones get new content of the same size, large ones a 4 KiB edit in the middle; and appends
 * to the largest compressible file, as a growing log or archive would.
 */
function changeTree(
  baseRoot: string,
  root: string,
  plan: TreePlan,
  random: Random,
  scale: number
): BenchTree['change'] {
  const change = { filesChanged: 0, bytesAppended: 0, bytesRewritten: 0 }
  const chosen = new Set<number>()
  const count = Math.max(1, Math.round(plan.files.length / 100))
  while (chosen.size < count) {
    const index = random.int(0, plan.files.length)
    if (plan.files[index].size > 0) chosen.add(index)
  }
  for (const index of [...chosen].sort((a, b) => a - b)) {
    const file = plan.files[index]
    const target = path.join(root, file.path)
    unlinkSync(target)
    if (file.size < SMALL_LIMIT) {
      writePlannedFile(target, file, ' v2')
      change.bytesRewritten += file.size
    } else {
      copyFileSync(path.join(baseRoot, file.path), target)
      const edit = randomBytes(`${file.seed} edit`, 4096)
      const fd = openSync(target, 'r+')
      writeSync(fd, edit, 0, edit.length, random.int(0, file.size - edit.length))
      closeSync(fd)
      chmodSync(target, file.mode)
      change.bytesRewritten += edit.length
    }
    change.filesChanged++
  }
  const large = plan.files
    .filter(file => file.kind === 'text' && file.size >= SMALL_LIMIT)
    .sort((a, b) => b.size - a.size)[0]
  if (large && large.size >= 8 * MiB * scale) {
    const target = path.join(root, large.path)
    if (!chosen.has(plan.files.indexOf(large))) {
      unlinkSync(target)
      copyFileSync(path.join(baseRoot, large.path), target)
    }
    const appended = contentOf(
      { kind: 'text', seed: `${large.seed} appended` },
      Math.max(64 * 1024, Math.round(MiB * scale))
    )
    writeFileSync(target, appended, { flag: 'a' })
    change.bytesAppended = appended.length
    change.filesChanged += chosen.has(plan.files.indexOf(large)) ? 0 : 1
  }
  return change
}
