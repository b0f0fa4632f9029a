import * as core from '@actions/core'
import { restoreInputs } from '../config/step-core.js'
import type { RestoreResult } from '../core/cache/checkpoint-cache.js'
import { readScopes } from '../core/cache/scope.js'
import { isNamedError } from '../core/errors.js'
import { formatBytes, formatRetries, formatTrusted, progressPrinter } from '../core/report-format.js'
import type { ObjectStore } from '../core/store/object-store.js'
import { openStore } from '../core/store/open-store.js'
import { refContextFromEnv } from '../github/runner-context.js'
import type { CacheInputs } from './inputs/cache.js'
import { noteRestored } from './entry-trust.js'
import { writeSummaryTable } from './job-summary.js'
import { Outputs, State } from './names.js'
import type { StateProvider } from './state.js'
import { storeWarning } from './store-warning.js'

/**
 * Restores a cache entry and leaves the key and the matched tree in `state` for a save. A store
 * problem is a warning (a cache never breaks a build); a miss fails only with fail-on-cache-miss.
 */
export async function restoreCache(inputs: CacheInputs, state: StateProvider): Promise<void> {
  const { key, restoreKeys, lookupOnly, store: config } = inputs
  core.setOutput(Outputs.PrimaryKey, key)
  state.set(State.PrimaryKey, key)

  let result: RestoreResult
  const started = Date.now()
  let store: ObjectStore | undefined
  try {
    store = openStore(config)
    result = await restoreInputs(inputs, {
      store,
      readScopes: readScopes(refContextFromEnv()),
      onProgress: progressPrinter('Downloaded', core.info)
    })
    for (const entry of result.refused ?? []) {
      const rule = inputs.policy?.rule.kind
      core.warning(`Cache entry ${entry.key} (scope ${entry.scope}) refused by restore-policy ${rule}: ${entry.reason}`)
    }
  } catch (error) {
    if (isNamedError(error, 'InputError')) throw error
    core.warning(storeWarning('restore from', config, error))
    result = { status: 'miss', retries: store?.retries ?? 0 }
  }

  if (result.status === 'miss') {
    core.setOutput(Outputs.CacheHit, 'false')
    const message = `Cache not found for input keys: ${[key, ...restoreKeys].join(', ')}`
    if (inputs.failOnCacheMiss) {
      throw new Error(`Failed to restore cache entry. Exiting as fail-on-cache-miss is set. ${message}`)
    }
    core.info(message)
    const rows: Array<[string, string]> = [
      ['key', key],
      ['result', 'miss'],
      ['retries', String(result.retries)]
    ]
    await writeSummaryTable('Cache restore', rows)
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
  state.set(State.MatchedKey, record.key)
  state.set(State.MatchedTree, record.tree)
  const seconds = (Date.now() - started) / 1000
  const verb = lookupOnly ? 'Cache found' : 'Cache restored'
  const retried = formatRetries(result.retries)
  const unchanged = result.stats ? `, ${result.stats.filesUnchanged} files unchanged` : ''
  const from = `${record.key} (scope ${record.scope}, tree ${record.tree.slice(0, 12)})`
  core.info(`${verb} from key: ${from}${unchanged}${retried}`)
  if (result.stats) core.debug(formatTrusted(result.stats))
  if (result.signer) {
    core.info(`Signed by ${result.signer.signer} for ${result.signer.ref} (${result.signer.event ?? 'no event'})`)
  }
  await writeSummaryTable('Cache restore', [
    ['key', key],
    ['matched key', `${record.key} (${result.exact ? 'exact' : 'prefix'} match)`],
    ['scope', record.scope],
    ['tree digest', record.tree],
    [
      'signed by',
      result.signer ? `${result.signer.signer} (${result.signer.ref})` : 'not checked (restore-policy any)'
    ],
    ['files', String(record.files)],
    ['tree size', formatBytes(record.size)],
    ['files unchanged', result.stats ? String(result.stats.filesUnchanged) : '-'],
    ['downloaded', result.stats ? formatBytes(result.stats.bytesDownloaded) : 'nothing (lookup only)'],
    ['retries', String(result.retries)],
    ['seconds', seconds.toFixed(1)]
  ])
}
