import { sha256Hex } from '../store/codec.js'
import {
  Codec,
  COMPACT_JSON_SCHEMA,
  SHA256_HEX,
  type BlobLocation,
  type Manifest,
  type ManifestEntry,
  type ManifestTree
} from './model.js'

/**
 * Manifests stored as JSON, which a save no longer writes and a restore still reads: @1 is the
 * JSON of a Manifest, @2 a compact form of it. Their tree digest is the sha256 of a canonical JSON.
 */

/** The tree digest of a JSON manifest: sha256 over the schema, roots and entries without their mtimes. */
export function jsonTreeDigest(manifest: ManifestTree): string {
  const entries = manifest.entries.map(canonicalEntry)
  return sha256Hex(JSON.stringify({ schema: manifest.schema, roots: manifest.roots, entries }))
}

function canonicalEntry(entry: ManifestEntry): ManifestEntry {
  const { root, path, type, mode, size, blobs, target } = entry
  return type === 'file'
    ? { root, path, type, mode, size, blobs }
    : type === 'symlink'
      ? { root, path, type, mode, target }
      : { root, path, type, mode }
}

/**
 * How an @2 manifest was stored: each digest once, in `digests`, in the order the entries first use
 * them; entries name their blobs by index into it, and locations name their object by index into
 * `objects`. A blob right after the previous one in the same shared frame is just `[size]`.
 */
interface CompactManifest {
  schema: string
  roots: string[]
  entries: Array<Omit<ManifestEntry, 'blobs'> & { blobs?: number[] }>
  objects: string[]
  digests: string[]
  locations: number[][]
}

/** The in-memory manifest of decompressed JSON bytes (@2 expanded, anything else as parsed); anything malformed throws. */
export function readJsonManifest(bytes: Buffer): Manifest {
  const parsed = JSON.parse(bytes.toString('utf8')) as CompactManifest
  return parsed.schema === COMPACT_JSON_SCHEMA ? expandCompact(parsed) : (parsed as unknown as Manifest)
}

/** The in-memory shape of an @2 manifest; anything malformed throws. */
function expandCompact(stored: CompactManifest): Manifest {
  const { objects, digests, locations } = stored
  if (
    !Array.isArray(objects) ||
    !Array.isArray(digests) ||
    !Array.isArray(locations) ||
    locations.length !== digests.length
  )
    throw new Error('malformed')
  const blobs: Record<string, BlobLocation> = {}
  let previous: BlobLocation | undefined
  for (const [index, digest] of digests.entries()) {
    if (!SHA256_HEX.test(digest)) throw new Error('malformed')
    const stored = locations[index]
    let location: BlobLocation
    if (stored.length === 1) {
      if (previous?.[4] !== Codec.sharedFrame) throw new Error('malformed')
      const [object, offset, length, size, , within, frameSize] = previous
      location = [object, offset, length, stored[0], Codec.sharedFrame, within + size, frameSize]
    } else {
      const [object, ...rest] = stored
      if (typeof objects[object] !== 'string') throw new Error('malformed')
      location = [objects[object], ...rest] as BlobLocation
    }
    blobs[digest] = location
    previous = location
  }
  const entries = stored.entries.map(({ blobs: indexes, ...entry }): ManifestEntry => {
    if (!indexes) return entry
    return {
      ...entry,
      blobs: indexes.map(index => {
        if (typeof digests[index] !== 'string') throw new Error('malformed')
        return digests[index]
      })
    }
  })
  return { schema: stored.schema, roots: stored.roots, entries, blobs }
}
