import { runRestore } from '../action/cache-restore.js'

await runRestore({ saveState: false })
