import { errorMessage, InputError, isNamedError } from '../errors.js'
import { releaseLayout } from '../release/release-layout.js'
import { manifestKey, objectKey } from '../store/manifest.js'
import type { ObjectInfo, ObjectStore } from '../store/object-store.js'
import { mapLimit } from '../task-pool.js'
import { loadManifestColumns } from './checkpoint-cache.js'
import { accessKey, ENTRY_SCHEMA, parseEntryKey, type EntryRecord } from './entry-refs.js'
import { holdPruneLease } from './prune-lease.js'
import { scopeOfRef } from './scope.js'

/**
 * Pruning a cache store: evicts entries by rules (scope deleted, unused for too long, too many in a
 * scope, over a size budget, least recently used first), then collects by mark and sweep the
 * manifests and objects that no remaining entry references.
 *
 * Mark: the manifests and objects of the kept entries; every manifest younger than the grace
 * period, and the objects it names (a save writes its manifest before its entry). Sweep: unmarked
 * manifests and objects older than the grace period (a save uploads objects before its manifest).
 * Before each batch of deletions, refs and manifests are listed again and whatever appeared or
 * changed since is marked too. Release stores are never pruned.
 */

/** Written at the root of a release store by the release code; a store holding it is never pruned. */
export const RELEASE_STORE_MARKER = releaseLayout.marker
export const DEFAULT_GRACE_MS = 60 * 60 * 1000

/** The prune stops before deleting anything when its view of the store looks incomplete or wrong. */
export class PruneRefusedError extends Error {
  override name = 'PruneRefusedError'
}

// ---------------------------------------------------------------- rules: parsing

const DURATION_UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 }

/** "7d", "12h", "90m", "30s", "2w" (one number, one unit) to milliseconds. */
export function parseDuration(text: string, input: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([smhdw])$/.exec(text.trim())
  if (!match) throw new InputError(`${input}: "${text}" is not a duration; give a number and a unit s, m, h, d or w, e.g. 7d or 12h`)
  return Math.round(Number(match[1]) * DURATION_UNITS[match[2]])
}

/** The largest whole unit that expresses the duration, e.g. 7d, 90m; for reports. */
export function formatDuration(ms: number): string {
  if (ms === 0) return '0s'
  const units = Object.entries(DURATION_UNITS).reverse()
  for (const [unit, size] of units) if (ms >= size && ms % size === 0) return `${ms / size}${unit}`
  return ms < 1000 ? `${ms}ms` : `${(ms / 1000).toFixed(1)}s`
}

const SIZE_UNITS: Record<string, number> = { b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 2 ** 10, mib: 2 ** 20, gib: 2 ** 30, tib: 2 ** 40 }

/** "10GB", "500 MB", "1.5GiB", "1000" (bytes) to bytes. KB/MB/GB/TB are powers of 1000, KiB/MiB/GiB/TiB of 1024. */
export function parseSize(text: string, input: string): number {
  const match = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/i.exec(text.trim())
  const unit = match ? SIZE_UNITS[match[2].toLowerCase() || 'b'] : undefined
  if (!match || unit === undefined) throw new InputError(`${input}: "${text}" is not a size; give a number and a unit B, KB, MB, GB, TB (or KiB, MiB, GiB, TiB), e.g. 10GB`)
  return Math.floor(Number(match[1]) * unit)
}

export function parseEntryCount(text: string, input: string): number {
  const count = Number(text.trim())
  if (!/^\d+$/.test(text.trim()) || count < 1) throw new InputError(`${input}: "${text}" is not a whole number of entries of at least 1, e.g. 5`)
  return count
}

/** A scope as cache entries name it (pr/12, branch/main), or a git ref that maps to one (refs/pull/12/merge). */
export function parseScope(text: string, input: string): string {
  const scope = text.trim()
  if (scope.startsWith('refs/')) return scopeOfRef(scope)
  if (!/^[^\s/]+\/\S+$/.test(scope) && scope !== 'local') throw new InputError(`${input}: "${text}" is not a scope; give one such as pr/12, branch/feature-x or tag/v1.0 (or a ref such as refs/pull/12/merge)`)
  return scope
}

