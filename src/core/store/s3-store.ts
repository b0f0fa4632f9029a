import { createHash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { stat } from 'node:fs/promises'
import { Agent as HttpAgent } from 'node:http'
import { Agent as HttpsAgent } from 'node:https'
import type { Readable } from 'node:stream'
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
import { StoreError } from '../errors.js'
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
}

const MAX_ATTEMPTS = 3
/** Per connection attempt: with MAX_ATTEMPTS, an endpoint that takes no connection fails in about 10 s. */
const CONNECTION_TIMEOUT_MS = 3_000
/** A socket idle this long fails the request; an idle bound, so big transfers may take as long as they need. */
const SOCKET_IDLE_TIMEOUT_MS = 20_000
/** check()'s bound per attempt from request to response: a server that takes connections but never answers fails it in about 15 s. */
const CHECK_TIMEOUT_MS = 4_000
const MAX_SOCKETS = 32
const DELETE_BATCH = 1000

const NETWORK_ERROR_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ENOTFOUND',
  'EAI_AGAIN',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EPIPE',
  'ECONNABORTED',
  'EPROTO',
  'CERT_HAS_EXPIRED',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'ERR_TLS_CERT_ALTNAME_INVALID'
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
  $metadata?: { httpStatusCode?: number }
}

/** The system error code of a network failure, looking into AggregateError and causes. */
function networkCode(error: unknown, depth = 0): string | undefined {
  if (typeof error !== 'object' || error === null || depth > 3) return undefined
  const e = error as SdkError
  if (e.name === 'TimeoutError') return 'timeout'
  if (e.code && NETWORK_ERROR_CODES.has(e.code)) return e.code
  // An error from another realm (as under jest's VM modules) reaches us as the SDK's "AWS SDK error
  // wrapper for Error: connect ECONNREFUSED ...", which keeps only the message.
  const inMessage = /\b(E[A-Z]+)\b/.exec(e.message ?? '')?.[1]
  if (inMessage && NETWORK_ERROR_CODES.has(inMessage)) return inMessage
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

/** A body read straight into one buffer of its announced length (its own memory, so it can move to a thread). */
async function readExactly(body: Readable, length: number): Promise<Buffer> {
  const bytes = Buffer.allocUnsafeSlow(length)
  let filled = 0
  for await (const chunk of body as AsyncIterable<Buffer>) {
    if (filled + chunk.length > length) throw new StoreError(`the server sent more than the ${length} bytes it announced`)
    bytes.set(chunk, filled)
    filled += chunk.length
  }
  if (filled !== length) throw new StoreError(`the server sent ${filled} of the ${length} bytes it announced`)
  return bytes
}

function isMissing(error: unknown): boolean {
  const name = nameOf(error)
  return name === 'NoSuchKey' || name === 'NotFound' || (statusOf(error) === 404 && name !== 'NoSuchBucket')
}

/**
 * With a logger set the SDK logs each command; keep only its warnings, less the one it gives for every
 * failed streamed request (a create-only put's 412 too): putFile retries those itself.
 */
const quietStreamingRetryLogger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (...args: unknown[]) => {
    if (!String(args[0]).startsWith('An error was encountered in a non-retryable streaming request')) console.warn(...args)
  },
  error: () => undefined // failures reach the caller as StoreErrors
}

/** Keep-alive connection pools for a store's clients. */
export function s3Agents(): { http: HttpAgent; https: HttpsAgent } {
  return { http: new HttpAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }), https: new HttpsAgent({ keepAlive: true, maxSockets: MAX_SOCKETS }) }
}

