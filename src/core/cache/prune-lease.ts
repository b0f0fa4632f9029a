import { randomUUID } from 'node:crypto'
import { setTimeout as sleep } from 'node:timers/promises'
import type { ObjectStore } from '../store/object-store.js'
import { CACHE_PREFIXES, leaseKey } from './cache-layout.js'

/**
 * A prune holds a lease while it lists and deletes one batch; a save that has written its manifest
 * waits for the leases it sees before checking that its objects still exist. Either the prune's
 * listing saw the save's manifest (and spared its objects), or the save's check runs after the
 * batch's deletions (and stores the lost blobs again): no entry can name a deleted object.
 */

/** A lease older than this is left behind by a prune that died; it is ignored. */
export const LEASE_TTL_MS = 5 * 60 * 1000

export async function holdPruneLease(store: ObjectStore): Promise<() => Promise<void>> {
  const key = leaseKey(randomUUID())
  await store.put(key, Buffer.from(JSON.stringify({ holder: 'prune', since: new Date().toISOString() })), {
    contentType: 'application/json'
  })
  return () => store.delete([key])
}

/** Waits until no live prune lease remains, or `maxWaitMs` passed; returns how long it waited. */
export async function waitForPruneLeases(
  store: ObjectStore,
  options: { maxWaitMs?: number; pollMs?: number } = {}
): Promise<number> {
  const started = Date.now()
  for (;;) {
    let live = false
    // Anything under the folder counts: a malformed lease errs on the side of waiting.
    for await (const lease of store.list(CACHE_PREFIXES.leases))
      if (Date.now() - lease.lastModified.getTime() < LEASE_TTL_MS) live = true
    if (!live || Date.now() - started >= (options.maxWaitMs ?? LEASE_TTL_MS)) return Date.now() - started
    await sleep(options.pollMs ?? 200)
  }
}
