import { InputError } from '../errors.js'
import type { ObjectStore } from '../store/object-store.js'
import { CACHE_PREFIXES } from '../cache/cache-layout.js'
import { releaseLayout } from './release-layout.js'

/**
 * A release store and a cache never share a store: a cache is pruned and rewritten, releases are
 * neither. A release store is marked by releaseLayout.marker at its root, written before its first
 * release; a cache is recognised by its refs and manifests (cache-layout.ts).
 */

const MARKER = {
  schema: 'artifact-action/release-store@1',
  note: 'A release store: never pruned, objects never overwritten.'
}

/** Marks `store` as a release store; writes nothing when the mark is there already. */
export async function markReleaseStore(store: ObjectStore): Promise<void> {
  if (await store.head(releaseLayout.marker)) return
  await store.put(releaseLayout.marker, Buffer.from(`${JSON.stringify(MARKER, null, 2)}\n`), {
    ifNoneMatch: true,
    contentType: 'application/json'
  })
}

/**
 * Refuses a cache or pipeline write into a release store before anything is written. It is a
 * configuration error, not a cache problem, so it fails the step (InputError) rather than warning.
 */
export async function assertNotReleaseStore(store: ObjectStore, input = 'store'): Promise<void> {
  if (await store.head(releaseLayout.marker)) {
    throw new InputError(
      `${input}: ${store.location} is a release store (it holds ${releaseLayout.marker}); caches and pipelines may not write there, give them their own bucket or prefix`
    )
  }
}

/** Refuses to release into a store that holds cache entries: a cache is pruned, releases never are. */
export async function assertNotACache(store: ObjectStore, input = 'release-store'): Promise<void> {
  for (const prefix of [CACHE_PREFIXES.refs, CACHE_PREFIXES.manifests]) {
    for await (const _ of store.list(prefix)) {
      throw new InputError(
        `${input}: ${store.location} holds cache entries (${prefix}); use a separate bucket or prefix for releases, which are never pruned`
      )
    }
  }
}
