import { createHash } from 'node:crypto'
import { glob, readdir, stat } from 'node:fs/promises'
import * as path from 'node:path'
import {
  definitionError,
  type DefinitionProblem,
  type InputPattern,
  type Pipeline,
  type PipelineStage
} from './definition.js'
import { sha256OfFile } from '../store/codec.js'
import { mapLimit } from '../task-pool.js'

/*
 * Stage key recipe (STAGE_KEY_RECIPE), for stage n:
 *
 *   key(n) = hex(sha256(canonicalJson({
 *     recipe: 'artifact-action/stage-key@1',
 *     salt: <pipeline salt> | null,
 *     parent: key(n-1) | null,
 *     definition: { id, run, working-directory, env, secret-env, paths },
 *     files: { <path relative to the pipeline root, '/'-separated>: <sha256 of contents> },
 *     sources: [{ path, sha256 }] sorted by path (URLs are not keyed),
 *     platform: { os, arch } | null (null when the stage is portable),
 *   })))
 *
 * canonicalJson sorts object keys and has no whitespace. `env` holds the non-secret variables, names and
 * values; `secret-env` holds only the names of passed-through variables, never their values. `paths` is
 * sorted. Not keyed: `checkpoint` (it changes what is stored, not what is built), input glob patterns
 * (only the files they match), source URLs, and the root folder's absolute path.
 */
export const STAGE_KEY_RECIPE = 'artifact-action/stage-key@1'
export const PLAN_SCHEMA = 'artifact-action/plan@1'

export interface Platform {
  os: string
  arch: string
}

/** The keyed part of a stage's definition, with the field names of the YAML. */
export interface KeyedDefinition {
  id: string
  run: string
  'working-directory': string
  env: Record<string, string>
  'secret-env': string[]
  paths: string[]
}

/** Everything that went into one stage's key, except the plan-wide salt. */
export interface StageKeyInputs {
  definition: KeyedDefinition
  files: Record<string, string>
  sources: Array<{ path: string; sha256: string }>
  parent: string | null
  platform: Platform | null
}

export interface PlanStage {
  id: string
  key: string
  checkpoint: boolean
  inputs: StageKeyInputs
}

export interface Plan {
  schema: typeof PLAN_SCHEMA
  salt?: string
  platform: Platform
  stages: PlanStage[]
}

export function currentPlatform(): Platform {
  return { os: process.platform, arch: process.arch }
}

/** JSON with object keys sorted at every level and no whitespace; undefined properties are dropped. */
export function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, item]) => item !== undefined)
      .sort(([a], [b]) => compareStrings(a, b))
    return `{${entries.map(([name, item]) => `${JSON.stringify(name)}:${canonicalJson(item)}`).join(',')}}`
  }
  return JSON.stringify(value)
}

/** The key of a stage from what the plan records for it (see the recipe above). */
export function stageKey(inputs: StageKeyInputs, salt: string | undefined): string {
  const keyed = { recipe: STAGE_KEY_RECIPE, salt: salt ?? null, ...inputs }
  return createHash('sha256').update(canonicalJson(keyed)).digest('hex')
}

/**
 * Hashes every stage's inputs and chains the keys. Throws one InputError listing every required
 * input glob that matched no file.
 */
export async function computePlan(pipeline: Pipeline, options: { platform?: Platform } = {}): Promise<Plan> {
  const platform = options.platform ?? currentPlatform()
  const problems: DefinitionProblem[] = []
  const filesPerStage: Array<Record<string, string>> = []
  for (const stage of pipeline.stages) filesPerStage.push(await hashStageInputs(pipeline.rootDir, stage, problems))
  if (problems.length > 0) throw definitionError(pipeline.origin, problems)

  const stages: PlanStage[] = []
  let parent: string | null = null
  pipeline.stages.forEach((stage, index) => {
    const inputs: StageKeyInputs = {
      definition: keyedDefinition(stage),
      files: filesPerStage[index],
      sources: stage.sources
        .map(source => ({ path: source.path, sha256: source.sha256 }))
        .sort((a, b) => compareStrings(a.path, b.path)),
      parent,
      platform: stage.portable ? null : { os: platform.os, arch: platform.arch }
    }
    const key = stageKey(inputs, pipeline.salt)
    stages.push({ id: stage.id, key, checkpoint: stage.checkpoint, inputs })
    parent = key
  })
  return {
    schema: PLAN_SCHEMA,
    ...(pipeline.salt === undefined ? {} : { salt: pipeline.salt }),
    platform: { os: platform.os, arch: platform.arch },
    stages
  }
}

/** The plan as a file: two-space JSON with a final newline, the same bytes for the same plan. */
export function formatPlan(plan: Plan): string {
  return `${JSON.stringify(plan, null, 2)}\n`
}

