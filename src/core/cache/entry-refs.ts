import { InputError, StoreError } from '../errors.js'
import { sha256Hex } from '../store/codec.js'
import { MANIFEST_SCHEMA } from '../manifest/model.js'
import type { ObjectInfo, ObjectStore } from '../store/object-store.js'
import { kindOf, MAX_REVISION, refKey, refPrefix, revisionsPrefix } from './cache-layout.js'

/**
 * A cache entry is a small JSON object at its ref (cache-layout.ts) naming a tree digest. It is
 * written last, with a conditional create, so it appears only once its whole tree is stored, and
 * a key, once written, is never overwritten. An update adds a revision beside it, at the same ref
 * with a revision slot (1 and up; the first entry is revision 0): each slot is created once, so
 * racing updates take successive slots and the highest is the newest.
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
  /** The slot of an update (1 and up); absent on the first entry of a key. */
  revision?: number
}

export interface EntryMatch {
  record: EntryRecord
  refKey: string
  exact: boolean
}

/** The newest readable revision of one key. */
export interface EntryRevision {
  record: EntryRecord
  refKey: string
  revision: number
}

/** Racing updates of one key retry on the next slot at most this many times. */
const REVISION_ATTEMPTS = 20

const MAX_KEY_LENGTH = 512

/** Refuses keys that actions/cache refuses, naming the input. */
export function validateKey(key: string, input = 'key'): void {
  if (key.length === 0)
    throw new InputError(
      `${input}: must not be empty; give a cache key such as "deps-\${{ hashFiles('package-lock.json') }}"`
    )
  if (key.length > MAX_KEY_LENGTH)
    throw new InputError(
      `${input}: "${key.slice(0, 40)}…" is ${key.length} characters; a key may have at most ${MAX_KEY_LENGTH}`
    )
  if (key.includes(','))
    throw new InputError(`${input}: "${key}" contains a comma; remove it (commas are not allowed in cache keys)`)
}

/** Entries saved with different paths are different entries, as in actions/cache. */
export function entryVersion(paths: string[]): string {
  return sha256Hex(JSON.stringify([MANIFEST_SCHEMA, paths])).slice(0, 16)
}

/**
 * The family of a key: the key up to and including its last '-', as a restore key would name it
 * ("deps-linux-3f2a" is in "deps-linux-"); a key without '-' is a family of its own.
 */
export function keyFamily(key: string): string {
  const cut = key.lastIndexOf('-')
  return cut < 0 ? key : key.slice(0, cut + 1)
}

/**
 * Reads an entry; undefined when it is missing or is not one this version can trust: a ref anyone
 * with bucket access wrote must name a tree digest and agree with its own name (key, revision).
 */
export async function readEntry(store: ObjectStore, key: string): Promise<EntryRecord | undefined> {
  const name = kindOf(key)
  const bytes = name?.kind === 'ref' && (await store.get(key))
  if (name?.kind !== 'ref' || !bytes) return undefined
  let record: EntryRecord
  try {
    record = JSON.parse(bytes.toString('utf8')) as EntryRecord
  } catch {
    return undefined
  }
  const tree = record?.tree
  if (record?.schema !== ENTRY_SCHEMA || typeof tree !== 'string' || !/^[0-9a-f]{64}$/.test(tree)) return undefined
  if (record.key !== name.key || (record.revision ?? 0) !== name.revision) return undefined
  return record
}

/** Writes an entry unless its key exists: 'exists' means another save got there first. */
export async function writeEntry(store: ObjectStore, record: EntryRecord): Promise<'created' | 'exists'> {
  const key = refKey(record.scope, record.version, record.key, record.revision ?? 0)
  const bytes = Buffer.from(JSON.stringify(record, null, 2))
  return store.put(key, bytes, { ifNoneMatch: true, contentType: 'application/json' })
}

