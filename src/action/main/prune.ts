import { pruneCache } from '../cache-prune.js'
import { readPruneInputs } from '../inputs/prune.js'
import { runStep } from '../step.js'

/** The prune/ sub-action. Unlike a save, a prune that cannot run fails the step: the store needs a look. */
export async function run(): Promise<void> {
  await runStep(() => pruneCache(readPruneInputs()))
}