/** The SDK settings of a store's clients: region, retries, bounded timeouts, checksums only when required. */
export function s3ClientConfig(config: Omit<S3StoreConfig, 'bucket' | 'prefix'>, agents = s3Agents()): S3ClientConfig {
  return {
    region: config.region ?? process.env.AWS_REGION ?? process.env.AWS_DEFAULT_REGION ?? 'us-east-1',
    endpoint: config.endpoint,
    forcePathStyle: config.forcePathStyle ?? Boolean(config.endpoint),
    credentials: config.credentials,
    followRegionRedirects: true,
    maxAttempts: MAX_ATTEMPTS,
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

/** An ObjectStore on Amazon S3 or an S3-compatible service, under `prefix` in `bucket`. */
export class S3Store implements ObjectStore {
  readonly location: string
  readonly identity: string
  private readonly bucket: string
  private readonly prefix: string
  private readonly endpointLabel: string
  private readonly client: S3Client
  /** Sends file bodies; one attempt per call, as a retry needs a fresh read stream (see putFile). */
  private readonly singleAttemptClient: S3Client
  private readonly agents: { http: HttpAgent; https: HttpsAgent }

  constructor(config: S3StoreConfig) {
    this.bucket = config.bucket
    this.prefix = normalizePrefix(config.prefix)
    this.endpointLabel = config.endpoint ? describeEndpoint(config.endpoint) : 'AWS S3'
    this.location = `s3://${this.bucket}/${this.prefix}${config.endpoint ? ` at ${this.endpointLabel}` : ''}`
    this.identity = `s3:${config.endpoint ? this.endpointLabel : 'aws'}/${this.bucket}/${this.prefix}`
    this.agents = s3Agents()
    const clientConfig = s3ClientConfig(config, this.agents)
    this.client = new S3Client(clientConfig)
    this.singleAttemptClient = new S3Client({ ...clientConfig, maxAttempts: 1, logger: quietStreamingRetryLogger })
  }

  /** Closes pooled connections; the store is unusable afterwards. */
  destroy(): void {
    this.client.destroy()
    this.singleAttemptClient.destroy()
    this.agents.http.destroy()
    this.agents.https.destroy()
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<'created' | 'exists'> {
    const input = {
      Bucket: this.bucket,
      Key: this.objectKey(key),
      ContentType: options.contentType,
      IfNoneMatch: options.ifNoneMatch ? '*' : undefined,
      ...(options.retainUntil ? { ObjectLockMode: 'GOVERNANCE' as const, ObjectLockRetainUntilDate: options.retainUntil, ContentMD5: await md5Base64(body) } : {})
    }
    try {
      if (isFileBody(body)) {
        await this.putFile(input, body)
      } else {
        const command = new PutObjectCommand({ ...input, Body: body, ContentLength: body.byteLength })
        // The signature covers the body's sha256: the caller's, or hashed here once; the signer uses it as given.
        const payloadHash = options.sha256 ?? sha256Hex(body)
        command.middlewareStack.add(
          next => async args => {
            ;(args.request as { headers: Record<string, string> }).headers['x-amz-content-sha256'] = payloadHash
            return next(args)
          },
          { step: 'build', name: 'precomputedPayloadHash' }
        )
        await this.client.send(command)
      }
      return 'created'
    } catch (error) {
      // 412: the key exists. 409: another conditional write to the key was in progress and won.
      if (options.ifNoneMatch && (statusOf(error) === 412 || nameOf(error) === 'ConditionalRequestConflict')) return 'exists'
      throw this.storeError(error, 'put', key)
    }
  }

  /** Streams a file, retrying with a fresh stream: the SDK's own retry would resend a consumed one. */
  async objectLock(): Promise<ObjectLockStatus> {
    try {
      const result = await this.client.send(new GetObjectLockConfigurationCommand({ Bucket: this.bucket }))
      const config = result.ObjectLockConfiguration
      return { enabled: config?.ObjectLockEnabled === 'Enabled', defaultRetention: Boolean(config?.Rule?.DefaultRetention) }
    } catch (error) {
      if (statusOf(error) === 404 || nameOf(error) === 'ObjectLockConfigurationNotFoundError') return { enabled: false, defaultRetention: false }
      throw this.storeError(error, 'object lock of', '')
    }
  }

  private async putFile(input: Omit<PutObjectCommandInput, 'Body'>, body: { path: string; size: number }): Promise<void> {
    const actual = await stat(body.path).catch(error => {
      throw new StoreError(`put ${input.Key}: cannot read ${body.path}: ${(error as Error).message}`)
    })
    if (actual.size !== body.size) throw new StoreError(`put ${input.Key}: ${body.path} has ${actual.size} bytes, expected ${body.size}`)
    for (let attempt = 1; ; attempt++) {
      const stream = createReadStream(body.path)
      try {
        await this.singleAttemptClient.send(new PutObjectCommand({ ...input, Body: stream, ContentLength: body.size }))
        return
      } catch (error) {
        if (attempt >= MAX_ATTEMPTS || !this.isRetryable(error)) throw error
        await new Promise(resolve => setTimeout(resolve, 200 * 2 ** attempt * (0.5 + Math.random())))
      } finally {
        stream.destroy()
      }
    }
  }

  private isRetryable(error: unknown): boolean {
    const status = statusOf(error)
    return networkCode(error) !== undefined || (status !== undefined && (status >= 500 || status === 429))
  }

  async get(key: string, range?: ByteRange): Promise<Buffer | undefined> {
    try {
      const result = await this.client.send(
        new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key), Range: range ? `bytes=${range.start}-${range.end}` : undefined })
      )
      if (!result.Body) return Buffer.alloc(0)
      if (result.ContentLength === undefined) return Buffer.from(await result.Body.transformToByteArray())
      return await readExactly(result.Body as Readable, result.ContentLength)
    } catch (error) {
      if (isMissing(error)) return undefined
      throw this.storeError(error, 'get', key)
    }
  }

  async getStream(key: string): Promise<Readable | undefined> {
    try {
      const result = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }))
      // In Node the SDK's body is the response stream itself.
      return result.Body as Readable
    } catch (error) {
      if (isMissing(error)) return undefined
      throw this.storeError(error, 'get', key)
    }
  }

  /** A HEAD in a missing bucket is a bare 404 as well, so it reads as a missing key; check() tells them apart. */
  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const result = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.objectKey(key) }))
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
        page = await this.client.send(
          new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.objectKey(prefix), ContinuationToken: continuationToken })
        )
      } catch (error) {
        throw this.storeError(error, 'list', prefix)
      }
      for (const object of page.Contents ?? []) {
        if (object.Key === undefined) continue
        yield { key: object.Key.slice(strip), size: object.Size ?? 0, lastModified: object.LastModified ?? new Date(0) }
      }
      continuationToken = page.IsTruncated ? page.NextContinuationToken : undefined
      if (page.IsTruncated && !continuationToken) throw new StoreError(`list ${prefix} at ${this.location}: a truncated page came without a continuation token`)
    } while (continuationToken)
  }

  async delete(keys: string[]): Promise<void> {
    for (let start = 0; start < keys.length; start += DELETE_BATCH) {
      const batch = keys.slice(start, start + DELETE_BATCH)
      let result
      try {
        result = await this.client.send(
          new DeleteObjectsCommand({ Bucket: this.bucket, Delete: { Objects: batch.map(key => ({ Key: this.objectKey(key) })), Quiet: true } })
        )
      } catch (error) {
        throw this.storeError(error, 'delete', batch[0])
      }
      const failures = result.Errors ?? []
      if (failures.length > 0) {
        const shown = failures.slice(0, 3).map(f => `${f.Key}: ${f.Code ?? 'error'}${f.Message ? ` (${f.Message})` : ''}`)
        throw new StoreError(
          `delete at ${this.location}: ${failures.length} of ${batch.length} objects were not deleted: ${shown.join('; ')}${failures.length > 3 ? '; …' : ''}`,
          failures.some(f => f.Code === 'AccessDenied') ? 'denied' : 'other'
        )
      }
    }
  }

  /** A one-key listing: it needs the permission restore needs, and names the failure (a HEAD response has no body). */
  async check(): Promise<void> {
    try {
      await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: this.objectKey(''), MaxKeys: 1 }), { requestTimeout: CHECK_TIMEOUT_MS })
    } catch (error) {
      throw this.storeError(error, 'check', '')
    }
  }

  private objectKey(key: string): string {
    const relative = key.replace(/^\/+/, '')
    return this.prefix ? `${this.prefix}/${relative}` : relative
  }

  /** Maps an SDK failure to a StoreError that says what to do, without credentials. */
  private storeError(error: unknown, operation: string, key: string): StoreError {
    const name = nameOf(error)
    const status = statusOf(error)
    const what = `${operation}${key ? ` ${key}` : ''} at ${this.location}`
    if (name === 'NoSuchBucket' || (operation === 'check' && status === 404)) {
      return new StoreError(`${what}: bucket "${this.bucket}" does not exist; create it or fix the \`bucket\` input`, 'no-bucket')
    }
    if (status === 403 || DENIED_ERROR_NAMES.has(name)) {
      return new StoreError(`${what}: access denied (${name}); check the credentials (access key id, secret access key, session token) and that they may use bucket "${this.bucket}"`, 'denied')
    }
    const code = networkCode(error)
    if (code) {
      return new StoreError(`${what}: cannot reach the S3 endpoint ${this.endpointLabel} (${code === 'timeout' ? 'no answer in time' : code}); check the endpoint and the network`, 'unreachable')
    }
    const message = (error as SdkError | undefined)?.message
    return new StoreError(`${what}: ${name}${status ? ` (HTTP ${status})` : ''}${message && message !== name ? `: ${message}` : ''}`)
  }
}

/** Content-MD5, which S3 requires on writes that set Object Lock retention. */
async function md5Base64(body: PutBody): Promise<string> {
  const hash = createHash('md5')
  if (isFileBody(body)) for await (const chunk of createReadStream(body.path)) hash.update(chunk as Buffer)
  else hash.update(body)
  return hash.digest('base64')
}
