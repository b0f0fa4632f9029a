import { run } from '../action/main/verify.js'

await run()
