import * as core from '@actions/core'
import { randomBytes } from 'node:crypto'
import { writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { readScopes } from '../core/cache/scope.js'
import { errorMessage } from '../core/errors.js'
import { loadPipeline, parsePipeline, type Pipeline } from '../core/pipeline/definition.js'
import { runPipelineJob } from '../core/pipeline/pipeline-job.js'
import type { PipelineLog, StageReport } from '../core/pipeline/runner.js'
import { formatPlan, type Plan } from '../core/pipeline/stage-keys.js'
import { TIMELINE_HEADER, timelineRows } from '../core/report-format.js'
import { openStore } from '../core/store/open-store.js'
import { InputError } from '../core/errors.js'
import { refContextFromEnv, workspaceFromEnv } from './github-context.js'
import { assertKnownInputs, booleanInput, readStoreInputs, STORE_INPUTS } from './inputs.js'
import { writeSummaryGrid } from './job-summary.js'
import { entrySigningFromInputs, noteRestored, restorePolicyFromInputs, TRUST_INPUTS } from './entry-trust.js'

export const RunInputs = {
  Pipeline: 'pipeline',
  PipelineYaml: 'pipeline-yaml',
  RestoreFinalTree: 'restore-final-tree'
} as const

const RUN_INPUTS = [RunInputs.Pipeline, RunInputs.PipelineYaml, RunInputs.RestoreFinalTree, ...STORE_INPUTS]

const actionLog: PipelineLog = {
  info: core.info,
  warning: core.warning,
  output: core.info,
  group: (title, body) => core.group(title, body)
}

function readPipeline(workspace: string): Promise<Pipeline> | Pipeline {
  const file = core.getInput(RunInputs.Pipeline)
  const inline = core.getInput(RunInputs.PipelineYaml)
  if (file && inline)
    throw new InputError(`${RunInputs.Pipeline}, ${RunInputs.PipelineYaml}: give one of them, not both`)
  if (inline) return parsePipeline(inline, RunInputs.PipelineYaml, workspace)
  if (!file)
    throw new InputError(
      `${RunInputs.Pipeline}: required; give the pipeline file (e.g. pipeline.yml) or an inline definition in ${RunInputs.PipelineYaml}`
    )
  return loadPipeline(path.resolve(workspace, file))
}

/** The run/ sub-action: restore checkpoints, run the pipeline, checkpoint, and publish the plan. */
export async function runPipelineAction(): Promise<void> {
  try {
    assertKnownInputs([...RUN_INPUTS, ...TRUST_INPUTS])
    const workspace = workspaceFromEnv()
    const pipeline = await readPipeline(workspace)
    for (const name of new Set(pipeline.stages.flatMap(stage => stage.secretEnv)))
      if (process.env[name]) core.setSecret(process.env[name]!)
    const config = readStoreInputs()
    const { plan, result } = await runPipelineJob({
      pipeline,
      store: openStore(config),
      readScopes: readScopes(refContextFromEnv()),
      needFinalTree: booleanInput(RunInputs.RestoreFinalTree, true),
      policy: restorePolicyFromInputs(),
      signing: entrySigningFromInputs(),
      log: actionLog,
      sourcesDir: path.join(
        process.env.RUNNER_TEMP || path.join(workspace, '.artifact-action'),
        'artifact-action-sources'
      )
    }).catch(async error => {
      // A failure after planning still publishes the plan, so a later step can report what failed.
      const failed = error as { plan?: Plan; reports?: StageReport[] }
      if (failed.plan) await setPlanOutputs(failed.plan, workspace)
      if (failed.reports) await writeTimeline(failed.reports)
      throw error
    })
    if (result.restored) await noteRestored(result.restored)
    await setPlanOutputs(plan, workspace)
    core.setOutput('status', result.status)
    core.info(result.status === 'up-to-date' ? 'The final checkpoint exists: no stage ran.' : 'Pipeline built.')
    await writeTimeline(result.stages)
  } catch (error) {
    core.setOutput('status', 'failed')
    core.setFailed(errorMessage(error))
  }
}

async function setPlanOutputs(plan: Plan, workspace: string): Promise<void> {
  core.setOutput('plan', JSON.stringify(plan))
  core.setOutput('plan-file', await writePlanFile(formatPlan(plan), process.env.RUNNER_TEMP || workspace))
  core.setOutput('final-key', plan.stages.at(-1)?.key ?? '')
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
