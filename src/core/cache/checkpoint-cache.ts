import type { Clock } from '../clock.js'
import type { ManifestColumns } from '../manifest/columns.js'
import { loadManifestColumns } from '../manifest/load.js'
import { materializeTree, type MaterializeStats } from '../store/materialize.js'
import type { ObjectStore } from '../store/object-store.js'
import { assertNotReleaseStore } from '../release/release-store.js'
import type { SnapshotStats, TransferProgress } from '../store/snapshot.js'
import { accessKey, parseEntryKey, refKey } from './cache-layout.js'
import { entryVersion, findEntry, newestRevision, validateKey, type EntryMatch } from './entry-refs.js'
import { checkEntry, type EntrySigning, type RestorePolicy, type SignedWriter } from './entry-signature.js'
import { commitSave } from './save-commit.js'
import { resolveSaveRoots, restoreTargets } from './tree-paths.js'

export interface EntryRequest {
  store: ObjectStore
  key: string
  restoreKeys?: string[]
  /** The `path` patterns; relative ones are relative to the workspace. */
  paths: string[]
  workspace: string
  /** Scopes readable by this job, its own first (see scope.ts). */
  readScopes: string[]
  onProgress?: (progress: TransferProgress) => void
}

export interface RestoreRequest extends EntryRequest {
  lookupOnly?: boolean
  /** Remove what the restored directories hold besides the tree's entries (materializeTree's `exactMirror`). */
  exactMirror?: boolean
  /** Restore setuid, setgid and sticky bits as saved (materializeTree's `keepSpecialModes`). */
  keepSpecialModes?: boolean
  /** Which entries may be restored; default any (no signature needed). */
  policy?: RestorePolicy
  /** The folder of stat indexes (materializeTree's `statIndex`); none: files in place are hashed. */
  statIndex?: string
}

/** Every result says how many attempts the store made again during the call. */
interface Retried {
  retries: number
}

/** An entry the policy refused, and why: a restore reports each as a one-line warning. */
export interface RefusedEntry {
  key: string
  scope: string
  reason: string
}

type Restored =
  | { status: 'miss'; refused?: RefusedEntry[] }
  | {
      status: 'found'
      match: EntryMatch
      exact: boolean
      stats?: MaterializeStats
      signer?: SignedWriter
      refused?: RefusedEntry[]
    }
export type RestoreResult = Restored & Retried

export interface SaveRequest extends EntryRequest {
  /** Tree digests already known to this job (from its restore), used to skip uploads. */
  baseTrees?: string[]
  /** Sign the entry: one more object, beside the ref (see entry-signature.ts). */
  signing?: EntrySigning
  /**
   * When the key exists in the own scope with another tree, write the tree as its next revision
   * (entry-refs.ts), with the newest revision as the base; an unchanged tree writes nothing.
   */
  update?: boolean
  /** The tree of an exact hit this job restored (from any scope): an update that leaves it unchanged writes nothing. */
  hitTree?: string
  /** What a manifest's age is measured against; the system's clock unless a test sets one. */
  clock?: Clock
}

type Saved =
  | { status: 'no-files' }
  | { status: 'exists'; tree?: string; stats?: SnapshotStats; updateUnsupported?: boolean }
  /** An update whose tree is the key's newest (or the exact hit's): nothing was written. */
  | { status: 'unchanged'; tree: string; revision?: number }
  /** `revision` above 0: an update, written beside the key's earlier revisions. */
  | { status: 'saved'; tree: string; stats: SnapshotStats; scope: string; revision: number; signed: boolean }
export type SaveResult = Saved & Retried

/** Runs `operation` and adds the attempts the store made again meanwhile to its result. */
async function counted<T>(store: ObjectStore, operation: () => Promise<T>): Promise<T & Retried> {
  const before = store.retries ?? 0
  const result = await operation()
  return { ...result, retries: (store.retries ?? 0) - before }
}

/** Finds and restores an entry. A missing or corrupt object fails with IntegrityError and leaves no partial tree. */
export async function restoreEntry(request: RestoreRequest): Promise<RestoreResult> {
  return counted(request.store, () => findAndRestore(request))
}

