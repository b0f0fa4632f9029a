import * as core from '@actions/core'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { runInputs } from '../config/step-core.js'
import { readScopes } from '../core/cache/scope.js'
import type { PipelineJobProgress } from '../core/pipeline/pipeline-job.js'
import type { PipelineLog } from '../core/pipeline/runner.js'
import type { StageReport } from '../core/pipeline/stage-report.js'
import { formatPlan, type Plan } from '../core/pipeline/stage-keys.js'
import { TIMELINE_HEADER, timelineRows } from '../core/report-format.js'
import { refContextFromEnv } from '../github/runner-context.js'
import type { RunInputValues } from './inputs/run.js'
import { noteRestored } from './entry-trust.js'
import { writeSummaryGrid } from './job-summary.js'
import { RunOutputs } from './names.js'

const actionLog: PipelineLog = {
  info: core.info,
  warning: core.warning,
  output: core.info,
  group: (title, body) => core.group(title, body)
}

/** The run/ sub-action: restore checkpoints, run the pipeline, checkpoint, and publish the plan. */
export async function runPipeline(inputs: RunInputValues): Promise<void> {
  const { pipeline, workspace } = inputs
  for (const name of new Set(pipeline.stages.flatMap(stage => stage.secretEnv)))
    if (process.env[name]) core.setSecret(process.env[name]!)
  const progress: PipelineJobProgress = {}
  const { plan, result } = await runInputs(inputs, {
    readScopes: readScopes(refContextFromEnv()),
    log: actionLog,
    sourcesDir: path.join(
      process.env.RUNNER_TEMP || path.join(workspace, '.artifact-action'),
      'artifact-action-sources'
    ),
    progress
  }).catch(async error => {
    // A failure after planning still publishes the plan, so a later step can report what failed.
    if (progress.plan) await setPlanOutputs(progress.plan, workspace)
    if (progress.stages) await writeTimeline(progress.stages)
    throw error
  })
  if (result.restored) await noteRestored(result.restored)
  await setPlanOutputs(plan, workspace)
  core.setOutput(RunOutputs.Status, result.status)
  core.info(result.status === 'up-to-date' ? 'The final checkpoint exists: no stage ran.' : 'Pipeline built.')
  await writeTimeline(result.stages)
}

async function setPlanOutputs(plan: Plan, workspace: string): Promise<void> {
  core.setOutput(RunOutputs.Plan, JSON.stringify(plan))
  core.setOutput(RunOutputs.PlanFile, await writePlanFile(formatPlan(plan), process.env.RUNNER_TEMP || workspace))
  core.setOutput(RunOutputs.FinalKey, plan.stages.at(-1)?.key ?? '')
}

/**
 * Writes the plan to a file of this step's own, named by the step's id (GITHUB_ACTION) and a random
 * suffix and created exclusively, so a second run step in the job never overwrites what another
 * step's plan-file output points at.
 */
async function writePlanFile(text: string, dir: string): Promise<string> {
  const step = (process.env.GITHUB_ACTION || 'run').replace(/[^A-Za-z0-9_-]+/g, '_').slice(0, 64)
  const file = path.join(dir, `artifact-action-plan-${step}-${randomBytes(6).toString('hex')}.json`)
  await writeFile(file, text, { flag: 'wx' })
  return file
}

async function writeTimeline(stages: StageReport[]): Promise<void> {
  await writeSummaryGrid('Pipeline', TIMELINE_HEADER, timelineRows(stages))
}
