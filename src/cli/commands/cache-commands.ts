import { loadManifest } from '../../core/manifest/load.js'
import { listEntries } from '../../core/cache/entry-listing.js'
import { restoreInputs, saveInputs, type EntryHost } from '../../config/step-core.js'
import type { CacheInputs } from '../../config/step-inputs.js'
import { openStore } from '../../core/store/open-store.js'
import { formatAge, formatBytes, formatRetries, formatTrusted, progressPrinter } from '../../core/report-format.js'
import { Exit, listValue, requireValue, stringValue, type Command, type Options, type Values } from '../command.js'
import { scopeOptions, scopesFrom, storeConfigFrom, storeFrom, storeOptions } from '../store-options.js'
import { entrySigningFrom, entrySigningOptions, restorePolicyFrom, restorePolicyOptions } from '../trust-options.js'

const print = (line: string): void => void process.stdout.write(`${line}\n`)
const progress = (line: string): void => void process.stderr.write(`${line}\n`)

const entryOptions = {
  key: { type: 'string', short: 'k', description: 'cache key (at most 512 characters, no commas)' },
  path: {
    type: 'string',
    short: 'p',
    multiple: true,
    description: 'file, directory or glob to cache; repeat for more'
  },
  'restore-key': {
    type: 'string',
    multiple: true,
    description: 'key prefix to fall back to, newest first; repeat for more'
  },
  workspace: { type: 'string', description: 'folder that relative paths are relative to (default: current directory)' },
  ...storeOptions,
  ...scopeOptions
} satisfies Options

/** The same typed inputs the action's reader builds, from the flags save and restore share. */
function cacheInputsFrom(values: Values, positionals: string[], hint: string): CacheInputs {
  const store = storeConfigFrom(values)
  return {
    key: requireValue(values, 'key', hint),
    paths: [...listValue(values, 'path'), ...positionals],
    restoreKeys: listValue(values, 'restore-key'),
    lookupOnly: values['lookup-only'] === true,
    failOnCacheMiss: false,
    exactMirror: values['exact-mirror'] === true,
    keepSpecialModes: values['keep-special-modes'] === true,
    update: values.update === true,
    store,
    workspace: stringValue(values, 'workspace') ?? process.cwd()
  }
}

/** The store, the scopes this job reads, and the progress lines of a save or restore. */
function entryHost(inputs: CacheInputs, values: Values, progressVerb: string): EntryHost {
  return {
    store: openStore(inputs.store),
    readScopes: scopesFrom(values),
    onProgress: progressPrinter(progressVerb, progress)
  }
}

export const saveCommand: Command = {
  name: 'save',
  summary:
    'Save paths to the store under a key. Uploads only what the store lacks. Exit 0 when saved or already present.',
  usage: 'save --key KEY [--update] [--path P]... [P...]',
  options: {
    ...entryOptions,
    ...entrySigningOptions,
    update: { type: 'boolean', description: 'when the key exists with another tree, save a new revision of it' }
  },
  async run(values, positionals) {
    const inputs = {
      ...cacheInputsFrom(values, positionals, 'give the key to save under'),
      signing: entrySigningFrom(values)
    }
    const host = entryHost(inputs, values, 'uploaded')
    const { key } = inputs
    const result = await saveInputs(inputs, host)
    if (result.status === 'unchanged') {
      print(`${key}: unchanged (tree ${result.tree}); nothing saved`)
      return Exit.Ok
    }
    if (result.status === 'no-files') {
      progress(`nothing to save: no file matches ${inputs.paths.join(', ')}`)
      return Exit.Miss
    }
    if (result.status === 'exists') {
      if (result.updateUnsupported)
        progress(`notice: --update: ${host.store.location} cannot hold revisions of an entry`)
      print(`${key}: already in the store; nothing saved`)
      return Exit.Ok
    }
    const { stats } = result
    const revision = result.revision > 0 ? ` as revision ${result.revision}` : ''
    print(`saved ${key}${revision} in scope ${result.scope}: tree ${result.tree}`)
    print(
      `${stats.files} files, ${formatBytes(stats.treeBytes)}; ` +
        `uploaded ${formatBytes(stats.bytesUploaded)} in ${stats.objectsUploaded} objects, ` +
        `${formatBytes(stats.bytesDeduplicated)} already stored${formatRetries(result.retries)}`
    )
    return Exit.Ok
  }
}

