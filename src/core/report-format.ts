import type { StageReport } from './pipeline/stage-report.js'
import type { TransferProgress } from './store/snapshot.js'

export function formatBytes(bytes: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000
    unit++
  }
  return `${unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}

/** A log line's note of attempts made again, or nothing when there were none. */
export function formatRetries(retries: number): string {
  return retries > 0 ? `; ${retries} ${retries === 1 ? 'request' : 'requests'} retried` : ''
}

/** A restore's note of the unchanged files its stat index vouched for, which it did not read. */
export function formatTrusted(stats: { filesUnchanged: number; filesTrusted: number }): string {
  return `stat index: ${stats.filesTrusted} of ${stats.filesUnchanged} unchanged files matched their recorded stat and were not read`
}

/** How long ago, in the largest unit that keeps it short: 5m, 3h, 12d. */
export function formatAge(ms: number): string {
  const minutes = Math.max(0, Math.round(ms / 60000))
  if (minutes < 60) return `${minutes}m`
  const hours = Math.round(minutes / 60)
  return hours < 48 ? `${hours}h` : `${Math.round(hours / 24)}d`
}

/** A progress callback that prints one line per report with the transfer rate since the start. */
export function progressPrinter(verb: string, print: (line: string) => void): (progress: TransferProgress) => void {
  const started = Date.now()
  return progress => {
    const seconds = Math.max((Date.now() - started) / 1000, 0.001)
    const percent = progress.bytesTotal > 0 ? Math.floor((progress.bytesDone / progress.bytesTotal) * 100) : 100
    const processed = `${formatBytes(progress.bytesDone)} of ${formatBytes(progress.bytesTotal)} (${percent}%)`
    const rate = formatBytes(progress.bytesDone / seconds)
    print(`${verb} ${formatBytes(progress.bytesTransferred)}; ${processed} processed at ${rate}/s`)
  }
}

export const TIMELINE_HEADER = ['stage', 'key', 'result', 'seconds', 'bytes']

/** A pipeline run's timeline, a row per stage: id, short key, outcome, seconds, bytes moved. */
export function timelineRows(stages: StageReport[]): string[][] {
  return stages.map(stage => [
    stage.id,
    stage.key.slice(0, 12),
    stage.outcome,
    stage.seconds.toFixed(1),
    formatBytes(stage.bytes)
  ])
}
