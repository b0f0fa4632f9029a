import { readFile } from 'node:fs/promises'
import * as path from 'node:path'
import {
  isAlias,
  isMap,
  isScalar,
  isSeq,
  LineCounter,
  parseDocument,
  Scalar,
  type Document,
  type Node,
  type Pair,
  type YAMLMap
} from 'yaml'
import { InputError } from '../errors.js'

/** A file or glob, relative to the pipeline's root folder, whose contents enter the stage's key. */
export interface InputPattern {
  glob: string
  /** When false, the glob must match at least one file. */
  optional: boolean
  line: number
}

/** A file fetched by URL and pinned by its sha256; only the digest and path enter the key. */
export interface PinnedSource {
  url: string
  /** 64 lowercase hex digits. */
  sha256: string
  /** Where the file is placed, relative to the stage's working directory. */
  path: string
  line: number
}

export interface PipelineStage {
  id: string
  run: string
  /** Relative to the pipeline's root folder, normalized with '/' separators; '.' by default. */
  workingDirectory: string
  /** Non-secret variables: names and values enter the key and the plan. */
  env: Record<string, string>
  /** Names of variables passed through from the caller's environment; their values never enter a key, plan or log. */
  secretEnv: string[]
  inputs: InputPattern[]
  /** Output paths, relative to the pipeline's root folder. */
  paths: string[]
  /** Whether the stage's tree is checkpointed; always true for the last stage. */
  checkpoint: boolean
  /** When false, the platform (os, arch) enters the key. */
  portable: boolean
  sources: PinnedSource[]
  /** Line of the stage in the definition, for messages. */
  line: number
  /** Index of the stage, for messages (`stages[index]`). */
  index: number
}

export interface Pipeline {
  /** Where the definition came from (a file path or a name for an inline definition), for messages. */
  origin: string
  /** Absolute folder that inputs and paths are relative to. Never enters a key or plan. */
  rootDir: string
  salt?: string
  stages: PipelineStage[]
}

/** One validation problem; `field` is a path like `stages[1].run`. */
export interface DefinitionProblem {
  line: number
  field: string
  message: string
}

/** One InputError listing every problem: `origin: N errors`, then `origin:line: field: message` lines. */
export function definitionError(origin: string, problems: DefinitionProblem[]): InputError {
  const sorted = [...problems].sort((a, b) => a.line - b.line)
  const summary = `${origin}: ${problems.length} error${problems.length === 1 ? '' : 's'}`
  return new InputError(
    [summary, ...sorted.map(problem => `${origin}:${problem.line}: ${problem.field}: ${problem.message}`)].join('\n')
  )
}

const TOP_FIELDS = ['version', 'salt', 'stages']
const STAGE_FIELDS = [
  'id',
  'run',
  'working-directory',
  'env',
  'secret-env',
  'inputs',
  'paths',
  'checkpoint',
  'portable',
  'sources'
]
const INPUT_FIELDS = ['glob', 'optional']
const SOURCE_FIELDS = ['url', 'sha256', 'path']
const STAGE_ID = /^[A-Za-z0-9._-]{1,100}$/
const ENV_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/
const SHA256 = /^[0-9a-fA-F]{64}$/

/** Reads and validates a pipeline file; its folder is the pipeline's root. */
export async function loadPipeline(file: string): Promise<Pipeline> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new InputError(
      `${file}: cannot read the pipeline definition: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`
    )
  }
  return parsePipeline(text, file, path.dirname(path.resolve(file)))
}

/**
 * Parses and validates a definition (file contents or the inline form). Collects every problem and
 * throws one InputError (see definitionError).
 */
export function parsePipeline(text: string, origin: string, rootDir: string): Pipeline {
  const lineCounter = new LineCounter()
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true })
  const reader = new DefinitionReader(document, lineCounter)
  for (const error of document.errors)
    reader.problem(lineCounter.linePos(error.pos[0]).line, '(yaml)', error.message.split('\n')[0])
  const pipeline = reader.problems.length === 0 ? reader.readPipeline(origin, path.resolve(rootDir)) : undefined
  if (reader.problems.length > 0 || !pipeline) throw definitionError(origin, reader.problems)
  return pipeline
}

type Value = Node | null | undefined

/** Walks the YAML tree, recording problems with their line and field instead of stopping at the first. */
class DefinitionReader {
  readonly problems: DefinitionProblem[] = []
  /** Line of each stage id seen so far, to report duplicates even in otherwise invalid stages. */
  private readonly idLines = new Map<string, number>()

  constructor(
    private readonly document: Document,
    private readonly lineCounter: LineCounter
  ) {}

  problem(line: number, field: string, message: string): void {
    this.problems.push({ line, field, message })
  }

