import { run } from '../action/main/save-only.js'

await run()
