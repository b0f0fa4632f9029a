import * as core from '@actions/core'
import { credentialsFrom, resolveStore, type StoreRequest } from '../../config/resolve-store.js'
import { parsePathPatterns } from '../../core/cache/tree-paths.js'
import { InputError } from '../../core/errors.js'
import { tagOfRef } from '../../core/git-ref.js'
import type { StoreConfig } from '../../core/store/store-config.js'
import { StoreInputs } from '../names.js'

/**
 * The one module that reads the action's inputs from the runner. The readers beside it (one per action)
 * check every input, so a bad one fails the step before any work, and return a typed object.
 */

/**
 * The runner passes every input as INPUT_<NAME>. One it does not know of is almost always a typo,
 * so it fails the step with the list of valid names.
 */
export function assertKnownInputs(known: readonly string[], env: NodeJS.ProcessEnv = process.env): void {
  const normalized = new Set(known.map(name => name.replace(/ /g, '_').toUpperCase()))
  const unknown = Object.keys(env)
    .filter(name => name.startsWith('INPUT_') && !normalized.has(name.slice('INPUT_'.length)))
    .map(name => name.slice('INPUT_'.length).toLowerCase())
  if (unknown.length > 0) {
    const plural = unknown.length > 1 ? 's' : ''
    throw new InputError(`${unknown.join(', ')}: unknown input${plural}; valid inputs are ${known.join(', ')}`)
  }
}

export function input(name: string): string {
  return core.getInput(name)
}

export function requiredInput(name: string, hint: string): string {
  const value = input(name)
  if (!value) throw new InputError(`${name}: required; ${hint}`)
  return value
}

export function booleanInput(name: string, fallback = false): boolean {
  const value = input(name).trim().toLowerCase()
  if (value === '') return fallback
  if (['true', 'yes', '1'].includes(value)) return true
  if (['false', 'no', '0'].includes(value)) return false
  throw new InputError(`${name}: "${value}" is not a boolean; use true or false`)
}

export function listInput(name: string): string[] {
  return parsePathPatterns(input(name))
}

/** The values of the given inputs, for the shared Sigstore and identity readers. */
export function inputValues<Name extends string>(names: readonly Name[]): Partial<Record<Name, string>> {
  return Object.fromEntries(names.map(name => [name, input(name) || undefined])) as Partial<Record<Name, string>>
}

/** The version input, else the tag the workflow runs on. */
export function versionInput(name: string, ref: string | undefined): string {
  const explicit = input(name)
  if (explicit) return explicit
  const tagged = tagOfRef(ref)
  if (tagged) return tagged
  throw new InputError(`${name}: required when the workflow does not run on a tag; give the version, e.g. v1.2.3`)
}

/**
 * A store from its address input (`store` or `release-store`) and the shared S3 inputs, through the
 * resolver the CLI uses too. Explicit credentials are masked before anything is logged.
 */
export function storeInput(
  name: string,
  env: NodeJS.ProcessEnv,
  options: Pick<StoreRequest, 'serviceDefault' | 'partSize'> = {}
): StoreConfig {
  const values = {
    accessKeyId: input(StoreInputs.AccessKeyId),
    secretAccessKey: input(StoreInputs.SecretAccessKey),
    sessionToken: input(StoreInputs.SessionToken)
  }
  for (const secret of Object.values(values)) if (secret) core.setSecret(secret)
  const credentials = credentialsFrom(values, {
    accessKeyId: StoreInputs.AccessKeyId,
    secretAccessKey: StoreInputs.SecretAccessKey
  })
  const endpoint = input(StoreInputs.Endpoint) || undefined
  const pathStyle = input(StoreInputs.PathStyle).trim() ? booleanInput(StoreInputs.PathStyle) : undefined
  const resolved = resolveStore(
    {
      name,
      url: input(name),
      envDefault: name === StoreInputs.Store,
      endpoint,
      region: input(StoreInputs.Region) || undefined,
      pathStyle,
      credentials,
      ...options
    },
    env
  )
  for (const secret of resolved.secrets) core.setSecret(secret)
  if (resolved.note) core.info(resolved.note)
  return resolved.config
}

/** The non-empty lines of a multi-line input. */
export function multilineInput(name: string): string[] {
  return core.getMultilineInput(name).filter(line => line.trim() !== '')
}
