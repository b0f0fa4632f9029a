/**
 * A Sigstore instance on loopback, for tests that sign and verify keylessly through the real network path.
 *
 * Fulcio, Rekor and a timestamp authority are the handlers of `@sigstore/mock`, served by node:http on
 * 127.0.0.1 (random ports). A stand-in for GitHub Actions' OIDC token endpoint (ACTIONS_ID_TOKEN_REQUEST_URL)
 * issues signed JWTs for workflow identities; Fulcio checks them and certifies the workflow identity URI, as
 * the real Fulcio does for GitHub. The trusted root that lists this instance is written to a file.
 *
 * Only the submodules of @sigstore/mock are loaded: its index pulls in nock, which patches node:http.
 */
import { createHash, generateKeyPairSync, randomBytes, sign, verify, type KeyObject } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import * as path from 'node:path'
import { fulcioHandler, initializeCA, initializeCTLog } from '@sigstore/mock/dist/fulcio/index.js'
import { initializeTLog, rekorHandler } from '@sigstore/mock/dist/rekor/index.js'
import { initializeTSA, tsaHandler } from '@sigstore/mock/dist/timestamp/index.js'
import { tempDir } from './trees.js'

export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com'

/** A GitHub Actions job: which repository's workflow runs, at which ref and commit. */
export interface WorkflowIdentity {
  /** owner/name */
  repository: string
  /** Default .github/workflows/release.yml */
  workflow?: string
  /** Default refs/tags/v1.0.0 */
  ref?: string
  /** Default 40 × "a" */
  sha?: string
  /** The reusable workflow that runs the job, owner/name/path@ref; default the repository's own workflow. */
  jobWorkflowRef?: string
  /** The event that started the run; default push. */
  event?: string
}

export interface LocalSigstore {
  fulcioURL: string
  rekorURL: string
  tsaURL: string
  /** The trusted root (application/vnd.dev.sigstore.trustedroot+json) that lists this instance. */
  trustedRootPath: string
  trustedRoot: object
  /** The SAN URI Fulcio certifies for a job of this identity. */
  identityURI(identity: WorkflowIdentity): string
  /** A signed OIDC token (audience "sigstore") for the identity, as GitHub would issue it. */
  identityToken(identity: WorkflowIdentity): string
  /** The environment of a GitHub Actions job of this identity: GITHUB_* and the OIDC request endpoint. */
  jobEnv(identity: WorkflowIdentity): Record<string, string>
  /** The inputs of keyless signing through this instance (release/, save/, run/). */
  signingInputs(): Record<string, string>
  /** The same as CLI flags: --sigstore custom --fulcio-url … */
  signingFlags(): string[]
  /** The inputs that verify against this instance's trusted root (verify/, restore policies). */
  verifyInputs(): Record<string, string>
  /** While set, Fulcio refuses every certificate request with this reason (HTTP 401). */
  refuseCertificates(reason: string | undefined): void
  /** Every request each service answered, with its status. */
  requests: Array<{ service: 'fulcio' | 'rekor' | 'tsa' | 'oidc'; status: number }>
  close(): Promise<void>
}

type Handler = {
  path: string
  fn: (body: string) => Promise<{ statusCode: number; response: string | ArrayBufferView; contentType?: string }>
}

