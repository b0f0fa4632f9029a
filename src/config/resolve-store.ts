import * as path from 'node:path'
import { InputError } from '../core/errors.js'
import { DEFAULT_RETRY_POLICY } from '../core/retry.js'
import { defaultLocalStoreDir, parseStoreUrl, type StoreConfig } from '../core/store/store-config.js'
import { cacheServiceFromEnv, CacheServiceClient } from '../github/cache-service.js'
import { GitHubCacheStore } from '../github/github-cache-store.js'

/** S3 credentials given explicitly; without them, the AWS credential chain applies. */
export interface StoreCredentials {
  accessKeyId: string
  secretAccessKey: string
  sessionToken?: string
}

/** What the action's inputs or the CLI's flags say about a store; empty values count as not given. */
export interface StoreRequest {
  /** The input or flag the address comes from, for error messages (e.g. `store`, `--release-store`). */
  name: string
  url?: string
  /** Falls back to $ARTIFACT_ACTION_STORE when no address is given. */
  envDefault?: boolean
  endpoint?: string
  region?: string
  pathStyle?: boolean
  credentials?: StoreCredentials
  /** Without an address, use GitHub's cache service when the job runs in GitHub Actions and it is there. */
  serviceDefault?: boolean
  /** The block size of a multi-request upload to GitHub's cache (upload-chunk-size). */
  partSize?: number
}

export interface ResolvedStore {
  config: StoreConfig
  /** Why this store, when no address was given: one line for the log. */
  note?: string
  /** Values to mask in logs (the cache service's token). */
  secrets: string[]
}

/** Seconds an endpoint may say nothing before a request to it is given up, retries included. */
export const NETWORK_TIMEOUT_ENV = 'ARTIFACT_ACTION_NETWORK_TIMEOUT_SECONDS'
const MAX_NETWORK_TIMEOUT_SECONDS = 3600

/**
 * The one place that turns an address and the environment into a store: the endpoint from
 * AWS_ENDPOINT_URL_S3 or AWS_ENDPOINT_URL, the region from AWS_REGION or AWS_DEFAULT_REGION (else
 * us-east-1), path-style addressing by default with an endpoint, the silence bound from
 * ARTIFACT_ACTION_NETWORK_TIMEOUT_SECONDS (else the retry policy's), and without an address GitHub's cache
 * service (when asked for and available) or the local directory.
 */
export function resolveStore(request: StoreRequest, env: NodeJS.ProcessEnv = process.env): ResolvedStore {
  const url = request.url || (request.envDefault ? env.ARTIFACT_ACTION_STORE : undefined)
  if (!url) return defaultStore(request, env)
  const endpoint = request.endpoint || env.AWS_ENDPOINT_URL_S3 || env.AWS_ENDPOINT_URL || undefined
  const config = parseStoreUrl(url, request.name, {
    region: request.region || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    endpoint,
    forcePathStyle: request.pathStyle ?? Boolean(endpoint),
    credentials: request.credentials,
    ...networkTimeoutFrom(env)
  })
  return { config, secrets: [] }
}

function defaultStore(request: StoreRequest, env: NodeJS.ProcessEnv): ResolvedStore {
  const service = request.serviceDefault ? cacheServiceFromEnv(env) : undefined
  if (service) {
    const store = new GitHubCacheStore(new CacheServiceClient(service), { partSize: request.partSize })
    return {
      config: { kind: 'external', location: store.location, open: () => store },
      note: `Store: ${store.location} (no \`${request.name}\` input, and the job runs in GitHub Actions)`,
      secrets: [service.token]
    }
  }
  const dir = path.resolve(defaultLocalStoreDir(env))
  const why = request.serviceDefault ? "GitHub's cache service is not available here" : 'the default'
  return {
    config: { kind: 'fs', dir },
    note: `Store: the local directory ${dir} (no \`${request.name}\` input; ${why})`,
    secrets: []
  }
}

/** Explicit credentials come in pairs: an access key id without its secret (or the reverse) is a mistake. */
export function credentialsFrom(
  values: { accessKeyId?: string; secretAccessKey?: string; sessionToken?: string },
  names: { accessKeyId: string; secretAccessKey: string }
): StoreCredentials | undefined {
  const { accessKeyId, secretAccessKey, sessionToken } = values
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) {
    const [missing, given] = accessKeyId
      ? [names.secretAccessKey, names.accessKeyId]
      : [names.accessKeyId, names.secretAccessKey]
    throw new InputError(
      `${missing}: required when ${given} is given; give both, or neither to use the AWS credential chain`
    )
  }
  if (!accessKeyId) return undefined
  return { accessKeyId, secretAccessKey: secretAccessKey!, sessionToken: sessionToken || undefined }
}

/** The silence bound of $ARTIFACT_ACTION_NETWORK_TIMEOUT_SECONDS, as a retry-policy override; unset, none. */
function networkTimeoutFrom(env: NodeJS.ProcessEnv): { retry?: { silenceMs: number } } {
  const value = env[NETWORK_TIMEOUT_ENV]?.trim()
  if (!value) return {}
  const seconds = Number(value)
  if (!/^\d+(\.\d+)?$/.test(value) || seconds <= 0 || seconds > MAX_NETWORK_TIMEOUT_SECONDS)
    throw new InputError(
      `${NETWORK_TIMEOUT_ENV}: "${value}" is not a number of seconds; give one above 0 and at most ${MAX_NETWORK_TIMEOUT_SECONDS}, or unset it for the default (${DEFAULT_RETRY_POLICY.silenceMs / 1000})`
    )
  return { retry: { silenceMs: seconds * 1000 } }
}
