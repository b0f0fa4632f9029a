// A stand-in for GitHub's cache service, for tests: its Twirp JSON API (the one part of GitHub a local
// server may stand in for) on node:http, and the blob transfers through Azurite, the real Azure Storage
// emulator, which this helper starts and stops. Semantics as the service's (see
// /work/shared/notes/local-stand-ins.md): entries immutable per key, version and scope, visible only
// once finalized; scopes come from the runtime token's `ac` claim; a lookup tries the exact key, then
// each restore key as a prefix, newest first, in each readable scope in turn.
import { spawn, type ChildProcess } from 'node:child_process'
import { createHmac, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import * as http from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import {
  BlobSASPermissions,
  BlobServiceClient,
  generateBlobSASQueryParameters,
  StorageSharedKeyCredential,
  type ContainerClient
} from '@azure/storage-blob'

/** Azurite's well-known development account. */
const ACCOUNT = 'devstoreaccount1'
const ACCOUNT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=='
const CONTAINER = 'actions-cache'
const SERVICE_PATH = '/twirp/github.actions.results.api.v1.CacheService/'

/** Permission bits in the token's `ac` claim, as the runner's tokens carry them. */
export const Permission = { Read: 1, Write: 2, ReadWrite: 3 } as const

export interface TokenScope {
  Scope: string
  Permission: number
}

interface Entry {
  key: string
  version: string
  scope: string
  blob: string
  finalized: boolean
  size: number
  /** Finalization order: the newest entry has the highest. */
  sequence: number
}

export interface ServiceCounts {
  CreateCacheEntry: number
  FinalizeCacheEntryUpload: number
  GetCacheEntryDownloadURL: number
  /** Bytes of the entries finalized (what was uploaded). */
  bytesFinalized: number
  /** Requests Azurite served on entries' blobs (uploads, downloads, properties), from its access log. */
  blob: number
}

export interface CacheServiceStandIn {
  /** ACTIONS_RESULTS_URL */
  url: string
  /** A runtime token for a job whose scopes are these, its own (writable) first. */
  token(scopes: TokenScope[]): string
  /** The runner's environment for a job with these scopes. */
  env(scopes: TokenScope[]): Record<string, string>
  counts: ServiceCounts
  /** The counts once Azurite has logged the requests it served (its log lags a little). */
  settledCounts(): Promise<ServiceCounts>
  resetCounts(): Promise<void>
  /** Finalized entries, oldest first. */
  entries(): { key: string; scope: string; size: number }[]
  /** Overwrites the bytes behind an entry in Azurite, as storage corruption would. */
  corrupt(key: string, scope: string, mutate: (bytes: Buffer) => Buffer): Promise<void>
  /** Answers every CreateCacheEntry with 429 while set. */
  rateLimited: boolean
  stop(): Promise<void>
}

/** The scopes of a job on a branch, and of a pull request's job (its merge ref, then the base branch). */
export function branchScopes(branch: string): TokenScope[] {
  return [{ Scope: `refs/heads/${branch}`, Permission: Permission.ReadWrite }]
}
export function pullRequestScopes(number: number, base: string): TokenScope[] {
  return [
    { Scope: `refs/pull/${number}/merge`, Permission: Permission.ReadWrite },
    { Scope: `refs/heads/${base}`, Permission: Permission.Read }
  ]
}

function base64url(value: string | Buffer): string {
  return Buffer.from(value).toString('base64url')
}

async function freePort(): Promise<number> {
  const server = http.createServer()
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  await new Promise(resolve => server.close(resolve))
  return port
}

/** Starts Azurite on a free port; another process may take the port first, so a taken one is tried again. */
async function startAzurite(dir: string, onRequest: () => void): Promise<{ child: ChildProcess; port: number }> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await startAzuriteOn(await freePort(), dir, onRequest)
    } catch (error) {
      if (attempt === 5 || !/EADDRINUSE/.test((error as Error).message)) throw error
    }
  }
}

