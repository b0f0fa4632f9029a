import type { Readable } from 'node:stream'

/** One stored object as a listing or a HEAD reports it. */
export interface ObjectInfo {
  key: string
  size: number
  lastModified: Date
}

/** A body held in memory, or a file read as it is sent. */
export type PutBody = Uint8Array | { path: string; size: number }

export interface PutOptions {
  /** Create only: the write fails with 'exists' when the key is already there (If-None-Match: *). */
  ifNoneMatch?: boolean
  contentType?: string
  /** Object Lock retention (governance mode) until this time, on stores that support it. */
  retainUntil?: Date
  /** The body's sha256 (hex) when the caller knows it already, so it is not hashed again. */
  sha256?: string
}

export interface ObjectLockStatus {
  enabled: boolean
  /** The bucket retains every new object by a default rule, without per-object settings. */
  defaultRetention: boolean
}

export interface ByteRange {
  start: number
  /** Inclusive, as in an HTTP Range header. */
  end: number
}

/**
 * The one interface every storage backend implements. Keys are relative to the backend's prefix
 * and use '/' as separator. Missing objects are `undefined`, never an exception; every other
 * failure is a StoreError.
 */
export interface ObjectStore {
  /** Where the store lives, for people (no credentials). */
  readonly location: string
  /** Stable identity used to tell two configurations apart (for example cache vs. release store). */
  readonly identity: string
  /** Attempts made again so far (throttling, server errors, resets, cut bodies); absent where nothing is retried. */
  readonly retries?: number
  put(key: string, body: PutBody, options?: PutOptions): Promise<'created' | 'exists'>
  get(key: string, range?: ByteRange): Promise<Buffer | undefined>
  getStream(key: string): Promise<Readable | undefined>
  head(key: string): Promise<ObjectInfo | undefined>
  /** Every object under the prefix, across all pages, in key order. */
  list(prefix: string): AsyncIterable<ObjectInfo>
  delete(keys: string[]): Promise<void>
  /** Fails with a StoreError when the store cannot be used (missing bucket, bad credentials, unreachable). */
  check(): Promise<void>
  /** False where an entry cannot hold revisions (entry-refs.ts); absent means it can. */
  readonly entryRevisions?: boolean
  /** False where a key once written cannot be written again; absent means a plain put overwrites. */
  readonly overwrites?: boolean
  /** Whether the store can hold objects under Object Lock (S3); absent where it cannot. */
  objectLock?(): Promise<ObjectLockStatus>
}
