import type { Clock } from '../clock.js'
import { errorMessage, InputError, isNamedError, PruneRefusedError } from '../errors.js'
import { loadManifestColumns, storedDeltaBase, storedFormOf } from '../manifest/load.js'
import { releaseLayout } from '../release/release-layout.js'
import type { ObjectInfo, ObjectStore } from '../store/object-store.js'
import { mapLimit } from '../task-pool.js'
import {
  accessKey,
  CACHE_PREFIXES,
  inCacheFolder,
  kindOf,
  manifestKey,
  objectKey,
  parseEntryKey,
  refOfAccess,
  signatureKey
} from './cache-layout.js'
import { ENTRY_SCHEMA, keyFamily, type EntryRecord } from './entry-refs.js'
import { DEFAULT_KEEP_VERSIONS, type PruneRules } from './prune-rules.js'
import { branchScope } from './scope.js'

/**
 * The plan of a prune: one listing of the store, every entry's manifest read, the entries the
 * rules evict (planEvictions), the keys marked live, and the sweep's candidates, with the report of
 * what carrying it out would remove. Reading the store is all it does: a dry run is a plan that is
 * not executed (prune-execute.ts carries one out).
 */

/** Written at the root of a release store by the release code; a store holding it is never pruned. */
export const RELEASE_STORE_MARKER = releaseLayout.marker
export const DEFAULT_GRACE_MS = 60 * 60 * 1000

// ---------------------------------------------------------------- eviction (pure)

export type EvictionReason =
  'broken' | 'deleted-scope' | 'max-age' | 'old-version' | 'max-entries-per-scope' | 'max-size'

export interface EvictionCandidate {
  id: string
  scope: string
  /** Names its key (with the paths' version): revisions of one key share it. Default: the id. */
  entryKey?: string
  /** Names its key family (with the paths' version), see keyFamily. Default: the id. */
  family?: string
  /** Its revision of the key: 0 for the first entry, 1 and up for updates. */
  revision?: number
  /** Milliseconds since the epoch. */
  lastUsed: number
  created: number
  /** Store keys of its manifest and of every object the manifest names. */
  keys: readonly string[]
  /** Its manifest names objects the store no longer has; it can never restore. */
  broken?: boolean
}

export interface EvictionPlan {
  /** Evicted entries in the order they were chosen. */
  evicted: Map<string, EvictionReason>
  /** The default branch's newest entry of each key family, kept whatever the budgets. */
  protected: Set<string>
  /** Stored bytes of the keys the kept entries reference, each key counted once. */
  liveBytes: number
}

