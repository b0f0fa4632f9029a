import { StoreError } from '../core/errors.js'

/**
 * GitHub's cache service (v2), the one `@actions/cache` talks to: Twirp JSON at ACTIONS_RESULTS_URL,
 * authenticated with the job's ACTIONS_RUNTIME_TOKEN. Entries are immutable per key, version and
 * scope, and visible once finalized; the token decides which scopes a job reads and writes.
 * `@actions/cache` exports only its tar-based save and restore, so this client speaks the same three
 * methods, with the same JSON fields, itself.
 */
export interface CacheServiceConfig {
  resultsUrl: string
  token: string
}

const SERVICE = 'github.actions.results.api.v1.CacheService'
const ATTEMPTS = 3
const TIMEOUT_MS = 30_000

/** The service as `@actions/cache` finds it: v2 on GitHub.com and GHE.com (GHES has v1 only). */
export function cacheServiceFromEnv(env: NodeJS.ProcessEnv = process.env): CacheServiceConfig | undefined {
  if (env.GITHUB_ACTIONS !== 'true' || !env.ACTIONS_CACHE_SERVICE_V2) return undefined
  if (!env.ACTIONS_RESULTS_URL || !env.ACTIONS_RUNTIME_TOKEN) return undefined
  const host = new URL(env.GITHUB_SERVER_URL || 'https://github.com').hostname.toLowerCase()
  if (host !== 'github.com' && !host.endsWith('.ghe.com') && !host.endsWith('.localhost')) return undefined
  return { resultsUrl: env.ACTIONS_RESULTS_URL, token: env.ACTIONS_RUNTIME_TOKEN }
}

export type CreateResult = { status: 'created'; uploadUrl: string } | { status: 'exists' }

export interface DownloadTarget {
  url: string
  matchedKey: string
}

/** The three calls a store needs; tests and the measurement count them. */
export interface CacheService {
  readonly origin: string
  /** The scope this job writes to (its ref), as its token says; '' when the token does not say. */
  readonly writeScope: string
  createEntry(key: string, version: string): Promise<CreateResult>
  finalizeEntry(key: string, version: string, size: number): Promise<void>
  /** The exact key, else the newest entry under each restore key in turn, across the readable scopes. */
  downloadUrl(key: string, version: string, restoreKeys?: string[]): Promise<DownloadTarget | undefined>
}

interface TwirpReply {
  status: number
  body: unknown
}

interface TwirpError {
  code?: string
  msg?: string
}

export class CacheServiceClient implements CacheService {
  readonly origin: string
  readonly writeScope: string

  constructor(private readonly config: CacheServiceConfig) {
    this.origin = new URL(config.resultsUrl).origin
    this.writeScope = writeScopeOf(config.token)
  }

  async createEntry(key: string, version: string): Promise<CreateResult> {
    const reply = await this.call('CreateCacheEntry', { key, version }, [409])
    if (reply.status === 409) return { status: 'exists' }
    const body = reply.body as { ok?: boolean; signed_upload_url?: string; message?: string }
    if (!body.ok || !body.signed_upload_url) {
      const reason = body.message || 'no upload URL'
      throw new StoreError(`GitHub's cache refused to create ${key}: ${reason}`, deniedOrOther(body.message))
    }
    return { status: 'created', uploadUrl: body.signed_upload_url }
  }

  async finalizeEntry(key: string, version: string, size: number): Promise<void> {
    const reply = await this.call('FinalizeCacheEntryUpload', { key, version, size_bytes: String(size) })
    const body = reply.body as { ok?: boolean; message?: string }
    if (!body.ok) throw new StoreError(`GitHub's cache did not finalize ${key}: ${body.message || 'not ok'}`)
  }

  async downloadUrl(key: string, version: string, restoreKeys: string[] = []): Promise<DownloadTarget | undefined> {
    const reply = await this.call('GetCacheEntryDownloadURL', { key, version, restore_keys: restoreKeys })
    const body = reply.body as { ok?: boolean; signed_download_url?: string; matched_key?: string }
    if (!body.ok || !body.signed_download_url) return undefined
    return { url: body.signed_download_url, matchedKey: body.matched_key ?? key }
  }

  /** POSTs one Twirp call; retries 5xx and network failures, never a 4xx. Messages carry no token or URL. */
  private async call(method: string, request: object, accepted: number[] = []): Promise<TwirpReply> {
    const url = new URL(`/twirp/${SERVICE}/${method}`, this.config.resultsUrl)
    let failure = ''
    for (let attempt = 1; attempt <= ATTEMPTS; attempt++) {
      let response: Response
      try {
        response = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', authorization: `Bearer ${this.config.token}` },
          body: JSON.stringify(request),
          signal: AbortSignal.timeout(TIMEOUT_MS)
        })
      } catch (error) {
        failure = `${this.origin} is unreachable (${(error as Error).cause ?? (error as Error).message})`
        if (attempt < ATTEMPTS) await sleep(250 * attempt)
        continue
      }
      const text = await response.text()
      if (response.ok || accepted.includes(response.status)) return { status: response.status, body: parseJson(text) }
      const twirp = parseJson(text) as TwirpError
      failure = `${method} answered ${response.status}${twirp.msg ? `: ${twirp.msg}` : ''}`
      if (response.status === 429) {
        throw new StoreError(`GitHub's cache: ${failure} (rate limited; the cache is skipped for this step)`)
      }
      const denied = response.status === 401 || response.status === 403
      if (response.status < 500) throw new StoreError(`GitHub's cache: ${failure}`, denied ? 'denied' : 'other')
      if (attempt < ATTEMPTS) await sleep(250 * attempt)
    }
    throw new StoreError(`GitHub's cache: ${failure}`, failure.includes('unreachable') ? 'unreachable' : 'other')
  }
}

/**
 * The first scope the token's `ac` claim lets the job write (permission bit 2). The service checks
 * the token; this only names the scope, for the log.
 */
export function writeScopeOf(token: string): string {
  try {
    const claims = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()) as { ac?: string }
    const scopes = JSON.parse(claims.ac ?? '[]') as { Scope?: string; Permission?: number }[]
    return scopes.find(scope => ((scope.Permission ?? 0) & 2) !== 0)?.Scope ?? ''
  } catch {
    return ''
  }
}

function deniedOrOther(message: string | undefined): 'denied' | 'other' {
  return message?.startsWith('cache write denied') ? 'denied' : 'other'
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return {}
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise(resolve => setTimeout(resolve, ms))
}