  readPipeline(origin: string, rootDir: string): Pipeline | undefined {
    const root = this.resolve(this.document.contents)
    if (!isMap(root)) {
      this.problem(this.lineOf(root, 1), '(document)', `must be a map with a stages list, got ${this.describe(root)}`)
      return undefined
    }
    const fields = this.fields(root, '', TOP_FIELDS)
    const version = fields.get('version')
    if (version && !(isScalar(version.value) && version.value.value === 1))
      this.problem(version.line, 'version', `must be 1, got ${this.describe(version.value)}`)
    const salt = this.optionalString(fields.get('salt'), 'salt')
    const stagesField = fields.get('stages')
    const stages: PipelineStage[] = []
    if (!stagesField || this.isNull(stagesField.value))
      this.problem(this.lineOf(root, 1), 'stages', 'required (a list of stages)')
    else if (!isSeq(stagesField.value))
      this.problem(stagesField.line, 'stages', `must be a list, got ${this.describe(stagesField.value)}`)
    else if (stagesField.value.items.length === 0)
      this.problem(stagesField.line, 'stages', 'must list at least one stage')
    else
      stagesField.value.items.forEach((item, index) => {
        const stage = this.readStage(item as Value, index, stagesField.line)
        if (stage) stages.push(stage)
      })

    if (stages.length > 0) stages[stages.length - 1].checkpoint = true
    return { origin, rootDir, ...(salt === undefined ? {} : { salt }), stages }
  }

  private readStage(item: Value, index: number, listLine: number): PipelineStage | undefined {
    const at = `stages[${index}]`
    const node = this.resolve(item)
    const line = this.lineOf(node, listLine)
    if (!isMap(node)) {
      this.problem(line, at, `must be a map with id and run, got ${this.describe(node)}`)
      return undefined
    }
    const fields = this.fields(node, `${at}.`, STAGE_FIELDS)
    const id = this.requiredString(fields.get('id'), `${at}.id`, line)
    if (id !== undefined && !STAGE_ID.test(id))
      this.problem(
        fields.get('id')!.line,
        `${at}.id`,
        `"${id}" may only contain letters, digits, '.', '_' and '-' (at most 100)`
      )
    if (id !== undefined) {
      const firstLine = this.idLines.get(id)
      if (firstLine === undefined) this.idLines.set(id, fields.get('id')!.line)
      else this.problem(fields.get('id')!.line, `${at}.id`, `duplicate id "${id}" (first used on line ${firstLine})`)
    }
    const run = this.requiredString(fields.get('run'), `${at}.run`, line)
    if (run !== undefined && run.trim() === '') this.problem(fields.get('run')!.line, `${at}.run`, 'must not be empty')
    const workingDirectory =
      this.relativePath(fields.get('working-directory'), `${at}.working-directory`, { allowRoot: true }) ?? '.'
    const env = this.readEnv(fields.get('env'), `${at}.env`)
    const secretEnv = this.readSecretEnv(fields.get('secret-env'), `${at}.secret-env`, env)
    const inputs = this.list(fields.get('inputs'), `${at}.inputs`, (entry, field) => this.readInput(entry, field))
    const paths = this.list(fields.get('paths'), `${at}.paths`, (entry, field) =>
      this.relativePath(entry, field, { allowRoot: false })
    )
    this.rejectDuplicates(paths, fields.get('paths'), `${at}.paths`, value => value)
    const checkpoint = this.optionalBoolean(fields.get('checkpoint'), `${at}.checkpoint`) ?? false
    const portable = this.optionalBoolean(fields.get('portable'), `${at}.portable`) ?? false
    const sources = this.list(fields.get('sources'), `${at}.sources`, (entry, field) => this.readSource(entry, field))
    this.rejectDuplicates(sources, fields.get('sources'), `${at}.sources`, source => source.path)
    if (id === undefined || run === undefined) return undefined
    return { id, run, workingDirectory, env, secretEnv, inputs, paths, checkpoint, portable, sources, line, index }
  }

  private readEnv(field: Field | undefined, at: string): Record<string, string> {
    const env: Record<string, string> = {}
    if (!field || this.isNull(field.value)) return env
    if (!isMap(field.value)) {
      this.problem(field.line, at, `must be a map of names to strings, got ${this.describe(field.value)}`)
      return env
    }
    for (const pair of field.value.items) {
      const name = this.keyName(pair)
      const line = this.lineOf(pair.key as Value, field.line)
      if (name === undefined || !ENV_NAME.test(name)) {
        this.problem(line, `${at}`, `${JSON.stringify(name ?? null)} is not a valid variable name`)
        continue
      }
      const value = this.resolve(pair.value as Value)
      if (!isScalar(value) || typeof value.value !== 'string') {
        const hint =
          isScalar(value) && (typeof value.value === 'number' || typeof value.value === 'boolean')
            ? ` (quote it: "${String(value.value)}")`
            : ''
        this.problem(line, `${at}.${name}`, `must be a string, got ${this.describe(value)}${hint}`)
        continue
      }
      // A file is not a workflow: `${{ secrets.X }}` would be passed literally, and env values are keyed and shown in the plan.
      if (value.value.includes('${{'))
        this.problem(
          line,
          `${at}.${name}`,
          'expressions are not evaluated here and env values are not secret; pass secrets by name with secret-env'
        )
      env[name] = value.value
    }
    return env
  }

