import * as path from 'node:path'
import type { RunInputValues } from '../../config/step-inputs.js'
import { InputError } from '../../core/errors.js'
import { loadPipeline, parsePipeline } from '../../core/pipeline/definition.js'
import { workspaceFromEnv } from '../../github/runner-context.js'
import { KnownInputs, RunInputs, StoreInputs } from '../names.js'
import { readEntrySigning, readRestorePolicy } from './trust.js'
import { assertKnownInputs, booleanInput, input, storeInput } from './read.js'

export type { RunInputValues }

/** The inputs of run/: the pipeline (loaded and checked), and the store of its checkpoints. */
export async function readRunInputs(): Promise<RunInputValues> {
  const env = process.env
  assertKnownInputs(KnownInputs.run, env)
  const workspace = workspaceFromEnv(env)
  const file = input(RunInputs.Pipeline)
  const inline = input(RunInputs.PipelineYaml)
  if (file && inline) {
    throw new InputError(`${RunInputs.Pipeline}, ${RunInputs.PipelineYaml}: give one of them, not both`)
  }
  if (!inline && !file) {
    throw new InputError(
      `${RunInputs.Pipeline}: required; give the pipeline file (e.g. pipeline.yml) ` +
        `or an inline definition in ${RunInputs.PipelineYaml}`
    )
  }
  const pipeline = inline
    ? parsePipeline(inline, RunInputs.PipelineYaml, workspace)
    : await loadPipeline(path.resolve(workspace, file))
  const restoreFinalTree = booleanInput(RunInputs.RestoreFinalTree, true)
  const store = storeInput(StoreInputs.Store, env)
  return {
    pipeline,
    restoreFinalTree,
    store,
    policy: readRestorePolicy(env),
    signing: readEntrySigning(env),
    workspace
  }
}
