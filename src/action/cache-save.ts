import * as core from '@actions/core'
import { saveEntry } from '../core/cache/checkpoint-cache.js'
import { readScopes } from '../core/cache/scope.js'
import { errorMessage, isNamedError } from '../core/errors.js'
import { formatBytes, formatRetries, progressPrinter } from '../core/report-format.js'
import { openStore } from '../core/store/open-store.js'
import { describeStore, type StoreConfig } from '../core/store/store-config.js'
import { parseSize } from '../core/cache/prune-rules.js'
import { pruneStore } from '../core/cache/prune.js'
import { Outputs, State } from './cache-restore.js'
import { refContextFromEnv, workspaceFromEnv } from './github-context.js'
import {
  assertKnownInputs,
  booleanInput,
  CACHE_INPUTS,
  Inputs,
  listInput,
  noticeCompatibleInputs,
  readStoreInputs,
  requiredInput,
  uploadChunkSizeInput
} from './inputs.js'
import { logRemoved } from './cache-prune.js'
import { writeSummaryTable } from './job-summary.js'
import { storeWarning } from './store-warning.js'
import { entrySigningFromInputs, TRUST_INPUTS } from './entry-trust.js'
import type { EntrySigning } from '../core/cache/entry-signature.js'

/**
 * Saves a cache entry. With `fromState`, it is the post step of the root action: the key comes from
 * the main step, nothing is saved after an exact hit (unless `update` is set), and the restored tree
 * serves as the base. With `max-size`, a job on the default branch then prunes the store to that
 * budget. A store problem is a warning: a cache never breaks a build.
 */
export async function runSave(options: { fromState: boolean }): Promise<void> {
  try {
    assertKnownInputs([...CACHE_INPUTS, ...TRUST_INPUTS])
    const key = (options.fromState && core.getState(State.PrimaryKey)) || requiredInput(Inputs.Key, 'give the cache key to save under')
    const paths = listInput(Inputs.Path)
    if (paths.length === 0) requiredInput(Inputs.Path, 'list the files or directories to cache, one per line')
    const update = booleanInput(Inputs.Update)
    const budget = budgetFromInputs()
    noticeCompatibleInputs()
    const partSize = uploadChunkSizeInput()
    const config = readStoreInputs(Inputs.Store, process.env, { serviceDefault: true, partSize })
    if (partSize && config.kind !== 'external') {
      core.notice(`${Inputs.UploadChunkSize}: this store takes each object (at most ~16 MiB) in one request; it applies to GitHub's cache.`)
    }
    const signing = entrySigningFromInputs()
    const matchedTree = options.fromState ? core.getState(State.MatchedTree) : ''
    const exactHit = options.fromState && core.getState(State.MatchedKey) === key
    if (exactHit && !update) core.info(`Cache hit occurred on the primary key ${key}, not saving cache.`)
    else await saveToStore({ key, paths, update, config, matchedTree, hitTree: exactHit ? matchedTree : undefined, signing })
    if (budget) await pruneToBudget(budget, config)
  } catch (error) {
    core.setFailed(errorMessage(error))
  }
}

