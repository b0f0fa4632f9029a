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
    const columns = ownColumns(stored.columns)
    release(stored.columns, columns)
    validateColumns(columns)
    storedForms.set(columns, { digest })
    return { columns, manifest: stored.manifest }
  }
  const { base } = stored.delta
  const baseStored = readStored(await fetchManifest(store, base), base)
  if ('delta' in baseStored)
    throw new IntegrityError(`manifest ${digest.slice(0, 12)} is a delta against ${base.slice(0, 12)}, itself a delta`)
  const applied = applyDelta(stored.delta, baseStored.columns, digest)
  const columns = ownColumns(applied)
  release(baseStored.columns, columns)
  release(applied, columns)
  storedForms.set(columns, { digest, base })
  return { columns }
}

async function fetchManifest(store: ObjectStore, digest: string): Promise<Uint8Array> {
  const bytes = await store.get(manifestKey(digest))
  if (!bytes) throw new IntegrityError(`manifest ${digest.slice(0, 12)} is missing from the store`)
  return bytes
}

/** The typed arrays of columns. */
function typedColumns(columns: ManifestColumns): Array<Uint8Array | Uint32Array | Float64Array> {
  const { types, modes, rootIndexes, sizes, mtimes, blobCounts, refs } = columns
  const { objectIndexes, offsets, lengths, blobSizes, codecs, withins, frameSizes } = columns
  return [types, modes, rootIndexes, sizes, mtimes, blobCounts, refs, objectIndexes, offsets, lengths].concat([
    blobSizes,
    codecs,
    withins,
    frameSizes
  ])
}

/** Larger buffers are a decoded manifest's own; smaller ones may be slices of node's shared Buffer pool. */
const MIN_RELEASED_BYTES = 64 * 1024

/**
 * Frees the buffers that decoded columns viewed and their own copies (`kept`) do not, at once rather
 * than at the next full garbage collection: a large manifest's decoded bytes are its largest buffer.
 * The decoded columns are unusable afterwards; only load() calls it, on columns it decoded itself.
 */
function release(decoded: ManifestColumns, kept: ManifestColumns): void {
  const keep = new Set(typedColumns(kept).map(array => array.buffer))
  for (const { buffer } of typedColumns(decoded)) {
    if (keep.has(buffer) || !(buffer instanceof ArrayBuffer) || buffer.byteLength < MIN_RELEASED_BYTES) continue
    try {
      // Detaching (transfer to a new, empty buffer) frees the memory now; lib ES2023 does not declare it.
      ;(buffer as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0)
    } catch {
      // Node made it not detachable: the garbage collector frees it.
    }
  }
}

/**
 * The columns with each typed array in a buffer of its own: read columns are views into the decoded
 * manifest, whose paths and digests are held again as strings, so keeping one view would keep it all.
 */
function ownColumns(columns: ManifestColumns): ManifestColumns {
  // A copy through the plain constructors: a Buffer's slice() is a view.
  const own = <T extends Uint8Array | Uint32Array | Float64Array>(array: T): T => {
    if (array.byteLength === array.buffer.byteLength) return array
    if (array instanceof Float64Array) return new Float64Array(array) as T
    return (array instanceof Uint32Array ? new Uint32Array(array) : new Uint8Array(array)) as T
  }
  return {
    ...columns,
    types: own(columns.types),
    modes: own(columns.modes),
    rootIndexes: own(columns.rootIndexes),
    sizes: own(columns.sizes),
    mtimes: own(columns.mtimes),
    blobCounts: own(columns.blobCounts),
    refs: own(columns.refs),
    objectIndexes: own(columns.objectIndexes),
    offsets: own(columns.offsets),
    lengths: own(columns.lengths),
    blobSizes: own(columns.blobSizes),
    codecs: own(columns.codecs),
    withins: own(columns.withins),
    frameSizes: own(columns.frameSizes)
  }
}
