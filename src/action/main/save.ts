import { saveCache } from '../cache-save.js'
import { readCacheInputs } from '../inputs/cache.js'
import { postStepState } from '../state.js'
import { runStep } from '../step.js'

/** The root action's post step: saves under the main step's key, unless that key was an exact hit. */
export async function run(): Promise<void> {
  await runStep(() => saveCache(readCacheInputs(), postStepState))
}