async function saveToStore(request: {
  key: string
  paths: string[]
  update: boolean
  config: StoreConfig
  matchedTree: string
  hitTree?: string
  signing?: EntrySigning
}): Promise<void> {
  const { key, paths, config, matchedTree } = request
  const started = Date.now()
  try {
    const result = await saveEntry({
      store: openStore(config),
      key,
      restoreKeys: listInput(Inputs.RestoreKeys),
      paths,
      workspace: workspaceFromEnv(),
      readScopes: readScopes(refContextFromEnv()),
      baseTrees: matchedTree ? [matchedTree] : [],
      update: request.update,
      hitTree: request.hitTree || undefined,
      signing: request.signing,
      onProgress: progressPrinter('Uploaded', core.info)
    })
    if (result.status === 'no-files') {
      core.warning(`Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved. (path: ${paths.join(', ')})`)
      return
    }
    if (result.status === 'unchanged') {
      core.info(`Cache entry ${key} is unchanged (tree ${result.tree.slice(0, 12)}); nothing saved.`)
      core.setOutput(Outputs.TreeDigest, result.tree)
      core.setOutput(Outputs.BytesUploaded, '0')
      return
    }
    if (result.status === 'exists') {
      if (result.updateUnsupported)
        core.notice(`${Inputs.Update}: ${describeStore(config)} cannot hold revisions of an entry; only new keys are saved`)
      core.info(`Cache entry ${key} already exists in this scope; another job saved it first. Not saving.`)
      return
    }
    const { stats } = result
    core.setOutput(Outputs.TreeDigest, result.tree)
    core.setOutput(Outputs.BytesUploaded, String(stats.bytesUploaded))
    core.setOutput(Outputs.BytesDeduplicated, String(stats.bytesDeduplicated))
    const seconds = (Date.now() - started) / 1000
    const revision = result.revision > 0 ? ` as revision ${result.revision}` : ''
    core.info(
      `Cache saved with key: ${key}${revision} (scope ${result.scope}, tree ${result.tree.slice(0, 12)}` +
        `${result.signed ? ', signed' : ''}); ` +
        `uploaded ${formatBytes(stats.bytesUploaded)} of ${formatBytes(stats.treeBytes)}` +
        formatRetries(result.retries)
    )
    await writeSummaryTable('Cache save', [
      ['key', key],
      ['scope', result.scope],
      ['tree digest', result.tree],
      ['signed', result.signed ? 'yes' : 'no'],
      ['files', String(stats.files)],
      ['tree size', formatBytes(stats.treeBytes)],
      ['uploaded', `${formatBytes(stats.bytesUploaded)} in ${stats.objectsUploaded} objects`],
      ['deduplicated', formatBytes(stats.bytesDeduplicated)],
      ['retries', String(result.retries)],
      ['seconds', seconds.toFixed(1)]
    ])
  } catch (error) {
    if (isNamedError(error, 'InputError')) throw error
    core.warning(storeWarning('save to', config, error))
  }
}

/** The size budget of `max-size`, parsed before anything is saved so a bad value fails the step. */
function budgetFromInputs(): number | undefined {
  const text = core.getInput(Inputs.MaxSize).trim()
  return text ? parseSize(text, Inputs.MaxSize) : undefined
}

/**
 * After the save, a job on the default branch prunes the store to the budget: other scopes' entries
 * go first and the default branch's newest entry of each key family stays. Elsewhere, and on GitHub's
 * cache (which evicts by itself), it only says so.
 */
async function pruneToBudget(maxBytes: number, config: StoreConfig): Promise<void> {
  const context = refContextFromEnv()
  if (!context.defaultBranch || context.ref !== `refs/heads/${context.defaultBranch}`) {
    const on = context.ref ?? 'no ref'
    core.info(`${Inputs.MaxSize}: the store is pruned by jobs on the default branch; this job runs on ${on}`)
    return
  }
  if (config.kind === 'external') {
    core.notice(`${Inputs.MaxSize}: ${describeStore(config)} evicts entries itself; nothing is pruned`)
    return
  }
  try {
    const store = openStore(config)
    const report = await pruneStore({ store, maxBytes, defaultBranch: context.defaultBranch, log: core.info })
    logRemoved(report)
    core.info(
      `Pruned to ${Inputs.MaxSize} ${formatBytes(maxBytes)}: removed ${report.removed.length} entries, ` +
        `freed ${formatBytes(report.bytesFreed)}; the kept entries reference ${formatBytes(report.liveBytes)}`
    )
    for (const warning of report.warnings) core.warning(warning)
  } catch (error) {
    if (isNamedError(error, 'InputError')) throw error
    core.warning(`${Inputs.MaxSize}: the store was not pruned: ${errorMessage(error)}`)
  }
}
