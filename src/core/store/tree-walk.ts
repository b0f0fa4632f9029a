import { lstatSync, readdirSync, readlinkSync } from 'node:fs'
import { homedir } from 'node:os'
import * as path from 'node:path'
import type { ManifestEntry } from '../manifest/model.js'
import { portableLinkTarget, portableMode } from './platform.js'

/** A saved path: how the manifest names it, and where it is on this machine. */
export interface TreeRoot {
  spec: string
  absolute: string
}

/** A manifest entry that still knows where its file is on disk. */
export interface WalkedEntry extends ManifestEntry {
  source: string
}

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

/**
 * Every entry under the roots, without following symlinks, in (root, path) order. Synchronous:
 * a walk is a long run of tiny metadata calls, each several times cheaper without a promise.
 */
export async function walkRoots(roots: TreeRoot[]): Promise<WalkedEntry[]> {
  const entries: WalkedEntry[] = []
  for (const [index, root] of roots.entries()) walk(index, root.absolute, '', entries)
  return entries
}

function walk(root: number, source: string, relative: string, into: WalkedEntry[]): void {
  const stats = lstatSync(source)
  if (stats.isSymbolicLink()) {
    const target = portableLinkTarget(readlinkSync(source))
    into.push({ root, path: relative, type: 'symlink', mode: portableMode('symlink', stats.mode), target, source })
  } else if (stats.isFile()) {
    const mode = portableMode('file', stats.mode)
    into.push({ root, path: relative, type: 'file', mode, size: stats.size, mtime: Math.floor(stats.mtimeMs), source })
  } else if (stats.isDirectory()) {
    into.push({ root, path: relative, type: 'dir', mode: portableMode('dir', stats.mode), source })
    const names = readdirSync(source).sort()
    for (const name of names) walk(root, path.join(source, name), relative === '' ? name : `${relative}/${name}`, into)
  }
  // Sockets, FIFOs and devices are not part of a build tree and are skipped.
}