/** The revision slots of a key that refs name, highest first (revision 0 is not listed here). */
async function revisionSlots(store: ObjectStore, scope: string, version: string, key: string): Promise<number[]> {
  const slots: number[] = []
  for await (const object of store.list(revisionsPrefix(scope, version, key))) {
    const name = kindOf(object.key)
    if (name?.kind === 'ref' && name.scope === scope && name.version === version && name.key === key)
      slots.push(name.revision)
  }
  return slots.sort((a, b) => b - a)
}

/** The newest readable revision of a key in one scope: refs that do not read as entries are passed over. */
export async function newestRevision(
  store: ObjectStore,
  scope: string,
  version: string,
  key: string
): Promise<EntryRevision | undefined> {
  for (const revision of [...(await revisionSlots(store, scope, version, key)), 0]) {
    const ref = refKey(scope, version, key, revision)
    const record = await readEntry(store, ref)
    if (record) return { record, refKey: ref, revision }
  }
  return undefined
}

export type UpdateWritten = { status: 'created'; revision: number } | { status: 'unchanged'; revision: number }

/**
 * Writes a record as the next revision of its key: one slot above the highest any ref names, created
 * only if free. When another update takes the slot first, it tries the next; when the newest
 * revision already names this tree, nothing is written.
 */
export async function writeRevision(store: ObjectStore, record: EntryRecord): Promise<UpdateWritten> {
  const { scope, version, key } = record
  for (let attempt = 0; attempt < REVISION_ATTEMPTS; attempt++) {
    const newest = await newestRevision(store, scope, version, key)
    if (newest?.record.tree === record.tree) return { status: 'unchanged', revision: newest.revision }
    const slots = await revisionSlots(store, scope, version, key)
    const base = await store.head(refKey(scope, version, key))
    const revision = slots.length > 0 ? slots[0] + 1 : base ? 1 : 0
    if (revision > MAX_REVISION)
      throw new StoreError(`key ${JSON.stringify(key)} has no revision slot left in ${scope}`)
    const written = await writeEntry(store, { ...record, revision: revision > 0 ? revision : undefined })
    if (written === 'created') return { status: 'created', revision }
  }
  const tries = `${REVISION_ATTEMPTS} times`
  throw new StoreError(`key ${JSON.stringify(key)}: other updates took the next revision first ${tries}; try again`)
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
    const exact = await newestRevision(store, scope, request.version, request.key)
    if (exact) {
      const match = { record: exact.record, refKey: exact.refKey, exact: true }
      if (await accept(match)) return match
    }
    for (const prefix of [request.key, ...request.restoreKeys]) {
      const newest = await newestEntryUnder(store, refPrefix(scope, request.version, prefix))
      // The newest write under a prefix is a key's newest revision unless updates raced: take that key's.
      const revision = newest && (await newestRevision(store, scope, request.version, newest.record.key))
      if (!revision) continue
      const match = { record: revision.record, refKey: revision.refKey, exact: false }
      if (await accept(match)) return match
    }
  }
  return undefined
}

/**
 * The newest entry under a prefix; entries stored at the same time are told apart by their
 * `created` time. Refs that do not read as entries are passed over, for the next newest.
 */
async function newestEntryUnder(
  store: ObjectStore,
  prefix: string
): Promise<{ record: EntryRecord; refKey: string } | undefined> {
  const listed: ObjectInfo[] = []
  for await (const object of store.list(prefix)) if (kindOf(object.key)?.kind === 'ref') listed.push(object)
  listed.sort((a, b) => b.lastModified.getTime() - a.lastModified.getTime())
  for (let start = 0; start < listed.length;) {
    const time = listed[start].lastModified.getTime()
    let end = start
    while (end < listed.length && listed[end].lastModified.getTime() === time) end++
    let best: { record: EntryRecord; refKey: string } | undefined
    for (const object of listed.slice(start, end)) {
      const record = await readEntry(store, object.key)
      if (record && (!best || record.created > best.record.created)) best = { record, refKey: object.key }
    }
    if (best) return best
    start = end
  }
  return undefined
}