function keyedDefinition(stage: PipelineStage): KeyedDefinition {
  const env: Record<string, string> = {}
  for (const name of Object.keys(stage.env).sort(compareStrings)) env[name] = stage.env[name]
  return {
    id: stage.id,
    run: stage.run,
    'working-directory': stage.workingDirectory,
    env,
    'secret-env': [...stage.secretEnv].sort(compareStrings),
    paths: [...new Set(stage.paths)].sort(compareStrings)
  }
}

/**
 * Sorted relative path → sha256 of contents, for every file the stage's inputs match. A pattern without
 * glob characters may name a directory, which means every file beneath it (dotfiles included); glob
 * wildcards match files only and, like most globs, skip names starting with '.'.
 */
async function hashStageInputs(
  rootDir: string,
  stage: PipelineStage,
  problems: DefinitionProblem[]
): Promise<Record<string, string>> {
  const matched = new Set<string>()
  for (const pattern of stage.inputs) {
    const files = await expandInput(rootDir, pattern, stage, problems)
    if (files.length === 0 && !pattern.optional) {
      problems.push({
        line: pattern.line,
        field: `stages[${stage.index}].inputs`,
        message: `"${pattern.glob}" matched no files (stage ${stage.id}); fix it, or write { glob: "${pattern.glob}", optional: true } if that is expected`
      })
    }
    for (const file of files) matched.add(file)
  }
  const sorted = [...matched].sort(compareStrings)
  const digests = await mapLimit(sorted, 8, file => sha256OfFile(path.join(rootDir, file)))
  const files: Record<string, string> = {}
  sorted.forEach((file, index) => (files[file] = digests[index]))
  return files
}

const GLOB_MAGIC = /[*?[\]{}()!+@]/

async function expandInput(
  rootDir: string,
  pattern: InputPattern,
  stage: PipelineStage,
  problems: DefinitionProblem[]
): Promise<string[]> {
  const files: string[] = []
  // Follows symbolic links to files; reports broken ones, which have no contents to hash.
  const addIfFile = async (relative: string, descend: boolean): Promise<void> => {
    const info = await stat(path.join(rootDir, relative)).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' && !descend)
        problems.push({
          line: pattern.line,
          field: `stages[${stage.index}].inputs`,
          message: `${relative} (from "${pattern.glob}", stage ${stage.id}) is a broken symbolic link`
        })
      else if (error.code !== 'ENOENT') throw error
      return undefined
    })
    if (info?.isFile()) files.push(relative)
    else if (info?.isDirectory() && descend)
      files.push(...(await filesBeneath(rootDir, relative, pattern, stage, problems)))
  }
  if (GLOB_MAGIC.test(pattern.glob)) {
    for await (const match of glob(pattern.glob, { cwd: rootDir })) await addIfFile(toSlashes(match), false)
  } else {
    await addIfFile(path.posix.normalize(toSlashes(pattern.glob)).replace(/\/$/, ''), true)
  }
  return files
}

/** Every file beneath a directory, relative to the root; symbolic links to directories are not descended. */
async function filesBeneath(
  rootDir: string,
  relativeDir: string,
  pattern: InputPattern,
  stage: PipelineStage,
  problems: DefinitionProblem[]
): Promise<string[]> {
  const files: string[] = []
  const entries = await readdir(path.join(rootDir, relativeDir), { withFileTypes: true, recursive: true })
  for (const entry of entries) {
    const relative = toSlashes(path.relative(rootDir, path.join(entry.parentPath, entry.name)))
    if (entry.isFile()) files.push(relative)
    else if (entry.isSymbolicLink()) {
      const info = await stat(path.join(rootDir, relative)).catch(() => undefined)
      if (info?.isFile()) files.push(relative)
      else if (!info)
        problems.push({
          line: pattern.line,
          field: `stages[${stage.index}].inputs`,
          message: `${relative} (from "${pattern.glob}", stage ${stage.id}) is a broken symbolic link`
        })
    }
  }
  return files
}

function toSlashes(relative: string): string {
  return relative.split(path.sep).join('/')
}

/** Code-unit order, independent of locale. */
function compareStrings(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0
}

const MAX_LISTED = 20

/**
 * Why keys differ between two plans, as lines for a person: the first stage whose key differs and every
 * recorded input of it that changed, then later stages' own changes. Empty when every key is the same.
 * Names env variables but never prints their values.
 */
