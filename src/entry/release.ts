import { runReleaseAction } from '../action/release-publish.js'

await runReleaseAction()
