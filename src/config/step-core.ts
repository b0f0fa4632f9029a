import {
  restoreEntry,
  saveEntry,
  type EntryRequest,
  type RestoreResult,
  type SaveResult
} from '../core/cache/checkpoint-cache.js'
import { pruneStore } from '../core/cache/prune.js'
import type { PruneReport } from '../core/cache/prune-plan.js'
import type { Clock } from '../core/clock.js'
import { runPipelineJob, type PipelineJobProgress } from '../core/pipeline/pipeline-job.js'
import type { PipelineLog } from '../core/pipeline/runner.js'
import type { BuildContext } from '../core/release/provenance.js'
import {
  publishRelease,
  type PublishRequest,
  type PublishResult,
  type StatementSigner
} from '../core/release/publish-release.js'
import { keylessSigner, keySigner, resolvePackages, verifyPublishedRelease } from '../core/release/release-job.js'
import type { ObjectStore } from '../core/store/object-store.js'
import type { TransferProgress } from '../core/store/snapshot.js'
import { openStore } from '../core/store/open-store.js'
import { defaultStatIndexDir } from '../core/store/store-config.js'
import type {
  CacheInputs,
  PruneInputValues,
  ReleaseInputValues,
  ReleaseSigning,
  RunInputValues,
  VerifyInputValues
} from './step-inputs.js'

/**
 * The core part of each step, run from the typed inputs by the action (src/action) and the CLI (src/cli)
 * alike; what each says about the result (outputs, summaries, printed lines) stays with it.
 */

/** What a cache step needs besides its inputs: the opened store, the scopes this job reads, where progress goes. */
export interface EntryHost {
  store: ObjectStore
  readScopes: string[]
  onProgress?: (progress: TransferProgress) => void
}

/** Restores the entry the inputs name. */
export function restoreInputs(inputs: CacheInputs, host: EntryHost): Promise<RestoreResult> {
  return restoreEntry({
    ...entryRequest(inputs, host),
    lookupOnly: inputs.lookupOnly,
    exactMirror: inputs.exactMirror,
    keepSpecialModes: inputs.keepSpecialModes,
    policy: inputs.policy,
    statIndex: statIndexDir()
  })
}

/** Saves the paths under the inputs' key; `known` carries what a restore in this job found. */
export function saveInputs(
  inputs: CacheInputs,
  host: EntryHost,
  known: { baseTrees?: string[]; hitTree?: string } = {}
): Promise<SaveResult> {
  return saveEntry({ ...entryRequest(inputs, host), ...known, update: inputs.update, signing: inputs.signing })
}

function entryRequest(inputs: CacheInputs, host: EntryHost): EntryRequest {
  return {
    store: host.store,
    key: inputs.key,
    restoreKeys: inputs.restoreKeys,
    paths: inputs.paths,
    workspace: inputs.workspace,
    readScopes: host.readScopes,
    onProgress: host.onProgress
  }
}

/** Prunes the store by the inputs' rules. */
export function pruneInputs(
  inputs: PruneInputValues,
  host: { log: (line: string) => void; clock?: Clock }
): Promise<PruneReport> {
  return pruneStore({ store: openStore(inputs.store), ...inputs.rules, clock: host.clock, log: host.log })
}

/** Runs the pipeline: restore, run, checkpoint (see runPipelineJob). */
export function runInputs(
  inputs: RunInputValues,
  host: { readScopes: string[]; log: PipelineLog; sourcesDir: string; progress?: PipelineJobProgress }
): ReturnType<typeof runPipelineJob> {
  return runPipelineJob({
    pipeline: inputs.pipeline,
    store: openStore(inputs.store),
    readScopes: host.readScopes,
    needFinalTree: inputs.restoreFinalTree,
    policy: inputs.policy,
    signing: inputs.signing,
    log: host.log,
    sourcesDir: host.sourcesDir,
    progress: host.progress,
    statIndex: statIndexDir()
  })
}

/** The signer of a release; keyless asks `identityToken` for the OIDC token when it signs. */
export function releaseSigner(
  signing: ReleaseSigning,
  identityToken: () => Promise<string | undefined>
): StatementSigner {
  if (signing.method === 'key') return keySigner(signing.key)
  return keylessSigner(identityToken, signing.instance)
}

/** What a release needs besides its inputs: where it was built, what it restored, how to get an OIDC token. */
export interface ReleaseHost {
  store: ObjectStore
  context: BuildContext
  /** Read after the packages are found. */
  dependencies?: () => Promise<PublishRequest['dependencies']>
  identityToken: () => Promise<string | undefined>
}

/** Publishes the packages the inputs' globs match, with signed provenance. */
export async function publishInputs(inputs: ReleaseInputValues, host: ReleaseHost): Promise<PublishResult> {
  const packages = await resolvePackages(inputs.packages, inputs.workspace)
  const dependencies = await host.dependencies?.()
  return publishRelease({
    dependencies,
    store: host.store,
    project: inputs.project,
    version: inputs.version,
    packages,
    context: host.context,
    plan: inputs.plan,
    secrets: inputs.secrets,
    signer: releaseSigner(inputs.signing, host.identityToken),
    retentionDays: inputs.retentionDays
  })
}

/** Verifies the release the inputs name. */
export function verifyInputs(inputs: VerifyInputValues): ReturnType<typeof verifyPublishedRelease> {
  return verifyPublishedRelease({
    store: openStore(inputs.releaseStore),
    project: inputs.project,
    version: inputs.version,
    publicKeyPem: inputs.publicKeyPem,
    requireCacheFrom: inputs.requireCacheFrom,
    keyless: inputs.keyless
  })
}

/**
 * Where restores keep stat indexes: none on a GitHub-hosted runner, whose machine is new for every
 * job (writing one would only cost time); the user's cache folder elsewhere.
 */
export function statIndexDir(env: NodeJS.ProcessEnv = process.env): string | undefined {
  return env.RUNNER_ENVIRONMENT === 'github-hosted' ? undefined : defaultStatIndexDir(env)
}