/** The rules as an adapter reads them, text as given; empty means the rule is not set. */
export interface PruneRuleTexts {
  maxAge?: string
  maxSize?: string
  maxEntriesPerScope?: string
  deleteScopes: string[]
  grace?: string
}

/** Parses the rules; each bad value is reported under the name the user gave it (an input or a flag). */
export function parsePruneRules(texts: PruneRuleTexts, names: Record<keyof PruneRuleTexts, string>): Pick<PruneOptions, 'maxAgeMs' | 'maxBytes' | 'maxEntriesPerScope' | 'deleteScopes' | 'graceMs'> {
  return {
    maxAgeMs: texts.maxAge === undefined ? undefined : parseDuration(texts.maxAge, names.maxAge),
    maxBytes: texts.maxSize === undefined ? undefined : parseSize(texts.maxSize, names.maxSize),
    maxEntriesPerScope: texts.maxEntriesPerScope === undefined ? undefined : parseEntryCount(texts.maxEntriesPerScope, names.maxEntriesPerScope),
    deleteScopes: texts.deleteScopes.map(scope => parseScope(scope, names.deleteScopes)),
    graceMs: texts.grace === undefined ? undefined : parseDuration(texts.grace, names.grace)
  }
}

// ---------------------------------------------------------------- rules: eviction (pure)

export interface PruneRules {
  /** Evict entries not used (restored, or else saved) for longer than this. */
  maxAgeMs?: number
  /** Evict least recently used entries until the stored bytes still referenced fit. */
  maxBytes?: number
  /** Keep at most this many entries in each scope, the most recently used. */
  maxEntriesPerScope?: number
  /** Evict every entry of these scopes, e.g. a closed pull request's pr/12. */
  deleteScopes?: readonly string[]
}

export type EvictionReason = 'broken' | 'deleted-scope' | 'max-age' | 'max-entries-per-scope' | 'max-size'

export interface EvictionCandidate {
  id: string
  scope: string
  /** Milliseconds since the epoch. */
  lastUsed: number
  created: number
  /** Store keys of its manifest and of every object the manifest names. */
  keys: readonly string[]
  /** Its manifest names objects the store no longer has; it can never restore. */
  broken?: boolean
}

export interface EvictionPlan {
  evicted: Map<string, EvictionReason>
  /** Stored bytes of the keys the kept entries reference, each key counted once. */
  liveBytes: number
}

/** Least recently used first; ties broken by creation, then id, so a plan is deterministic. */
export function leastRecentlyUsedFirst(a: EvictionCandidate, b: EvictionCandidate): number {
  return a.lastUsed - b.lastUsed || a.created - b.created || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0)
}

/**
 * Which entries go, and why: broken entries, deleted scopes, entries unused for longer than the
 * maximum age, the least recently used beyond the per-scope count, then the least recently used
 * until the bytes the rest reference fit the budget. A key shared by several entries counts once,
 * and frees its bytes only when the last entry naming it goes.
 */
