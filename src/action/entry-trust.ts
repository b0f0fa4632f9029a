import * as core from '@actions/core'
import { errorMessage } from '../core/errors.js'
import { recordRestored, type RestoredEntry } from '../core/cache/restore-record.js'
import * as path from 'node:path'

/**
 * The job-local record of restored caches (restore-record.ts): in RUNNER_TEMP, which the runner empties for every
 * job, and each line names this run, attempt and job, so a release step reads only what its own job restored.
 */
export function restoreRecordFrom(env: NodeJS.ProcessEnv = process.env): { file: string; job: string } | undefined {
  if (!env.RUNNER_TEMP) return undefined
  const job = [env.GITHUB_REPOSITORY, env.GITHUB_RUN_ID, env.GITHUB_RUN_ATTEMPT || '1', env.GITHUB_JOB].join('/')
  return { file: path.join(env.RUNNER_TEMP, 'artifact-action-restored.jsonl'), job }
}

/** Appends a restored entry to this job's record; a failure is a warning (the release then names less). */
export async function noteRestored(entry: RestoredEntry): Promise<void> {
  const record = restoreRecordFrom()
  if (!record) return
  try {
    await recordRestored(record.file, record.job, entry)
  } catch (error) {
    const what = `the restored ${entry.kind} ${entry.key}`
    core.warning(`could not record ${what} for the release provenance: ${errorMessage(error)}`)
  }
}