/** Least recently used first; ties broken by creation, then id, so a plan is deterministic. */
export function leastRecentlyUsedFirst(a: EvictionCandidate, b: EvictionCandidate): number {
  return a.lastUsed - b.lastUsed || a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

/** Newest first: by creation, then revision, then id. */
function newestFirst(a: EvictionCandidate, b: EvictionCandidate): number {
  return b.created - a.created || (b.revision ?? 0) - (a.revision ?? 0) || (a.id < b.id ? 1 : a.id > b.id ? -1 : 0)
}

function groupBy(
  entries: readonly EvictionCandidate[],
  by: (entry: EvictionCandidate) => string
): EvictionCandidate[][] {
  const groups = new Map<string, EvictionCandidate[]>()
  for (const entry of entries) groups.set(by(entry), [...(groups.get(by(entry)) ?? []), entry])
  return [...groups.values()]
}

/**
 * Which entries go, and why, in order: broken entries, deleted scopes, entries unused for longer
 * than the maximum age, revisions of a key beyond the newest `keepVersions`, the least recently
 * used beyond the per-scope count, then entries until the bytes the rest reference fit the budget.
 * The budgets (count and size) never evict the default branch's newest entry of each key family;
 * the size budget takes other scopes' entries first unless the order is 'lru'. A key shared by
 * several entries counts once, and frees its bytes only when the last entry naming it goes.
 */
export function planEvictions(
  entries: readonly EvictionCandidate[],
  sizes: ReadonlyMap<string, number>,
  rules: PruneRules,
  now: number
): EvictionPlan {
  const evicted = new Map<string, EvictionReason>()
  const deleteScopes = new Set(rules.deleteScopes ?? [])
  const remaining = (): EvictionCandidate[] => entries.filter(entry => !evicted.has(entry.id))
  for (const entry of entries) {
    if (entry.broken) evicted.set(entry.id, 'broken')
    else if (deleteScopes.has(entry.scope)) evicted.set(entry.id, 'deleted-scope')
    else if (rules.maxAgeMs !== undefined && now - entry.lastUsed > rules.maxAgeMs) evicted.set(entry.id, 'max-age')
  }
  const keepVersions = rules.keepVersions ?? DEFAULT_KEEP_VERSIONS
  for (const revisions of groupBy(remaining(), entry => `${entry.scope}\n${entry.entryKey ?? entry.id}`)) {
    const newest = revisions.sort((a, b) => (b.revision ?? 0) - (a.revision ?? 0))
    for (const entry of newest.slice(keepVersions).reverse()) evicted.set(entry.id, 'old-version')
  }
  const defaultScope = rules.defaultBranch === undefined ? undefined : branchScope(rules.defaultBranch)
  const kept = new Set<string>()
  if (defaultScope !== undefined && rules.protectDefaultBranch !== false) {
    const ofDefault = remaining().filter(entry => entry.scope === defaultScope)
    for (const family of groupBy(ofDefault, entry => entry.family ?? entry.id)) kept.add(family.sort(newestFirst)[0].id)
  }
  if (rules.maxEntriesPerScope !== undefined) {
    for (const scoped of groupBy(remaining(), entry => entry.scope)) {
      let room = rules.maxEntriesPerScope - scoped.filter(entry => kept.has(entry.id)).length
      for (const entry of scoped.sort(leastRecentlyUsedFirst).reverse()) {
        if (kept.has(entry.id)) continue
        if (room > 0) room--
        else evicted.set(entry.id, 'max-entries-per-scope')
      }
    }
  }
  const references = new Map<string, number>()
  let liveBytes = 0
  for (const entry of remaining()) {
    for (const key of new Set(entry.keys)) {
      const count = references.get(key) ?? 0
      if (count === 0) liveBytes += sizes.get(key) ?? 0
      references.set(key, count + 1)
    }
  }
  if (rules.maxBytes !== undefined) {
    const tier = (entry: EvictionCandidate): number =>
      rules.evictOrder !== 'lru' && entry.scope === defaultScope ? 1 : 0
    const order = remaining()
      .filter(entry => !kept.has(entry.id))
      .sort((a, b) => tier(a) - tier(b) || leastRecentlyUsedFirst(a, b))
    for (const entry of order) {
      if (liveBytes <= rules.maxBytes) break
      evicted.set(entry.id, 'max-size')
      for (const key of new Set(entry.keys)) {
        const count = references.get(key)! - 1
        references.set(key, count)
        if (count === 0) liveBytes -= sizes.get(key) ?? 0
      }
    }
  }
  return { evicted, protected: kept, liveBytes }
}

export interface PrunedEntry {
  scope: string
  version: string
  key: string
  tree: string
  refKey: string
  /** Stored bytes of its manifest and the objects it references (shared objects counted in full). */
  bytes: number
  created: string
  lastUsed: string
  /** Its revision of the key: 0 for the first entry, 1 and up for updates. */
  revision: number
  /** Why it is (or, in a dry run, would be) removed; absent for kept entries. */
  reason?: EvictionReason
  /** Where it comes in the order of eviction, from 1; absent for kept entries. */
  order?: number
  /** Kept as the default branch's newest entry of its key family, whatever the budgets. */
  protected?: boolean
}

export interface PruneReport {
  store: string
  dryRun: boolean
  graceMs: number
  kept: PrunedEntry[]
  removed: PrunedEntry[]
  /** Stored bytes the kept entries reference, each object once: what a size budget is compared with. */
  liveBytes: number
  manifestsRemoved: number
  objectsRemoved: number
  /** Signatures of trees no remaining revision of their key names, older than the grace period. */
  signaturesRemoved: number
  /** Manifests, objects and signatures no kept entry names, kept because they, or a manifest naming them, are younger than the grace period. */
  keptByGrace: number
  /** Bytes of every key deleted: refs, last-use records, manifests, objects, signatures. */
  bytesFreed: number
  warnings: string[]
}

const LIST_SKEW_MS = 5 * 60 * 1000
export const READ_CONCURRENCY = 16

/** Everything one listing of the store found, by kind. */
export interface StoreScan {
  startedAt: number
  refs: Map<string, ObjectInfo>
  access: Map<string, ObjectInfo>
  manifests: Map<string, ObjectInfo>
  objects: Map<string, ObjectInfo>
  signatures: Map<string, ObjectInfo>
  otherKeys: number
}

interface LoadedEntry {
  record: EntryRecord
  refKey: string
  revision: number
  ref: ObjectInfo
  lastUsed: number
  /** Its manifest's key and its objects' keys; only the manifest's when the manifest is missing. */
  keys: string[]
  manifestMissing: boolean
  broken: boolean
}

/** A release store, or a release file in a store: releases are never pruned. */
function releaseKey(key: string): boolean {
  return !inCacheFolder(key) && releaseLayout.marksReleases(key)
}

/** Lists a prefix and refuses a listing that is not in strictly increasing key order (a broken pagination). */
export async function* orderedListing(store: ObjectStore, prefix: string): AsyncGenerator<ObjectInfo> {
  let previous: Buffer | undefined
  for await (const object of store.list(prefix)) {
    const key = Buffer.from(object.key)
    if (previous && Buffer.compare(previous, key) >= 0)
      throw new PruneRefusedError(
        `the listing of ${prefix || 'the store'} returned ${object.key} out of order; it looks incomplete`
      )
    previous = key
    yield object
  }
}

async function scanStore(store: ObjectStore, clock: Clock): Promise<StoreScan> {
  const scan: StoreScan = {
    startedAt: clock.now(),
    refs: new Map(),
    access: new Map(),
    manifests: new Map(),
    objects: new Map(),
    signatures: new Map(),
    otherKeys: 0
  }
  for await (const object of orderedListing(store, '')) {
    const { key } = object
    if (releaseKey(key))
      throw new InputError(
        `store: ${store.location} holds releases (${key}); releases are never pruned — point prune at the cache store`
      )
    const kind = kindOf(key)?.kind
    if (kind === 'ref') scan.refs.set(key, object)
    else if (key.startsWith(CACHE_PREFIXES.refs))
      throw new PruneRefusedError(`${key} is not a cache entry this version understands`)
    else if (kind === 'access') scan.access.set(key, object)
    else if (kind === 'manifest') scan.manifests.set(key, object)
    else if (kind === 'object') scan.objects.set(key, object)
    else if (kind === 'signature') scan.signatures.set(key, object)
    else scan.otherKeys++
  }
  const otherKeys = scan.otherKeys + scan.signatures.size
  if (scan.refs.size + scan.manifests.size + scan.objects.size === 0 && otherKeys > 0) {
    throw new InputError(
      `store: ${store.location} has ${otherKeys} keys but no cache entries, manifests or objects; it does not look like a cache store`
    )
  }
  return scan
}

/** Reads a ref; undefined when it has gone since it was listed. Anything unreadable refuses the prune. */
export async function readRef(store: ObjectStore, key: string): Promise<EntryRecord | undefined> {
  const bytes = await store.get(key)
  if (!bytes) return undefined
  let record: EntryRecord
  try {
    record = JSON.parse(bytes.toString('utf8')) as EntryRecord
  } catch {
    throw new PruneRefusedError(`${key} is not JSON`)
  }
  if (record?.schema !== ENTRY_SCHEMA || typeof record.tree !== 'string' || !/^[0-9a-f]{64}$/.test(record.tree))
    throw new PruneRefusedError(
      `${key} is not a cache entry this version understands (schema ${JSON.stringify(record?.schema)})`
    )
  // A restore passes over a ref that disagrees with its name; counted as a revision here, it could
  // push out the revision that restores use.
  const name = kindOf(key)
  if (name?.kind !== 'ref' || record.key !== name.key || (record.revision ?? 0) !== name.revision)
    throw new PruneRefusedError(
      `${key} names key ${JSON.stringify(record.key)} revision ${record.revision ?? 0}, not its own`
    )
  return record
}

/**
 * The keys a manifest names: its objects, and a delta's base manifest; undefined when the manifest
 * is missing. An unreadable manifest refuses the prune.
 */
async function manifestObjects(store: ObjectStore, digest: string): Promise<string[] | undefined> {
  try {
    const columns = await loadManifestColumns(store, digest)
    const base = storedFormOf(columns)?.base
    return [...columns.objects.map(objectKey), ...(base ? [manifestKey(base)] : [])]
  } catch (error) {
    if (isNamedError(error, 'IntegrityError') && !(await store.head(manifestKey(digest)))) return undefined
    // A delta whose base a prune took: it names the base alone, so an entry naming it is broken.
    const base = isNamedError(error, 'IntegrityError')
      ? await storedDeltaBase(store, digest).catch(() => undefined)
      : undefined
    if (base && !(await store.head(manifestKey(base)))) return [manifestKey(base)]
    if (isNamedError(error, 'IntegrityError'))
      throw new PruneRefusedError(`manifest ${digest.slice(0, 12)} is unreadable: ${errorMessage(error)}`)
    throw error
  }
}

/** Loads manifests once each, however many entries or re-listings name them. */
export class ManifestReader {
  private readonly loaded = new Map<string, Promise<string[] | undefined>>()
  constructor(private readonly store: ObjectStore) {}
  objects(digest: string, version = ''): Promise<string[] | undefined> {
    const id = `${digest}@${version}`
    if (!this.loaded.has(id)) this.loaded.set(id, manifestObjects(this.store, digest))
    return this.loaded.get(id)!
  }
}

async function loadEntries(
  store: ObjectStore,
  scan: StoreScan,
  manifests: ManifestReader,
  deleteScopes: Set<string>
): Promise<LoadedEntry[]> {
  const entries: LoadedEntry[] = []
  await mapLimit(scan.refs.values(), READ_CONCURRENCY, async ref => {
    const record = await readRef(store, ref.key)
    if (!record) return // deleted since the listing: no longer an entry
    const names = parseEntryKey(ref.key)!
    const objects = await manifests.objects(record.tree)
    if (!objects && !deleteScopes.has(names.scope)) {
      throw new PruneRefusedError(
        `entry ${names.scope} ${JSON.stringify(names.key)} (${ref.key}) names manifest ${record.tree.slice(0, 12)}, which is missing; delete that ref if the entry is broken`
      )
    }
    const access = scan.access.get(accessKey(ref.key))
    entries.push({
      record: { ...record, scope: names.scope, version: names.version, key: names.key },
      refKey: ref.key,
      revision: names.revision,
      ref,
      lastUsed: (access ?? ref).lastModified.getTime(),
      keys: [manifestKey(record.tree), ...(objects ?? [])],
      manifestMissing: !objects,
      broken: false
    })
  })
  return entries.sort((a, b) => (a.refKey < b.refKey ? -1 : 1))
}

/**
 * Keys that entries reference but the listing did not show: HEAD each. A missing object means the
 * entry is broken. A key present and older than the listing means the listing skipped it, so the
 * listing cannot be trusted. Younger ones were written by a save while the listing ran.
 */
async function checkUnlistedKeys(
  store: ObjectStore,
  scan: StoreScan,
  entries: LoadedEntry[],
  sizes: Map<string, number>
): Promise<void> {
  const unlisted = new Set(entries.flatMap(entry => entry.keys.filter(key => !sizes.has(key))))
  const missing = new Set<string>()
  await mapLimit(unlisted, READ_CONCURRENCY, async key => {
    const info = await store.head(key)
    if (!info) return void missing.add(key)
    if (info.lastModified.getTime() < scan.startedAt - LIST_SKEW_MS)
      throw new PruneRefusedError(`the listing did not show ${key}, which exists; the listing looks incomplete`)
    sizes.set(key, info.size)
  })
  for (const entry of entries) entry.broken = !entry.manifestMissing && entry.keys.some(key => missing.has(key))
}

function describeEntry(entry: LoadedEntry, sizes: ReadonlyMap<string, number>, plan: EvictionPlan): PrunedEntry {
  const reason = plan.evicted.get(entry.refKey)
  const order = [...plan.evicted.keys()].indexOf(entry.refKey) + 1
  return {
    scope: entry.record.scope,
    version: entry.record.version,
    key: entry.record.key,
    tree: entry.record.tree,
    refKey: entry.refKey,
    bytes: entry.keys.reduce((sum, key) => sum + (sizes.get(key) ?? 0), 0),
    created: entry.record.created,
    lastUsed: new Date(entry.lastUsed).toISOString(),
    revision: entry.revision,
    ...(reason ? { reason, order } : {}),
    ...(plan.protected.has(entry.refKey) ? { protected: true } : {})
  }
}

// ---------------------------------------------------------------- the plan

export interface PlanOptions extends PruneRules {
  store: ObjectStore
  /** Unreferenced manifests and objects younger than this are kept (a save may be about to name them); default 1 hour. */
  graceMs?: number
  /** Ages are measured against its time: the store's clock, as near as the host's is to it. */
  clock: Clock
  log: (line: string) => void
}

/** What a prune deletes, in order, and what it must not; carried out by executePrune. */
export interface PrunePlan {
  store: ObjectStore
  /** What carrying out the plan removes, nothing being deleted meanwhile: a dry run's report. */
  report: PruneReport
  /** Refs of the evicted entries: deleted first, so that no restore finds one. */
  refKeys: string[]
  /** Last-use records of entries that are not kept. */
  accessKeys: string[]
  /** Unmarked manifests (first), objects and signatures older than the grace period. */
  sweep: string[]
  /** Keys of the kept entries, and of manifests younger than the grace period with the objects they name. */
  marked: Set<string>
  /** The listing the plan comes from: the executor marks what appears or changes after it. */
  scan: StoreScan
  manifests: ManifestReader
  /** Stored bytes of a listed key. */
  sizeOf(key: string): number
}

/**
 * Plans a prune. Nothing is deleted until the whole store has been listed and every entry's
 * manifest read; any failure here refuses the prune.
 */
export async function planPrune(options: PlanOptions): Promise<PrunePlan> {
  const { store, clock, log } = options
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS
  const deleteScopes = new Set(options.deleteScopes ?? [])
  const manifests = new ManifestReader(store)

  let scan: StoreScan
  let entries: LoadedEntry[]
  const sizes = new Map<string, number>()
  try {
    scan = await scanStore(store, clock)
    log(
      `listed ${scan.refs.size} entries, ${scan.manifests.size} manifests, ${scan.objects.size} objects in ${store.location}`
    )
    for (const info of [...scan.manifests.values(), ...scan.objects.values()]) sizes.set(info.key, info.size)
    entries = await loadEntries(store, scan, manifests, deleteScopes)
    await checkUnlistedKeys(store, scan, entries, sizes)
  } catch (error) {
    throw refusal(error, store, 0)
  }

  const now = clock.now()
  const candidates = entries.map(entry => ({
    id: entry.refKey,
    scope: entry.record.scope,
    lastUsed: entry.lastUsed,
    created: Date.parse(entry.record.created) || entry.ref.lastModified.getTime(),
    entryKey: `${entry.record.version}/${entry.record.key}`,
    family: `${entry.record.version}/${keyFamily(entry.record.key)}`,
    revision: entry.revision,
    keys: entry.keys,
    broken: entry.broken
  }))
  const plan = planEvictions(candidates, sizes, options, now)
  const removed = entries.filter(entry => plan.evicted.has(entry.refKey))
  const kept = entries.filter(entry => !plan.evicted.has(entry.refKey))
  const warnings: string[] = []
  for (const scope of deleteScopes)
    if (!entries.some(entry => entry.record.scope === scope)) warnings.push(`scope ${scope} has no entries`)
  for (const entry of removed)
    if (entry.manifestMissing)
      warnings.push(
        `entry ${entry.record.scope} ${JSON.stringify(entry.record.key)} names a missing manifest; removed with its scope`
      )
  for (const entry of removed)
    if (entry.broken)
      warnings.push(
        `entry ${entry.record.scope} ${JSON.stringify(entry.record.key)} names objects missing from the store; removed as broken`
      )

  // Mark: kept entries, and manifests within the grace period (a save may be about to name them).
  const marked = new Set<string>()
  const referenced = new Set(kept.flatMap(entry => entry.keys))
  try {
    for (const key of referenced) marked.add(key)
    const young = [...scan.manifests.values()].filter(
      info => now - info.lastModified.getTime() < graceMs && !marked.has(info.key)
    )
    await mapLimit(young, READ_CONCURRENCY, async info => void (await markManifest(manifests, marked, info.key)))
  } catch (error) {
    throw refusal(error, store, 0)
  }

  // A signature goes with the last revision of its key naming its tree: it is shared by them.
  for (const entry of kept) referenced.add(signatureKey(entry.refKey, entry.record.tree))

  // Sweep candidates: unmarked manifests, objects and signatures older than the grace period.
  let keptByGrace = 0
  const sweep: string[] = []
  for (const info of [...scan.manifests.values(), ...scan.objects.values(), ...scan.signatures.values()]) {
    if (referenced.has(info.key)) continue
    if (marked.has(info.key) || now - info.lastModified.getTime() < graceMs) keptByGrace++
    else sweep.push(info.key)
  }
  const remainingRefs = new Set(kept.map(entry => entry.refKey))
  const refKeys = removed.map(entry => entry.refKey)
  const accessKeys = [...scan.access.keys()].filter(key => !remainingRefs.has(refOfAccess(key)!))
  const sizeOf = (key: string): number =>
    sizes.get(key) ?? scan.refs.get(key)?.size ?? scan.access.get(key)?.size ?? scan.signatures.get(key)?.size ?? 0

  const report: PruneReport = {
    store: store.location,
    dryRun: true,
    graceMs,
    kept: kept.map(entry => describeEntry(entry, sizes, plan)).sort((a, b) => (a.lastUsed < b.lastUsed ? 1 : -1)),
    // In the order of eviction: a dry run shows what a budget takes first.
    removed: removed.map(entry => describeEntry(entry, sizes, plan)).sort((a, b) => a.order! - b.order!),
    liveBytes: plan.liveBytes,
    manifestsRemoved: 0,
    objectsRemoved: 0,
    signaturesRemoved: 0,
    keptByGrace,
    bytesFreed: 0,
    warnings
  }
  countDeleted(report, [...refKeys, ...accessKeys, ...sweep], sizeOf)
  return { store, report, refKeys, accessKeys, sweep, marked, scan, manifests, sizeOf }
}

/** Adds deleted keys to a report's counts and bytes freed. */
export function countDeleted(report: PruneReport, keys: readonly string[], sizeOf: (key: string) => number): void {
  for (const key of keys) {
    report.bytesFreed += sizeOf(key)
    const kind = kindOf(key)?.kind
    if (kind === 'manifest') report.manifestsRemoved++
    else if (kind === 'object') report.objectsRemoved++
    else if (kind === 'signature') report.signaturesRemoved++
  }
}

/** Marks a manifest and the objects it names; false when the manifest is missing. */
export async function markManifest(
  manifests: ManifestReader,
  marked: Set<string>,
  key: string,
  version = ''
): Promise<boolean> {
  const manifest = kindOf(key)
  if (manifest?.kind !== 'manifest') throw new Error(`${key} is not a manifest`)
  const objects = await manifests.objects(manifest.digest, version)
  if (!objects) return false
  marked.add(key)
  for (const object of objects) marked.add(object)
  return true
}

/** One line: why the prune stopped, and what it had deleted by then. */
export function refusal(error: unknown, store: ObjectStore, deleted: number): Error {
  if (isNamedError(error, 'InputError')) return error
  const done = deleted === 0 ? 'nothing was deleted' : `${deleted} keys were deleted before it stopped`
  return new PruneRefusedError(`refusing to prune ${store.location}: ${errorMessage(error)}; ${done}`)
}
