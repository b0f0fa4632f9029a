import * as core from '@actions/core'
import { InputError } from '../core/errors.js'
import { parsePathPatterns } from '../core/cache/tree-paths.js'
import { parseStoreUrl, defaultLocalStoreDir, type StoreConfig } from '../core/store/store-config.js'

/** Input names, as action.yml declares them. */
export const Inputs = {
  Path: 'path',
  Key: 'key',
  RestoreKeys: 'restore-keys',
  LookupOnly: 'lookup-only',
  FailOnCacheMiss: 'fail-on-cache-miss',
  Update: 'update',
  MaxSize: 'max-size',
  Store: 'store',
  Endpoint: 'endpoint',
  Region: 'region',
  PathStyle: 'path-style',
  AccessKeyId: 'aws-access-key-id',
  SecretAccessKey: 'aws-secret-access-key',
  SessionToken: 'aws-session-token'
} as const

export const STORE_INPUTS = [Inputs.Store, Inputs.Endpoint, Inputs.Region, Inputs.PathStyle, Inputs.AccessKeyId, Inputs.SecretAccessKey, Inputs.SessionToken]
export const CACHE_INPUTS = [
  Inputs.Path,
  Inputs.Key,
  Inputs.RestoreKeys,
  Inputs.LookupOnly,
  Inputs.FailOnCacheMiss,
  Inputs.Update,
  Inputs.MaxSize,
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

/** The store inputs; explicit credentials are masked before anything is logged. */
export function readStoreInputs(storeInput: string = Inputs.Store, env: NodeJS.ProcessEnv = process.env): StoreConfig {
  const url = core.getInput(storeInput) || (storeInput === Inputs.Store ? env.ARTIFACT_ACTION_STORE : '') || ''
  const accessKeyId = core.getInput(Inputs.AccessKeyId)
  const secretAccessKey = core.getInput(Inputs.SecretAccessKey)
  const sessionToken = core.getInput(Inputs.SessionToken)
  for (const secret of [accessKeyId, secretAccessKey, sessionToken]) if (secret) core.setSecret(secret)
  if (!url) return { kind: 'fs', dir: defaultLocalStoreDir(env) }
  if (Boolean(accessKeyId) !== Boolean(secretAccessKey)) throw new InputError(`${accessKeyId ? Inputs.SecretAccessKey : Inputs.AccessKeyId}: required when ${accessKeyId ? Inputs.AccessKeyId : Inputs.SecretAccessKey} is given; give both, or neither to use the AWS credential chain`)
  return parseStoreUrl(url, storeInput, {
    region: core.getInput(Inputs.Region) || env.AWS_REGION || env.AWS_DEFAULT_REGION || 'us-east-1',
    endpoint: core.getInput(Inputs.Endpoint) || undefined,
    forcePathStyle: booleanInput(Inputs.PathStyle, Boolean(core.getInput(Inputs.Endpoint))),
    credentials: accessKeyId ? { accessKeyId, secretAccessKey, sessionToken: sessionToken || undefined } : undefined
  })
}
