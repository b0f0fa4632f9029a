import { lstat } from 'node:fs/promises'
import * as path from 'node:path'
import { restoreEntry, saveEntry } from '../cache/checkpoint-cache.js'
import type { EntrySigning, RestorePolicy } from '../cache/entry-signature.js'
import type { RestoredEntry } from '../cache/restore-record.js'
import { InputError, isNamedError, StageFailedError } from '../errors.js'
import type { ObjectStore } from '../store/object-store.js'
import { runStageCommand } from './stage-process.js'
import type { StageReport } from './stage-report.js'

/** What the runner needs of one stage: its definition and its key from the plan. */
export interface RunnableStage {
  id: string
  key: string
  run: string
  workingDirectory: string
  env: Record<string, string>
  /** Names of environment variables passed through from the caller, never logged or keyed. */
  secretEnv: string[]
  paths: string[]
  checkpoint: boolean
  /** Fetches and verifies the stage's pinned sources into its working directory. */
  prepare?: () => Promise<void>
}

export interface PipelineLog {
  info(line: string): void
  warning(line: string): void
  /** Output of a stage's command, one line at a time. */
  output(line: string): void
  group<T>(title: string, body: () => Promise<T>): Promise<T>
}

export interface RunPipelineOptions {
  stages: RunnableStage[]
  /** The pipeline's root folder: stage paths and working directories are relative to it. */
  rootDir: string
  store: ObjectStore
  /** Scopes this run may read, its own first; checkpoints are written to the first. */
  readScopes: string[]
  /** When false and the final checkpoint exists, nothing is downloaded either. */
  needFinalTree: boolean
  log: PipelineLog
  env?: NodeJS.ProcessEnv
  /** Which checkpoints may be restored (default any), and how new ones are signed (default unsigned). */
  policy?: RestorePolicy
  signing?: EntrySigning
  /** Filled in when a stage fails, so the caller can report how far the run got. */
  progress?: PipelineProgress
  /** The folder of stat indexes for checkpoint restores (materializeTree's `statIndex`). */
  statIndex?: string
}

/** How far a run got before it failed: every stage's outcome, set once a stage fails. */
export interface PipelineProgress {
  stages?: StageReport[]
}

export interface PipelineResult {
  status: 'up-to-date' | 'built'
  stages: StageReport[]
  /** The checkpoint whose tree this run restored and built on, if any. */
  restored?: RestoredEntry
}

/** Checkpoint entry key of a stage. Its key already hashes everything before it. */
export function checkpointKey(stage: RunnableStage): string {
  return `stage-${stage.id}-${stage.key}`
}

/** A checkpoint after stage n holds the outputs of stages 1..n, so the next stage can start from it. */
function checkpointPaths(stages: RunnableStage[], index: number): string[] {
  return [...new Set(stages.slice(0, index + 1).flatMap(stage => stage.paths))]
}

/**
 * Runs a pipeline osbuild-style: if the final stage's checkpoint exists nothing runs; otherwise the
 * newest existing checkpoint is restored and only the stages after it run. Each checkpointed stage
 * commits its tree only after it succeeded, so no later run starts from a broken tree.
 */
