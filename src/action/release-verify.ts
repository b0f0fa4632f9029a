import * as core from '@actions/core'
import { verifyInputs } from '../config/step-core.js'
import type { VerifyInputValues } from './inputs/verify.js'
import { writeSummaryTable } from './job-summary.js'
import { VerifyOutputs } from './names.js'

/** The verify/ sub-action: any mismatch fails the step with the reason. */
export async function verifyReleaseStep(inputs: VerifyInputValues): Promise<void> {
  const { project, version } = inputs
  const verified = await verifyInputs(inputs)
  for (const line of verified.checked) core.info(`ok: ${line}`)
  if (verified.keySource === 'store') {
    core.warning('verified against the public key published in the release store; pin it with the public-key input')
  }
  core.setOutput(VerifyOutputs.Verified, 'true')
  await writeSummaryTable(
    `Verified ${project} ${version}`,
    verified.checked.map(line => ['ok', line])
  )
}
