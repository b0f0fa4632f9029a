/**
 * Ours, one measured operation per process: saveEntry or restoreEntry of the checkpoint cache on an
 * S3Store (or, on the dir server, an FsStore), exactly as the action calls them.
 * Usage: ours-worker.ts '<OursJob JSON>'; prints one result line (see measure.ts).
 */
import { restoreEntry, saveEntry } from '../src/core/cache/checkpoint-cache.js'
import type { OursJob } from './jobs.js'
import { reportResult, startMeasurement } from './measure.js'
import { isDirTarget, storeFor } from './s3-target.js'

const READ_SCOPES = ['branch/main']

const job = JSON.parse(process.argv[2]) as OursJob
const store = storeFor(job.target)
const request = {
  store,
  key: job.key,
  restoreKeys: job.restoreKeys,
  paths: job.paths,
  workspace: job.workspace,
  readScopes: READ_SCOPES,
  statIndex: job.statIndex
}
const measurement = startMeasurement()
let detail: unknown
if (job.operation === 'save') {
  const result = await saveEntry(request)
  if (result.status !== 'saved') throw new Error(`save of ${job.key}: ${result.status}`)
  detail = result.stats
} else {
  const result = await restoreEntry(request)
  if (result.status !== 'found' || !result.exact)
    throw new Error(`restore of ${job.key}: ${result.status === 'found' ? 'not the exact key' : 'miss'}`)
  detail = result.stats
}
const measured = measurement.finish()
if (isDirTarget(job.target)) {
  // No sockets: the bytes are what the store wrote or read, as it counts them.
  const stats = detail as { bytesUploaded?: number; bytesDownloaded?: number } | undefined
  measured.bytesUp = stats?.bytesUploaded ?? 0
  measured.bytesDown = stats?.bytesDownloaded ?? 0
}
store.destroy?.()
reportResult({ measurement: measured, detail })
