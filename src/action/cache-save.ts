import * as core from '@actions/core'
import { saveInputs } from '../config/step-core.js'
import { pruneStore } from '../core/cache/prune.js'
import { readScopes } from '../core/cache/scope.js'
import { errorMessage, isNamedError } from '../core/errors.js'
import { branchRef } from '../core/git-ref.js'
import { formatBytes, formatRetries, progressPrinter } from '../core/report-format.js'
import { openStore } from '../core/store/open-store.js'
import { describeStore, type StoreConfig } from '../core/store/store-config.js'
import { refContextFromEnv } from '../github/runner-context.js'
import { logRemoved } from './cache-prune.js'
import type { CacheInputs } from './inputs/cache.js'
import { writeSummaryTable } from './job-summary.js'
import { Inputs, Outputs, State } from './names.js'
import type { StateProvider } from './state.js'
import { storeWarning } from './store-warning.js'

/**
 * Saves a cache entry. A key and match that a restore left in `state` (the root action's post step)
 * come first: nothing is saved after an exact hit (unless `update` is set), and the restored tree
 * serves as the base. With `max-size`, a job on the default branch then prunes the store to that
 * budget. A store problem is a warning: a cache never breaks a build.
 */
export async function saveCache(inputs: CacheInputs, state: StateProvider): Promise<void> {
  const { store: config } = inputs
  const key = state.get(State.PrimaryKey) || inputs.key
  if (inputs.uploadChunkSize && config.kind !== 'external') {
    core.notice(
      `${Inputs.UploadChunkSize}: this store takes each object (at most ~16 MiB) in one request; ` +
        "it applies to GitHub's cache."
    )
  }
  const matchedTree = state.get(State.MatchedTree)
  const exactHit = state.get(State.MatchedKey) === key
  if (exactHit && !inputs.update) core.info(`Cache hit occurred on the primary key ${key}, not saving cache.`)
  else await saveToStore(inputs, key, matchedTree, exactHit ? matchedTree : undefined)
  if (inputs.maxSize !== undefined) await pruneToBudget(inputs.maxSize, config)
}

async function saveToStore(inputs: CacheInputs, key: string, matchedTree: string, hitTree?: string): Promise<void> {
  const { paths, store: config } = inputs
  const started = Date.now()
  try {
    const result = await saveInputs(
      { ...inputs, key },
      {
        store: openStore(config),
        readScopes: readScopes(refContextFromEnv()),
        onProgress: progressPrinter('Uploaded', core.info)
      },
      { baseTrees: matchedTree ? [matchedTree] : [], hitTree: hitTree || undefined }
    )
    if (result.status === 'no-files') {
      core.warning(
        'Path Validation Error: Path(s) specified in the action for caching do(es) not exist, ' +
          `hence no cache is being saved. (path: ${paths.join(', ')})`
      )
      return
    }
    if (result.status === 'unchanged') {
      core.info(`Cache entry ${key} is unchanged (tree ${result.tree.slice(0, 12)}); nothing saved.`)
      core.setOutput(Outputs.TreeDigest, result.tree)
      core.setOutput(Outputs.BytesUploaded, '0')
      return
    }
    if (result.status === 'exists') {
      if (result.updateUnsupported) {
        const where = describeStore(config)
        core.notice(`${Inputs.Update}: ${where} cannot hold revisions of an entry; only new keys are saved`)
      }
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

/**
 * After the save, a job on the default branch prunes the store to the budget: other scopes' entries
 * go first and the default branch's newest entry of each key family stays. Elsewhere, and on GitHub's
 * cache (which evicts by itself), it only says so.
 */
async function pruneToBudget(maxBytes: number, config: StoreConfig): Promise<void> {
  const context = refContextFromEnv()
  if (!context.defaultBranch || context.ref !== branchRef(context.defaultBranch)) {
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
