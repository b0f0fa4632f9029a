import * as core from '@actions/core'
import { saveEntry } from '../core/cache/checkpoint-cache.js'
import { readScopes } from '../core/cache/scope.js'
import { isNamedError } from '../core/errors.js'
import { formatBytes, formatRetries, progressPrinter } from '../core/report-format.js'
import { openStore } from '../core/store/open-store.js'
import { refContextFromEnv } from '../github/runner-context.js'
import type { CacheInputs } from './inputs/cache.js'
import { writeSummaryTable } from './job-summary.js'
import { Inputs, Outputs, State } from './names.js'
import type { StateProvider } from './state.js'
import { storeWarning } from './store-warning.js'

/**
 * Saves a cache entry. A key and match that a restore left in `state` (the root action's post step)
 * come first: nothing is saved after an exact hit, and the restored tree serves as the base.
 * A store problem is a warning: a cache never breaks a build.
 */
export async function saveCache(inputs: CacheInputs, state: StateProvider): Promise<void> {
  const { paths, store: config } = inputs
  const key = state.get(State.PrimaryKey) || inputs.key
  if (inputs.uploadChunkSize && config.kind !== 'external') {
    core.notice(
      `${Inputs.UploadChunkSize}: this store takes each object (at most ~16 MiB) in one request; ` +
        "it applies to GitHub's cache."
    )
  }
  if (state.get(State.MatchedKey) === key) {
    core.info(`Cache hit occurred on the primary key ${key}, not saving cache.`)
    return
  }
  const matchedTree = state.get(State.MatchedTree)
  const started = Date.now()
  try {
    const result = await saveEntry({
      store: openStore(config),
      key,
      restoreKeys: inputs.restoreKeys,
      paths,
      workspace: inputs.workspace,
      readScopes: readScopes(refContextFromEnv()),
      baseTrees: matchedTree ? [matchedTree] : [],
      onProgress: progressPrinter('Uploaded', core.info)
    })
    if (result.status === 'no-files') {
      core.warning(
        'Path Validation Error: Path(s) specified in the action for caching do(es) not exist, ' +
          `hence no cache is being saved. (path: ${paths.join(', ')})`
      )
      return
    }
    if (result.status === 'exists') {
      core.info(`Cache entry ${key} already exists in this scope; another job saved it first. Not saving.`)
      return
    }
    const { stats } = result
    core.setOutput(Outputs.TreeDigest, result.tree)
    core.setOutput(Outputs.BytesUploaded, String(stats.bytesUploaded))
    core.setOutput(Outputs.BytesDeduplicated, String(stats.bytesDeduplicated))
    const seconds = (Date.now() - started) / 1000
    core.info(
      `Cache saved with key: ${key} (scope ${result.scope}, tree ${result.tree.slice(0, 12)}); ` +
        `uploaded ${formatBytes(stats.bytesUploaded)} of ${formatBytes(stats.treeBytes)}` +
        formatRetries(result.retries)
    )
    await writeSummaryTable('Cache save', [
      ['key', key],
      ['scope', result.scope],
      ['tree digest', result.tree],
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