  private readSecretEnv(field: Field | undefined, at: string, env: Record<string, string>): string[] {
    const names = this.list(field, at, (entry, entryAt) => {
      const name = this.requiredString(entry, entryAt, field!.line)
      if (name === undefined) return undefined
      if (!ENV_NAME.test(name)) this.problem(entry!.line, entryAt, `"${name}" is not a valid variable name`)
      else if (Object.hasOwn(env, name))
        this.problem(
          entry!.line,
          entryAt,
          `"${name}" is also set in env; a variable is either set in env or passed through as a secret`
        )
      else return name
      return undefined
    })
    this.rejectDuplicates(names, field, at, name => name)
    return names
  }

  private readInput(entry: Field, at: string): InputPattern | undefined {
    const node = entry.value
    if (isMap(node)) {
      const fields = this.fields(node, `${at}.`, INPUT_FIELDS)
      const glob = this.requiredString(fields.get('glob'), `${at}.glob`, entry.line)
      const optional = this.optionalBoolean(fields.get('optional'), `${at}.optional`) ?? false
      if (glob === undefined) return undefined
      return this.checkGlob(glob, fields.get('glob')!.line, `${at}.glob`)
        ? { glob, optional, line: entry.line }
        : undefined
    }
    if (isScalar(node) && typeof node.value === 'string')
      return this.checkGlob(node.value, entry.line, at)
        ? { glob: node.value, optional: false, line: entry.line }
        : undefined
    this.problem(entry.line, at, `must be a path or glob string, or { glob, optional }, got ${this.describe(node)}`)
    return undefined
  }

  private checkGlob(glob: string, line: number, at: string): boolean {
    const problem =
      relativePathProblem(glob) ??
      (glob.startsWith('!') ? 'exclusions (!) are not supported; narrow the glob instead' : undefined)
    if (problem) this.problem(line, at, problem)
    return !problem
  }

  private readSource(entry: Field, at: string): PinnedSource | undefined {
    if (!isMap(entry.value)) {
      this.problem(entry.line, at, `must be a map with url, sha256 and path, got ${this.describe(entry.value)}`)
      return undefined
    }
    const fields = this.fields(entry.value, `${at}.`, SOURCE_FIELDS)
    const url = this.requiredString(fields.get('url'), `${at}.url`, entry.line)
    if (url !== undefined && !isHttpUrl(url))
      this.problem(fields.get('url')!.line, `${at}.url`, 'must be an http:// or https:// URL')
    const sha256 = this.requiredString(this.plainText(fields.get('sha256')), `${at}.sha256`, entry.line)
    if (sha256 !== undefined && !SHA256.test(sha256))
      this.problem(fields.get('sha256')!.line, `${at}.sha256`, `must be 64 hex digits, got ${sha256.length} characters`)
    const pathField = fields.get('path')
    const sourcePath =
      pathField && !this.isNull(pathField.value)
        ? this.relativePath(pathField, `${at}.path`, { allowRoot: false })
        : this.requiredString(pathField, `${at}.path`, entry.line)
    if (
      url === undefined ||
      sha256 === undefined ||
      sourcePath === undefined ||
      !SHA256.test(sha256) ||
      !isHttpUrl(url)
    )
      return undefined
    return { url, sha256: sha256.toLowerCase(), path: sourcePath, line: entry.line }
  }

  /** A map's fields by name; reports fields not in `allowed`, naming the allowed ones. */
  private fields(map: YAMLMap, prefix: string, allowed: string[]): Map<string, Field> {
    const fields = new Map<string, Field>()
    for (const pair of map.items) {
      const name = this.keyName(pair)
      const line = this.lineOf(pair.key as Value, this.lineOf(map, 1))
      if (name === undefined || !allowed.includes(name)) {
        this.problem(line, `${prefix}${name ?? '?'}`, `unknown field; allowed: ${allowed.join(', ')}`)
        continue
      }
      fields.set(name, { value: this.resolve(pair.value as Value), line })
    }
    return fields
  }