/** Starts Fulcio, Rekor, a TSA and the OIDC stand-in, and writes the trusted root into `dir` (default a temp dir). */
export async function startLocalSigstore(options: { dir?: string } = {}): Promise<LocalSigstore> {
  const dir = options.dir ?? (await tempDir('local-sigstore'))
  const keyPair = () => generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  const notBefore = new Date(Date.now() - 60_000)
  const ctlog = await initializeCTLog(keyPair())
  const ca = await initializeCA(keyPair(), ctlog)
  const oidcKeys = keyPair()
  const requests: LocalSigstore['requests'] = []
  const servers: Server[] = []
  let refusal: string | undefined
  const requestTokens = new Map<string, WorkflowIdentity>()

  const fulcio = await serve(
    servers,
    requests,
    'fulcio',
    certificateHandler(fulcioHandler(ca, { subjectClaim: 'workflow_identity_uri' }), oidcKeys.publicKey, () => refusal)
  )
  const tlogKeys = keyPair()
  const rekorPort = await reservePort(servers)
  const rekorURL = `http://127.0.0.1:${rekorPort.port}`
  const tlog = await initializeTLog(rekorURL, tlogKeys)
  const rekor = await serve(servers, requests, 'rekor', canonicalizingRekor(rekorHandler(tlog)), rekorPort.server)
  const tsaKeys = keyPair()
  // Whole seconds: asn1js writes milliseconds without trailing zeros (".5Z"), which @sigstore/core refuses.
  const tsaClock = new Date()
  const tsa = await initializeTSA(tsaKeys, tsaClock)
  const timestamps = tsaHandler(tsa)
  const tsaURL = await serve(servers, requests, 'tsa', async (_request, _url, body) => {
    tsaClock.setTime(Math.floor(Date.now() / 1000) * 1000)
    return fromHandler(await timestamps.fn(body))
  })

  const oidcURL = await serve(servers, requests, 'oidc', async (request, url) => {
    const identity = requestTokens.get((request.headers.authorization ?? '').replace(/^Bearer /, ''))
    if (request.method !== 'GET' || !identity) return { statusCode: 401, body: 'bad request token' }
    const audience = url.searchParams.get('audience') ?? 'https://github.com'
    return {
      statusCode: 200,
      body: JSON.stringify({ value: issueToken(oidcKeys.privateKey, identity, audience) }),
      type: 'application/json'
    }
  })

  const trustedRoot = {
    mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
    tlogs: [transparencyLog(rekorURL, tlogKeys.publicKey, sha256(der(tlogKeys.publicKey)), notBefore)],
    certificateAuthorities: [authority(fulcio, [ca.rootCertificate], notBefore)],
    ctlogs: [
      transparencyLog('http://127.0.0.1/ctlog', undefined, Buffer.from(ctlog.logID.buffer), notBefore, ctlog.publicKey)
    ],
    timestampAuthorities: [authority(tsaURL, [tsa.intCertificate, tsa.rootCertificate], notBefore)]
  }
  const trustedRootPath = path.join(dir, 'trusted_root.json')
  await writeFile(trustedRootPath, `${JSON.stringify(trustedRoot, null, 2)}\n`)

  const signingInputs = () => ({
    sigstore: 'custom',
    'fulcio-url': fulcio,
    'rekor-url': rekor,
    'timestamp-url': tsaURL
  })
  return {
    signingInputs,
    signingFlags: () => Object.entries(signingInputs()).flatMap(([name, value]) => [`--${name}`, value]),
    verifyInputs: () => ({ sigstore: 'custom', 'trusted-root': trustedRootPath }),
    fulcioURL: fulcio,
    rekorURL: rekor,
    tsaURL,
    trustedRootPath,
    trustedRoot,
    identityURI,
    identityToken: identity => issueToken(oidcKeys.privateKey, identity, 'sigstore'),
    jobEnv(identity) {
      const requestToken = randomBytes(16).toString('hex')
      requestTokens.set(requestToken, identity)
      const claims = claimsOf(identity, 'sigstore')
      return {
        GITHUB_ACTIONS: 'true',
        GITHUB_REPOSITORY: identity.repository,
        GITHUB_REF: claims.ref,
        GITHUB_SHA: claims.sha,
        GITHUB_WORKFLOW_REF: claims.workflow_ref,
        GITHUB_RUN_ID: claims.run_id,
        GITHUB_RUN_ATTEMPT: claims.run_attempt,
        GITHUB_EVENT_NAME: claims.event_name,
        ACTIONS_ID_TOKEN_REQUEST_URL: `${oidcURL}/token?api-version=2.0`,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: requestToken
      }
    },
    refuseCertificates: reason => void (refusal = reason),
    requests,
    close: () =>
      Promise.all(servers.map(server => new Promise<void>(resolve => server.close(() => resolve())))).then(
        () => undefined
      )
  }
}

/** https://github.com/<job workflow ref>: what Fulcio puts in the SAN of a GitHub Actions certificate. */
export function identityURI(identity: WorkflowIdentity): string {
  return `https://github.com/${claimsOf(identity, 'sigstore').job_workflow_ref}`
}

