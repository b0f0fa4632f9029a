import type { ObjectStore } from '../store/object-store.js'
import { parseEntryKey, readEntry, type EntryRecord } from './entry-refs.js'

export interface ListedEntry extends EntryRecord {
  refKey: string
  /** When a restore last used it; the creation time when none has. */
  lastUsed?: string
}

/** Every entry in the store with its last use, newest first. Reads one small object per entry. */
export async function listEntries(store: ObjectStore): Promise<ListedEntry[]> {
  const lastUsed = new Map<string, string>()
  for await (const object of store.list('access/'))
    lastUsed.set(`refs/${object.key.slice('access/'.length)}`, object.lastModified.toISOString())
  const entries: ListedEntry[] = []
  for await (const object of store.list('refs/')) {
    if (!parseEntryKey(object.key)) continue
    const record = await readEntry(store, object.key)
    if (record) entries.push({ ...record, refKey: object.key, lastUsed: lastUsed.get(object.key) })
  }
  return entries.sort((a, b) => (a.created < b.created ? 1 : -1))
}
