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
  if (patterns.length === 0) throw new InputError('path: no paths given; list the files or directories to cache, one per line')
  const home = homedir()
  const excludes = patterns.filter(pattern => pattern.startsWith('!')).map(pattern => resolveRootSpec(pattern.slice(1), workspace, home))
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

/**
 * Where each root of a stored tree lands. A relative root must stay inside the workspace; a root
 * outside it (such as ~/.npm) is allowed only where a literal `path` pattern of this restore names
 * it or a folder above it, so a planted manifest cannot write anywhere else.
 */
export function restoreDestinations(roots: string[], patterns: string[], workspace: string): string[] {
  const home = homedir()
  const allowedOutside = patterns.filter(pattern => !pattern.startsWith('!') && !GLOB_CHARS.test(pattern)).map(pattern => resolveRootSpec(pattern, workspace, home))
  return roots.map(spec => {
    const destination = resolveRootSpec(spec, workspace, home)
    const relative = path.relative(workspace, destination)
    const inWorkspace = !relative.startsWith('..') && !path.isAbsolute(relative)
    const isRelativeSpec = !spec.startsWith('~') && !path.isAbsolute(spec)
    if (isRelativeSpec && inWorkspace && !spec.split('/').includes('..')) return destination
    if (!isRelativeSpec && allowedOutside.some(allowed => destination === allowed || destination.startsWith(allowed + path.sep))) return destination
    throw new IntegrityError(`manifest root ${JSON.stringify(spec)} lies outside the workspace and the requested paths; refusing to restore`)
  })
}
