import * as glob from '@actions/glob'
import { homedir } from 'node:os'
import * as path from 'node:path'
import { InputError, IntegrityError } from '../errors.js'
import { outermostRoots, resolveRootSpec, rootSpecFor, type TreeRoot } from '../store/tree-walk.js'

/** The `path` input's lines: one pattern each, blank lines and surrounding space dropped. */
export function parsePathPatterns(text: string | string[]): string[] {
  const lines = Array.isArray(text) ? text : text.split('\n')
  return lines.map(line => line.trim()).filter(line => line.length > 0)
}

function anchorPattern(pattern: string, workspace: string): string {
  const negated = pattern.startsWith('!')
  const body = negated ? pattern.slice(1) : pattern
  const anchored = body.startsWith('~') || path.isAbsolute(body) ? body : path.join(workspace, body)
  return (negated ? '!' : '') + anchored
}

/** The paths that the patterns match now, as roots of a tree to save. */
export async function resolveSaveRoots(patterns: string[], workspace: string): Promise<TreeRoot[]> {
  if (patterns.length === 0) throw new InputError('path: no paths given; list the files or directories to cache, one per line')
  const globber = await glob.create(patterns.map(pattern => anchorPattern(pattern, workspace)).join('\n'), { implicitDescendants: false, followSymbolicLinks: false })
  const matches = (await globber.glob()).sort()
  return outermostRoots(matches.map(absolute => ({ spec: rootSpecFor(absolute, workspace), absolute })))
}

const GLOB_CHARS = /[*?[\]{}]/

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
