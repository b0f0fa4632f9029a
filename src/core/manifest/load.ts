import { IntegrityError } from '../errors.js'
import { manifestKey } from '../cache/cache-layout.js'
import type { ObjectStore } from '../store/object-store.js'
import type { ManifestColumns } from './columns.js'
import { decodeManifest, decodeManifestColumns } from './encoding.js'
import type { Manifest } from './model.js'

/** The manifest a store holds under a tree digest, checked against the digest and validated whole. */
export async function loadManifest(store: ObjectStore, digest: string): Promise<Manifest> {
  return decodeManifest(await fetchManifest(store, digest), digest)
}

/** loadManifest as columns, without an object per entry: for restores, prunes and the bases of a save. */
export async function loadManifestColumns(store: ObjectStore, digest: string): Promise<ManifestColumns> {
  return decodeManifestColumns(await fetchManifest(store, digest), digest)
}

async function fetchManifest(store: ObjectStore, digest: string): Promise<Uint8Array> {
  const bytes = await store.get(manifestKey(digest))
  if (!bytes) throw new IntegrityError(`manifest ${digest.slice(0, 12)} is missing from the store`)
  return bytes
}
