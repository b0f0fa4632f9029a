import { readRunInputs } from '../inputs/run.js'
import { runPipeline } from '../pipeline-run.js'
import { runStep } from '../step.js'

/** The run/ sub-action. */
export async function run(): Promise<void> {
  await runStep(async () => runPipeline(await readRunInputs()))
}
