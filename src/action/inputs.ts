import * as core from '@actions/core'
import { readFile } from 'node:fs/promises'
import * as path from 'node:path'
import { resolveStore, credentialsFrom, type StoreRequest } from '../config/resolve-store.js'
import { parsePathPatterns } from '../core/cache/tree-paths.js'
import type { PruneOptions } from '../core/cache/prune.js'
import { parsePruneRules } from '../core/cache/prune-rules.js'
import { InputError } from '../core/errors.js'
import { loadPipeline, parsePipeline, type Pipeline } from '../core/pipeline/definition.js'
import { assertSeparateStores } from '../core/release/release-job.js'
import { versionOfTagRef } from '../core/release/release-layout.js'
import { resolveIdentityPolicy, type IdentityPolicy } from '../core/signing/identity-policy.js'
import { loadSigningKey, type SigningKey } from '../core/signing/keys.js'
import { resolveSigstoreInstance, type SigstoreInstance } from '../core/signing/sigstore-instance.js'
import type { StoreConfig } from '../core/store/store-config.js'
import { workspaceFromEnv } from '../github/runner-context.js'
import {
  IdentityInputNames,
  Inputs,
  KnownInputs,
  PruneInputs,
  ReleaseInputs,
  RunInputs,
  SigstoreSigningInputs,
  SigstoreVerifyInputs,
  StoreInputs,
  VerifyInputs
} from './names.js'

/**
 * The one place that reads the action's inputs. Each reader checks every input, so a bad one fails the
 * step before any work, and returns a typed object that the step's code takes.
 */

export interface CacheInputs {
  paths: string[]
  key: string
  restoreKeys: string[]
  lookupOnly: boolean
  failOnCacheMiss: boolean
  /** upload-chunk-size, in bytes. */
  uploadChunkSize?: number
  store: StoreConfig
  workspace: string
}

export interface RunInputValues {
  pipeline: Pipeline
  restoreFinalTree: boolean
  store: StoreConfig
  workspace: string
}

export type ReleaseSigning = { method: 'key'; key: SigningKey } | { method: 'keyless'; instance: SigstoreInstance }

export interface ReleaseInputValues {
  project: string
  version: string
  /** Globs of the package files. */
  packages: string[]
  /** The plan of the run that built the packages (the plan-file input), parsed. */
  plan?: unknown
  releaseStore: StoreConfig
  signing: ReleaseSigning
  retentionDays?: number
  /** With github-release: the token to create it with. */
  githubRelease?: { token: string }
  /** Values that must not appear in the release (keys, tokens). */
  secrets: string[]
  workspace: string
}

export interface VerifyInputValues {
  project: string
  version: string
  releaseStore: StoreConfig
  publicKeyPem?: string
  keyless: { instance: SigstoreInstance; policy: IdentityPolicy }
}

export interface PruneInputValues {
  rules: Omit<PruneOptions, 'store'>
  store: StoreConfig
}

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

function input(name: string): string {
  return core.getInput(name)
}

function requiredInput(name: string, hint: string): string {
  const value = input(name)
  if (!value) throw new InputError(`${name}: required; ${hint}`)
  return value
}

function booleanInput(name: string, fallback = false): boolean {
  const value = input(name).trim().toLowerCase()
  if (value === '') return fallback
  if (['true', 'yes', '1'].includes(value)) return true
  if (['false', 'no', '0'].includes(value)) return false
  throw new InputError(`${name}: "${value}" is not a boolean; use true or false`)
}

function listInput(name: string): string[] {
  return parsePathPatterns(input(name))
}

/** The values of the given inputs, for the shared Sigstore and identity readers. */
function inputValues<Name extends string>(names: readonly Name[]): Partial<Record<Name, string>> {
  return Object.fromEntries(names.map(name => [name, input(name) || undefined])) as Partial<Record<Name, string>>
}

/** The version input, else the tag the workflow runs on. */
function versionInput(name: string, ref: string | undefined): string {
  const explicit = input(name)
  if (explicit) return explicit
  const tagged = versionOfTagRef(ref)
  if (tagged) return tagged
  throw new InputError(`${name}: required when the workflow does not run on a tag; give the version, e.g. v1.2.3`)
}

