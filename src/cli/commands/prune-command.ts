import type { PruneReport } from '../../core/cache/prune-plan.js'
import { formatDuration, parsePruneRules } from '../../core/cache/prune-rules.js'
import { pruneInputs } from '../../config/step-core.js'
import type { PruneInputValues } from '../../config/step-inputs.js'
import { formatAge, formatBytes } from '../../core/report-format.js'
import { Exit, listValue, stringValue, type Command, type Values } from '../command.js'
import { storeConfigFrom, storeOptions } from '../store-options.js'

const print = (line: string): void => void process.stdout.write(`${line}\n`)
const progress = (line: string): void => void process.stderr.write(`${line}\n`)

/** The rules and grace period the flags give; each bad value names its flag and the format. */
function pruneRulesFrom(values: Values): PruneInputValues['rules'] {
  const rules = parsePruneRules(
    {
      maxAge: stringValue(values, 'max-age'),
      maxSize: stringValue(values, 'max-size'),
      maxEntriesPerScope: stringValue(values, 'max-entries-per-scope'),
      deleteScopes: listValue(values, 'delete-scope'),
      grace: stringValue(values, 'grace'),
      keepVersions: stringValue(values, 'keep-versions'),
      defaultBranch: stringValue(values, 'default-branch'),
      protectDefaultBranch: stringValue(values, 'protect-default-branch'),
      evictOrder: stringValue(values, 'evict-order')
    },
    {
      maxAge: '--max-age',
      maxSize: '--max-size',
      maxEntriesPerScope: '--max-entries-per-scope',
      deleteScopes: '--delete-scope',
      grace: '--grace',
      keepVersions: '--keep-versions',
      defaultBranch: '--default-branch',
      protectDefaultBranch: '--protect-default-branch',
      evictOrder: '--evict-order'
    }
  )
  return { ...rules, dryRun: values['dry-run'] === true }
}

const count = (n: number, singular: string, plural = `${singular}s`): string => `${n} ${n === 1 ? singular : plural}`

/** Manifests and objects removed, and signatures when any went. */
function keysRemoved(report: PruneReport): string {
  const keys = [count(report.manifestsRemoved, 'manifest'), count(report.objectsRemoved, 'object')]
  if (report.signaturesRemoved > 0) keys.push(count(report.signaturesRemoved, 'signature'))
  return `${keys.slice(0, -1).join(', ')} and ${keys.at(-1)}`
}

/** The totals line of a prune: entries kept and removed, keys deleted, bytes freed. */
function pruneTotals(report: PruneReport): string {
  const verb = report.dryRun ? 'would remove' : 'removed'
  return [
    `${verb} ${report.removed.length} of ${count(report.removed.length + report.kept.length, 'entry', 'entries')}`,
    keysRemoved(report),
    `${report.dryRun ? 'would free' : 'freed'} ${formatBytes(report.bytesFreed)}`,
    `kept ${count(report.kept.length, 'entry', 'entries')} referencing ${formatBytes(report.liveBytes)}`,
    `kept ${count(report.keptByGrace, 'unreferenced key')} younger than the ${formatDuration(report.graceMs)} grace period`
  ].join('; ')
}

function printTable(report: PruneReport): void {
  const now = Date.now()
  const rows = [
    ...report.removed.map(entry => [report.dryRun ? 'would remove' : 'removed', entry.reason ?? '', entry] as const),
    ...report.kept.map(entry => ['kept', entry.protected ? 'protected' : '', entry] as const)
  ]
  // Removed entries come in the order of eviction, numbered.
  print(['#', 'OUTCOME', 'REASON', 'SCOPE', 'KEY', 'SIZE', 'LAST USED'].join('\t'))
  for (const [outcome, reason, entry] of rows)
    print(
      [
        entry.order ?? '-',
        outcome,
        reason || '-',
        entry.scope,
        entry.revision > 0 ? `${entry.key}@${entry.revision}` : entry.key,
        formatBytes(entry.bytes),
        formatAge(now - Date.parse(entry.lastUsed))
      ].join('\t')
    )
}

export const pruneCommand: Command = {
  name: 'prune',
  summary:
    'Evict cache entries by age, size budget, count per scope or scope, then delete the manifests and objects no entry references. Refuses release stores and incomplete listings.',
  usage:
    'prune [--max-age 7d] [--max-size 10GB] [--max-entries-per-scope N] [--delete-scope pr/12]... [--keep-versions N] ' +
    '[--default-branch main] [--protect-default-branch true|false] [--evict-order branches-first|lru] [--grace 1h] ' +
    '[--dry-run] [--json]',
  options: {
    'max-age': { type: 'string', description: 'evict entries unused for longer than this: 30s, 90m, 12h, 7d, 2w' },
    'max-size': {
      type: 'string',
      description: 'evict least recently used entries until the rest fit: 500MB, 10GB, 2GiB'
    },
    'max-entries-per-scope': {
      type: 'string',
      description: 'keep at most N entries per scope, the most recently used'
    },
    'delete-scope': {
      type: 'string',
      multiple: true,
      description: 'evict every entry of a scope, e.g. pr/12; repeat for more'
    },
    'keep-versions': { type: 'string', description: 'keep the newest N revisions of each updated key (default 1)' },
    'default-branch': {
      type: 'string',
      description: 'the default branch, e.g. main: its newest entry of each key family is kept, its entries go last'
    },
    'protect-default-branch': {
      type: 'string',
      description: "keep the default branch's newest entry of each key family whatever the budgets (default true)"
    },
    'evict-order': {
      type: 'string',
      description: 'branches-first (default): other scopes before the default branch; lru: least recently used first'
    },
    grace: {
      type: 'string',
      description: 'keep unreferenced data younger than this: a save may still name it (default 1h)'
    },
    'dry-run': { type: 'boolean', description: 'print what would be removed and the bytes freed; delete nothing' },
    json: { type: 'boolean', description: 'print the report as JSON' },
    ...storeOptions
  },
  async run(values, _positionals, { clock }) {
    const inputs: PruneInputValues = { rules: pruneRulesFrom(values), store: storeConfigFrom(values) }
    const report = await pruneInputs(inputs, { clock, log: progress })
    for (const warning of report.warnings) progress(`warning: ${warning}`)
    if (values.json === true) print(JSON.stringify(report, null, 2))
    else {
      printTable(report)
      print(pruneTotals(report))
      if (report.dryRun) print('dry run: nothing was deleted')
    }
    return Exit.Ok
  }
}
