import { InputError } from '../errors.js'
import { branchName, isGitRef } from '../git-ref.js'
import { scopeOfRef } from './scope.js'

/**
 * The rules of a prune and their parsing from text, shared by the prune/ sub-action and the CLI:
 * each bad value is reported under the name its adapter gave it (an input or a flag).
 */

export interface PruneRules {
  /** Evict entries not used (restored, or else saved) for longer than this. */
  maxAgeMs?: number
  /** Evict least recently used entries until the stored bytes still referenced fit. */
  maxBytes?: number
  /** Keep at most this many entries in each scope, the most recently used. */
  maxEntriesPerScope?: number
  /** Evict every entry of these scopes, e.g. a closed pull request's pr/12. */
  deleteScopes?: readonly string[]
  /** Keep this many revisions of each key, the newest; the older ones are evicted. Default 1. */
  keepVersions?: number
  /** The default branch, e.g. main: with `protectDefaultBranch`, its newest entry of each key family is kept. */
  defaultBranch?: string
  /** Keep the default branch's newest entry of each key family whatever the count and size budgets. Default true. */
  protectDefaultBranch?: boolean
  /** What a budget evicts first; default 'branches-first' (see EVICT_ORDERS). */
  evictOrder?: EvictOrder
}

/**
 * branches-first: entries of pull requests, other branches and tags before the default branch's,
 * each group least recently used first; lru: least recently used first, whatever the scope.
 */
export const EVICT_ORDERS = ['branches-first', 'lru'] as const
export type EvictOrder = (typeof EVICT_ORDERS)[number]

export const DEFAULT_KEEP_VERSIONS = 1

/** The rules, and the grace period of the sweep, as parsed from their texts. */
export interface ParsedPruneRules extends PruneRules {
  graceMs?: number
}

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** "7d", "12h", "90m", "30s", "2w" (one number, one unit) to milliseconds. */
export function parseDuration(text: string, input: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim())
  if (!match)
    throw new InputError(
      `${input}: "${text}" is not a duration; give a number and a unit s, m, h, d or w, e.g. 7d or 12h`
    )
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2]])
}

/** The largest whole unit that expresses the duration, e.g. 7d, 90m; for reports. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  const units = Object.entries(DURATION_UNITS).reverse()
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`
}

const SIZE_UNITS: Record<string, number> = {
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  tb: 1e12,
  kib: 2 ** 10,
  mib: 2 ** 20,
  gib: 2 ** 30,
  tib: 2 ** 40
}

/** "10GB", "500 MB", "1.5GiB", "1000" (bytes) to bytes. KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024. */
export function parseSize(text: string, input: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim())
  const unit = match ? SIZE_UNITS[match[2].toLowerCase() || 'b'] : undefined
  if (!match || unit === undefined)
    throw new InputError(
      `${input}: "${text}" is not a size; give a number and a unit B, KB, MB, GB, TB (or KiB, MiB, GiB, TiB), e.g. 10GB`
    )
  return Math.floor(Number(match[1]) * unit)
}

export function parseEntryCount(text: string, input: string): number {
  const count = Number(text.trim())
  if (!/^\d+$/.test(text.trim()) || count < 1)
    throw new InputError(`${input}: "${text}" is not a whole number of entries of at least 1, e.g. 5`)
  return count
}

export function parseSwitch(text: string, input: string): boolean {
  const value = text.trim().toLowerCase()
  if (['true', 'yes', '1'].includes(value)) return true
  if (['false', 'no', '0'].includes(value)) return false
  throw new InputError(`${input}: "${text}" is not a boolean; use true or false`)
}

export function parseEvictOrder(text: string, input: string): EvictOrder {
  const order = EVICT_ORDERS.find(name => name === text.trim().toLowerCase())
  if (!order) throw new InputError(`${input}: "${text}" is not an eviction order; give ${EVICT_ORDERS.join(' or ')}`)
  return order
}

/** A branch name, e.g. main (refs/heads/main is taken as main). */
export function parseBranch(text: string, input: string): string {
  const branch = branchName(text.trim())
  if (!/^[^\s~^:?*[\\]+$/.test(branch) || branch.startsWith('/') || branch.endsWith('/'))
    throw new InputError(`${input}: "${text}" is not a branch name; give one such as main`)
  return branch
}

/** A scope as cache entries name it (pr/12, branch/main), or a git ref that maps to one (refs/pull/12/merge). */
export function parseScope(text: string, input: string): string {
  const scope = text.trim()
  if (isGitRef(scope)) return scopeOfRef(scope)
  if (!/^[^\s/]+\/\S+$/.test(scope) && scope !== 'local')
    throw new InputError(
      `${input}: "${text}" is not a scope; give one such as pr/12, branch/feature-x or tag/v1.0 (or a ref such as refs/pull/12/merge)`
    )
  return scope
}

/** The rules as an adapter reads them, text as given; empty means the rule is not set. */
export interface PruneRuleTexts {
  maxAge?: string
  maxSize?: string
  maxEntriesPerScope?: string
  deleteScopes: string[]
  grace?: string
  keepVersions?: string
  defaultBranch?: string
  protectDefaultBranch?: string
  evictOrder?: string
}

/** Parses the rules; each bad value is reported under the name the user gave it (an input or a flag). */
export function parsePruneRules(texts: PruneRuleTexts, names: Record<keyof PruneRuleTexts, string>): ParsedPruneRules {
  return {
    maxAgeMs: texts.maxAge === undefined ? undefined : parseDuration(texts.maxAge, names.maxAge),
    maxBytes: texts.maxSize === undefined ? undefined : parseSize(texts.maxSize, names.maxSize),
    maxEntriesPerScope:
      texts.maxEntriesPerScope === undefined
        ? undefined
        : parseEntryCount(texts.maxEntriesPerScope, names.maxEntriesPerScope),
    deleteScopes: texts.deleteScopes.map(scope => parseScope(scope, names.deleteScopes)),
    graceMs: texts.grace === undefined ? undefined : parseDuration(texts.grace, names.grace),
    keepVersions:
      texts.keepVersions === undefined ? undefined : parseEntryCount(texts.keepVersions, names.keepVersions),
    defaultBranch:
      texts.defaultBranch === undefined ? undefined : parseBranch(texts.defaultBranch, names.defaultBranch),
    protectDefaultBranch:
      texts.protectDefaultBranch === undefined
        ? undefined
        : parseSwitch(texts.protectDefaultBranch, names.protectDefaultBranch),
    evictOrder: texts.evictOrder === undefined ? undefined : parseEvictOrder(texts.evictOrder, names.evictOrder)
  }
}