export const restoreCommand: Command = {
  name: 'restore',
  summary:
    'Restore the entry for a key (or the newest restore-key match). Every byte is verified. Exit 0 when restored, 3 on a miss.',
  usage: 'restore --key KEY [--path P]... [P...]',
  options: {
    ...entryOptions,
    ...restorePolicyOptions,
    'lookup-only': { type: 'boolean', description: 'only report whether an entry exists' },
    'exact-mirror': { type: 'boolean', description: 'remove what the restored directories hold besides the entry' },
    'keep-special-modes': { type: 'boolean', description: 'restore setuid, setgid and sticky bits as saved' }
  },
  async run(values, positionals) {
    const base = cacheInputsFrom(values, positionals, 'give the key to restore')
    const host = entryHost(base, values, 'downloaded')
    const policy = restorePolicyFrom(values)
    const inputs: CacheInputs = { ...base, policy }
    const { key } = inputs
    const result = await restoreInputs(inputs, host)
    for (const entry of result.refused ?? []) {
      progress(
        `warning: entry ${entry.key} (scope ${entry.scope}) refused by --restore-policy ${policy.rule.kind}: ${entry.reason}`
      )
    }
    if (result.status === 'miss') {
      progress(`cache miss: no entry for ${[key, ...inputs.restoreKeys].join(', ')}`)
      return Exit.Miss
    }
    const { record } = result.match
    const how = result.exact ? 'exact match' : 'prefix match'
    if (result.signer) print(`signed by ${result.signer.signer} for ${result.signer.ref}`)
    if (!result.stats) print(`found ${record.key} (${how}, scope ${record.scope}, tree ${record.tree})`)
    else {
      const { files, filesUnchanged, treeBytes, bytesDownloaded } = result.stats
      print(
        `restored ${record.key} (${how}, scope ${record.scope}): ${files} files, ${formatBytes(treeBytes)}, ` +
          `${filesUnchanged} files unchanged, downloaded ${formatBytes(bytesDownloaded)}${formatRetries(result.retries)}`
      )
      progress(formatTrusted(result.stats))
    }
    return Exit.Ok
  }
}

export const lsCommand: Command = {
  name: 'ls',
  summary: 'List cache entries with size, age and scope, newest first.',
  usage: 'ls [--scope SCOPE] [--json]',
  options: {
    ...storeOptions,
    scope: { type: 'string', description: 'only this scope, e.g. branch/main or pr/12' },
    json: { type: 'boolean', description: 'print JSON' },
    manifest: { type: 'string', description: 'print the manifest of this tree digest' }
  },
  async run(values) {
    const store = storeFrom(values)
    const digest = stringValue(values, 'manifest')
    if (digest) {
      print(JSON.stringify(await loadManifest(store, digest), null, 2))
      return Exit.Ok
    }
    const scope = stringValue(values, 'scope')
    const entries = (await listEntries(store)).filter(entry => !scope || entry.scope === scope)
    if (values.json === true) {
      print(JSON.stringify(entries, null, 2))
      return Exit.Ok
    }
    const now = Date.now()
    print(['SCOPE', 'KEY', 'SIZE', 'FILES', 'AGE', 'LAST USED', 'TREE'].join('\t'))
    for (const entry of entries)
      print(
        [
          entry.scope,
          entry.revision ? `${entry.key}@${entry.revision}` : entry.key,
          formatBytes(entry.size),
          String(entry.files),
          formatAge(now - Date.parse(entry.created)),
          entry.lastUsed ? formatAge(now - Date.parse(entry.lastUsed)) : '-',
          entry.tree.slice(0, 12)
        ].join('\t')
      )
    return Exit.Ok
  }
}
