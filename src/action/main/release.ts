import { readReleaseInputs } from '../inputs/release.js'
import { publishReleaseStep } from '../release-publish.js'
import { runStep } from '../step.js'

/** The release/ sub-action. */
export async function run(): Promise<void> {
  await runStep(async () => publishReleaseStep(await readReleaseInputs()))
}
