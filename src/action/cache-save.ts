import * as core from '@actions/core'
import { saveEntry } from '../core/cache/checkpoint-cache.js'
import { readScopes } from '../core/cache/scope.js'
import { errorMessage, isNamedError } from '../core/errors.js'
import { formatBytes, formatRetries, progressPrinter } from '../core/report-format.js'
import { openStore } from '../core/store/open-store.js'
import { Outputs, State } from './cache-restore.js'
import { refContextFromEnv, workspaceFromEnv } from './github-context.js'
import {
  assertKnownInputs,
  CACHE_INPUTS,
  Inputs,
  listInput,
  noticeCompatibleInputs,
  readStoreInputs,
  requiredInput,
  uploadChunkSizeInput
} from './inputs.js'
import { writeSummaryTable } from './job-summary.js'
import { storeWarning } from './store-warning.js'
import { entrySigningFromInputs, TRUST_INPUTS } from './entry-trust.js'

/**
 * Saves a cache entry. With `fromState`, it is the post step of the root action: the key comes from
 * the main step, nothing is saved after an exact hit, and the restored tree serves as the base.
 * A store problem is a warning: a cache never breaks a build.
 */
export async function runSave(options: { fromState: boolean }): Promise<void> {
  try {
    assertKnownInputs([...CACHE_INPUTS, ...TRUST_INPUTS])
    const key = (options.fromState && core.getState(State.PrimaryKey)) || requiredInput(Inputs.Key, 'give the cache key to save under')
    const paths = listInput(Inputs.Path)
    if (paths.length === 0) requiredInput(Inputs.Path, 'list the files or directories to cache, one per line')
    noticeCompatibleInputs()
    const partSize = uploadChunkSizeInput()
    const config = readStoreInputs(Inputs.Store, process.env, { serviceDefault: true, partSize })
    if (partSize && config.kind !== 'external') {
      core.notice(`${Inputs.UploadChunkSize}: this store takes each object (at most ~16 MiB) in one request; it applies to GitHub's cache.`)
    }
    const signing = entrySigningFromInputs()
    if (options.fromState && core.getState(State.MatchedKey) === key) {
      core.info(`Cache hit occurred on the primary key ${key}, not saving cache.`)
      return
    }
    const matchedTree = options.fromState ? core.getState(State.MatchedTree) : ''
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
        signing,
        onProgress: progressPrinter('Uploaded', core.info)
      })
      if (result.status === 'no-files') {
        core.warning(`Path Validation Error: Path(s) specified in the action for caching do(es) not exist, hence no cache is being saved. (path: ${paths.join(', ')})`)
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
        `Cache saved with key: ${key} (scope ${result.scope}, tree ${result.tree.slice(0, 12)}${result.signed ? ', signed' : ''}); ` +
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
  } catch (error) {
    core.setFailed(errorMessage(error))
  }
}
