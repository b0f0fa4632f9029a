import { IntegrityError, isNamedError } from '../errors.js'
import { createHash } from 'node:crypto'
import { sha256Hex, unzstdSync, zstdPieces, zstdSync } from '../store/codec.js'
import {
  columnsOf,
  encodeColumnsWith,
  encodeTreePart,
  isColumnar,
  manifestOf,
  manifestPieces,
  readColumns,
  type ManifestColumns
} from './columns.js'
import { isDelta, readDelta, type StoredDelta } from './delta.js'
import { jsonTreeDigest, readJsonManifest } from './legacy.js'
import { MANIFEST_SCHEMA, type Manifest, type ManifestTree } from './model.js'
import { validateColumns } from './validate.js'

/**
 * A manifest's stored bytes: sealed (tree digest and zstd-compressed bytes) by a save, and decoded
 * by a restore, which checks them against the digest they are stored under and validates them.
 */

/**
 * The tree digest: sha256 over the schema, roots and entries, which depend only on the tree's
 * content. Where the bytes happen to be stored (`blobs`) and mtimes are left out, so identical
 * trees have identical digests whichever objects hold them. For @3 it is the sha256 of the stored
 * tree part, so a restore checks it without re-encoding anything.
 */
export function treeDigest(manifest: ManifestTree): string {
  if (manifest.schema === MANIFEST_SCHEMA) return sha256Hex(encodeTreePart(manifest))
  return jsonTreeDigest(manifest)
}

/** Stored bytes of a manifest: @3 as zstd-compressed columns; an older one (a loaded @1, say) as its JSON. */
export function encodeManifest(manifest: Manifest): Buffer {
  return sealManifest(manifest).encoded
}

/** A manifest's tree digest and stored bytes, encoding it once. */
export function sealManifest(manifest: Manifest): { digest: string; encoded: Buffer } {
  if (manifest.schema !== MANIFEST_SCHEMA)
    return { digest: treeDigest(manifest), encoded: zstdSync(Buffer.from(JSON.stringify(manifest))) }
  return sealed(encodeColumnsWith(manifest, digest => manifest.blobs[digest]))
}

/**
 * sealManifest (@3) for a tree held as columns: a save seals its tree without an object per entry,
 * hashing and compressing the manifest a piece at a time rather than holding its bytes whole.
 */
export async function sealTree(columns: ManifestColumns): Promise<{ digest: string; encoded: Buffer }> {
  const { length, pieces } = manifestPieces({ ...columns, schema: MANIFEST_SCHEMA })
  const tree = createHash('sha256')
  const hashed = function* (): Generator<Uint8Array> {
    for (const { bytes, inTree } of pieces) {
      if (inTree) tree.update(bytes)
      yield bytes
    }
  }
  const encoded = await zstdPieces(hashed(), length)
  return { digest: tree.digest('hex'), encoded }
}

function sealed({ bytes, treePart }: { bytes: Buffer; treePart: Buffer }): { digest: string; encoded: Buffer } {
  return { digest: sha256Hex(treePart), encoded: zstdSync(bytes) }
}

/** The manifest in stored bytes, checked against its tree digest and validated; anything else throws IntegrityError. */
export function decodeManifest(stored: Uint8Array, expectedDigest: string): Manifest {
  const { columns, manifest } = full(readStored(stored, expectedDigest), expectedDigest)
  validateColumns(columns)
  return manifest ?? manifestOf(columns)
}

/** decodeManifest as columns, without an object per entry: what a restore works from. */
export function decodeManifestColumns(stored: Uint8Array, expectedDigest: string): ManifestColumns {
  const { columns } = full(readStored(stored, expectedDigest), expectedDigest)
  validateColumns(columns)
  return columns
}

/** A full manifest (checked against its digest), or a delta: load.ts applies it to its base. */
export type StoredManifest = { columns: ManifestColumns; manifest?: Manifest } | { delta: StoredDelta }

function full(stored: StoredManifest, digest: string): { columns: ManifestColumns; manifest?: Manifest } {
  if ('delta' in stored) throw new IntegrityError(`manifest ${digest.slice(0, 12)} is a delta, not a full manifest`)
  return stored
}

/**
 * The columns of stored bytes checked against the digest, a JSON manifest (@1, @2) also as it was
 * parsed; or a delta, read but not yet applied (its digest is checked once it is).
 */
export function readStored(stored: Uint8Array, expectedDigest: string): StoredManifest {
  const mismatch = () => new IntegrityError(`manifest ${expectedDigest.slice(0, 12)} does not match its digest`)
  try {
    const bytes = unzstdSync(stored)
    if (isDelta(bytes)) return { delta: readDelta(bytes) }
    if (isColumnar(bytes)) {
      const { columns, treePart } = readColumns(bytes)
      if (sha256Hex(treePart) !== expectedDigest) throw mismatch()
      return { columns }
    }
    const manifest = readJsonManifest(bytes)
    if (treeDigest(manifest) !== expectedDigest) throw mismatch()
    return { columns: columnsOf(manifest), manifest }
  } catch (error) {
    throw isNamedError(error, 'IntegrityError')
      ? error
      : new IntegrityError(`manifest ${expectedDigest.slice(0, 12)} is unreadable`)
  }
}