async function startAzuriteOn(
  port: number,
  dir: string,
  onRequest: () => void
): Promise<{ child: ChildProcess; port: number }> {
  const bin = path.resolve('node_modules/azurite/dist/src/blob/main.js')
  const args = [
    bin,
    '--blobHost',
    '127.0.0.1',
    '--blobPort',
    String(port),
    '--location',
    dir,
    '--skipApiVersionCheck',
    '--loose',
    '--disableTelemetry'
  ]
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGTERM')
      reject(new Error(`Azurite did not start within 30 s:\n${output}`))
    }, 30_000)
    child.once('exit', code => reject(new Error(`Azurite exited with ${code}:\n${output}`)))
    child.stdout!.on('data', (chunk: Buffer) => {
      const text = chunk.toString()
      if (output.length < 10_000) output += text
      // Its access log: one line per request served.
      for (const line of text.split('\n')) if (/"(GET|PUT|HEAD) \/\S+\/[0-9a-f]{32}\?/.test(line)) onRequest()
      if (process.env.AZURITE_LOG) process.stderr.write(text)
      if (/successfully listen/.test(output)) {
        clearTimeout(timer)
        resolve()
      }
    })
    child.stderr!.on('data', (chunk: Buffer) => (output += chunk.toString()))
  })
  return { child, port }
}

