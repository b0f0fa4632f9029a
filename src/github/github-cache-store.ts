import { createHash } from 'node:crypto'
import { stat } from 'node:fs/promises'
import type { Readable } from 'node:stream'
import { BlobClient, RestError } from '@azure/storage-blob'
import { isNamedError, StoreError } from '../core/errors.js'
import type { ByteRange, ObjectInfo, ObjectStore, PutBody, PutOptions } from '../core/store/object-store.js'
import type { CacheService, DownloadTarget } from './cache-service.js'

/** One version for every object: the names carry their own versions (entry versions, digests). */
export const STORE_VERSION = createHash('sha256').update('artifact-action/github-cache-store@1').digest('hex')

/** The service refuses longer keys and commas, as actions/cache does. */
const MAX_KEY_LENGTH = 512
/** Bodies up to this size go in one request; larger ones in blocks of the part size. */
const SINGLE_SHOT_BYTES = 128 * 1024 * 1024
const DEFAULT_PART_BYTES = 32 * 1024 * 1024
const UPLOAD_CONCURRENCY = 4
/** How long a create-only put waits for a concurrent writer of the same key to finalize it. */
const VISIBLE_WAIT_MS = [250, 500, 1000, 2000, 4000, 8000, 8000]

export interface GitHubCacheStoreOptions {
  /** Block size of uploads larger than a single request (`upload-chunk-size`). */
  partSize?: number
}

function isFileBody(body: PutBody): body is { path: string; size: number } {
  return typeof (body as { path?: unknown }).path === 'string'
}

/**
 * An ObjectStore on GitHub's cache service: each object is a cache entry named by its key, its bytes
 * a blob behind the signed URL the service hands out. What the service cannot do, it cannot either:
 * - a put is create-only (entries are immutable); a plain put that would overwrite fails;
 * - `list(prefix)` yields at most one object, the newest under the prefix in the first readable
 *   scope that has one (the service's restore-key lookup), which is what a restore needs;
 * - `delete` fails: GitHub evicts entries itself (least recently used, over the repository's quota).
 * Scopes are the service's: writes go to the job's ref, reads search the refs its token may read.
 */
export class GitHubCacheStore implements ObjectStore {
  readonly location: string
  readonly identity: string
  readonly overwrites = false
  private readonly partSize: number
  /** Signed URLs already handed out, per key: a restore reads many ranges of one pack. */
  private readonly targets = new Map<string, Promise<DownloadTarget | undefined>>()

