import { systemClock, type Clock } from '../clock.js'
import { StoreError } from '../errors.js'
import { manifestKey, objectKey, refKey, signatureKey } from './cache-layout.js'
import type { ObjectStore } from '../store/object-store.js'
import { snapshotTree, type Snapshot, type SnapshotOptions } from '../store/snapshot.js'
import { mapLimit } from '../task-pool.js'
import { ENTRY_SCHEMA, writeEntry, writeRevision, type EntryRecord } from './entry-refs.js'
import { writeEntrySignature, type EntrySigning } from './entry-signature.js'
import { waitForPruneLeases } from './prune-lease.js'

/** What a save commits: its content and the entry that names it. */
export interface SaveCommit {
  /** What to store (snapshotTree's options). */
  content: Omit<SnapshotOptions, 'excludedObjects'>
  /** The entry the ref names. */
  entry: { key: string; scope: string; version: string }
  signing?: EntrySigning
  /** Write the tree as the key's next revision (writeRevision), not as its first entry (writeEntry). */
  update: boolean
  /** An update's tree that writes nothing: the exact hit's, when the key has no revision yet. */
  unchangedTree?: string
  /** What an existing manifest's age is measured against; the system's clock by default. */
  clock?: Clock
}

/**
 * An existing manifest of the same tree older than this is rewritten: a prune keeps manifests younger
 * than its grace period, which must exceed this plus the time from the manifest to the ref.
 */
export const MANIFEST_REFRESH_MS = 10 * 60 * 1000

export type Committed =
  | { status: 'saved'; snapshot: Snapshot; revision: number }
  /** The ref was written meanwhile by another save. */
  | { status: 'exists'; snapshot: Snapshot }
  | { status: 'unchanged'; tree: string; revision?: number }

/**
 * The commit of a save, the one place a manifest is written. In order: store the tree's content;
 * write its manifest, create-only, rewriting one of the same tree that is old; write the signature;
 * wait out any live prune lease; check that the manifest, the signature and the objects it did not
 * write still exist, and if a prune took some, store them again; then the ref. A prune either listed
 * them young (and spares them) or deleted before the check (which stores them again): no ref names a
 * deleted manifest, object or signature.
 */
export async function commitSave(commit: SaveCommit): Promise<Committed> {
  const { store } = commit.content
  let snapshot = await snapshotTree(commit.content)
  if ((await writeManifest(store, snapshot)) === 'exists') await refreshManifest(store, snapshot, commit.clock)
  const record = entryRecord(commit, snapshot)
  const unchanged = commit.update && snapshot.digest === commit.unchangedTree
  // Before the lease wait: a prune that listed an evicted entry's old signature of this tree deletes
  // it before the wait ends, and the check below writes it again.
  const signature = commit.signing && !unchanged ? await signEntry(store, record, commit.signing) : undefined
  // A prune may have collected objects of a base since it was read: wait out a prune's deletions
  // in progress, then store again the blobs whose objects are gone.
  await waitForPruneLeases(store)
  const vanished = await missingObjects(store, snapshot.reusedObjects)
  if (vanished.size === 0 && snapshot.delta && !(await store.head(manifestKey(snapshot.delta.base))))
    // A prune took the delta's base: the full manifest replaces the delta.
    await writeManifest(store, { ...snapshot, delta: undefined }, { replace: true })
  if (vanished.size > 0) {
    snapshot = await snapshotTree({ ...commit.content, excludedObjects: vanished })
    // Before the check, as the first: created again if a prune removed the first.
    await writeManifest(store, snapshot)
    if ((await missingObjects(store, snapshot.reusedObjects)).size > 0)
      throw new StoreError(
        'objects vanished from the store while saving (a concurrent prune?); nothing was saved, try again'
      )
    // The first manifest under this digest named the vanished objects; this one is checked.
    await writeManifest(store, snapshot, { replace: true })
  } else if (!(await store.head(manifestKey(snapshot.digest)))) {
    // A prune's batch listed the old manifest before the rewrite and deleted it after: write it
    // again, young and full, and check once more after that batch's deletions.
    await writeManifest(store, { ...snapshot, delta: undefined })
    await waitForPruneLeases(store)
    const manifestGone = !(await store.head(manifestKey(snapshot.digest)))
    if (manifestGone || (await missingObjects(store, snapshot.reusedObjects)).size > 0)
      throw new StoreError(
        'the manifest or objects vanished from the store while saving (a concurrent prune?); nothing was saved, try again'
      )
  }
  if (signature && !(await store.head(signature.key))) {
    await signature.write()
    await waitForPruneLeases(store)
    if (!(await store.head(signature.key)))
      throw new StoreError('the signature vanished from the store while saving (a concurrent prune?); try again')
  }
  if (unchanged) return { status: 'unchanged', tree: snapshot.digest }
  return writeRef(commit, snapshot, record)
}