/** actions/cache's inputs that change nothing here, with what they do here instead. */
const COMPATIBLE_INPUTS: Record<string, string> = {
  [Inputs.EnableCrossOsArchive]:
    'accepted; entries are never tied to an OS here (paths are stored relative, /-separated), ' +
    'so every entry restores on every OS',
  [Inputs.SaveAlways]:
    'accepted, but a post step cannot read it (actions/cache deprecated it for that reason); ' +
    'to save after a failure, use the save/ sub-action with `if: always()`'
}

/** One notice line for each actions/cache input given that changes nothing here. */
function noticeCompatibleInputs(): void {
  for (const [name, meaning] of Object.entries(COMPATIBLE_INPUTS)) {
    const value = input(name).trim()
    if (value && value !== 'false') core.notice(`${name}: ${meaning}.`)
  }
}

/** `upload-chunk-size`, in bytes: the size of the blocks of an upload that does not go in one request. */
function uploadChunkSizeInput(): number | undefined {
  const value = input(Inputs.UploadChunkSize).trim()
  if (!value) return undefined
  const bytes = Number(value)
  if (!Number.isSafeInteger(bytes) || bytes < 1024 * 1024 || bytes > 256 * 1024 * 1024) {
    throw new InputError(
      `${Inputs.UploadChunkSize}: "${value}" is not a size in bytes from 1 MiB to 256 MiB, e.g. 33554432`
    )
  }
  return bytes
}

/**
 * A store from its address input (`store` or `release-store`) and the shared S3 inputs, through the
 * resolver the CLI uses too. Explicit credentials are masked before anything is logged.
 */
