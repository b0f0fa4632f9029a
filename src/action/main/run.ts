import * as core from '@actions/core'
import { readRunInputs } from '../inputs/run.js'
import { RunOutputs } from '../names.js'
import { runPipeline } from '../pipeline-run.js'
import { runStep } from '../step.js'

/** The run/ sub-action: a failure, bad inputs included, sets `status` to failed. */
export async function run(): Promise<void> {
  await runStep(
    async () => runPipeline(await readRunInputs()),
    () => core.setOutput(RunOutputs.Status, 'failed')
  )
}
