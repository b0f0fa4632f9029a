import { run } from '../action/main/release.js'

await run()