function storeInput(
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

/** The inputs of the cache actions (the root action, restore/ and save/). */
export function readCacheInputs(): CacheInputs {
  const env = process.env
  assertKnownInputs(KnownInputs.cache, env)
  const paths = listInput(Inputs.Path)
  const key = requiredInput(Inputs.Key, 'give the cache key, e.g. "build-${{ hashFiles(\'**/lockfile\') }}"')
  if (paths.length === 0) requiredInput(Inputs.Path, 'list the files or directories to cache, one per line')
  const restoreKeys = listInput(Inputs.RestoreKeys)
  const lookupOnly = booleanInput(Inputs.LookupOnly)
  const failOnCacheMiss = booleanInput(Inputs.FailOnCacheMiss)
  noticeCompatibleInputs()
  const uploadChunkSize = uploadChunkSizeInput()
  const store = storeInput(StoreInputs.Store, env, { serviceDefault: true, partSize: uploadChunkSize })
  return {
    paths,
    key,
    restoreKeys,
    lookupOnly,
    failOnCacheMiss,
    uploadChunkSize,
    store,
    workspace: workspaceFromEnv(env)
  }
}

/** The inputs of run/: the pipeline (loaded and checked), and the store of its checkpoints. */
export async function readRunInputs(): Promise<RunInputValues> {
  const env = process.env
  assertKnownInputs(KnownInputs.run, env)
  const workspace = workspaceFromEnv(env)
  const file = input(RunInputs.Pipeline)
  const inline = input(RunInputs.PipelineYaml)
  if (file && inline) {
    throw new InputError(`${RunInputs.Pipeline}, ${RunInputs.PipelineYaml}: give one of them, not both`)
  }
  if (!inline && !file) {
    throw new InputError(
      `${RunInputs.Pipeline}: required; give the pipeline file (e.g. pipeline.yml) ` +
        `or an inline definition in ${RunInputs.PipelineYaml}`
    )
  }
  const pipeline = inline
    ? parsePipeline(inline, RunInputs.PipelineYaml, workspace)
    : await loadPipeline(path.resolve(workspace, file))
  const restoreFinalTree = booleanInput(RunInputs.RestoreFinalTree, true)
  return { pipeline, restoreFinalTree, store: storeInput(StoreInputs.Store, env), workspace }
}

function retentionDaysInput(): number | undefined {
  const text = input(ReleaseInputs.RetentionDays)
  if (!text) return undefined
  const days = Number(text)
  if (!Number.isInteger(days) || days < 1) {
    throw new InputError(`${ReleaseInputs.RetentionDays}: "${text}" is not a whole number of days; give e.g. 3650`)
  }
  return days
}

function signingInputs(): ReleaseSigning {
  const method = input(ReleaseInputs.Signing) || (input(ReleaseInputs.SigningKey) ? 'key' : 'keyless')
  const sigstore = inputValues(SigstoreSigningInputs)
  if (method === 'keyless') return { method, instance: resolveSigstoreInstance(sigstore, 'sign') }
  if (method !== 'key') throw new InputError(`${ReleaseInputs.Signing}: "${method}" is not key or keyless`)
  const stray = SigstoreSigningInputs.find(name => sigstore[name])
  if (stray) {
    throw new InputError(`${stray}: only for keyless signing; drop it, or set ${ReleaseInputs.Signing} to keyless`)
  }
  const pem = input(ReleaseInputs.SigningKey)
  if (pem) core.setSecret(pem)
  return { method, key: loadSigningKey(pem, ReleaseInputs.SigningKey) }
}

/** The inputs of release/; github-release and its token are checked before anything is published. */
export async function readReleaseInputs(): Promise<ReleaseInputValues> {
  const env = process.env
  assertKnownInputs(KnownInputs.release, env)
  const project = requiredInput(ReleaseInputs.Project, 'give the project name, the top folder of its releases')
  const version = versionInput(ReleaseInputs.Version, env.GITHUB_REF)
  const cacheStore = input(StoreInputs.Store) ? storeInput(StoreInputs.Store, env) : undefined
  if (!input(ReleaseInputs.ReleaseStore)) {
    throw new InputError(
      `${ReleaseInputs.ReleaseStore}: required; give s3://bucket/prefix for releases, apart from the cache`
    )
  }
  const releaseStore = storeInput(ReleaseInputs.ReleaseStore, env)
  assertSeparateStores(releaseStore, cacheStore)
  const workspace = workspaceFromEnv(env)
  const packages = listInput(ReleaseInputs.Packages)
  const signing = signingInputs()
  const retentionDays = retentionDaysInput()
  const githubRelease = booleanInput(ReleaseInputs.GitHubRelease)
    ? { token: requiredInput(ReleaseInputs.GitHubToken, 'give a token with contents: write, e.g. ${{ github.token }}') }
    : undefined
  const planFile = input(ReleaseInputs.PlanFile)
  const plan: unknown = planFile ? JSON.parse(await readFile(path.resolve(workspace, planFile), 'utf8')) : undefined
  const secretNames = [ReleaseInputs.SigningKey, ReleaseInputs.GitHubToken, Inputs.SecretAccessKey, Inputs.SessionToken]
  const secrets = secretNames.map(input).filter(Boolean)
  return {
    project,
    version,
    packages,
    plan,
    releaseStore,
    signing,
    retentionDays,
    githubRelease,
    secrets,
    workspace
  }
}

/** The inputs of verify/. */
export function readVerifyInputs(): VerifyInputValues {
  const env = process.env
  assertKnownInputs(KnownInputs.verify, env)
  const project = requiredInput(VerifyInputs.Project, 'give the project name')
  const version = versionInput(VerifyInputs.Version, env.GITHUB_REF)
  if (!input(VerifyInputs.ReleaseStore)) {
    throw new InputError(`${VerifyInputs.ReleaseStore}: required; give the release store to verify from`)
  }
  const releaseStore = storeInput(VerifyInputs.ReleaseStore, env)
  return {
    project,
    version,
    releaseStore,
    publicKeyPem: input(VerifyInputs.PublicKey) || undefined,
    keyless: {
      instance: resolveSigstoreInstance(inputValues(SigstoreVerifyInputs), 'verify'),
      policy: resolveIdentityPolicy(inputValues(IdentityInputNames))
    }
  }
}

/** The inputs of prune/: its rules (an empty input leaves its rule out) and the store. */
export function readPruneInputs(): PruneInputValues {
  const env = process.env
  assertKnownInputs(KnownInputs.prune, env)
  const text = (name: string): string | undefined => input(name).trim() || undefined
  const rules = parsePruneRules(
    {
      maxAge: text(PruneInputs.MaxAge),
      maxSize: text(PruneInputs.MaxSize),
      maxEntriesPerScope: text(PruneInputs.MaxEntriesPerScope),
      deleteScopes: core.getMultilineInput(PruneInputs.DeleteScopes).filter(line => line.trim() !== ''),
      grace: text(PruneInputs.GracePeriod)
    },
    {
      maxAge: PruneInputs.MaxAge,
      maxSize: PruneInputs.MaxSize,
      maxEntriesPerScope: PruneInputs.MaxEntriesPerScope,
      deleteScopes: PruneInputs.DeleteScopes,
      grace: PruneInputs.GracePeriod
    }
  )
  return { rules: { ...rules, dryRun: booleanInput(PruneInputs.DryRun) }, store: storeInput(StoreInputs.Store, env) }
}
