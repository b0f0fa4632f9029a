import { run } from '../action/main/save.js'

await run()