/** The record the ref holds, stamped with the save's clock. */
function entryRecord(commit: SaveCommit, snapshot: Snapshot): EntryRecord {
  const { key, scope, version } = commit.entry
  return {
    schema: ENTRY_SCHEMA,
    key,
    scope,
    version,
    tree: snapshot.digest,
    files: snapshot.stats.files,
    size: snapshot.stats.treeBytes,
    created: new Date((commit.clock ?? systemClock).now()).toISOString()
  }
}

/** Writes the entry's signature, and returns how to write it again. */
async function signEntry(
  store: ObjectStore,
  record: EntryRecord,
  signing: EntrySigning
): Promise<{ key: string; write: () => Promise<void> }> {
  const entryRefKey = refKey(record.scope, record.version, record.key)
  const write = () => writeEntrySignature(store, entryRefKey, record, signing)
  await write()
  return { key: signatureKey(entryRefKey, record.tree), write }
}

/** The ref, after the signature: a signed entry is never visible without its signature. */
async function writeRef(commit: SaveCommit, snapshot: Snapshot, record: EntryRecord): Promise<Committed> {
  const { store } = commit.content
  if (commit.update) {
    const written = await writeRevision(store, record)
    if (written.status === 'unchanged')
      return { status: 'unchanged', tree: snapshot.digest, revision: written.revision }
    return { status: 'saved', snapshot, revision: written.revision }
  }
  if ((await writeEntry(store, record)) === 'exists') return { status: 'exists', snapshot }
  return { status: 'saved', snapshot, revision: 0 }
}

/**
 * Writes a tree's manifest, as its delta when the snapshot has one. Create-only by default: an
 * existing manifest of the same tree stays, and the bytes count as uploaded only when this write
 * creates it; `replace` overwrites it.
 */
async function writeManifest(
  store: ObjectStore,
  snapshot: Snapshot,
  { replace = false } = {}
): Promise<'created' | 'exists'> {
  const key = manifestKey(snapshot.digest)
  const encoded = snapshot.delta?.encoded ?? snapshot.encoded
  if (replace) return store.put(key, encoded)
  const written = await store.put(key, encoded, { ifNoneMatch: true })
  if (written === 'created') snapshot.stats.bytesUploaded += encoded.length
  return written
}

/**
 * Rewrites an existing manifest of the tree that is older than MANIFEST_REFRESH_MS (or gone since),
 * so that a prune starting before the ref lands finds it within its grace period. Its digest is the
 * same; the bytes written name only objects this save checks before its ref. A store whose keys
 * cannot be written again is never pruned: its manifest stays.
 */
async function refreshManifest(store: ObjectStore, snapshot: Snapshot, clock: Clock = systemClock): Promise<void> {
  if (store.overwrites === false) return
  const existing = await store.head(manifestKey(snapshot.digest))
  if (!existing || clock.now() - existing.lastModified.getTime() >= MANIFEST_REFRESH_MS)
    await writeManifest(store, snapshot, { replace: true })
}

async function missingObjects(store: ObjectStore, objects: Set<string>): Promise<Set<string>> {
  const missing = new Set<string>()
  await mapLimit(objects, 16, async object => {
    if (!(await store.head(objectKey(object)))) missing.add(object)
  })
  return missing
}
