import { run } from '../action/main/run.js'

await run()
