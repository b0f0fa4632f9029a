import * as core from '@actions/core'
import { pruneInputs } from '../config/step-core.js'
import type { PruneReport } from '../core/cache/prune-plan.js'
import { formatDuration } from '../core/cache/prune-rules.js'
import { formatBytes } from '../core/report-format.js'
import type { PruneInputValues } from './inputs/prune.js'
import { writeSummaryGrid, writeSummaryTable } from './job-summary.js'
import { PruneOutputs } from './names.js'

/** The job summary lists at most this many entries; the totals cover all. */
const SUMMARY_ROWS = 200

/** One line per removed entry, in the order of eviction. */
export function logRemoved(report: PruneReport): void {
  for (const entry of report.removed)
    core.info(
      `${entry.order}. ${report.dryRun ? 'would remove' : 'removed'} ${entry.scope} ${entry.key}` +
        `${entry.revision > 0 ? `@${entry.revision}` : ''} ` +
        `(${entry.reason}, ${formatBytes(entry.bytes)}, last used ${entry.lastUsed})`
    )
}

async function writePruneSummary(report: PruneReport): Promise<void> {
  const would = report.dryRun ? ' (dry run: nothing deleted)' : ''
  await writeSummaryTable(`Cache prune${would}`, [
    ['store', report.store],
    ['entries removed', String(report.removed.length)],
    ['entries kept', String(report.kept.length)],
    ['manifests removed', String(report.manifestsRemoved)],
    ['objects removed', String(report.objectsRemoved)],
    ['signatures removed', String(report.signaturesRemoved)],
    [report.dryRun ? 'bytes that would be freed' : 'bytes freed', formatBytes(report.bytesFreed)],
    ['bytes the kept entries reference', formatBytes(report.liveBytes)],
    [`unreferenced keys kept (younger than ${formatDuration(report.graceMs)})`, String(report.keptByGrace)],
    ...report.warnings.map((warning): [string, string] => ['warning', warning])
  ])
  // Empty cells render as unclosed <td> in the summary, so a missing value is '-'.
  // Removed entries come in the order of eviction.
  const rows = [
    ...report.removed.map(entry => [report.dryRun ? 'would remove' : 'removed', entry.reason ?? '-', entry] as const),
    ...report.kept.map(entry => ['kept', entry.protected ? 'protected' : '-', entry] as const)
  ]
  const shown = rows
    .slice(0, SUMMARY_ROWS)
    .map(([outcome, reason, entry]) => [
      outcome,
      reason,
      entry.scope,
      entry.key,
      formatBytes(entry.bytes),
      entry.lastUsed
    ])
  if (rows.length > SUMMARY_ROWS) shown.push([`… ${rows.length - SUMMARY_ROWS} more`, '-', '-', '-', '-', '-'])
  if (shown.length > 0)
    await writeSummaryGrid('Cache entries', ['outcome', 'reason', 'scope', 'key', 'size', 'last used'], shown)
}

/**
 * The prune/ sub-action, for a scheduled workflow or a closed pull request. Unlike a save, a prune
 * that cannot run fails the step: a refusal means the store needs a look.
 */
export async function pruneCache(inputs: PruneInputValues): Promise<void> {
  const report = await pruneInputs(inputs, { log: core.info })
  logRemoved(report)
  for (const warning of report.warnings) core.warning(warning)
  core.info(
    `${report.dryRun ? 'Dry run: would remove' : 'Removed'} ${report.removed.length} entries, ` +
      `kept ${report.kept.length}; ${report.manifestsRemoved} manifests, ${report.objectsRemoved} objects and ` +
      `${report.signaturesRemoved} signatures, ` +
      formatBytes(report.bytesFreed)
  )
  core.setOutput(PruneOutputs.EntriesRemoved, String(report.removed.length))
  core.setOutput(PruneOutputs.EntriesKept, String(report.kept.length))
  core.setOutput(PruneOutputs.BytesFreed, String(report.bytesFreed))
  await writePruneSummary(report)
}
