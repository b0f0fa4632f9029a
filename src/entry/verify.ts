import { runVerifyAction } from '../action/release-verify.js'

await runVerifyAction()
