import { glob, lstat } from 'node:fs/promises'
import { homedir } from 'node:os'
import * as path from 'node:path'
import { InputError, IntegrityError } from '../errors.js'
import { outermostRoots, resolveRootSpec, rootSpecFor, type TreeRoot } from '../store/tree-walk.js'

const GLOB_CHARS = /[*?[\]{}]/

/** The `path` input's lines: one pattern each, blank lines and surrounding space dropped. */
export function parsePathPatterns(text: string | string[]): string[] {
  const lines = Array.isArray(text) ? text : text.split('\n')
  return lines.map(line => line.trim()).filter(line => line.length > 0)
}

/**
 * The paths that the patterns match now, as roots of a tree to save. Patterns are those of
 * actions/cache: relative to the workspace, `~/…` or absolute, globs allowed, `!` excludes.
 */
export async function resolveSaveRoots(patterns: string[], workspace: string): Promise<TreeRoot[]> {
  if (patterns.length === 0)
    throw new InputError('path: no paths given; list the files or directories to cache, one per line')
  const home = homedir()
  const excludes = patterns
    .filter(pattern => pattern.startsWith('!'))
    .map(pattern => resolveRootSpec(pattern.slice(1), workspace, home))
  const matches = new Set<string>()
  for (const pattern of patterns.filter(candidate => !candidate.startsWith('!'))) {
    const anchored = resolveRootSpec(pattern, workspace, home)
    if (!GLOB_CHARS.test(pattern)) {
      if (await lstat(anchored).catch(() => undefined)) matches.add(anchored)
      continue
    }
    for await (const match of glob(anchored)) matches.add(path.resolve(match))
  }
  const kept = [...matches].filter(match => !excludes.some(exclude => path.matchesGlob(match, exclude))).sort()
  return outermostRoots(kept.map(absolute => ({ spec: rootSpecFor(absolute, workspace, home), absolute })))
}

/** Where a stored tree's root lands, and the directory the restore reaches it from. */
export interface RestoreTarget {
  destination: string
  /**
   * Taken as it is: the workspace for a root inside it, else the requested path that allows the
   * root (its parent, for a root that is that path). Between it and the destination the restore
   * follows no symlink.
   */
  base: string
}

/**
 * Where each root of a stored tree lands. A root must be one that the `path` patterns could have
 * saved: at or below a literal pattern, or below the fixed folders of a glob, and not excluded.
 * A relative root must also stay inside the workspace; a root outside it (such as ~/.npm) is
 * allowed only where a literal pattern names it or a folder above it. So a planted manifest can
 * write nowhere else, not even elsewhere in the workspace.
 */
export function restoreTargets(roots: string[], patterns: string[], workspace: string): RestoreTarget[] {
  const home = homedir()
  const includes = patterns.filter(pattern => !pattern.startsWith('!'))
  const resolve = (pattern: string) => resolveRootSpec(pattern, workspace, home)
  const excludes = patterns.filter(pattern => pattern.startsWith('!')).map(pattern => resolve(pattern.slice(1)))
  const literals = includes.filter(pattern => !GLOB_CHARS.test(pattern)).map(resolve)
  const globBases = includes.filter(pattern => GLOB_CHARS.test(pattern)).map(pattern => fixedFolders(resolve(pattern)))
  return roots.map(spec => {
    const refuse = (where: string) =>
      new IntegrityError(`manifest root ${JSON.stringify(spec)} lies outside ${where}; refusing to restore`)
    const destination = resolveRootSpec(spec, workspace, home)
    const isRelativeSpec = !spec.startsWith('~') && !path.isAbsolute(spec)
    const inWorkspace = isAtOrBelow(destination, workspace)
    const literal = literals.filter(allowed => isAtOrBelow(destination, allowed)).sort((a, b) => b.length - a.length)[0]
    if (isRelativeSpec && !(inWorkspace && !spec.split('/').includes('..'))) throw refuse('the workspace')
    if (!isRelativeSpec && !inWorkspace && literal === undefined) throw refuse('the workspace and the requested paths')
    const belowGlob = globBases.some(folder => isAtOrBelow(destination, folder) && destination !== folder)
    const excluded = excludes.some(exclude => path.matchesGlob(destination, exclude))
    if ((literal === undefined && !belowGlob) || excluded) throw refuse('the requested paths')
    // A root that is the literal pattern itself is reached from its parent: only the workspace is its own base.
    return { destination, base: inWorkspace ? workspace : destination === literal ? path.dirname(literal) : literal! }
  })
}

/** A glob's leading folders that hold no glob character: every match lies below them. */
function fixedFolders(pattern: string): string {
  const parts = pattern.split(path.sep)
  const firstGlob = parts.findIndex(part => GLOB_CHARS.test(part))
  return parts.slice(0, firstGlob).join(path.sep) || path.sep
}

function isAtOrBelow(target: string, folder: string): boolean {
  return target === folder || target.startsWith(folder.endsWith(path.sep) ? folder : folder + path.sep)
}
