import { run } from '../action/main/restore.js'

await run()