  constructor(
    private readonly service: CacheService,
    options: GitHubCacheStoreOptions = {}
  ) {
    this.location = `GitHub's cache service${service.writeScope ? ` (scope ${service.writeScope})` : ''}`
    this.identity = `github-cache:${service.origin}/${service.writeScope}`
    this.partSize = options.partSize ?? DEFAULT_PART_BYTES
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<'created' | 'exists'> {
    if (!options.ifNoneMatch) {
      throw new StoreError(`put ${key}: GitHub's cache entries are immutable; only create-only writes are possible`)
    }
    checkKey(key)
    const created = await this.service.createEntry(key, STORE_VERSION)
    if (created.status === 'exists') return this.awaitVisible(key)
    const size = await this.upload(key, created.uploadUrl, body)
    await this.service.finalizeEntry(key, STORE_VERSION, size)
    this.targets.delete(key)
    return 'created'
  }

  async get(key: string, range?: ByteRange): Promise<Buffer | undefined> {
    const target = await this.target(key)
    if (!target) return undefined
    if (range && (range.start < 0 || range.end < range.start)) {
      throw new StoreError(`get ${key}: range ${range.start}-${range.end} is not a range`)
    }
    try {
      const count = range && range.end - range.start + 1
      const response = await new BlobClient(target.url).download(range?.start ?? 0, count)
      // As HTTP does: the end is clipped to the object; a start past it is an error (Azurite does not refuse it).
      const total = Number(/\/(\d+)$/.exec(response.contentRange ?? '')?.[1] ?? response.contentLength)
      if (range && range.start >= total) {
        response.readableStreamBody?.resume()
        throw new StoreError(`get ${key}: range ${range.start}-${range.end} is outside the object's ${total} bytes`)
      }
      return await readAll(response.readableStreamBody)
    } catch (error) {
      if (isMissingBlob(error)) return undefined
      throw blobError(error, 'get', key)
    }
  }

  async getStream(key: string): Promise<Readable | undefined> {
    const target = await this.target(key)
    if (!target) return undefined
    try {
      const response = await new BlobClient(target.url).download()
      return response.readableStreamBody as Readable | undefined
    } catch (error) {
      if (isMissingBlob(error)) return undefined
      throw blobError(error, 'get', key)
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    const target = await this.target(key)
    return target && this.info(key, target)
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    checkKey(prefix || '/')
    const target = await this.service.downloadUrl(prefix, STORE_VERSION, [prefix])
    if (!target || !target.matchedKey.startsWith(prefix)) return
    this.targets.set(target.matchedKey, Promise.resolve(target))
    const info = await this.info(target.matchedKey, target)
    if (info) yield info
  }

  async delete(keys: string[]): Promise<void> {
    if (keys.length === 0) return
    throw new StoreError("GitHub's cache deletes nothing on request; it evicts the least recently used over the quota")
  }

  /** One lookup: fails when the service is unreachable or refuses the token. */
  async check(): Promise<void> {
    await this.service.downloadUrl('check', STORE_VERSION)
  }

  /** The entry of exactly this key: the service may answer a lookup with a longer key it prefix-matched. */
  private target(key: string): Promise<DownloadTarget | undefined> {
    let target = this.targets.get(key)
    if (!target) {
      checkKey(key)
      const lookup = this.service.downloadUrl(key, STORE_VERSION)
      target = lookup.then(found => (found?.matchedKey === key ? found : undefined))
      target.then(
        found => found || this.targets.delete(key),
        () => this.targets.delete(key)
      )
      this.targets.set(key, target)
    }
    return target
  }

  private async info(key: string, target: DownloadTarget): Promise<ObjectInfo | undefined> {
    try {
      const properties = await new BlobClient(target.url).getProperties()
      const lastModified = new Date(properties.lastModified?.getTime() ?? 0)
      return { key, size: properties.contentLength ?? 0, lastModified }
    } catch (error) {
      if (isMissingBlob(error)) return undefined
      throw blobError(error, 'head', key)
    }
  }

  private async upload(key: string, url: string, body: PutBody): Promise<number> {
    const blob = new BlobClient(url).getBlockBlobClient()
    const options = {
      blockSize: this.partSize,
      concurrency: UPLOAD_CONCURRENCY,
      maxSingleShotSize: Math.min(SINGLE_SHOT_BYTES, this.partSize)
    }
    try {
      if (!isFileBody(body)) {
        await blob.uploadData(Buffer.from(body.buffer, body.byteOffset, body.byteLength), options)
        return body.byteLength
      }
      const { size } = await stat(body.path)
      if (size !== body.size) throw new StoreError(`put ${key}: ${body.path} has ${size} bytes, expected ${body.size}`)
      await blob.uploadFile(body.path, options)
      return body.size
    } catch (error) {
      if (isNamedError(error, 'StoreError')) throw error
      throw blobError(error, 'put', key)
    }
  }

  /** Another writer created the key: it counts as there once that writer finalized it. */
  private async awaitVisible(key: string): Promise<'exists'> {
    for (const wait of [0, ...VISIBLE_WAIT_MS]) {
      if (wait) await new Promise(resolve => setTimeout(resolve, wait))
      this.targets.delete(key)
      if (await this.target(key)) return 'exists'
    }
    throw new StoreError(`put ${key}: another job is creating this entry in GitHub's cache and has not finished`)
  }
}

async function readAll(stream: NodeJS.ReadableStream | undefined): Promise<Buffer> {
  const chunks: Buffer[] = []
  if (stream) for await (const chunk of stream) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks)
}

function checkKey(key: string): void {
  if (key.length > MAX_KEY_LENGTH) {
    throw new StoreError(
      `key ${key.slice(0, 60)}… has ${key.length} characters; GitHub's cache takes ${MAX_KEY_LENGTH}`
    )
  }
  if (key.includes(',')) throw new StoreError(`key ${key}: GitHub's cache refuses commas in keys`)
}

function isMissingBlob(error: unknown): boolean {
  return error instanceof RestError && error.statusCode === 404
}

/** The SDK's message, never the signed URL it used. */
function blobError(error: unknown, operation: string, key: string): StoreError {
  const status = error instanceof RestError ? error.statusCode : undefined
  const reason = error instanceof RestError ? (error.code ?? `HTTP ${status}`) : (error as Error).message
  const unreachable = status === undefined && /ECONNREFUSED|ENOTFOUND|ETIMEDOUT/.test(String(reason))
  const failure = status === 403 ? 'denied' : unreachable ? 'unreachable' : 'other'
  const message = String(reason).replace(/https?:\/\/\S+/g, '<signed URL>')
  return new StoreError(`${operation} ${key} in GitHub's cache storage: ${message}`, failure)
}
