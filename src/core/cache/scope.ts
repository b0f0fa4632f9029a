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
  const pull = /^refs\/pull\/(\d+)\//.exec(ref)
  if (pull) return `pr/${pull[1]}`
  if (ref.startsWith('refs/heads/')) return `branch/${ref.slice('refs/heads/'.length)}`
  if (ref.startsWith('refs/tags/')) return `tag/${ref.slice('refs/tags/'.length)}`
  return `ref/${ref.replace(/^refs\//, '')}`
}

export function branchScope(branch: string): string {
  return scopeOfRef(`refs/heads/${branch.replace(/^refs\/heads\//, '')}`)
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
