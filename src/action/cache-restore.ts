import * as core from '@actions/core'
import { restoreEntry, type RestoreResult } from '../core/cache/checkpoint-cache.js'
import { readScopes } from '../core/cache/scope.js'
import { errorMessage, isNamedError } from '../core/errors.js'
import { formatBytes, formatRetries, progressPrinter } from '../core/report-format.js'
import type { ObjectStore } from '../core/store/object-store.js'
import { openStore } from '../core/store/open-store.js'
import { refContextFromEnv, workspaceFromEnv } from './github-context.js'
import {
  assertKnownInputs,
  booleanInput,
  CACHE_INPUTS,
  Inputs,
  listInput,
  noticeCompatibleInputs,
  readStoreInputs,
  requiredInput
} from './inputs.js'
import { writeSummaryTable } from './job-summary.js'
import { storeWarning } from './store-warning.js'
import { noteRestored, restorePolicyFromInputs, TRUST_INPUTS } from './entry-trust.js'

export const State = {
  PrimaryKey: 'primary-key',
  MatchedKey: 'matched-key',
  MatchedTree: 'matched-tree'
} as const

export const Outputs = {
  CacheHit: 'cache-hit',
  PrimaryKey: 'cache-primary-key',
  MatchedKey: 'cache-matched-key',
  BytesUploaded: 'bytes-uploaded',
  BytesDownloaded: 'bytes-downloaded',
  BytesDeduplicated: 'bytes-deduplicated',
  TreeDigest: 'tree-digest'
} as const

/**
 * Restores a cache entry. With `saveState`, it is the main step of the root action and leaves the
 * key and the matched tree for the post step; without, it is the restore/ sub-action.
 */
export async function runRestore(options: { saveState: boolean }): Promise<void> {
  try {
    assertKnownInputs([...CACHE_INPUTS, ...TRUST_INPUTS])
    const paths = listInput(Inputs.Path)
    const key = requiredInput(Inputs.Key, 'give the cache key to restore, e.g. "build-${{ hashFiles(\'**/lockfile\') }}"')
    if (paths.length === 0) requiredInput(Inputs.Path, 'list the files or directories to cache, one per line')
    const restoreKeys = listInput(Inputs.RestoreKeys)
    const lookupOnly = booleanInput(Inputs.LookupOnly)
    const failOnCacheMiss = booleanInput(Inputs.FailOnCacheMiss)
    const exactMirror = booleanInput(Inputs.ExactMirror)
    noticeCompatibleInputs()
    const config = readStoreInputs(Inputs.Store, process.env, { serviceDefault: true })
    const policy = restorePolicyFromInputs()
    core.setOutput(Outputs.PrimaryKey, key)
    if (options.saveState) core.saveState(State.PrimaryKey, key)

    let result: RestoreResult = { status: 'miss', retries: 0 }
    const started = Date.now()
    let store: ObjectStore | undefined
    try {
      store = openStore(config)
      result = await restoreEntry({
        store,
        key,
        restoreKeys,
        paths,
        workspace: workspaceFromEnv(),
        readScopes: readScopes(refContextFromEnv()),
        lookupOnly,
        exactMirror,
        policy,
        onProgress: progressPrinter('Downloaded', core.info)
      })
      for (const entry of result.refused ?? []) {
        core.warning(`Cache entry ${entry.key} (scope ${entry.scope}) refused by restore-policy ${policy.rule.kind}: ${entry.reason}`)
      }
    } catch (error) {
      if (isNamedError(error, 'InputError')) throw error
      core.warning(storeWarning('restore from', config, error))
      result = { status: 'miss', retries: store?.retries ?? 0 }
    }

    if (result.status === 'miss') {
      core.setOutput(Outputs.CacheHit, 'false')
      const message = `Cache not found for input keys: ${[key, ...restoreKeys].join(', ')}`
      if (failOnCacheMiss) throw new Error(`Failed to restore cache entry. Exiting as fail-on-cache-miss is set. ${message}`)
      core.info(message)
      await writeSummaryTable('Cache restore', [['key', key], ['result', 'miss'], ['retries', String(result.retries)]])
      return
    }
    const { record } = result.match
    if (!lookupOnly) {
      const { key: entryKey, scope, version, tree } = record
      await noteRestored({ kind: 'cache-entry', key: entryKey, scope, version, tree, signer: result.signer })
    }
    core.setOutput(Outputs.CacheHit, String(result.exact))
    core.setOutput(Outputs.MatchedKey, record.key)
    core.setOutput(Outputs.TreeDigest, record.tree)
    core.setOutput(Outputs.BytesDownloaded, String(result.stats?.bytesDownloaded ?? 0))
    if (options.saveState) {
      core.saveState(State.MatchedKey, record.key)
      core.saveState(State.MatchedTree, record.tree)
    }
    const seconds = (Date.now() - started) / 1000
    const verb = lookupOnly ? 'Cache found' : 'Cache restored'
    const retried = formatRetries(result.retries)
    const unchanged = result.stats ? `, ${result.stats.filesUnchanged} files unchanged` : ''
    const from = `${record.key} (scope ${record.scope}, tree ${record.tree.slice(0, 12)})`
    core.info(`${verb} from key: ${from}${unchanged}${retried}`)
    if (result.signer) core.info(`Signed by ${result.signer.signer} for ${result.signer.ref} (${result.signer.event ?? 'no event'})`)
    await writeSummaryTable('Cache restore', [
      ['key', key],
      ['matched key', `${record.key} (${result.exact ? 'exact' : 'prefix'} match)`],
      ['scope', record.scope],
      ['tree digest', record.tree],
      ['signed by', result.signer ? `${result.signer.signer} (${result.signer.ref})` : 'not checked (restore-policy any)'],
      ['files', String(record.files)],
      ['tree size', formatBytes(record.size)],
      ['files unchanged', result.stats ? String(result.stats.filesUnchanged) : '-'],
      ['downloaded', result.stats ? formatBytes(result.stats.bytesDownloaded) : 'nothing (lookup only)'],
      ['retries', String(result.retries)],
      ['seconds', seconds.toFixed(1)]
    ])
  } catch (error) {
    core.setFailed(errorMessage(error))
  }
}
