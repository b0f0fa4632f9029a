import { IntegrityError } from '../errors.js'
import { manifestKey } from '../cache/cache-layout.js'
import type { ObjectStore } from '../store/object-store.js'
import { manifestOf, type ManifestColumns } from './columns.js'
import { applyDelta } from './delta.js'
import { readStored } from './encoding.js'
import type { Manifest } from './model.js'
import { validateColumns } from './validate.js'

/** How loaded columns were stored: under which digest, and as a delta against which base. */
export interface StoredForm {
  digest: string
  base?: string
}

const storedForms = new WeakMap<ManifestColumns, StoredForm>()

/** How columns loadManifestColumns returned were stored; undefined for columns from elsewhere. */
export function storedFormOf(columns: ManifestColumns): StoredForm | undefined {
  return storedForms.get(columns)
}

/** The manifest a store holds under a tree digest, checked against the digest and validated whole. */
export async function loadManifest(store: ObjectStore, digest: string): Promise<Manifest> {
  const { columns, manifest } = await load(store, digest)
  return manifest ?? manifestOf(columns)
}

/** loadManifest as columns, without an object per entry: for restores, prunes and the bases of a save. */
export async function loadManifestColumns(store: ObjectStore, digest: string): Promise<ManifestColumns> {
  return (await load(store, digest)).columns
}

/** The base a stored delta names, without applying it; undefined for a full manifest or none. */
export async function storedDeltaBase(store: ObjectStore, digest: string): Promise<string | undefined> {
  const bytes = await store.get(manifestKey(digest))
  if (!bytes) return undefined
  const stored = readStored(bytes, digest)
  return 'delta' in stored ? stored.delta.base : undefined
}

/**
 * A full manifest as stored; a delta applied to its base, which must be a full manifest (two GETs
 * at most), and checked as the resolved tree against the digest the delta is stored under.
 */
async function load(store: ObjectStore, digest: string): Promise<{ columns: ManifestColumns; manifest?: Manifest }> {
  const stored = readStored(await fetchManifest(store, digest), digest)
  if (!('delta' in stored)) {
    validateColumns(stored.columns)
    storedForms.set(stored.columns, { digest })
    return stored
  }
  const { base } = stored.delta
  const baseStored = readStored(await fetchManifest(store, base), base)
  if ('delta' in baseStored)
    throw new IntegrityError(`manifest ${digest.slice(0, 12)} is a delta against ${base.slice(0, 12)}, itself a delta`)
  const columns = applyDelta(stored.delta, baseStored.columns, digest)
  freeDecoded([baseStored.columns, stored.delta.added])
  storedForms.set(columns, { digest, base })
  return { columns }
}

async function fetchManifest(store: ObjectStore, digest: string): Promise<Uint8Array> {
  const bytes = await store.get(manifestKey(digest))
  if (!bytes) throw new IntegrityError(`manifest ${digest.slice(0, 12)} is missing from the store`)
  return bytes
}

/** The typed arrays of columns, the paths' among them. */
function typedColumns(columns: ManifestColumns): TypedColumn[] {
  return [...TYPED_COLUMNS.map(name => columns[name]), columns.paths.text, columns.paths.starts]
}

type TypedColumn = Uint8Array | Uint32Array | Float64Array
const TYPED_COLUMNS = [
  'types',
  'modes',
  'rootIndexes',
  'sizes',
  'mtimes',
  'blobCounts',
  'refs',
  'digests',
  'objectIndexes',
  'offsets',
  'lengths',
  'blobSizes',
  'codecs',
  'withins',
  'frameSizes'
] as const satisfies ReadonlyArray<keyof ManifestColumns>

/** Larger buffers are a decoded manifest's own; smaller ones may be slices of node's shared Buffer pool. */
const MIN_RELEASED_BYTES = 64 * 1024

/**
 * Frees the decoded manifests that columns view (a delta's base and its added entries, once the delta is
 * applied into columns of their own) at once rather than at the next full garbage collection. The columns are
 * unusable afterwards. A full manifest's columns keep viewing its decoded bytes, which hold nothing else.
 */
function freeDecoded(decoded: ManifestColumns[]): void {
  for (const buffer of new Set(decoded.flatMap(typedColumns).map(array => array.buffer))) {
    // By its tag: `instanceof` fails across realms (as under jest); a SharedArrayBuffer is not detached.
    const plain = Object.prototype.toString.call(buffer) === '[object ArrayBuffer]'
    if (!plain || buffer.byteLength < MIN_RELEASED_BYTES) continue
    try {
      // Detaching (transfer to a new, empty buffer) frees the memory now; lib ES2023 does not declare it.
      ;(buffer as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0)
    } catch {
      // Node made it not detachable: the garbage collector frees it.
    }
  }
}
