import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import type { EntrySigning, RestorePolicy } from '../cache/entry-signature.js'
import { assertNotReleaseStore } from '../release/release-store.js'
import { sha256Hex } from '../store/codec.js'
import { objectKey } from '../cache/cache-layout.js'
import type { ObjectStore } from '../store/object-store.js'
import type { Pipeline, PipelineStage } from './definition.js'
import {
  runPipeline,
  type PipelineLog,
  type PipelineProgress,
  type PipelineResult,
  type RunnableStage
} from './runner.js'
import { fetchSources } from './sources.js'
import { computePlan, type Plan } from './stage-keys.js'

export interface PipelineJobOptions {
  pipeline: Pipeline
  store: ObjectStore
  readScopes: string[]
  needFinalTree: boolean
  log: PipelineLog
  /** Local folder where verified sources are kept by digest. */
  sourcesDir: string
  env?: NodeJS.ProcessEnv
  policy?: RestorePolicy
  signing?: EntrySigning
  /** Filled in when the job fails, so the caller can still publish the plan and the stages' outcomes. */
  progress?: PipelineJobProgress
  /** The folder of stat indexes for checkpoint restores (materializeTree's `statIndex`). */
  statIndex?: string
}

/** How far a job got before it failed: the plan once computed, and the stages' outcomes once one failed. */
export interface PipelineJobProgress extends PipelineProgress {
  plan?: Plan
}

/**
 * Computes the plan, then restores, runs and checkpoints the pipeline; a failure after planning leaves the plan
 * in `progress`.
 */
export async function runPipelineJob(options: PipelineJobOptions): Promise<{ plan: Plan; result: PipelineResult }> {
  const { pipeline } = options
  const plan = await computePlan(pipeline)
  try {
    await assertNotReleaseStore(options.store)
    const stages: RunnableStage[] = pipeline.stages.map((stage, index) => ({
      id: stage.id,
      key: plan.stages[index].key,
      run: stage.run,
      workingDirectory: stage.workingDirectory,
      env: stage.env,
      secretEnv: stage.secretEnv,
      paths: stage.paths,
      checkpoint: stage.checkpoint,
      prepare: stage.sources.length > 0 ? () => placeSources(stage, options) : undefined
    }))
    const result = await runPipeline({
      stages,
      rootDir: pipeline.rootDir,
      store: options.store,
      readScopes: options.readScopes,
      needFinalTree: options.needFinalTree,
      log: options.log,
      env: options.env,
      policy: options.policy,
      signing: options.signing,
      progress: options.progress,
      statIndex: options.statIndex
    })
    return { plan, result }
  } catch (error) {
    if (options.progress) options.progress.plan = plan
    throw error
  }
}

/**
 * Sources are content-addressed like everything else: a digest the local folder lacks is taken from
 * the store's objects when present (and checked), and a newly downloaded one is added to the store,
 * so each source is downloaded once for every runner that shares the store.
 */
async function placeSources(stage: PipelineStage, options: PipelineJobOptions): Promise<void> {
  const digestDir = path.join(options.sourcesDir, 'sha256')
  await mkdir(digestDir, { recursive: true })
  for (const source of stage.sources) {
    const local = path.join(digestDir, source.sha256)
    if (await stat(local).catch(() => undefined)) continue
    const stored = await options.store.get(objectKey(source.sha256)).catch(() => undefined)
    if (stored && sha256Hex(stored) === source.sha256) {
      const temporary = `${local}.from-store`
      await writeFile(temporary, stored)
      await rename(temporary, local)
    }
  }
  const fetched = await fetchSources(stage, {
    cacheDir: options.sourcesDir,
    workDir: path.resolve(options.pipeline.rootDir, stage.workingDirectory)
  })
  for (const source of fetched.filter(item => item.downloaded)) {
    try {
      await options.store.put(objectKey(source.sha256), await readFile(path.join(digestDir, source.sha256)), {
        ifNoneMatch: true
      })
    } catch (error) {
      options.log.warning(`source ${source.path} was not added to the store: ${(error as Error).message}`)
    }
  }
}
