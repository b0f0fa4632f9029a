import { createHash } from 'node:crypto'
import { setMaxListeners } from 'node:events'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import { Readable } from 'node:stream'
import {
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  GetObjectLockConfigurationCommand,
  PutObjectCommand,
  type PutObjectCommandInput,
  S3Client,
  type S3ClientConfig
} from '@aws-sdk/client-s3'
import { BodyCutError, BodyTooLongError, EndpointGoneError, isNamedError, StoreError } from '../errors.js'
import { DEFAULT_RETRY_POLICY, retry, type FailureKind, type RetryPolicy } from '../retry.js'
import { sha256Hex } from './codec.js'
import type { ByteRange, ObjectInfo, ObjectLockStatus, ObjectStore, PutBody, PutOptions } from './object-store.js'

export interface S3StoreConfig {
  bucket: string
  prefix?: string
  region?: string
  endpoint?: string
  forcePathStyle?: boolean
  /** Without these the SDK's default chain is used (environment, shared files, instance roles). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string }
  /** Overrides of the retry policy (tests swap its clock). */
  retry?: Partial<RetryPolicy>
}

/** SDK attempts for clients made with s3ClientConfig alone; an S3Store makes one per call and retries itself. */
const SDK_MAX_ATTEMPTS = 3
/** Per connection attempt. */
const CONNECTION_TIMEOUT_MS = 3_000
/**
 * A socket with no byte moving this long fails its request, which is then retried. An idle bound, so big
 * transfers take as long as they need; the SDK arms it 3 s late, so a silent socket fails within about 11 s.
 */
const SOCKET_IDLE_TIMEOUT_MS = 8_000
/** check()'s bound per attempt from request to response. */
const CHECK_TIMEOUT_MS = 4_000
const MAX_SOCKETS = 32
const DELETE_BATCH = 1000
/** getStream reads an object in ranged pieces of this size, each resumed on its own. */
const STREAM_PIECE = 8 * 1024 * 1024

/** Network failures that a later attempt may not meet. */
const PASSING_SYSTEM_CODES = [
  'ECONNREFUSED',
  'ECONNRESET',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'ERR_STREAM_PREMATURE_CLOSE'
]
/** Network failures that stay: a wrong host name, TLS trouble. */
const STAYING_SYSTEM_CODES = [
  'ENOTFOUND',
  'EPROTO',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID'
]
const NETWORK_ERROR_CODES = new Set([...PASSING_SYSTEM_CODES, ...STAYING_SYSTEM_CODES])
/** The network codes (networkCode's, 'timeout' included) that are retried. */
const PASSING_NETWORK_CODES = new Set(['timeout', ...PASSING_SYSTEM_CODES])
/** Error codes S3 answers with when a retry may succeed (RequestTimeout comes as a 400). */
const PASSING_ERROR_NAMES = new Set([
  'SlowDown',
  'Throttling',
  'ThrottlingException',
  'RequestTimeout',
  'InternalError',
  'ServiceUnavailable',
  'ConditionalRequestConflict'
])
const DENIED_ERROR_NAMES = new Set([
  'AccessDenied',
  'Forbidden',
  'InvalidAccessKeyId',
  'SignatureDoesNotMatch',
  'ExpiredToken',
  'InvalidToken',
  'TokenRefreshRequired',
  'CredentialsProviderError'
])

/** Told apart by shape, not instanceof: a Buffer from another realm (jest's VM modules) is no Uint8Array there. */
function isFileBody(body: PutBody): body is { path: string; size: number } {
  return typeof (body as { path?: unknown }).path === 'string'
}

/** Trims slashes so that keys join under the prefix with exactly one '/'. */
function normalizePrefix(prefix: string | undefined): string {
  return (prefix ?? '').replace(/^\/+|\/+$/g, '')
}