export async function runPipeline(options: RunPipelineOptions): Promise<PipelineResult> {
  const { stages, log } = options
  const reports: StageReport[] = stages.map(stage => ({
    id: stage.id,
    key: stage.key,
    outcome: 'skipped',
    seconds: 0,
    bytes: 0
  }))
  const last = stages.length - 1
  const entryFor = (index: number, lookupOnly: boolean) =>
    restoreEntry({
      store: options.store,
      key: checkpointKey(stages[index]),
      paths: checkpointPaths(stages, index),
      workspace: options.rootDir,
      readScopes: options.readScopes,
      lookupOnly,
      policy: options.policy,
      statIndex: options.statIndex
    })

  // Newest checkpoint first: the final stage, then earlier checkpointed stages.
  let startAt = 0
  /** The last tree restored or saved: the base the next checkpoint deduplicates against. */
  let lastTree: string | undefined
  let restored: RestoredEntry | undefined
  for (let index = last; index >= 0; index--) {
    if (index !== last && !stages[index].checkpoint) continue
    const started = Date.now()
    const lookupOnly = index === last && !options.needFinalTree
    const found = await tryRestore(() => entryFor(index, lookupOnly), log)
    if (!found) continue
    lastTree = found.tree
    if (!lookupOnly) restored = { kind: 'checkpoint', ...found.entry }
    reports[index] = {
      id: stages[index].id,
      key: stages[index].key,
      outcome: lookupOnly ? 'cached' : 'restored',
      seconds: (Date.now() - started) / 1000,
      bytes: found.bytes
    }
    log.info(
      `${lookupOnly ? 'found' : 'restored'} the checkpoint of stage ${stages[index].id} (${stages[index].key.slice(0, 12)})`
    )
    if (index === last) return { status: 'up-to-date', stages: reports, ...(restored ? { restored } : {}) }
    startAt = index + 1
    break
  }

  for (let index = startAt; index <= last; index++) {
    const stage = stages[index]
    const started = Date.now()
    const report = reports[index]
    try {
      await log.group(`stage ${stage.id} (${stage.key.slice(0, 12)})`, async () => {
        await stage.prepare?.()
        const failure = await runStage(stage, options)
        if (failure) throw new StageFailedError(failure, reports)
        await assertOutputs(stage, options.rootDir)
      })
    } catch (error) {
      report.outcome = 'failed'
      report.seconds = (Date.now() - started) / 1000
      if (options.progress) options.progress.stages = reports
      throw error
    }
    report.outcome = 'ran'
    if (stage.checkpoint || index === last) {
      try {
        const saved = await saveEntry({
          store: options.store,
          key: checkpointKey(stage),
          paths: checkpointPaths(stages, index),
          workspace: options.rootDir,
          readScopes: options.readScopes,
          baseTrees: lastTree ? [lastTree] : [],
          signing: options.signing
        })
        report.bytes = saved.status === 'saved' ? saved.stats.bytesUploaded : 0
        if (saved.status === 'saved') lastTree = saved.tree
        log.info(
          saved.status === 'saved'
            ? `checkpointed stage ${stage.id}: uploaded ${saved.stats.bytesUploaded} bytes`
            : `checkpoint of stage ${stage.id} already stored`
        )
      } catch (error) {
        log.warning(`could not checkpoint stage ${stage.id}: ${(error as Error).message}`)
      }
    }
    report.seconds = (Date.now() - started) / 1000
  }
  return { status: 'built', stages: reports, ...(restored ? { restored } : {}) }
}

async function tryRestore(
  restore: () => ReturnType<typeof restoreEntry>,
  log: PipelineLog
): Promise<{ bytes: number; tree: string; entry: Omit<RestoredEntry, 'kind'> } | undefined> {
  try {
    const result = await restore()
    for (const entry of result.refused ?? [])
      log.warning(`checkpoint ${entry.key} (scope ${entry.scope}) refused by the restore policy: ${entry.reason}`)
    if (result.status !== 'found' || !result.exact) return undefined
    const { key, scope, version, tree } = result.match.record
    const entry = { key, scope, version, tree, ...(result.signer ? { signer: result.signer } : {}) }
    return { bytes: result.stats?.bytesDownloaded ?? 0, tree, entry }
  } catch (error) {
    if (isNamedError(error, 'InputError')) throw error
    log.warning(`a checkpoint could not be restored and will be rebuilt: ${(error as Error).message}`)
    return undefined
  }
}

/** Runs a stage's command; a failure is the message that says how it failed. */
async function runStage(stage: RunnableStage, options: RunPipelineOptions): Promise<string | undefined> {
  const baseEnv = options.env ?? process.env
  const secrets = stage.secretEnv.map(name => baseEnv[name]).filter((value): value is string => Boolean(value))
  const cwd = path.resolve(options.rootDir, stage.workingDirectory || '.')
  const result = await runStageCommand(stage.run, {
    cwd,
    env: { ...baseEnv, ...stage.env },
    secrets,
    print: options.log.output
  })
  if (result.exitCode === 0) return undefined
  const hint = result.exitCode === 127 ? ' (command not found)' : ''
  return `stage ${stage.id} failed with exit code ${result.exitCode}${hint}; nothing was checkpointed for it\n${result.tail.join('\n')}`
}

async function assertOutputs(stage: RunnableStage, rootDir: string): Promise<void> {
  const missing: string[] = []
  for (const output of stage.paths)
    if (!(await lstat(path.resolve(rootDir, output)).catch(() => undefined))) missing.push(output)
  if (missing.length > 0)
    throw new InputError(
      `stage ${stage.id}: declared output path${missing.length > 1 ? 's' : ''} ${missing.join(', ')} missing after the stage ran; fix the stage's paths or its command`
    )
}
