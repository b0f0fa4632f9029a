import { lstatSync, readdirSync, readlinkSync } from 'node:fs'
import { homedir } from 'node:os'
import * as path from 'node:path'
import { grown } from '../grown.js'
import { EntryCode, type ManifestColumns } from '../manifest/columns.js'
import { PathColumnBuilder } from '../manifest/path-column.js'
import { portableLinkTarget, portableMode } from './platform.js'

/** A saved path: how the manifest names it, and where it is on this machine. */
export interface TreeRoot {
  spec: string
  absolute: string
}

/**
 * The entries under some roots as columns, the way a manifest holds them (see ManifestColumns):
 * entry `i` is `paths.at(i)` under root `rootIndexes[i]`, of type `types[i]` (an EntryCode); files
 * have a size and an mtime (NaN for other entries), symlinks a target (in entry order).
 */
export type WalkedTree = Pick<
  ManifestColumns,
  'paths' | 'types' | 'modes' | 'rootIndexes' | 'sizes' | 'mtimes' | 'targets'
>

/** How a path on this machine is named in a manifest: relative to the workspace, `~/…`, or absolute. */
export function rootSpecFor(absolute: string, workspace: string, home = homedir()): string {
  const fromWorkspace = path.relative(workspace, absolute)
  if (fromWorkspace === '') return '.'
  if (!fromWorkspace.startsWith('..') && !path.isAbsolute(fromWorkspace)) return fromWorkspace.split(path.sep).join('/')
  const fromHome = path.relative(home, absolute)
  if (fromHome !== '' && !fromHome.startsWith('..') && !path.isAbsolute(fromHome))
    return `~/${fromHome.split(path.sep).join('/')}`
  return absolute
}

/** Where a manifest's root lands on this machine. */
export function resolveRootSpec(spec: string, workspace: string, home = homedir()): string {
  if (spec === '~' || spec.startsWith('~/')) return path.join(home, spec.slice(1))
  return path.resolve(workspace, spec)
}

/** Drops roots that lie inside another root, and duplicates; keeps the order of the rest. */
export function outermostRoots(roots: TreeRoot[]): TreeRoot[] {
  const sorted = [...roots].sort((a, b) => a.absolute.length - b.absolute.length)
  const kept: TreeRoot[] = []
  for (const root of sorted) {
    if (!kept.some(other => root.absolute === other.absolute || root.absolute.startsWith(other.absolute + path.sep)))
      kept.push(root)
  }
  return roots.filter(root => kept.includes(root))
}

/** Where entry `i` of a walk of `roots` is on this machine. */
export function sourceOf(roots: readonly TreeRoot[], tree: WalkedTree, i: number): string {
  const { absolute } = roots[tree.rootIndexes[i]]
  return tree.paths.isRoot(i) ? absolute : path.join(absolute, tree.paths.at(i))
}

/**
 * Every entry under the roots, without following symlinks, in (root, path) order. Synchronous:
 * a walk is a long run of tiny metadata calls, each several times cheaper without a promise.
 */
export async function walkRoots(roots: readonly TreeRoot[]): Promise<WalkedTree> {
  const columns = new WalkColumns()
  for (const [index, root] of roots.entries()) walk(index, root.absolute, '', columns)
  return columns.tree()
}

function walk(root: number, source: string, relative: string, into: WalkColumns): void {
  const stats = lstatSync(source)
  if (stats.isSymbolicLink()) {
    into.targets.push(portableLinkTarget(readlinkSync(source)))
    into.push(root, relative, EntryCode.symlink, portableMode('symlink', stats.mode), 0, NaN)
  } else if (stats.isFile()) {
    const mode = portableMode('file', stats.mode)
    into.push(root, relative, EntryCode.file, mode, stats.size, Math.floor(stats.mtimeMs))
  } else if (stats.isDirectory()) {
    into.push(root, relative, EntryCode.dir, portableMode('dir', stats.mode), 0, NaN)
    const names = readdirSync(source).sort()
    for (const name of names) walk(root, path.join(source, name), relative === '' ? name : `${relative}/${name}`, into)
  }
  // Sockets, FIFOs and devices are not part of a build tree and are skipped.
}

/** A WalkedTree being filled: its typed columns grow by doubling. */
class WalkColumns {
  private readonly paths = new PathColumnBuilder()
  readonly targets: string[] = []
  private types = new Uint8Array(1024)
  private modes = new Uint32Array(1024)
  private rootIndexes = new Uint32Array(1024)
  private sizes = new Float64Array(1024)
  private mtimes = new Float64Array(1024)

  push(root: number, relative: string, type: number, mode: number, size: number, mtime: number): void {
    const i = this.paths.length
    this.paths.push(relative)
    if (i === this.types.length) {
      this.types = grown(this.types, new Uint8Array(2 * i))
      this.modes = grown(this.modes, new Uint32Array(2 * i))
      this.rootIndexes = grown(this.rootIndexes, new Uint32Array(2 * i))
      this.sizes = grown(this.sizes, new Float64Array(2 * i))
      this.mtimes = grown(this.mtimes, new Float64Array(2 * i))
    }
    this.types[i] = type
    this.modes[i] = mode
    this.rootIndexes[i] = root
    this.sizes[i] = size
    this.mtimes[i] = mtime
  }

  tree(): WalkedTree {
    const n = this.paths.length
    return {
      paths: this.paths.column(),
      types: this.types.subarray(0, n),
      modes: this.modes.subarray(0, n),
      rootIndexes: this.rootIndexes.subarray(0, n),
      sizes: this.sizes.subarray(0, n),
      mtimes: this.mtimes.subarray(0, n),
      targets: this.targets
    }
  }
}