/** The endpoint without user info, query or trailing slash, safe to print. */
function describeEndpoint(endpoint: string): string {
  try {
    const url = new URL(endpoint)
    return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`
  } catch {
    return '(invalid endpoint URL)'
  }
}

interface SdkError {
  name?: string
  code?: string
  message?: string
  errors?: unknown[]
  cause?: unknown
  $metadata?: { httpStatusCode?: number; clockSkewCorrected?: boolean }
}

/** The system error code of a network failure, looking into AggregateError and causes. */
function networkCode(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 3) return undefined
  const e = error as SdkError
  if (e.name === 'TimeoutError') return 'timeout'
  if (e.code && NETWORK_ERROR_CODES.has(e.code)) return e.code
  // An error from another realm (as under jest's VM modules) reaches us as the SDK's "AWS SDK error
  // wrapper for Error: connect ECONNREFUSED ...", which keeps only the message.
  const inMessage = /\b(E[A-Z_]+)\b/.exec(e.message ?? '')?.[1]
  if (inMessage && NETWORK_ERROR_CODES.has(inMessage)) return inMessage
  if (e.message === 'aborted' || e.message === 'socket hang up') return 'ECONNRESET'
  for (const inner of [...(e.errors ?? []), e.cause]) {
    const code = networkCode(inner, depth + 1)
    if (code) return code
  }
  return undefined
}

function statusOf(error: unknown): number | undefined {
  return (error as SdkError | undefined)?.$metadata?.httpStatusCode
}

function nameOf(error: unknown): string {
  return (error as SdkError | undefined)?.name ?? 'Error'
}

/** What a failed request means for the next attempt. */
function classify(error: unknown): FailureKind {
  if (isNamedError(error, 'BodyCutError')) return 'answered'
  const status = statusOf(error)
  const name = nameOf(error)
  // A request signed with a skewed clock: the SDK has corrected its offset from the answer's Date, so a retry passes.
  if ((error as SdkError | undefined)?.$metadata?.clockSkewCorrected) return 'answered'
  if (status !== undefined) {
    return status >= 500 || status === 429 || status === 408 || PASSING_ERROR_NAMES.has(name) ? 'answered' : 'fatal'
  }
  const code = networkCode(error)
  return code && PASSING_NETWORK_CODES.has(code) ? 'silent' : 'fatal'
}

/** "bytes 10-19/100" as numbers. */
function parseContentRange(value: string | undefined): { start: number; end: number; total: number } | undefined {
  const match = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value ?? '')
  if (!match) return undefined
  return { start: Number(match[1]), end: Number(match[2]), total: match[3] === '*' ? Number.NaN : Number(match[3]) }
}

function isMissing(error: unknown): boolean {
  const name = nameOf(error)
  return name === 'NoSuchKey' || name === 'NotFound' || (statusOf(error) === 404 && name !== 'NoSuchBucket')
}

/** A read in progress: what has arrived so far survives a failed attempt, and the next one asks for the rest. */
interface PartialRead {
  bytes?: Buffer
  filled: number
  /** The object's ETag from the first answer: the rest must come from the same object. */
  etag?: string
}

/**
 * With a logger set the SDK logs each command; keep only its warnings, less the one it gives for every
 * failed streamed request (a create-only put's 412 too): the store retries those itself.
 */
const quietStreamingRetryLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (...args: unknown[]) => {
    if (!String(args[0]).startsWith('An error was encountered in a non-retryable streaming request'))
      console.warn(...args)
  },
  error: () => undefined // failures reach the caller as StoreErrors
}

/** Keep-alive connection pools for a store's clients. */
export function s3Agents(): { http: HttpAgent; https: HttpsAgent } {
  return {
    http: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }),
    https: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS })
  }
}

/** The SDK settings of a store's clients: region, retries, bounded timeouts, checksums only when required. */
export function s3ClientConfig(config: Omit<S3StoreConfig, 'bucket' | 'prefix'>, agents = s3Agents()): S3ClientConfig {
  return {
    region: config.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle ?? Boolean(config.endpoint),
    credentials: config.credentials,
    followRegionRedirects: true,
    maxAttempts: SDK_MAX_ATTEMPTS,
    // S3-compatible servers (radosgw among them) reject the SDK's default streaming checksums.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: CONNECTION_TIMEOUT_MS,
      socketTimeout: SOCKET_IDLE_TIMEOUT_MS,
      // No requestTimeout by default (a large upload may take long); calls that pass one fail when it passes.
      throwOnRequestTimeout: true,
      httpAgent: agents.http,
      httpsAgent: agents.https
    }
  }
}

/**
 * An ObjectStore on Amazon S3 or an S3-compatible service, under `prefix` in `bucket`. Every request
 * is retried by one policy (see retry.ts), and a body that breaks off is asked for again from where it
 * stopped. When a call gives up because the endpoint stays silent, the store gives up on it: calls in
 * flight are aborted and later ones fail at once, so a dead endpoint costs one bounded wait.
 */
export class S3Store implements ObjectStore {
  readonly location: string
  readonly identity: string
  private readonly bucket: string
  private readonly prefix: string
  private readonly endpointLabel: string
  private readonly client: S3Client
  private readonly agents: { http: HttpAgent; https: HttpsAgent }
  private readonly policy: RetryPolicy
  private retried = 0
  private gone: EndpointGoneError | undefined
  private readonly abort = new AbortController()

  constructor(config: S3StoreConfig) {
    this.bucket = config.bucket
    this.prefix = normalizePrefix(config.prefix)
    this.endpointLabel = config.endpoint ? describeEndpoint(config.endpoint) : 'AWS S3'
    this.location = `s3://${this.bucket}/${this.prefix}${config.endpoint ? ` at ${this.endpointLabel}` : ''}`
    this.identity = `s3:${config.endpoint ? this.endpointLabel : 'aws'}/${this.bucket}/${this.prefix}`
    this.policy = { ...DEFAULT_RETRY_POLICY, ...config.retry }
    this.agents = s3Agents()
    this.client = new S3Client({
      ...s3ClientConfig(config, this.agents),
      maxAttempts: 1,
      logger: quietStreamingRetryLogger
    })
    // Every request in flight listens to the one signal.
    setMaxListeners(0, this.abort.signal)
  }

  /** Attempts this store has made again: after throttling, server errors, resets, timeouts and cut bodies. */
  get retries(): number {
    return this.retried
  }

  /** Closes pooled connections; the store is unusable afterwards. */
  destroy(): void {
    this.client.destroy()
    this.agents.http.destroy()
    this.agents.https.destroy()
  }

  /** Runs one operation under the retry policy; a silent give-up ends the store's dealings with its endpoint. */
  private async call<T>(attempt: (heard: () => void) => Promise<T>): Promise<T> {
    if (this.gone) throw this.gone
    try {
      return await retry(attempt, { classify, onRetry: () => void this.retried++ }, this.policy)
    } catch (error) {
      if (this.gone) throw this.gone
      if (classify(error) === 'silent') {
        this.gone = new EndpointGoneError(error)
        this.abort.abort()
      }
      throw error
    }
  }

  /** Options of every request: a give-up aborts it. */
  private get sending(): { abortSignal: AbortSignal } {
    return { abortSignal: this.abort.signal }
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<'created' | 'exists'> {
    let payloadHash: string | undefined
    let attempts = 0
    try {
      if (isFileBody(body)) {
        const actual = await stat(body.path).catch(error => {
          throw new StoreError(`cannot read ${body.path}: ${(error as Error).message}`)
        })
        if (actual.size !== body.size)
          throw new StoreError(`${body.path} has ${actual.size} bytes, expected ${body.size}`)
      } else {
        // The signature covers the body's sha256: the caller's, or hashed here once; the signer uses it as given.
        payloadHash = options.sha256 ?? sha256Hex(body)
      }
      const input = {
        Bucket: this.bucket,
        Key: this.objectKey(key),
        ContentType: options.contentType,
        IfNoneMatch: options.ifNoneMatch ? '*' : undefined,
        ...(options.retainUntil
          ? {
              ObjectLockMode: 'GOVERNANCE' as const,
              ObjectLockRetainUntilDate: options.retainUntil,
              // Content-MD5, which S3 requires on writes that set Object Lock retention.
              ContentMD5: await digestOf(body, 'md5', 'base64')
            }
          : {})
      }
      await this.call(async heard => {
        attempts++
        await this.putOnce(input, body, payloadHash)
        heard()
      })
      return 'created'
    } catch (error) {
      if (isNamedError(error, 'StoreError'))
        throw new StoreError(`put ${key} at ${this.location}: ${error.message}`, error.failure)
      // 412: the key exists. After a failed attempt, it may be this call's own write whose answer was lost:
      // the stored bytes tell.
      if (options.ifNoneMatch && statusOf(error) === 412) {
        return attempts > 1 && (await this.holds(key, body, payloadHash)) ? 'created' : 'exists'
      }
      throw this.storeError(error, 'put', key)
    }
  }

  /** One PutObject; a file body is read afresh for each attempt. */
  private async putOnce(
    input: Omit<PutObjectCommandInput, 'Body'>,
    body: PutBody,
    payloadHash: string | undefined
  ): Promise<void> {
    if (isFileBody(body)) {
      const stream = createReadStream(body.path)
      try {
        await this.client.send(new PutObjectCommand({ ...input, Body: stream, ContentLength: body.size }), this.sending)
      } finally {
        stream.destroy()
      }
      return
    }
    const command = new PutObjectCommand({ ...input, Body: body, ContentLength: body.byteLength })
    command.middlewareStack.add(
      next => async args => {
        ;(args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = payloadHash!
        return next(args)
      },
      { step: 'build', name: 'precomputedPayloadHash' }
    )
    await this.client.send(command, this.sending)
  }

  /** Whether the object under `key` has exactly `body`'s bytes. */
  private async holds(key: string, body: PutBody, payloadHash: string | undefined): Promise<boolean> {
    const stored = await this.get(key)
    if (!stored) return false
    return sha256Hex(stored) === (payloadHash ?? (await digestOf(body, 'sha256', 'hex')))
  }

  async objectLock(): Promise<ObjectLockStatus> {
    try {
      const result = await this.call(() =>
        this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket }), this.sending)
      )
      const config = result.ObjectLockConfiguration
      return {
        enabled: config?.ObjectLockEnabled === 'Enabled',
        defaultRetention: Boolean(config?.Rule?.DefaultRetention)
      }
    } catch (error) {
      if (statusOf(error) === 404 || nameOf(error) === 'ObjectLockConfigurationNotFoundError')
        return { enabled: false, defaultRetention: false }
      throw this.storeError(error, 'object lock of', '')
    }
  }

  async get(key: string, range?: ByteRange): Promise<Buffer | undefined> {
    const partial: PartialRead = { filled: 0 }
    try {
      return await this.call(heard => this.getOnce(key, range, partial, heard))
    } catch (error) {
      if (isMissing(error)) return undefined
      throw this.storeError(error, 'get', key)
    }
  }

  /**
   * One GetObject into `partial`: the whole answer on the first attempt, the rest (from the same
   * object, by its ETag) on later ones. Bytes beyond what was asked for or announced are refused.
   */
  private async getOnce(
    key: string,
    range: ByteRange | undefined,
    partial: PartialRead,
    heard: () => void
  ): Promise<Buffer> {
    const first = partial.bytes === undefined
    const base = range?.start ?? 0
    const from = base + partial.filled
    const wanted = first
      ? range
        ? `bytes=${range.start}-${range.end}`
        : undefined
      : `bytes=${from}-${base + partial.bytes!.length - 1}`
    let result
    try {
      result = await this.client.send(
        new GetObjectCommand({
          Bucket: this.bucket,
          Key: this.objectKey(key),
          Range: wanted,
          IfMatch: first ? undefined : partial.etag
        }),
        this.sending
      )
    } catch (error) {
      // The object changed under a resumed read: start again from the beginning.
      if (!first && statusOf(error) === 412) {
        Object.assign(partial, { bytes: undefined, filled: 0, etag: undefined })
        throw new BodyCutError('the object changed while it was read')
      }
      throw error
    }
    heard()
    const body = result.Body as Readable | undefined
    const length = result.ContentLength ?? 0
    const answered = parseContentRange(result.ContentRange)
    if (first) {
      let size = length
      if (range) {
        // A server that ignores the range sends the object from its start: fine only when that is what was asked.
        if (answered ? answered.start !== range.start : range.start > 0) throw this.tooLong(body, length, range)
        const total = answered?.total ?? length
        size = Math.min(range.end, (Number.isNaN(total) ? range.end + 1 : total) - 1) - range.start + 1
      }
      if (length > size) throw this.tooLong(body, length, range)
      partial.bytes = Buffer.allocUnsafeSlow(size)
      partial.etag = result.ETag
    } else if ((answered && answered.start !== from) || length > partial.bytes!.length - partial.filled) {
      throw this.tooLong(body, length, { start: from, end: base + partial.bytes!.length - 1 })
    }
    const bytes = partial.bytes!
    const end = partial.filled + length
    if (body) {
      try {
        for await (const chunk of body as AsyncIterable<Buffer>) {
          if (partial.filled + chunk.length > end) throw this.tooLong(body, length + chunk.length, range)
          bytes.set(chunk, partial.filled)
          partial.filled += chunk.length
          heard()
        }
      } catch (error) {
        if (isNamedError(error, 'BodyTooLongError')) throw error
        throw new BodyCutError(`the body broke off after ${partial.filled} of ${bytes.length} bytes`, { cause: error })
      }
    }
    if (partial.filled < bytes.length)
      throw new BodyCutError(`the server sent ${partial.filled} of ${bytes.length} bytes`)
    return bytes
  }

  private tooLong(body: Readable | undefined, length: number, range: ByteRange | undefined): BodyTooLongError {
    body?.destroy()
    const asked = range ? `the ${range.end - range.start + 1}-byte range ${range.start}-${range.end}` : 'the object'
    return new BodyTooLongError(`the server sent a body longer than asked for (${length} bytes for ${asked})`)
  }

  /** The object in ranged pieces, each read as get() reads; the object's size comes from a HEAD. */
  async getStream(key: string): Promise<Readable | undefined> {
    const info = await this.head(key)
    if (!info) return undefined
    const pieces = async function* (store: S3Store): AsyncGenerator<Buffer> {
      for (let start = 0; start < info.size; start += STREAM_PIECE) {
        const piece = await store.get(key, { start, end: Math.min(start + STREAM_PIECE, info.size) - 1 })
        if (!piece) throw new StoreError(`get ${key} at ${store.location}: the object went away while it was read`)
        yield piece
      }
    }
    return Readable.from(pieces(this), { objectMode: false })
  }

  /** A HEAD in a missing bucket is a bare 404 as well, so it reads as a missing key; check() tells them apart. */
  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const result = await this.call(() =>
        this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }), this.sending)
      )
      return { key, size: result.ContentLength ?? 0, lastModified: result.LastModified ?? new Date(0) }
    } catch (error) {
      if (isMissing(error)) return undefined
      throw this.storeError(error, 'head', key)
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    const strip = this.prefix ? this.prefix.length + 1 : 0
    let continuationToken: string | undefined
    do {
      let page
      try {
        const input = { Bucket: this.bucket, Prefix: this.objectKey(prefix), ContinuationToken: continuationToken }
        page = await this.call(() => this.client.send(new ListObjectsV2Command(input), this.sending))
      } catch (error) {
        throw this.storeError(error, 'list', prefix)
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue
        yield { key: object.Key.slice(strip), size: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) }
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined
      if (page.IsTruncated && !continuationToken)
        throw new StoreError(`list ${prefix} at ${this.location}: a truncated page came without a continuation token`)
    } while (continuationToken)
  }

  async delete(keys: string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      const batch = keys.slice(start, start + DELETE_BATCH)
      let result
      try {
        const input = {
          Bucket: this.bucket,
          Delete: { Objects: batch.map(key => ({ Key: this.objectKey(key) })), Quiet: true }
        }
        result = await this.call(() => this.client.send(new DeleteObjectsCommand(input), this.sending))
      } catch (error) {
        throw this.storeError(error, 'delete', batch[0])
      }
      const failures = result.Errors ?? []
      if (failures.length > 0) {
        const shown = failures
          .slice(0, 3)
          .map(f => `${f.Key}: ${f.Code ?? 'error'}${f.Message ? ` (${f.Message})` : ''}`)
        const more = failures.length > 3 ? '; …' : ''
        throw new StoreError(
          `delete at ${this.location}: ${failures.length} of ${batch.length} objects were not deleted: ` +
            `${shown.join('; ')}${more}`,
          failures.some(f => f.Code === 'AccessDenied') ? 'denied' : 'other'
        )
      }
    }
  }

  /** A one-key listing: it needs the permission restore needs, and names the failure (a HEAD response has no body). */
  async check(): Promise<void> {
    try {
      const input = { Bucket: this.bucket, Prefix: this.objectKey(''), MaxKeys: 1 }
      await this.call(() =>
        this.client.send(new ListObjectsV2Command(input), { ...this.sending, requestTimeout: CHECK_TIMEOUT_MS })
      )
    } catch (error) {
      throw this.storeError(error, 'check', '')
    }
  }

  private objectKey(key: string): string {
    const relative = key.replace(/^\/+/, '')
    return this.prefix ? `${this.prefix}/${relative}` : relative
  }

  /**
   * Maps an SDK failure to a StoreError that says what to do, without credentials. Access denied
   * reads the same whichever request met it, so a wrong secret looks alike on save and restore.
   */
  private storeError(error: unknown, operation: string, key: string): StoreError {
    if (isNamedError(error, 'StoreError')) return error
    if (isNamedError(error, 'EndpointGoneError')) error = error.failure
    const name = nameOf(error)
    const status = statusOf(error)
    const what = `${operation}${key ? ` ${key}` : ''} at ${this.location}`
    if (name === 'NoSuchBucket' || (operation === 'check' && status === 404)) {
      return new StoreError(
        `${what}: bucket "${this.bucket}" does not exist; create it or fix the \`store\` input`,
        'no-bucket'
      )
    }
    if (status === 403 || DENIED_ERROR_NAMES.has(name)) {
      return new StoreError(
        `${this.location}: access denied (HTTP 403); ` +
          `check the credentials and that they may read and write bucket "${this.bucket}"`,
        'denied'
      )
    }
    const code = networkCode(error)
    if (code) {
      const retried = PASSING_NETWORK_CODES.has(code) ? ', retried while it stayed silent' : ''
      const how = `${code === 'timeout' ? 'no answer in time' : code}${retried}`
      return new StoreError(
        `${what}: cannot reach the S3 endpoint ${this.endpointLabel} (${how}); check the endpoint and the network`,
        'unreachable'
      )
    }
    if (isNamedError(error, 'BodyCutError') || isNamedError(error, 'BodyTooLongError'))
      return new StoreError(`${what}: ${error.message}`)
    const message = (error as SdkError | undefined)?.message
    return new StoreError(
      `${what}: ${name}${status ? ` (HTTP ${status})` : ''}${message && message !== name ? `: ${message}` : ''}`
    )
  }
}

/** A body's digest; a file body is read from its file. */
async function digestOf(body: PutBody, algorithm: 'md5' | 'sha256', encoding: 'hex' | 'base64'): Promise<string> {
  const hash = createHash(algorithm)
  if (isFileBody(body)) for await (const chunk of createReadStream(body.path)) hash.update(chunk as Buffer)
  else hash.update(body)
  return hash.digest(encoding)
}