function claimsOf(identity: WorkflowIdentity, audience: string) {
  const workflow = identity.workflow ?? '.github/workflows/release.yml'
  const ref = identity.ref ?? 'refs/tags/v1.0.0'
  const workflowRef = `${identity.repository}/${workflow}@${ref}`
  const now = Math.floor(Date.now() / 1000)
  return {
    iss: GITHUB_ACTIONS_ISSUER,
    aud: audience,
    sub: `repo:${identity.repository}:ref:${ref}`,
    iat: now,
    nbf: now - 5,
    exp: now + 300,
    repository: identity.repository,
    repository_owner: identity.repository.split('/')[0],
    ref,
    sha: identity.sha ?? 'a'.repeat(40),
    workflow: path.basename(workflow),
    workflow_ref: workflowRef,
    job_workflow_ref: identity.jobWorkflowRef ?? workflowRef,
    event_name: identity.event ?? 'push',
    run_id: '4242',
    run_attempt: '1',
    runner_environment: 'github-hosted'
  }
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url')
}

/** An ES256 JWT, as GitHub's OIDC provider issues them. */
function issueToken(privateKey: KeyObject, identity: WorkflowIdentity, audience: string): string {
  const header = base64url(JSON.stringify({ alg: 'ES256', typ: 'JWT', kid: 'local' }))
  const body = base64url(JSON.stringify(claimsOf(identity, audience)))
  const signature = sign('sha256', Buffer.from(`${header}.${body}`), { key: privateKey, dsaEncoding: 'ieee-p1363' })
  return `${header}.${body}.${base64url(signature)}`
}

/** The claims of a token signed by the stand-in's key, for audience sigstore and not expired; else the reason. */
function checkToken(token: string, publicKey: KeyObject): Record<string, unknown> | string {
  const [header, body, signature] = token.split('.')
  if (!header || !body || !signature) return 'not a JWT'
  const signed = verify(
    'sha256',
    Buffer.from(`${header}.${body}`),
    { key: publicKey, dsaEncoding: 'ieee-p1363' },
    Buffer.from(signature, 'base64url')
  )
  if (!signed) return 'the token signature is invalid'
  const claims = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Record<string, unknown>
  if (claims.aud !== 'sigstore') return `audience ${String(claims.aud)} is not sigstore`
  if (typeof claims.exp !== 'number' || claims.exp * 1000 < Date.now()) return 'the token has expired'
  return claims
}

/**
 * Fulcio as deployed for GitHub: the token must be signed by the issuer, and the certificate's SAN is
 * https://github.com/<job_workflow_ref>. The mock handler only decodes tokens, so it is handed the checked
 * claims plus the SAN, re-encoded.
 */
function certificateHandler(handler: Handler, oidcKey: KeyObject, refusal: () => string | undefined): Route {
  return async (_request, _url, body) => {
    const reason = refusal()
    if (reason) return { statusCode: 401, body: reason }
    let request: { credentials?: { oidcIdentityToken?: string } }
    try {
      request = JSON.parse(body)
    } catch {
      return { statusCode: 400, body: 'request is not JSON' }
    }
    const claims = checkToken(request.credentials?.oidcIdentityToken ?? '', oidcKey)
    if (typeof claims === 'string')
      return { statusCode: 401, body: `There was an error processing the identity token: ${claims}` }
    const withSan = { ...claims, workflow_identity_uri: `https://github.com/${String(claims.job_workflow_ref)}` }
    const token = `${base64url(JSON.stringify({ alg: 'none' }))}.${base64url(JSON.stringify(withSan))}.unchecked`
    return fromHandler(await handler.fn(JSON.stringify({ ...request, credentials: { oidcIdentityToken: token } })))
  }
}

/**
 * Rekor stores a dsse entry in canonical form: the envelope hash, the payload hash, and each signature with
 * its verifier. The mock stores the proposed entry as submitted, which verifiers reject, so it is
 * canonicalized here first.
 */
