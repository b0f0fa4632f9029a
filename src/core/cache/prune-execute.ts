import { PruneRefusedError } from '../errors.js'
import type { ObjectInfo, ObjectStore } from '../store/object-store.js'
import { mapLimit } from '../task-pool.js'
import { CACHE_PREFIXES, kindOf, manifestKey, signatureKey } from './cache-layout.js'
import { holdPruneLease } from './prune-lease.js'
import {
  countDeleted,
  markManifest,
  orderedListing,
  readRef,
  READ_CONCURRENCY,
  refusal,
  type ManifestReader,
  type PrunePlan,
  type PruneReport,
  type StoreScan
} from './prune-plan.js'

const DELETE_BATCH = 1000

/**
 * The execution of a prune's plan: deletes what the plan found evicted and unreferenced, keeping a
 * live set of the keys not to delete, refreshed before each batch, under a lease that a save's
 * commit waits for (prune-lease.ts).
 */

/**
 * Carries out a plan: the evicted entries' refs first (so no restore finds an evicted entry), then
 * last-use records, then manifests and objects in batches, each batch under a prune lease and after
 * a fresh listing of refs and manifests. Returns the plan's report with what was deleted.
 */
export async function executePrune(plan: PrunePlan, log: (line: string) => void): Promise<PruneReport> {
  const { store, sweep } = plan
  const counts = { manifestsRemoved: 0, objectsRemoved: 0, signaturesRemoved: 0, bytesFreed: 0 }
  const report: PruneReport = { ...plan.report, dryRun: false, ...counts, warnings: [...plan.report.warnings] }
  const live = new LiveSet(store, plan.manifests, plan.marked, plan.scan)
  let deleted = 0
  const deleteKeys = async (keys: string[]): Promise<void> => {
    if (keys.length === 0) return
    await store.delete(keys)
    deleted += keys.length
    countDeleted(report, keys, plan.sizeOf)
  }
  const swept = new Set<string>()
  try {
    await deleteKeys(plan.refKeys)
    await deleteKeys(plan.accessKeys)
    // Manifests first: an interrupted prune then leaves only unreferenced objects.
    for (let start = 0; start < sweep.length; start += DELETE_BATCH) {
      // The lease makes a save that writes its manifest after this listing wait for the deletions.
      const releaseLease = await holdPruneLease(store)
      try {
        const orphan = (await live.refresh()).find(entry => entry.manifestMissing)
        if (orphan)
          throw new PruneRefusedError(
            `${orphan.refKey}, written while pruning, names manifest ${orphan.tree.slice(0, 12)}, which is missing`
          )
        const batch = sweep.slice(start, start + DELETE_BATCH).filter(key => !live.keys.has(key))
        await deleteKeys(batch)
        for (const key of batch) swept.add(key)
      } finally {
        await releaseLease()
      }
    }
    if (swept.size > 0) await removeEntriesThatLostKeys(store, live, plan.manifests, swept, deleteKeys, report.warnings)
  } catch (error) {
    throw refusal(error, store, deleted)
  }
  log(
    `removed ${report.removed.length} entries, ${report.manifestsRemoved} manifests, ${report.objectsRemoved} objects, ${report.signaturesRemoved} signatures`
  )
  return report
}

/**
 * The keys a prune must not delete: those of kept entries, of manifests younger than the grace
 * period, and of any entry or manifest that appears or changes while it runs. `refresh` re-lists
 * refs and manifests so that a save finishing during the prune is seen before each deletion.
 */
class LiveSet {
  /** Entries that appeared since the first listing. */
  readonly appeared: NewEntry[] = []
  private readonly seenRefs = new Map<string, number>()
  private readonly seenManifests = new Map<string, number>()
  private readonly seenSignatures = new Map<string, number>()

