/**
 * What a manifest is: its schemas, its in-memory shape and how a blob is stored. It imports
 * nothing, so the codecs, the validation and the store code all depend on it without a cycle.
 */

export const MANIFEST_SCHEMA = 'artifact-action/manifest@3'
export const COMPACT_JSON_SCHEMA = 'artifact-action/manifest@2'
/** Manifests a restore still reads: @1 has no shared frames (codec 2); @2 is JSON, @3 columns. */
export const READABLE_SCHEMAS: readonly string[] = ['artifact-action/manifest@1', COMPACT_JSON_SCHEMA, MANIFEST_SCHEMA]

/** A sha256 digest as lower-case hex: how a manifest names a blob, and how every layout names content. */
export const SHA256_HEX = /^[0-9a-f]{64}$/

export type EntryType = 'file' | 'dir' | 'symlink'

/** One path of the tree. `path` is relative to its root, '/'-separated; '' is the root itself. */
export interface ManifestEntry {
  root: number
  path: string
  type: EntryType
  mode: number
  /** Files: byte count, and the sha256 of each piece in order (one for a small file, CDC chunks for a large one). */
  size?: number
  blobs?: string[]
  /** Symlinks: the link text, unresolved. */
  target?: string
  /**
   * Files: modification time in whole milliseconds. Not part of the tree digest; a restore sets it,
   * and a later save skips reading files whose size and mtime still match.
   */
  mtime?: number
}

/** A save puts at most this many blobs in one shared frame, so that a restore's job per frame stays small. */
export const MAX_FRAME_BLOBS = 4096

/** How a blob is stored: raw, as a zstd frame of its own, or inside a zstd frame shared with other small blobs. */
export const Codec = { raw: 0, zstd: 1, sharedFrame: 2 } as const

/**
 * Where a blob's bytes live: object name, offset and length of the stored bytes, raw size, codec.
 * For a shared frame the stored range is the frame's, and `within` and `frameSize` place the blob
 * in the decompressed frame.
 */
export type BlobLocation =
  | [object: string, offset: number, length: number, size: number, codec: 0 | 1]
  | [object: string, offset: number, length: number, size: number, codec: 2, within: number, frameSize: number]

export interface Manifest {
  schema: string
  /** Each saved path as the `path` input resolved it: relative to the workspace, `~/…`, or absolute. */
  roots: string[]
  entries: ManifestEntry[]
  blobs: Record<string, BlobLocation>
}

/** What the tree digest covers: a manifest without its blob locations. */
export type ManifestTree = Pick<Manifest, 'schema' | 'roots' | 'entries'>
