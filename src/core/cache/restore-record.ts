import { appendFile, readFile } from 'node:fs/promises'
import { IntegrityError } from '../errors.js'
import { ruleRefusal, type PolicyRule, type SignedWriter } from './entry-signature.js'

/**
 * What a job restored from the cache, for the provenance of what it releases. Each restore appends one JSON line
 * to a job-local file; every line names the job it belongs to, and a reader takes only its own job's lines, so a
 * file left by another job or run is never mistaken for this one's. The file is as trustworthy as the job's own
 * steps: a build step of the same job could edit it (the two-job release shape keeps it apart from the signer).
 */
export interface RestoredEntry {
  kind: 'cache-entry' | 'checkpoint'
  key: string
  scope: string
  version: string
  tree: string
  /** The writer as a verified signature named it; absent when the restore checked no signature (policy any). */
  signer?: SignedWriter
}

/** resolvedDependencies[].uri of a restored entry: artifact-action-cache:<scope>/<key> */
export const RESTORED_URI_PREFIX = 'artifact-action-cache:'

export async function recordRestored(file: string, job: string, entry: RestoredEntry): Promise<void> {
  await appendFile(file, `${JSON.stringify({ job, ...entry })}\n`)
}

/** This job's restored entries, in order, without repeats; no file means none. */
export async function readRestored(file: string, job: string): Promise<RestoredEntry[]> {
  const text = await readFile(file, 'utf8').catch(() => '')
  const entries = new Map<string, RestoredEntry>()
  for (const line of text.split('\n').filter(Boolean)) {
    let parsed: unknown
    try {
      parsed = JSON.parse(line)
    } catch {
      throw new IntegrityError(`${file}: a line is not JSON; the record of restored caches was damaged`)
    }
    const { job: lineJob, ...entry } = (parsed ?? {}) as Record<string, unknown>
    if (lineJob !== job) continue
    if (!isRestoredEntry(entry)) {
      throw new IntegrityError(
        `${file}: a line of this job is not a restored entry; the record of restored caches was damaged`
      )
    }
    entries.set(`${entry.kind} ${entry.scope} ${entry.key} ${entry.tree}`, entry)
  }
  return [...entries.values()]
}

/** A whole line's entry, checked before it goes into a signed provenance: kinds, strings and a sha256 tree. */
function isRestoredEntry(entry: Record<string, unknown>): entry is Record<string, unknown> & RestoredEntry {
  const { kind, key, scope, version, tree, signer } = entry
  const strings = [key, scope, version].every(value => typeof value === 'string' && value !== '')
  const signed = signer === undefined || (typeof signer === 'object' && signer !== null && !Array.isArray(signer))
  const known = Object.keys(entry).every(name => ['kind', 'key', 'scope', 'version', 'tree', 'signer'].includes(name))
  return (
    (kind === 'cache-entry' || kind === 'checkpoint') &&
    strings &&
    signed &&
    known &&
    typeof tree === 'string' &&
    /^[0-9a-f]{64}$/.test(tree)
  )
}

/** A restored entry as a SLSA resource descriptor in resolvedDependencies. */
export function restoredDependency(entry: RestoredEntry): {
  uri: string
  digest: { sha256: string }
  annotations: Record<string, unknown>
} {
  const { kind, key, scope, version, signer } = entry
  return {
    uri: `${RESTORED_URI_PREFIX}${scope}/${key}`,
    digest: { sha256: entry.tree },
    annotations: { kind, key, scope, version, ...(signer ? { signer } : {}) }
  }
}

/**
 * Refuses a release whose signed provenance names a restored cache entry or checkpoint that the rule does not
 * accept: one restored without a signature check, or written by a ref the rule refuses.
 */
export function checkRestoredDependencies(statement: unknown, rule: PolicyRule): void {
  if (rule.kind === 'any') return
  const { predicate } = (statement ?? {}) as { predicate?: { buildDefinition?: { resolvedDependencies?: unknown } } }
  const dependencies = predicate?.buildDefinition?.resolvedDependencies
  for (const dependency of Array.isArray(dependencies) ? dependencies : []) {
    const { uri, annotations } = (dependency ?? {}) as { uri?: unknown; annotations?: Partial<RestoredEntry> }
    if (typeof uri !== 'string' || !uri.startsWith(RESTORED_URI_PREFIX)) continue
    const what = `${annotations?.kind === 'checkpoint' ? 'checkpoint' : 'cache entry'} ${uri.slice(RESTORED_URI_PREFIX.length)}`
    const signer = annotations?.signer
    if (typeof signer?.ref !== 'string')
      throw new IntegrityError(`provenance: built from ${what}, restored without a signature check`)
    const refusal = ruleRefusal(rule, signer)
    if (refusal) throw new IntegrityError(`provenance: built from ${what}, ${refusal}`)
  }
}