export async function startCacheService(): Promise<CacheServiceStandIn> {
  const dir = await mkdtemp(path.join(tmpdir(), 'gh-cache-service-'))
  const secret = randomBytes(32)
  const counts: ServiceCounts = {
    CreateCacheEntry: 0,
    FinalizeCacheEntryUpload: 0,
    GetCacheEntryDownloadURL: 0,
    bytesFinalized: 0,
    blob: 0
  }
  const azurite = await startAzurite(dir, () => counts.blob++)
  const blobEndpoint = `http://127.0.0.1:${azurite.port}/${ACCOUNT}`
  const credential = new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY)
  const container: ContainerClient = new BlobServiceClient(blobEndpoint, credential).getContainerClient(CONTAINER)
  await container.createIfNotExists()

  const entries: Entry[] = []
  let sequence = 0

  const signedUrl = (blob: string, permissions: string): string => {
    const sas = generateBlobSASQueryParameters(
      {
        containerName: CONTAINER,
        blobName: blob,
        permissions: BlobSASPermissions.parse(permissions),
        expiresOn: new Date(Date.now() + 3600_000)
      },
      credential
    )
    return `${blobEndpoint}/${CONTAINER}/${blob}?${sas.toString()}`
  }

  const token = (scopes: TokenScope[]): string => {
    const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }))
    const body = base64url(JSON.stringify({ ac: JSON.stringify(scopes), exp: Math.floor(Date.now() / 1000) + 3600 }))
    return `${head}.${body}.${base64url(createHmac('sha256', secret).update(`${head}.${body}`).digest())}`
  }

  /** The token's scopes, or undefined when it is not one this service signed. */
  const scopesOf = (authorization: string | undefined): TokenScope[] | undefined => {
    const [head, body, signature] = (authorization ?? '').replace(/^Bearer /, '').split('.')
    if (!head || !body || !signature) return undefined
    if (base64url(createHmac('sha256', secret).update(`${head}.${body}`).digest()) !== signature) return undefined
    const claims = JSON.parse(Buffer.from(body, 'base64url').toString()) as { ac?: string }
    return JSON.parse(claims.ac ?? '[]') as TokenScope[]
  }

  const state = { rateLimited: false }

  const handlers: Record<string, (request: Record<string, unknown>, scopes: TokenScope[]) => [number, object]> = {
    CreateCacheEntry: ({ key, version }, scopes) => {
      const own = scopes.find(scope => scope.Permission & Permission.Write)
      if (!own) return [403, { code: 'permission_denied', msg: 'cache write denied: the token has no writable scope' }]
      if (state.rateLimited) return [429, { code: 'resource_exhausted', msg: 'rate limited: too many cache uploads' }]
      if (entries.some(entry => entry.key === key && entry.version === version && entry.scope === own.Scope)) {
        return [
          409,
          { code: 'already_exists', msg: 'cache entry with the same key, version, and scope already exists' }
        ]
      }
      const blob = `${randomBytes(16).toString('hex')}`
      entries.push({
        key: String(key),
        version: String(version),
        scope: own.Scope,
        blob,
        finalized: false,
        size: 0,
        sequence: 0
      })
      return [200, { ok: true, signed_upload_url: signedUrl(blob, 'cw') }]
    },
    FinalizeCacheEntryUpload: ({ key, version, size_bytes }, scopes) => {
      const own = scopes.find(scope => scope.Permission & Permission.Write)
      const entry = entries.find(e => e.key === key && e.version === version && e.scope === own?.Scope && !e.finalized)
      if (!entry) return [404, { code: 'not_found', msg: 'no cache entry is being created with this key and version' }]
      entry.finalized = true
      entry.size = Number(size_bytes)
      counts.bytesFinalized += entry.size
      entry.sequence = ++sequence
      return [200, { ok: true, entry_id: String(entry.sequence) }]
    },
    GetCacheEntryDownloadURL: ({ key, version, restore_keys }, scopes) => {
      const readable = scopes.filter(scope => scope.Permission & Permission.Read)
      if (readable.length === 0)
        return [403, { code: 'permission_denied', msg: 'cache read denied: the token has no readable scope' }]
      for (const { Scope } of readable) {
        const candidates = entries.filter(
          entry => entry.finalized && entry.version === version && entry.scope === Scope
        )
        const exact = candidates.find(entry => entry.key === key)
        const match =
          exact ??
          ((restore_keys as string[] | undefined) ?? [])
            .map(prefix => newest(candidates.filter(entry => entry.key.startsWith(prefix))))
            .find(Boolean)
        if (match) return [200, { ok: true, signed_download_url: signedUrl(match.blob, 'r'), matched_key: match.key }]
      }
      return [200, { ok: false }]
    }
  }

  const server = http.createServer((request, response) => {
    const reply = (status: number, body: object) => {
      response.writeHead(status, { 'content-type': 'application/json' })
      response.end(JSON.stringify(body))
    }
    let text = ''
    request.on('data', chunk => (text += chunk))
    request.on('end', () => {
      const method = request.url?.startsWith(SERVICE_PATH) ? request.url.slice(SERVICE_PATH.length) : ''
      const handler = handlers[method]
      if (request.method !== 'POST' || !handler)
        return reply(404, { code: 'bad_route', msg: `no handler for ${request.method} ${request.url}` })
      counts[method as keyof ServiceCounts]++
      const scopes = scopesOf(request.headers.authorization)
      if (!scopes) return reply(401, { code: 'unauthenticated', msg: 'invalid runtime token' })
      let body: Record<string, unknown>
      try {
        body = JSON.parse(text) as Record<string, unknown>
      } catch {
        return reply(400, { code: 'malformed', msg: 'the body is not JSON' })
      }
      reply(...handler(body, scopes))
    })
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`

  return {
    url,
    token,
    env: scopes => ({
      GITHUB_ACTIONS: 'true',
      ACTIONS_CACHE_SERVICE_V2: 'True',
      ACTIONS_RESULTS_URL: url,
      ACTIONS_RUNTIME_TOKEN: token(scopes)
    }),
    counts,
    settledCounts: async () => {
      await new Promise(resolve => setTimeout(resolve, 300))
      return { ...counts }
    },
    resetCounts: async () => {
      await new Promise(resolve => setTimeout(resolve, 300))
      for (const name of Object.keys(counts) as (keyof ServiceCounts)[]) counts[name] = 0
    },
    entries: () =>
      entries
        .filter(entry => entry.finalized)
        .sort((a, b) => a.sequence - b.sequence)
        .map(({ key, scope, size }) => ({ key, scope, size })),
    corrupt: async (key, scope, mutate) => {
      const entry = entries.find(e => e.key === key && e.scope === scope && e.finalized)
      if (!entry) throw new Error(`no entry ${key} in ${scope}`)
      const blob = container.getBlockBlobClient(entry.blob)
      const bytes = mutate(await blob.downloadToBuffer())
      await blob.uploadData(bytes)
    },
    get rateLimited() {
      return state.rateLimited
    },
    set rateLimited(value: boolean) {
      state.rateLimited = value
    },
    stop: async () => {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
      azurite.child.kill('SIGTERM')
      await new Promise(resolve =>
        azurite.child.exitCode === null ? azurite.child.once('exit', resolve) : resolve(undefined)
      )
      await rm(dir, { recursive: true, force: true })
    }
  }
}

function newest(entries: Entry[]): Entry | undefined {
  return entries.reduce<Entry | undefined>(
    (best, entry) => (!best || entry.sequence > best.sequence ? entry : best),
    undefined
  )
}
