/**
 * Git refs as a job names what it builds (refs/heads/main, refs/tags/v1.2.0, refs/pull/12/merge):
 * the one place that takes them apart and puts branch refs together.
 */
const REFS = 'refs/'
const HEADS = 'refs/heads/'
const TAGS = 'refs/tags/'
const PULL = /^refs\/pull\/(\d+)\//

/** Whether the text is given as a git ref rather than a bare name. */
export function isGitRef(text: string): boolean {
  return text.startsWith(REFS)
}

/** The ref without its leading refs/ (refs/notes/x → notes/x). */
export function refPath(ref: string): string {
  return isGitRef(ref) ? ref.slice(REFS.length) : ref
}

/** The branch a ref names (refs/heads/main → main); undefined for any other ref. */
export function branchOfRef(ref: string | undefined): string | undefined {
  return ref?.startsWith(HEADS) ? ref.slice(HEADS.length) : undefined
}

/** The tag a ref names (refs/tags/v1.2.3 → v1.2.3); undefined for any other ref. */
export function tagOfRef(ref: string | undefined): string | undefined {
  return ref?.startsWith(TAGS) ? ref.slice(TAGS.length) : undefined
}

/** The number of the pull request a ref names (refs/pull/12/merge → 12); undefined for any other ref. */
export function pullRequestOfRef(ref: string | undefined): string | undefined {
  return ref === undefined ? undefined : PULL.exec(ref)?.[1]
}

/** A branch given either way, as a name (refs/heads/main and main → main). */
export function branchName(branch: string): string {
  return branchOfRef(branch) ?? branch
}

/** The ref of a branch given either way (main and refs/heads/main → refs/heads/main). */
export function branchRef(branch: string): string {
  return `${HEADS}${branchName(branch)}`
}

/** A ref pattern of a restore policy: a ref, or a ref prefix ending in `*`. */
export function isRefPattern(pattern: string): boolean {
  return /^refs\/[^*\s]+\*?$/.test(pattern)
}
