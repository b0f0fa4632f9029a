import { run } from '../action/main/prune.js'

await run()
