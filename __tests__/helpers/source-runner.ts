import { spawn } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import * as path from 'node:path'
import { collectOutput, inputEnv, parseCommandFile, stepFiles } from './action-runner.js'

/**
 * Runs the TypeScript sources in a node child process (--experimental-transform-types): real node loads the
 * keyless stack (sigstore's ESM-only HTTP agents), which jest's module loader cannot.
 */
/** Tests run from the repository root (as action-runner.ts assumes for dist/). */
const ROOT = path.resolve('.')

export interface SourceRun {
  exitCode: number
  stdout: string
  stderr: string
  outputs: Record<string, string>
  /** The job summary a sub-action wrote; empty for the CLI. */
  summary: string
}

/** The environment without the caller's GitHub, runner and AWS variables, so a run sees only what it is given. */
function cleanEnv(): Record<string, string> {
  const dropped = /^(INPUT_|STATE_|AWS_|GITHUB_|ACTIONS_|RUNNER_|SIGSTORE_)/
  return Object.fromEntries(
    Object.entries(process.env).filter(([name, value]) => value !== undefined && !dropped.test(name))
  ) as Record<string, string>
}

async function run(
  entry: string,
  args: string[],
  env: Record<string, string>,
  cwd = ROOT,
  wrapper: string[] = [],
  preload: string[] = []
): Promise<Omit<SourceRun, 'outputs' | 'summary'>> {
  const node = [
    '--experimental-transform-types',
    '--no-warnings',
    ...['scripts/ts-register.mjs', ...preload].flatMap(file => ['--import', path.join(ROOT, file)])
  ]
  const [command, ...wrapped] = [...wrapper, process.execPath]
  const child = spawn(command, [...wrapped, ...node, path.join(ROOT, entry), ...args], {
    cwd,
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  const { exitCode, stdout, stderr } = await collectOutput(child)
  return { exitCode, stdout, stderr }
}

/** `artifact-action <args>` from src/entry/cli.ts. */
export async function runCliFromSource(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string
): Promise<SourceRun> {
  return { ...(await run('src/entry/cli.ts', args, env, cwd)), outputs: {}, summary: '' }
}

/** `artifact-action <args>` in a network namespace of its own (`unshare -rn`): only loopback, and nothing on it. */
export async function runCliWithoutNetwork(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string
): Promise<SourceRun> {
  return { ...(await run('src/entry/cli.ts', args, env, cwd, ['unshare', '-rn'])), outputs: {}, summary: '' }
}

/**
 * A sub-action from src/entry/<entry>.ts, as the runner runs it: inputs as INPUT_<NAME>, files for outputs and
 * the job summary. `preload` names modules (from the repository root) to import first.
 */
export async function runActionFromSource(
  entry: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {},
  preload: string[] = []
): Promise<SourceRun> {
  const { dir, files } = await stepFiles('source-step')
  const stepEnv = { RUNNER_TEMP: dir, ...files, ...inputEnv(inputs), ...env }
  const result = await run(`src/entry/${entry}.ts`, [], stepEnv, ROOT, [], preload)
  return {
    ...result,
    outputs: parseCommandFile(await readFile(files.GITHUB_OUTPUT, 'utf8')),
    summary: await readFile(files.GITHUB_STEP_SUMMARY, 'utf8')
  }
}
