import { restoreCache } from '../cache-restore.js'
import { readCacheInputs } from '../inputs/cache.js'
import { noState } from '../state.js'
import { runStep } from '../step.js'

/** The restore/ sub-action: restores; its outputs carry the key and the match. */
export async function run(): Promise<void> {
  await runStep(() => restoreCache(readCacheInputs(), noState))
}
