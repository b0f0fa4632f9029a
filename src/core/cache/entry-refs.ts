import { InputError } from '../errors.js'
import { sha256Hex } from '../store/codec.js'
import { MANIFEST_SCHEMA } from '../store/manifest.js'
import type { ObjectInfo, ObjectStore } from '../store/object-store.js'

/**
 * A cache entry is a small JSON object at refs/<scope>/<version>/<key> naming a tree digest. It is
 * written last, with a conditional create, so it appears only once its whole tree is stored, and
 * a key, once written, is never overwritten.
 */
export const ENTRY_SCHEMA = 'artifact-action/entry@1'

export interface EntryRecord {
  schema: typeof ENTRY_SCHEMA
  key: string
  scope: string
  version: string
  tree: string
  files: number
  size: number
  created: string
}

export interface EntryMatch {
  record: EntryRecord
  refKey: string
  exact: boolean
}

const MAX_KEY_LENGTH = 512

/** Refuses keys that actions/cache refuses, naming the input. */
export function validateKey(key: string, input = 'key'): void {
  if (key.length === 0) throw new InputError(`${input}: must not be empty; give a cache key such as "deps-\${{ hashFiles('package-lock.json') }}"`)
  if (key.length > MAX_KEY_LENGTH) throw new InputError(`${input}: "${key.slice(0, 40)}…" is ${key.length} characters; a key may have at most ${MAX_KEY_LENGTH}`)
  if (key.includes(',')) throw new InputError(`${input}: "${key}" contains a comma; remove it (commas are not allowed in cache keys)`)
}

/** Entries saved with different paths are different entries, as in actions/cache. */
export function entryVersion(paths: string[]): string {
  return sha256Hex(JSON.stringify([MANIFEST_SCHEMA, paths])).slice(0, 16)
}

/** Percent-encoding keeps prefixes: a key's prefix encodes to a prefix of the encoded key. */
function encodeName(name: string): string {
  return encodeURIComponent(name)
}

export function refKey(scope: string, version: string, key: string): string {
  return `refs/${encodeName(scope)}/${version}/${encodeName(key)}`
}

export function accessKey(refKeyOfEntry: string): string {
  return `access/${refKeyOfEntry.slice('refs/'.length)}`
}

/** The scope, version and key that a ref or access object name encodes. */
export function parseEntryKey(objectKey: string): { scope: string; version: string; key: string } | undefined {
  const match = /^(?:refs|access)\/([^/]+)\/([0-9a-f]{16})\/([^/]+)$/.exec(objectKey)
  if (!match) return undefined
  return { scope: decodeURIComponent(match[1]), version: match[2], key: decodeURIComponent(match[3]) }
}

export async function readEntry(store: ObjectStore, key: string): Promise<EntryRecord | undefined> {
  const bytes = await store.get(key)
  if (!bytes) return undefined
  const record = JSON.parse(bytes.toString('utf8')) as EntryRecord
  return record.schema === ENTRY_SCHEMA ? record : undefined
}

/** Writes an entry unless its key exists: 'exists' means another save got there first. */
export async function writeEntry(store: ObjectStore, record: EntryRecord): Promise<'created' | 'exists'> {
  return store.put(refKey(record.scope, record.version, record.key), Buffer.from(JSON.stringify(record, null, 2)), { ifNoneMatch: true, contentType: 'application/json' })
}

/**
 * Finds the entry a restore uses, as actions/cache does: in each readable scope in turn, the exact
 * key, then the newest entry whose key starts with the key or with each restore key, in order.
 * Prefix lookups list only the keys under that prefix, page by page. A candidate that `accept` refuses is
 * skipped, and the search goes on with the next one.
 */
export async function findEntry(
  store: ObjectStore,
  request: { scopes: string[]; version: string; key: string; restoreKeys: string[] },
  accept: (match: EntryMatch) => Promise<boolean> = async () => true
): Promise<EntryMatch | undefined> {
  for (const scope of request.scopes) {
    const exactKey = refKey(scope, request.version, request.key)
    const exact = await readEntry(store, exactKey)
    if (exact && (await accept({ record: exact, refKey: exactKey, exact: true }))) return { record: exact, refKey: exactKey, exact: true }
    for (const prefix of [request.key, ...request.restoreKeys]) {
      const newest = await newestEntryUnder(store, refKey(scope, request.version, prefix))
      if (newest && (await accept({ ...newest, exact: false }))) return { ...newest, exact: false }
    }
  }
  return undefined
}

/** The newest entry under a prefix; entries stored within the same second are told apart by their `created` time. */
async function newestEntryUnder(store: ObjectStore, prefix: string): Promise<{ record: EntryRecord; refKey: string } | undefined> {
  let latest: ObjectInfo[] = []
  for await (const object of store.list(prefix)) {
    const newer = latest.length === 0 ? 1 : object.lastModified.getTime() - latest[0].lastModified.getTime()
    if (newer > 0) latest = [object]
    else if (newer === 0) latest.push(object)
  }
  let best: { record: EntryRecord; refKey: string } | undefined
  for (const object of latest) {
    const record = await readEntry(store, object.key)
    if (record && (!best || record.created > best.record.created)) best = { record, refKey: object.key }
  }
  return best
}
