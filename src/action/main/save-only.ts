import { saveCache } from '../cache-save.js'
import { readCacheInputs } from '../inputs/cache.js'
import { noState } from '../state.js'
import { runStep } from '../step.js'

/** The save/ sub-action: saves under the key input. */
export async function run(): Promise<void> {
  await runStep(() => saveCache(readCacheInputs(), noState))
}
