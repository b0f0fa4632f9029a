import type { ObjectStore } from '../store/object-store.js'
import { CACHE_PREFIXES, kindOf, refOfAccess } from './cache-layout.js'
import { readEntry, type EntryRecord } from './entry-refs.js'

export interface ListedEntry extends EntryRecord {
  refKey: string
  /** When a restore last used it; the creation time when none has. */
  lastUsed?: string
}

/** Every entry in the store with its last use, newest first. Reads one small object per entry. */
export async function listEntries(store: ObjectStore): Promise<ListedEntry[]> {
  const lastUsed = new Map<string, string>()
  for await (const object of store.list(CACHE_PREFIXES.access)) {
    const ref = refOfAccess(object.key)
    if (ref) lastUsed.set(ref, object.lastModified.toISOString())
  }
  const entries: ListedEntry[] = []
  for await (const object of store.list(CACHE_PREFIXES.refs)) {
    if (kindOf(object.key)?.kind !== 'ref') continue
    const record = await readEntry(store, object.key)
    if (record) entries.push({ ...record, refKey: object.key, lastUsed: lastUsed.get(object.key) })
  }
  return entries.sort((a, b) => (a.created < b.created ? 1 : -1))
}
