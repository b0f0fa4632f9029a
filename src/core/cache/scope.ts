import { branchOfRef, branchRef, pullRequestOfRef, refPath, tagOfRef } from '../git-ref.js'

/**
 * Scopes keep branches apart, as GitHub's own cache does: an entry is written under the scope of the
 * ref that made it, and a restore reads its own scope, then the PR's base branch, then the default
 * branch. A PR never writes outside its own scope.
 */
export interface RefContext {
  /** The ref being built, e.g. refs/heads/main, refs/pull/12/merge, refs/tags/v1.2.0. */
  ref?: string
  /** For a pull request, the branch it merges into (GITHUB_BASE_REF). */
  baseRef?: string
  defaultBranch?: string
}

export const LOCAL_SCOPE = 'local'

export function scopeOfRef(ref: string | undefined): string {
  if (!ref) return LOCAL_SCOPE
  const pull = pullRequestOfRef(ref)
  if (pull !== undefined) return `pr/${pull}`
  const branch = branchOfRef(ref)
  if (branch !== undefined) return `branch/${branch}`
  const tag = tagOfRef(ref)
  if (tag !== undefined) return `tag/${tag}`
  return `ref/${refPath(ref)}`
}

export function branchScope(branch: string): string {
  return scopeOfRef(branchRef(branch))
}

export function writeScope(context: RefContext): string {
  return scopeOfRef(context.ref)
}

/** The scopes a restore reads, in order, without repeats. */
export function readScopes(context: RefContext): string[] {
  const scopes = [writeScope(context)]
  if (context.baseRef) scopes.push(branchScope(context.baseRef))
  if (context.defaultBranch) scopes.push(branchScope(context.defaultBranch))
  return [...new Set(scopes)]
}