export function planEvictions(entries: readonly EvictionCandidate[], sizes: ReadonlyMap<string, number>, rules: PruneRules, now: number): EvictionPlan {
  const evicted = new Map<string, EvictionReason>()
  const deleteScopes = new Set(rules.deleteScopes ?? [])
  const remaining = (): EvictionCandidate[] => entries.filter(entry => !evicted.has(entry.id))
  for (const entry of entries) {
    if (entry.broken) evicted.set(entry.id, 'broken')
    else if (deleteScopes.has(entry.scope)) evicted.set(entry.id, 'deleted-scope')
    else if (rules.maxAgeMs !== undefined && now - entry.lastUsed > rules.maxAgeMs) evicted.set(entry.id, 'max-age')
  }
  if (rules.maxEntriesPerScope !== undefined) {
    const byScope = new Map<string, EvictionCandidate[]>()
    for (const entry of remaining()) byScope.set(entry.scope, [...(byScope.get(entry.scope) ?? []), entry])
    for (const scoped of byScope.values()) {
      const newestFirst = scoped.sort(leastRecentlyUsedFirst).reverse()
      for (const entry of newestFirst.slice(rules.maxEntriesPerScope)) evicted.set(entry.id, 'max-entries-per-scope')
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
    for (const entry of remaining().sort(leastRecentlyUsedFirst)) {
      if (liveBytes <= rules.maxBytes) break
      evicted.set(entry.id, 'max-size')
      for (const key of new Set(entry.keys)) {
        const count = references.get(key)! - 1
        references.set(key, count)
        if (count === 0) liveBytes -= sizes.get(key) ?? 0
      }
    }
  }
  return { evicted, liveBytes }
}

// ---------------------------------------------------------------- the prune

export interface PruneOptions extends PruneRules {
  store: ObjectStore
  /** Unreferenced manifests and objects younger than this are kept: a save may be about to name them. Default 1 hour. */
  graceMs?: number
  /** Report what would go; delete nothing. */
  dryRun?: boolean
  log?: (line: string) => void
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
  /** Why it is (or, in a dry run, would be) removed; absent for kept entries. */
  reason?: EvictionReason
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
  /** Manifests and objects no kept entry names, kept because they, or a manifest naming them, are younger than the grace period. */
  keptByGrace: number
  /** Bytes of every key deleted: refs, last-use records, manifests, objects. */
  bytesFreed: number
  warnings: string[]
}

const LIST_SKEW_MS = 5 * 60 * 1000
const DELETE_BATCH = 1000
const READ_CONCURRENCY = 16
const MANIFEST_KEY = /^manifests\/[0-9a-f]{64}$/
const OBJECT_KEY = /^objects\/([0-9a-f]{2})\/([0-9a-f]{64})$/
const CACHE_FOLDERS = new Set(['refs', 'access', 'manifests', 'objects', 'leases'])

/** Everything one listing of the store found, by kind. */
interface StoreScan {
  startedAt: number
  refs: Map<string, ObjectInfo>
  access: Map<string, ObjectInfo>
  manifests: Map<string, ObjectInfo>
  objects: Map<string, ObjectInfo>
  otherKeys: number
}

interface LoadedEntry {
  record: EntryRecord
  refKey: string
  ref: ObjectInfo
  lastUsed: number
  /** Its manifest's key and its objects' keys; only the manifest's when the manifest is missing. */
  keys: string[]
  manifestMissing: boolean
  broken: boolean
}

function isObjectKey(key: string): boolean {
  const match = OBJECT_KEY.exec(key)
  return match !== null && match[2].startsWith(match[1])
}

/** A release store, or a release file in a store: releases are never pruned. */
function releaseKey(key: string): boolean {
  if (key === RELEASE_STORE_MARKER) return true
  const parts = key.split('/')
  if (CACHE_FOLDERS.has(parts[0])) return false
  return (parts.length === 2 && parts[1] === 'index.json') || (parts.length === 4 && parts[1] === 'releases' && parts[3] === 'release.json')
}

/** Lists a prefix and refuses a listing that is not in strictly increasing key order (a broken pagination). */
async function* orderedListing(store: ObjectStore, prefix: string): AsyncGenerator<ObjectInfo> {
  let previous: Buffer | undefined
  for await (const object of store.list(prefix)) {
    const key = Buffer.from(object.key)
    if (previous && Buffer.compare(previous, key) >= 0) throw new PruneRefusedError(`the listing of ${prefix || 'the store'} returned ${object.key} out of order; it looks incomplete`)
    previous = key
    yield object
  }
}

async function scanStore(store: ObjectStore): Promise<StoreScan> {
  const scan: StoreScan = { startedAt: Date.now(), refs: new Map(), access: new Map(), manifests: new Map(), objects: new Map(), otherKeys: 0 }
  for await (const object of orderedListing(store, '')) {
    const { key } = object
    if (releaseKey(key)) throw new InputError(`store: ${store.location} holds releases (${key}); releases are never pruned — point prune at the cache store`)
    if (key.startsWith('refs/')) {
      if (!parseEntryKey(key)) throw new PruneRefusedError(`${key} is not a cache entry this version understands`)
      scan.refs.set(key, object)
    } else if (key.startsWith('access/') && parseEntryKey(key)) scan.access.set(key, object)
    else if (MANIFEST_KEY.test(key)) scan.manifests.set(key, object)
    else if (isObjectKey(key)) scan.objects.set(key, object)
    else scan.otherKeys++
  }
  if (scan.refs.size + scan.manifests.size + scan.objects.size === 0 && scan.otherKeys > 0) {
    throw new InputError(`store: ${store.location} has ${scan.otherKeys} keys but no cache entries, manifests or objects; it does not look like a cache store`)
  }
  return scan
}

/** Reads a ref; undefined when it has gone since it was listed. Anything unreadable refuses the prune. */
async function readRef(store: ObjectStore, key: string): Promise<EntryRecord | undefined> {
  const bytes = await store.get(key)
  if (!bytes) return undefined
  let record: EntryRecord
  try {
    record = JSON.parse(bytes.toString('utf8')) as EntryRecord
  } catch {
    throw new PruneRefusedError(`${key} is not JSON`)
  }
  if (record?.schema !== ENTRY_SCHEMA || typeof record.tree !== 'string' || !/^[0-9a-f]{64}$/.test(record.tree)) throw new PruneRefusedError(`${key} is not a cache entry this version understands (schema ${JSON.stringify(record?.schema)})`)
  return record
}

/** The object keys a manifest names; undefined when the manifest is missing. An unreadable manifest refuses the prune. */
async function manifestObjects(store: ObjectStore, digest: string): Promise<string[] | undefined> {
  try {
    return (await loadManifestColumns(store, digest)).objects.map(objectKey)
  } catch (error) {
    if (isNamedError(error, 'IntegrityError') && !(await store.head(manifestKey(digest)))) return undefined
    if (isNamedError(error, 'IntegrityError')) throw new PruneRefusedError(`manifest ${digest.slice(0, 12)} is unreadable: ${errorMessage(error)}`)
    throw error
  }
}

/** Loads manifests once each, however many entries or re-listings name them. */
class ManifestReader {
  private readonly loaded = new Map<string, Promise<string[] | undefined>>()
  constructor(private readonly store: ObjectStore) {}
  objects(digest: string, version = ''): Promise<string[] | undefined> {
    const id = `${digest}@${version}`
    if (!this.loaded.has(id)) this.loaded.set(id, manifestObjects(this.store, digest))
    return this.loaded.get(id)!
  }
}

async function loadEntries(store: ObjectStore, scan: StoreScan, manifests: ManifestReader, deleteScopes: Set<string>): Promise<LoadedEntry[]> {
  const entries: LoadedEntry[] = []
  await mapLimit(scan.refs.values(), READ_CONCURRENCY, async ref => {
    const record = await readRef(store, ref.key)
    if (!record) return // deleted since the listing: no longer an entry
    const names = parseEntryKey(ref.key)!
    const objects = await manifests.objects(record.tree)
    if (!objects && !deleteScopes.has(names.scope)) {
      throw new PruneRefusedError(`entry ${names.scope} ${JSON.stringify(names.key)} (${ref.key}) names manifest ${record.tree.slice(0, 12)}, which is missing; delete that ref if the entry is broken`)
    }
    const access = scan.access.get(accessKey(ref.key))
    entries.push({
      record: { ...record, scope: names.scope, version: names.version, key: names.key },
      refKey: ref.key,
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
async function checkUnlistedKeys(store: ObjectStore, scan: StoreScan, entries: LoadedEntry[], sizes: Map<string, number>): Promise<void> {
  const unlisted = new Set(entries.flatMap(entry => entry.keys.filter(key => !sizes.has(key))))
  const missing = new Set<string>()
  await mapLimit(unlisted, READ_CONCURRENCY, async key => {
    const info = await store.head(key)
    if (!info) return void missing.add(key)
    if (info.lastModified.getTime() < scan.startedAt - LIST_SKEW_MS) throw new PruneRefusedError(`the listing did not show ${key}, which exists; the listing looks incomplete`)
    sizes.set(key, info.size)
  })
  for (const entry of entries) entry.broken = !entry.manifestMissing && entry.keys.some(key => missing.has(key))
}

/**
 * The keys a prune must not delete: those of kept entries, of manifests younger than the grace
 * period, and of any entry or manifest that appears or changes while it runs. `refresh` re-lists
 * refs and manifests so that a save finishing during the prune is seen before each deletion.
 */
class LiveSet {
  readonly keys = new Set<string>()
  /** Entries that appeared since the first listing. */
  readonly appeared: NewEntry[] = []
  private readonly seenRefs = new Map<string, number>()
  private readonly seenManifests = new Map<string, number>()

  constructor(
    private readonly store: ObjectStore,
    private readonly manifests: ManifestReader
  ) {}

  remember(scan: StoreScan): void {
    for (const [key, info] of scan.refs) this.seenRefs.set(key, info.lastModified.getTime())
    for (const [key, info] of scan.manifests) this.seenManifests.set(key, info.lastModified.getTime())
  }

  /** Marks a manifest and the objects it names; false when the manifest is missing. */
  async markManifest(key: string, version = ''): Promise<boolean> {
    const objects = await this.manifests.objects(key.slice('manifests/'.length), version)
    if (!objects) return false
    this.keys.add(key)
    for (const object of objects) this.keys.add(object)
    return true
  }

  /** Re-lists refs and manifests and marks what appeared or changed since; returns the entries that appeared. */
  async refresh(): Promise<NewEntry[]> {
    const newRefs: ObjectInfo[] = []
    for await (const ref of orderedListing(this.store, 'refs/')) {
      if (!parseEntryKey(ref.key)) throw new PruneRefusedError(`${ref.key} is not a cache entry this version understands`)
      if (this.seenRefs.get(ref.key) !== ref.lastModified.getTime()) newRefs.push(ref)
    }
    const newManifests: ObjectInfo[] = []
    for await (const manifest of orderedListing(this.store, 'manifests/')) {
      if (MANIFEST_KEY.test(manifest.key) && this.seenManifests.get(manifest.key) !== manifest.lastModified.getTime()) newManifests.push(manifest)
    }
    const entries: NewEntry[] = []
    await mapLimit(newRefs, READ_CONCURRENCY, async ref => {
      const version = String(ref.lastModified.getTime())
      const record = await readRef(this.store, ref.key)
      if (record) entries.push({ refKey: ref.key, tree: record.tree, version, manifestMissing: !(await this.markManifest(manifestKey(record.tree), version)) })
      this.seenRefs.set(ref.key, ref.lastModified.getTime())
    })
    await mapLimit(newManifests, READ_CONCURRENCY, async manifest => {
      await this.markManifest(manifest.key, String(manifest.lastModified.getTime()))
      this.seenManifests.set(manifest.key, manifest.lastModified.getTime())
    })
    this.appeared.push(...entries)
    return entries
  }
}

/** An entry that appeared while the prune ran. */
interface NewEntry {
  refKey: string
  tree: string
  /** Its ref's time, under which its manifest was read. */
  version: string
  manifestMissing: boolean
}

function describeEntry(entry: LoadedEntry, sizes: ReadonlyMap<string, number>, reason?: EvictionReason): PrunedEntry {
  return {
    scope: entry.record.scope,
    version: entry.record.version,
    key: entry.record.key,
    tree: entry.record.tree,
    refKey: entry.refKey,
    bytes: entry.keys.reduce((sum, key) => sum + (sizes.get(key) ?? 0), 0),
    created: entry.record.created,
    lastUsed: new Date(entry.lastUsed).toISOString(),
    ...(reason ? { reason } : {})
  }
}

/**
 * Prunes a cache store. Nothing is deleted until the whole store has been listed and every entry's
 * manifest read; any failure before that refuses the prune. Deletion goes refs first (so no restore
 * finds an evicted entry), then last-use records, then manifests and objects in batches, each
 * batch after a fresh listing of refs and manifests.
 */
export async function pruneStore(options: PruneOptions): Promise<PruneReport> {
  const { store } = options
  const log = options.log ?? (() => undefined)
  const graceMs = options.graceMs ?? DEFAULT_GRACE_MS
  const deleteScopes = new Set(options.deleteScopes ?? [])
  const manifests = new ManifestReader(store)

  let scan: StoreScan
  let entries: LoadedEntry[]
  const sizes = new Map<string, number>()
  try {
    scan = await scanStore(store)
    log(`listed ${scan.refs.size} entries, ${scan.manifests.size} manifests, ${scan.objects.size} objects in ${store.location}`)
    for (const info of [...scan.manifests.values(), ...scan.objects.values()]) sizes.set(info.key, info.size)
    entries = await loadEntries(store, scan, manifests, deleteScopes)
    await checkUnlistedKeys(store, scan, entries, sizes)
  } catch (error) {
    throw refusal(error, store, 0)
  }

  const now = Date.now()
  const candidates = entries.map(entry => ({ id: entry.refKey, scope: entry.record.scope, lastUsed: entry.lastUsed, created: Date.parse(entry.record.created) || entry.ref.lastModified.getTime(), keys: entry.keys, broken: entry.broken }))
  const plan = planEvictions(candidates, sizes, options, now)
  const removed = entries.filter(entry => plan.evicted.has(entry.refKey))
  const kept = entries.filter(entry => !plan.evicted.has(entry.refKey))
  const warnings: string[] = []
  for (const scope of deleteScopes) if (!entries.some(entry => entry.record.scope === scope)) warnings.push(`scope ${scope} has no entries`)
  for (const entry of removed) if (entry.manifestMissing) warnings.push(`entry ${entry.record.scope} ${JSON.stringify(entry.record.key)} names a missing manifest; removed with its scope`)
  for (const entry of removed) if (entry.broken) warnings.push(`entry ${entry.record.scope} ${JSON.stringify(entry.record.key)} names objects missing from the store; removed as broken`)

  // Mark: kept entries, and manifests within the grace period (a save may be about to name them).
  const live = new LiveSet(store, manifests)
  live.remember(scan)
  const referenced = new Set(kept.flatMap(entry => entry.keys))
  try {
    for (const key of referenced) live.keys.add(key)
    const young = [...scan.manifests.values()].filter(info => now - info.lastModified.getTime() < graceMs && !live.keys.has(info.key))
    await mapLimit(young, READ_CONCURRENCY, async info => void (await live.markManifest(info.key)))
  } catch (error) {
    throw refusal(error, store, 0)
  }

  // Sweep candidates: unmarked manifests and objects older than the grace period.
  let keptByGrace = 0
  const sweep: string[] = []
  for (const info of [...scan.manifests.values(), ...scan.objects.values()]) {
    if (referenced.has(info.key)) continue
    if (live.keys.has(info.key) || now - info.lastModified.getTime() < graceMs) keptByGrace++
    else sweep.push(info.key)
  }
  const remainingRefs = new Set(kept.map(entry => entry.refKey))
  const refKeys = removed.map(entry => entry.refKey)
  const accessKeys = [...scan.access.keys()].filter(key => !remainingRefs.has(`refs/${key.slice('access/'.length)}`))
  const sizeOf = (key: string): number => sizes.get(key) ?? scan.refs.get(key)?.size ?? scan.access.get(key)?.size ?? 0

  const report: PruneReport = {
    store: store.location,
    dryRun: options.dryRun === true,
    graceMs,
    kept: kept.map(entry => describeEntry(entry, sizes)).sort((a, b) => (a.lastUsed < b.lastUsed ? 1 : -1)),
    removed: removed.map(entry => describeEntry(entry, sizes, plan.evicted.get(entry.refKey))).sort((a, b) => (a.lastUsed < b.lastUsed ? -1 : 1)),
    liveBytes: plan.liveBytes,
    manifestsRemoved: 0,
    objectsRemoved: 0,
    keptByGrace,
    bytesFreed: 0,
    warnings
  }
  const account = (keys: string[]): void => {
    for (const key of keys) {
      report.bytesFreed += sizeOf(key)
      if (key.startsWith('manifests/')) report.manifestsRemoved++
      else if (key.startsWith('objects/')) report.objectsRemoved++
    }
  }

  if (report.dryRun) {
    account([...refKeys, ...accessKeys, ...sweep])
    return report
  }

  let deleted = 0
  const deleteKeys = async (keys: string[]): Promise<void> => {
    if (keys.length === 0) return
    await store.delete(keys)
    deleted += keys.length
    account(keys)
  }
  const swept = new Set<string>()
  try {
    await deleteKeys(refKeys)
    await deleteKeys(accessKeys)
    // Manifests first: an interrupted prune then leaves only unreferenced objects.
    for (let start = 0; start < sweep.length; start += DELETE_BATCH) {
      // The lease makes a save that writes its manifest after this listing wait for the deletions.
      const releaseLease = await holdPruneLease(store)
      try {
        const orphan = (await live.refresh()).find(entry => entry.manifestMissing)
        if (orphan) throw new PruneRefusedError(`${orphan.refKey}, written while pruning, names manifest ${orphan.tree.slice(0, 12)}, which is missing`)
        const batch = sweep.slice(start, start + DELETE_BATCH).filter(key => !live.keys.has(key))
        await deleteKeys(batch)
        for (const key of batch) swept.add(key)
      } finally {
        await releaseLease()
      }
    }
    if (swept.size > 0) await removeEntriesThatLostKeys(store, live, manifests, swept, deleteKeys, warnings)
  } catch (error) {
    throw refusal(error, store, deleted)
  }
  log(`removed ${removed.length} entries, ${report.manifestsRemoved} manifests, ${report.objectsRemoved} objects`)
  return report
}

/**
 * A save whose manifest appears between the last listing and the deletion that follows can name
 * keys that deletion removed. Its own check stores them again when it runs after the deletion;
 * when it ran before, the save writes an entry that cannot restore. A listing after the
 * deletions finds such entries: those whose keys are still missing are removed (their key can be
 * saved again) and reported. One written after that listing is removed by the next prune as broken.
 */
async function removeEntriesThatLostKeys(store: ObjectStore, live: LiveSet, manifests: ManifestReader, swept: Set<string>, deleteKeys: (keys: string[]) => Promise<void>, warnings: string[]): Promise<void> {
  await live.refresh()
  const named = new Map<string, string[]>()
  for (const entry of live.appeared) {
    const objects = entry.manifestMissing ? [] : ((await manifests.objects(entry.tree, entry.version)) ?? [])
    named.set(entry.refKey, [manifestKey(entry.tree), ...objects].filter(key => swept.has(key)))
  }
  const missing = new Set<string>()
  await mapLimit(new Set([...swept].filter(key => live.keys.has(key)).concat(...named.values())), READ_CONCURRENCY, async key => {
    if (!(await store.head(key))) missing.add(key)
  })
  if (missing.size === 0) return
  const broken = [...named].filter(([, keys]) => keys.some(key => missing.has(key))).map(([refKey]) => refKey)
  // A manifest without an entry yet belongs to a save still running: it checks and stores again after our lease.
  if (broken.length === 0) return
  await deleteKeys(broken)
  const removed = `${broken.length} ${broken.length === 1 ? 'entry' : 'entries'}`
  warnings.push(`a save that finished during this prune names keys it deleted (${[...broken, ...missing][0]}); removed ${removed} that could no longer restore, and the next prune removes any saved later`)
}

/** One line: why the prune stopped, and what it had deleted by then. */
function refusal(error: unknown, store: ObjectStore, deleted: number): Error {
  if (isNamedError(error, 'InputError')) return error
  const done = deleted === 0 ? 'nothing was deleted' : `${deleted} keys were deleted before it stopped`
  return new PruneRefusedError(`refusing to prune ${store.location}: ${errorMessage(error)}; ${done}`)
}
