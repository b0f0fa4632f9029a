import { runPruneAction } from '../action/cache-prune.js'

await runPruneAction()