  constructor(
    private readonly store: ObjectStore,
    private readonly manifests: ManifestReader,
    /** The keys not to delete, as the plan marked them; refreshes add to them. */
    readonly keys: Set<string>,
    scan: StoreScan
  ) {
    for (const [key, info] of scan.refs) this.seenRefs.set(key, info.lastModified.getTime())
    for (const [key, info] of scan.manifests) this.seenManifests.set(key, info.lastModified.getTime())
    for (const [key, info] of scan.signatures) this.seenSignatures.set(key, info.lastModified.getTime())
  }

  /** Marks a manifest and the objects it names; false when the manifest is missing. */
  markManifest(key: string, version = ''): Promise<boolean> {
    return markManifest(this.manifests, this.keys, key, version)
  }

  /** Re-lists refs, manifests and signatures and marks what appeared or changed since; returns the entries that appeared. */
  async refresh(): Promise<NewEntry[]> {
    const newRefs: ObjectInfo[] = []
    for await (const ref of orderedListing(this.store, CACHE_PREFIXES.refs)) {
      if (kindOf(ref.key)?.kind !== 'ref')
        throw new PruneRefusedError(`${ref.key} is not a cache entry this version understands`)
      if (this.seenRefs.get(ref.key) !== ref.lastModified.getTime()) newRefs.push(ref)
    }
    const newManifests: ObjectInfo[] = []
    for await (const manifest of orderedListing(this.store, CACHE_PREFIXES.manifests)) {
      if (
        kindOf(manifest.key)?.kind === 'manifest' &&
        this.seenManifests.get(manifest.key) !== manifest.lastModified.getTime()
      )
        newManifests.push(manifest)
    }
    // A save writes its signature before its ref: one written since the listing is kept.
    for await (const signature of orderedListing(this.store, CACHE_PREFIXES.signatures))
      if (this.seenSignatures.get(signature.key) !== signature.lastModified.getTime()) this.keys.add(signature.key)
    const entries: NewEntry[] = []
    await mapLimit(newRefs, READ_CONCURRENCY, async ref => {
      const version = String(ref.lastModified.getTime())
      const record = await readRef(this.store, ref.key)
      if (record) {
        this.keys.add(signatureKey(ref.key, record.tree))
        entries.push({
          refKey: ref.key,
          tree: record.tree,
          version,
          manifestMissing: !(await this.markManifest(manifestKey(record.tree), version))
        })
      }
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

/**
 * A save whose manifest appears between the last listing and the deletion that follows can name
 * keys that deletion removed. Its own check stores them again when it runs after the deletion;
 * when it ran before, the save writes an entry that cannot restore. A listing after the
 * deletions finds such entries: those whose keys are still missing are removed (their key can be
 * saved again) and reported. One written after that listing is removed by the next prune as broken.
 */
async function removeEntriesThatLostKeys(
  store: ObjectStore,
  live: LiveSet,
  manifests: ManifestReader,
  swept: Set<string>,
  deleteKeys: (keys: string[]) => Promise<void>,
  warnings: string[]
): Promise<void> {
  await live.refresh()
  const named = new Map<string, string[]>()
  for (const entry of live.appeared) {
    const objects = entry.manifestMissing ? [] : ((await manifests.objects(entry.tree, entry.version)) ?? [])
    named.set(
      entry.refKey,
      [manifestKey(entry.tree), ...objects].filter(key => swept.has(key))
    )
  }
  const missing = new Set<string>()
  await mapLimit(
    new Set([...swept].filter(key => live.keys.has(key)).concat(...named.values())),
    READ_CONCURRENCY,
    async key => {
      if (!(await store.head(key))) missing.add(key)
    }
  )
  if (missing.size === 0) return
  const broken = [...named].filter(([, keys]) => keys.some(key => missing.has(key))).map(([refKey]) => refKey)
  // A manifest without an entry yet belongs to a save still running: it checks and stores again after our lease.
  if (broken.length === 0) return
  await deleteKeys(broken)
  const removed = `${broken.length} ${broken.length === 1 ? 'entry' : 'entries'}`
  warnings.push(
    `a save that finished during this prune names keys it deleted (${[...broken, ...missing][0]}); removed ${removed} that could no longer restore, and the next prune removes any saved later`
  )
}
