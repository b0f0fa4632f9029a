import { restoreCache } from '../cache-restore.js'
import { readCacheInputs } from '../inputs/cache.js'
import { postStepState } from '../state.js'
import { runStep } from '../step.js'

/** The root action's main step: restores, and keeps the key and the match for the post step's save. */
export async function run(): Promise<void> {
  await runStep(() => restoreCache(readCacheInputs(), postStepState))
}