function canonicalizingRekor(handler: Handler): Route {
  return async (_request, _url, body) => {
    const proposed = JSON.parse(body) as {
      kind: string
      apiVersion: string
      spec: { proposedContent?: { envelope: string; verifiers: string[] } }
    }
    const content = proposed.spec.proposedContent
    if (proposed.kind !== 'dsse' || !content) return fromHandler(await handler.fn(body))
    const envelope = JSON.parse(content.envelope) as { payload: string; signatures: Array<{ sig: string }> }
    const canonical = {
      apiVersion: proposed.apiVersion,
      kind: 'dsse',
      spec: {
        envelopeHash: { algorithm: 'sha256', value: sha256(Buffer.from(content.envelope)).toString('hex') },
        payloadHash: { algorithm: 'sha256', value: sha256(Buffer.from(envelope.payload, 'base64')).toString('hex') },
        signatures: envelope.signatures.map(signature => ({ signature: signature.sig, verifier: content.verifiers[0] }))
      }
    }
    return fromHandler(await handler.fn(JSON.stringify(canonical)))
  }
}

function fromHandler(result: Awaited<ReturnType<Handler['fn']>>): RouteResult {
  const { response } = result
  const body =
    typeof response === 'string' ? response : Buffer.from(response.buffer, response.byteOffset, response.byteLength)
  return { statusCode: result.statusCode, body, type: result.contentType }
}

type RouteResult = { statusCode: number; body: string | Buffer; type?: string }
type Route = (request: IncomingMessage, url: URL, body: string) => Promise<RouteResult>

async function reservePort(servers: Server[]): Promise<{ server: Server; port: number }> {
  const server = createServer()
  servers.push(server)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return { server, port: (server.address() as AddressInfo).port }
}

/** Serves one route on 127.0.0.1 (a new random port unless a reserved server is given); returns its base URL. */
async function serve(
  servers: Server[],
  log: LocalSigstore['requests'],
  service: LocalSigstore['requests'][number]['service'],
  route: Route,
  reserved?: Server
): Promise<string> {
  const server = reserved ?? (await reservePort(servers)).server
  server.on('request', (request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = []
    request.on('data', chunk => chunks.push(chunk))
    request.on('end', () => {
      const url = new URL(request.url ?? '/', 'http://127.0.0.1')
      route(request, url, Buffer.concat(chunks).toString('utf8'))
        .catch(error => ({ statusCode: 500, body: String(error) }) as RouteResult)
        .then(result => {
          log.push({ service, status: result.statusCode })
          response.writeHead(result.statusCode, { 'content-type': result.type ?? 'text/plain' })
          response.end(result.body)
        })
    })
  })
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`
}

function der(publicKey: KeyObject): Buffer {
  return publicKey.export({ type: 'spki', format: 'der' })
}

function sha256(data: Buffer): Buffer {
  return createHash('sha256').update(data).digest()
}

function transparencyLog(
  baseUrl: string,
  publicKey: KeyObject | undefined,
  logId: Buffer,
  start: Date,
  rawKey?: Buffer
) {
  return {
    baseUrl,
    hashAlgorithm: 'SHA2_256',
    publicKey: {
      rawBytes: (rawKey ?? der(publicKey!)).toString('base64'),
      keyDetails: 'PKIX_ECDSA_P256_SHA_256',
      validFor: { start: start.toISOString() }
    },
    logId: { keyId: logId.toString('base64') }
  }
}

function authority(uri: string, chain: ArrayBufferView[], start: Date) {
  return {
    subject: { organization: 'sigstore.mock', commonName: 'local' },
    uri,
    certChain: {
      certificates: chain.map(cert => ({
        rawBytes: Buffer.from(cert.buffer, cert.byteOffset, cert.byteLength).toString('base64')
      }))
    },
    validFor: { start: start.toISOString() }
  }
}

/** A job of acme/app's CI workflow (.github/workflows/ci.yml) at `ref`: on pull_request for a pull request's ref. */
export function ciJob(ref: string): WorkflowIdentity {
  const event = ref.startsWith('refs/pull/') ? 'pull_request' : 'push'
  return { repository: 'acme/app', workflow: '.github/workflows/ci.yml', ref, event }
}
