import { run } from '../action/main/restore-only.js'

await run()
