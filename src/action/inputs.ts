import * as core from '@actions/core'
import { InputError } from '../core/errors.js'
import { parsePathPatterns } from '../core/cache/tree-paths.js'
import { parseStoreUrl, defaultLocalStoreDir, type StoreConfig } from '../core/store/store-config.js'
import { cacheServiceFromEnv, CacheServiceClient } from '../github/cache-service.js'
import { GitHubCacheStore } from '../github/github-cache-store.js'

/** Input names, as action.yml declares them. */
export const Inputs = {
  Path: 'path',
  Key: 'key',
  RestoreKeys: 'restore-keys',
  LookupOnly: 'lookup-only',
  FailOnCacheMiss: 'fail-on-cache-miss',
  Update: 'update',
  MaxSize: 'max-size',
  UploadChunkSize: 'upload-chunk-size',
  EnableCrossOsArchive: 'enableCrossOsArchive',
  SaveAlways: 'save-always',
  ExactMirror: 'exact-mirror',
  Store: 'store',
  Endpoint: 'endpoint',
  Region: 'region',
  PathStyle: 'path-style',
  AccessKeyId: 'aws-access-key-id',
  SecretAccessKey: 'aws-secret-access-key',
  SessionToken: 'aws-session-token'
} as const

export const STORE_INPUTS = [Inputs.Store, Inputs.Endpoint, Inputs.Region, Inputs.PathStyle, Inputs.AccessKeyId, Inputs.SecretAccessKey, Inputs.SessionToken]
/** actions/cache's inputs (v4 and v5, its restore/ and save/ included) that work as they do there. */
const ACTIONS_CACHE_INPUTS = [
  Inputs.Path,
  Inputs.Key,
  Inputs.RestoreKeys,
  Inputs.LookupOnly,
  Inputs.FailOnCacheMiss,
  Inputs.UploadChunkSize
]
/** actions/cache's inputs that change nothing here, with what they do here instead. */
const COMPATIBLE_INPUTS: Record<string, string> = {
  [Inputs.EnableCrossOsArchive]:
    'accepted; entries are never tied to an OS here (paths are stored relative, /-separated), so every entry restores on every OS',
  [Inputs.SaveAlways]:
    'accepted, but a post step cannot read it (actions/cache deprecated it for that reason); ' +
    'to save after a failure, use the save/ sub-action with `if: always()`'
}
/** This action's own cache inputs, beyond actions/cache's. */
const OWN_CACHE_INPUTS = [Inputs.Update, Inputs.MaxSize, Inputs.ExactMirror]
export const CACHE_INPUTS = [
  ...ACTIONS_CACHE_INPUTS,
  ...OWN_CACHE_INPUTS,
  ...Object.keys(COMPATIBLE_INPUTS),
  ...STORE_INPUTS
]

/**
 * The runner passes every input as INPUT_<NAME>. One it does not know of is almost always a typo,
 * so it fails the step with the list of valid names.
 */
export function assertKnownInputs(known: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const normalized = new Set(known.map(name => name.replace(/ /g, '_').toUpperCase()))
  const unknown = Object.keys(env)
    .filter(name => name.startsWith('INPUT_') && !normalized.has(name.slice('INPUT_'.length)))
    .map(name => name.slice('INPUT_'.length).toLowerCase())
  if (unknown.length > 0) throw new InputError(`${unknown.join(', ')}: unknown input${unknown.length > 1 ? 's' : ''}; valid inputs are ${known.join(', ')}`)
}

export function requiredInput(name: string, hint: string): string {
  const value = core.getInput(name)
  if (!value) throw new InputError(`${name}: required; ${hint}`)
  return value
}

export function booleanInput(name: string, fallback = false): boolean {
  const value = core.getInput(name).trim().toLowerCase()
  if (value === '') return fallback
  if (['true', 'yes', '1'].includes(value)) return true
  if (['false', 'no', '0'].includes(value)) return false
  throw new InputError(`${name}: "${value}" is not a boolean; use true or false`)
}

export function listInput(name: string): string[] {
  return parsePathPatterns(core.getInput(name))
}

/** One notice line for each actions/cache input given that changes nothing here. */
export function noticeCompatibleInputs(): void {
  for (const [name, meaning] of Object.entries(COMPATIBLE_INPUTS)) {
    const value = core.getInput(name).trim()
    if (value && value !== 'false') core.notice(`${name}: ${meaning}.`)
  }
}

/** `upload-chunk-size`, in bytes: the size of the blocks of an upload that does not go in one request. */
export function uploadChunkSizeInput(): number | undefined {
  const value = core.getInput(Inputs.UploadChunkSize).trim()
  if (!value) return undefined
  const bytes = Number(value)
  if (!Number.isSafeInteger(bytes) || bytes < 1024 * 1024 || bytes > 256 * 1024 * 1024) {
    throw new InputError(`${Inputs.UploadChunkSize}: "${value}" is not a size in bytes from 1 MiB to 256 MiB, e.g. 33554432`)
  }
  return bytes
}

/**
 * The store without a `store` input: GitHub's cache service when the job runs in GitHub Actions
 * and the service is there (`serviceDefault`), otherwise the local directory. Logs which, in one line.
 */
function defaultStore(env: NodeJS.ProcessEnv, serviceDefault: boolean, partSize: number | undefined): StoreConfig {
  const service = serviceDefault ? cacheServiceFromEnv(env) : undefined
  if (service) {
    core.setSecret(service.token)
    const client = new CacheServiceClient(service)
    const store = new GitHubCacheStore(client, { partSize })
    core.info(`Store: ${store.location} (no \`${Inputs.Store}\` input, and the job runs in GitHub Actions)`)
    return { kind: 'external', location: store.location, open: () => store }
  }
  const dir = defaultLocalStoreDir(env)
  const why = serviceDefault ? "GitHub's cache service is not available here" : 'the default'
  core.info(`Store: the local directory ${dir} (no \`${Inputs.Store}\` input; ${why})`)
  return { kind: 'fs', dir }
}

/**
 * The store inputs; explicit credentials are masked before anything is logged. `serviceDefault`:
 * without a store, use GitHub's cache service when there is one (the cache actions).
 */
export function readStoreInputs(
  storeInput: string = Inputs.Store,
  env: NodeJS.ProcessEnv = process.env,
  options: { serviceDefault?: boolean; partSize?: number } = {}
): StoreConfig {
  const url = core.getInput(storeInput) || (storeInput === Inputs.Store ? env.ARTIFACT_ACTION_STORE : '') || ''
  const accessKeyId = core.getInput(Inputs.AccessKeyId)
  const secretAccessKey = core.getInput(Inputs.SecretAccessKey)
  const sessionToken = core.getInput(Inputs.SessionToken)
  for (const secret of [accessKeyId, secretAccessKey, sessionToken]) if (secret) core.setSecret(secret)
  if (!url) return defaultStore(env, options.serviceDefault ?? false, options.partSize)
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) throw new InputError(`${accessKeyId ? Inputs.SecretAccessKey : Inputs.AccessKeyId}: required when ${accessKeyId ? Inputs.AccessKeyId : Inputs.SecretAccessKey} is given; give both, or neither to use the AWS credential chain`)
  return parseStoreUrl(url, storeInput, {
    region: core.getInput(Inputs.Region) || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    endpoint: core.getInput(Inputs.Endpoint) || undefined,
    forcePathStyle: booleanInput(Inputs.PathStyle, Boolean(core.getInput(Inputs.Endpoint))),
    credentials: accessKeyId ? { accessKeyId, secretAccessKey, sessionToken: sessionToken || undefined } : undefined
  })
}