async function findAndRestore(request: RestoreRequest): Promise<Restored> {
  validateKey(request.key)
  for (const restoreKey of request.restoreKeys ?? []) validateKey(restoreKey, 'restore-keys')
  const version = entryVersion(request.paths)
  const { policy } = request
  const refused: RefusedEntry[] = []
  const verdicts = new Map<string, Awaited<ReturnType<typeof checkEntry>>>()
  const accept = async (candidate: EntryMatch): Promise<boolean> => {
    if (!policy) return true
    // The exact key is also the first prefix match: check each ref once.
    let verdict = verdicts.get(candidate.refKey)
    if (!verdict) {
      verdict = await checkEntry(request.store, candidate, policy)
      verdicts.set(candidate.refKey, verdict)
      // Named by where the ref is stored: what it says about itself is not trusted.
      const where = parseEntryKey(candidate.refKey) ?? candidate.record
      if (!verdict.accepted) refused.push({ key: where.key, scope: where.scope, reason: verdict.reason })
    }
    return verdict.accepted
  }
  const match = await findEntry(
    request.store,
    { scopes: request.readScopes, version, key: request.key, restoreKeys: request.restoreKeys ?? [] },
    accept
  )
  const refusals = refused.length > 0 ? { refused } : {}
  if (!match) return { status: 'miss', ...refusals }
  const verdict = verdicts.get(match.refKey)
  const signer = verdict?.accepted ? verdict.writer : undefined
  if (request.lookupOnly) return { status: 'found', match, exact: match.exact, signer, ...refusals }
  const manifest = await loadManifestColumns(request.store, match.record.tree)
  const targets = restoreTargets(manifest.roots, request.paths, request.workspace)
  const destinations = targets.map(target => target.destination)
  const bases = targets.map(target => target.base)
  const { store, onProgress, exactMirror, keepSpecialModes, statIndex } = request
  const stats = await materializeTree({
    store,
    manifest,
    destinations,
    bases,
    onProgress,
    exactMirror,
    keepSpecialModes,
    statIndex
  })
  await recordUse(request.store, match.refKey)
  return { status: 'found', match, exact: match.exact, stats, signer, ...refusals }
}

/** Records when an entry was last restored, in a tiny object of its own, for pruning by age. */
async function recordUse(store: ObjectStore, entryRefKey: string): Promise<void> {
  try {
    await store.put(accessKey(entryRefKey), Buffer.from(JSON.stringify({ used: new Date().toISOString() })), {
      contentType: 'application/json'
    })
  } catch {
    // Last-use records only steer pruning; a failed one must not fail a restore.
  }
}

/** Saves the paths under the key in the first (own) scope, unless the key is already there. */
export async function saveEntry(request: SaveRequest): Promise<SaveResult> {
  return counted(request.store, () => storeAndName(request))
}

async function storeAndName(request: SaveRequest): Promise<Saved> {
  validateKey(request.key)
  const scope = request.readScopes[0]
  const version = entryVersion(request.paths)
  const roots = await resolveSaveRoots(request.paths, request.workspace)
  if (roots.length === 0) return { status: 'no-files' }
  await assertNotReleaseStore(request.store)
  const updateUnsupported = request.update === true && request.store.entryRevisions === false
  const update = request.update === true && !updateUnsupported
  const current = update ? await newestRevision(request.store, scope, version, request.key) : undefined
  if (!update && (await request.store.head(refKey(scope, version, request.key))))
    return { status: 'exists', ...(updateUnsupported ? { updateUnsupported } : {}) }
  // A missing bucket reads as a missing key: the check names it before the tree is read.
  await request.store.check()

  const bases = await loadBases(request, version, current?.record.tree)
  const committed = await commitSave({
    content: { store: request.store, roots, bases, onProgress: request.onProgress },
    entry: { key: request.key, scope, version },
    signing: request.signing,
    update,
    unchangedTree: current ? undefined : request.hitTree,
    clock: request.clock
  })
  if (committed.status === 'unchanged') return committed
  const { snapshot } = committed
  if (committed.status === 'exists') {
    const unsupported = updateUnsupported ? { updateUnsupported } : {}
    return { status: 'exists', tree: snapshot.digest, stats: snapshot.stats, ...unsupported }
  }
  const signed = Boolean(request.signing)
  return { status: 'saved', tree: snapshot.digest, stats: snapshot.stats, scope, revision: committed.revision, signed }
}

/**
 * Manifests whose blobs a save may reuse: those this job restored and the newest revision an update
 * follows, else the entry a restore would pick.
 */
async function loadBases(request: SaveRequest, version: string, previous?: string): Promise<ManifestColumns[]> {
  const digests = [...new Set([...(request.baseTrees ?? []), ...(previous ? [previous] : [])])]
  if (digests.length === 0) {
    const match = await findEntry(request.store, {
      scopes: request.readScopes,
      version,
      key: request.key,
      restoreKeys: request.restoreKeys ?? []
    }).catch(() => undefined)
    if (match) digests.push(match.record.tree)
  }
  const manifests: ManifestColumns[] = []
  for (const digest of digests) {
    try {
      manifests.push(await loadManifestColumns(request.store, digest))
    } catch {
      // A base only saves uploads; without it everything is checked against the store instead.
    }
  }
  return manifests
}