export function diffPlans(before: Plan, after: Plan): string[] {
  const lines: string[] = []
  if (before.schema !== after.schema) lines.push(`plan schema changed: ${before.schema} → ${after.schema}`)
  const count = Math.max(before.stages.length, after.stages.length)
  let first = -1
  for (let index = 0; index < count && first < 0; index++)
    if (before.stages[index]?.key !== after.stages[index]?.key) first = index
  if (first < 0) return lines

  const describeStage = (index: number, isFirst: boolean): string[] => {
    const old = before.stages[index]
    const now = after.stages[index]
    if (!old) return [`stage ${now.id} (stages[${index}]) was added`]
    if (!now) return [`stage ${old.id} (stages[${index}]) was removed`]
    const changes = inputChanges(
      old.inputs,
      now.inputs,
      isFirst ? { before: before.salt, after: after.salt } : undefined
    )
    if (isFirst) {
      const heading = `first stage whose key changed: ${now.id} (stages[${index}]), ${short(old.key)} → ${short(now.key)}`
      return [
        heading,
        ...(changes.length > 0 ? changes : ['no recorded input differs; the key recipe may have changed']).map(
          line => `  ${line}`
        )
      ]
    }
    return changes.length > 0
      ? [`stage ${now.id} (stages[${index}]) also changed:`, ...changes.map(line => `  ${line}`)]
      : []
  }

  lines.push(...describeStage(first, true))
  let laterChanged = 0
  for (let index = first + 1; index < count; index++) {
    if (before.stages[index]?.key !== after.stages[index]?.key) laterChanged++
    lines.push(...describeStage(index, false))
  }
  if (laterChanged > 0)
    lines.push(
      `${laterChanged} later stage${laterChanged === 1 ? '' : 's'} change key too, since each key includes its parent's`
    )
  return lines
}

/** Changed inputs of one stage; parent, salt and platform only when `planWide` is given (the first changed stage). */
function inputChanges(
  before: StageKeyInputs,
  after: StageKeyInputs,
  planWide: { before?: string; after?: string } | undefined
): string[] {
  const lines: string[] = []
  if (planWide) {
    if (before.parent !== after.parent)
      lines.push(`parent key changed: ${short(before.parent)} → ${short(after.parent)}`)
    if (planWide.before !== planWide.after)
      lines.push(`salt changed: ${JSON.stringify(planWide.before ?? null)} → ${JSON.stringify(planWide.after ?? null)}`)
    const platformText = (platform: Platform | null) =>
      platform ? `${platform.os}/${platform.arch}` : 'none (portable)'
    if (platformText(before.platform) !== platformText(after.platform))
      lines.push(`platform changed: ${platformText(before.platform)} → ${platformText(after.platform)}`)
  }
  const old = before.definition
  const now = after.definition
  if (old.id !== now.id) lines.push(`definition.id changed: ${old.id} → ${now.id}`)
  if (old.run !== now.run) lines.push('definition.run changed')
  if (old['working-directory'] !== now['working-directory'])
    lines.push(`definition.working-directory changed: ${old['working-directory']} → ${now['working-directory']}`)
  for (const list of ['paths', 'secret-env'] as const) {
    if (canonicalJson(old[list]) !== canonicalJson(now[list]))
      lines.push(`definition.${list} changed: ${JSON.stringify(old[list])} → ${JSON.stringify(now[list])}`)
  }
  lines.push(...mapChanges(old.env, now.env, name => `definition.env.${name}`))
  const sourcesByPath = (sources: StageKeyInputs['sources']) =>
    Object.fromEntries(sources.map(source => [source.path, source.sha256]))
  lines.push(...mapChanges(sourcesByPath(before.sources), sourcesByPath(after.sources), name => `source ${name}`))
  lines.push(...mapChanges(before.files, after.files, name => `file ${name}`))
  return lines
}

/** Added, removed and changed entries of two maps, at most MAX_LISTED of each; values are not printed. */
function mapChanges(
  before: Record<string, string>,
  after: Record<string, string>,
  label: (name: string) => string
): string[] {
  const names = [...new Set([...Object.keys(before), ...Object.keys(after)])].sort(compareStrings)
  const lines: string[] = []
  for (const kind of ['added', 'removed', 'changed'] as const) {
    const matching = names.filter(name => {
      const inBefore = Object.hasOwn(before, name)
      const inAfter = Object.hasOwn(after, name)
      return kind === 'added'
        ? !inBefore && inAfter
        : kind === 'removed'
          ? inBefore && !inAfter
          : inBefore && inAfter && before[name] !== after[name]
    })
    lines.push(...matching.slice(0, MAX_LISTED).map(name => `${label(name)} ${kind}`))
    if (matching.length > MAX_LISTED) lines.push(`… and ${matching.length - MAX_LISTED} more ${kind}`)
  }
  return lines
}

function short(key: string | null): string {
  return key === null ? 'none' : key.slice(0, 12)
}
