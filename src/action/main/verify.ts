import * as core from '@actions/core'
import { readVerifyInputs } from '../inputs/verify.js'
import { VerifyOutputs } from '../names.js'
import { verifyReleaseStep } from '../release-verify.js'
import { runStep } from '../step.js'

/** The verify/ sub-action: a failure, bad inputs included, sets `verified` to false. */
export async function run(): Promise<void> {
  await runStep(
    () => verifyReleaseStep(readVerifyInputs()),
    () => core.setOutput(VerifyOutputs.Verified, 'false')
  )
}