  /** Reads a list field (absent or null: empty), one entry at a time; invalid entries are dropped. */
  private list<T>(field: Field | undefined, at: string, read: (entry: Field, entryAt: string) => T | undefined): T[] {
    if (!field || this.isNull(field.value)) return []
    if (!isSeq(field.value)) {
      this.problem(field.line, at, `must be a list, got ${this.describe(field.value)}`)
      return []
    }
    const out: T[] = []
    field.value.items.forEach((item, index) => {
      const value = this.resolve(item as Value)
      const entry = read({ value, line: this.lineOf(value, field.line) }, `${at}[${index}]`)
      if (entry !== undefined) out.push(entry)
    })
    return out
  }

  private rejectDuplicates<T>(entries: T[], field: Field | undefined, at: string, keyOf: (entry: T) => string): void {
    const seen = new Set<string>()
    for (const entry of entries) {
      const key = keyOf(entry)
      const line = (entry as { line?: number }).line ?? field?.line ?? 1
      if (seen.has(key)) this.problem(line, at, `"${key}" is listed twice`)
      seen.add(key)
    }
  }

  private relativePath(field: Field | undefined, at: string, options: { allowRoot: boolean }): string | undefined {
    if (!field || this.isNull(field.value)) return undefined
    const value = this.optionalString(field, at)
    if (value === undefined) return undefined
    const problem = relativePathProblem(value)
    if (problem) {
      this.problem(field.line, at, problem)
      return undefined
    }
    const normalized = normalizeRelativePath(value)
    if (normalized === '.' && !options.allowRoot) {
      this.problem(field.line, at, "must name something inside the pipeline's folder, not the folder itself")
      return undefined
    }
    return normalized
  }

  private requiredString(field: Field | undefined, at: string, parentLine: number): string | undefined {
    if (!field || this.isNull(field.value)) {
      this.problem(field?.line ?? parentLine, at, 'required')
      return undefined
    }
    return this.optionalString(field, at)
  }

  private optionalString(field: Field | undefined, at: string): string | undefined {
    if (!field || this.isNull(field.value)) return undefined
    if (isScalar(field.value) && typeof field.value.value === 'string') return field.value.value
    this.problem(field.line, at, `must be a string, got ${this.describe(field.value)}`)
    return undefined
  }

  /** A plain scalar as written, so that an unquoted digest like 0123…e45 is not read as a number. */
  private plainText(field: Field | undefined): Field | undefined {
    const value = field?.value
    if (
      !isScalar(value) ||
      typeof value.value !== 'number' ||
      value.type !== 'PLAIN' ||
      typeof value.source !== 'string'
    )
      return field
    return { line: field!.line, value: new Scalar(value.source) }
  }

  private optionalBoolean(field: Field | undefined, at: string): boolean | undefined {
    if (!field || this.isNull(field.value)) return undefined
    if (isScalar(field.value) && typeof field.value.value === 'boolean') return field.value.value
    this.problem(field.line, at, `must be true or false, got ${this.describe(field.value)}`)
    return undefined
  }

  private keyName(pair: Pair): string | undefined {
    const key = this.resolve(pair.key as Value)
    return isScalar(key) && (typeof key.value === 'string' || typeof key.value === 'number')
      ? String(key.value)
      : undefined
  }

  private resolve(node: unknown): Value {
    if (isAlias(node)) return (node.resolve(this.document) as Node | undefined) ?? undefined
    return (node as Value) ?? undefined
  }

  private isNull(node: Value): boolean {
    return node === undefined || node === null || (isScalar(node) && node.value === null)
  }

  private lineOf(node: Value, fallback: number): number {
    const offset = node?.range?.[0]
    return offset === undefined ? fallback : this.lineCounter.linePos(offset).line
  }

  private describe(node: Value): string {
    if (this.isNull(node)) return 'nothing'
    if (isMap(node)) return 'a map'
    if (isSeq(node)) return 'a list'
    if (isScalar(node))
      return typeof node.value === 'string' ? 'a string' : `${typeof node.value} ${JSON.stringify(node.value)}`
    return 'an unsupported value'
  }
}

interface Field {
  value: Value
  line: number
}

/** Why a path from the definition is not a plain relative path, or undefined when it is. */
function relativePathProblem(value: string): string | undefined {
  if (value === '') return 'must not be empty'
  if (value.includes('\0')) return 'must not contain NUL'
  if (value.startsWith('/') || value.startsWith('\\') || /^[A-Za-z]:/.test(value) || value.startsWith('~'))
    return `"${value}" must be relative to the pipeline's folder, not absolute`
  if (value.split(/[\\/]/).includes('..')) return `"${value}" must not contain '..'`
  return undefined
}

function normalizeRelativePath(value: string): string {
  const normalized = path.posix.normalize(value.replace(/\\/g, '/'))
  return normalized.length > 1 && normalized.endsWith('/') ? normalized.slice(0, -1) : normalized
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:'
  } catch {
    return false
  }
}
