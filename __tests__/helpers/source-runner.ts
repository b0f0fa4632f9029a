import { spawn } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { parseCommandFile } from './action-runner.js'
import { tempDir } from './trees.js'

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
  wrapper: string[] = []
): Promise<Omit<SourceRun, 'outputs'>> {
  const node = [
    '--experimental-transform-types',
    '--no-warnings',
    '--import',
    path.join(ROOT, 'scripts/ts-register.mjs')
  ]
  const [command, ...wrapped] = [...wrapper, process.execPath]
  const child = spawn(command, [...wrapped, ...node, path.join(ROOT, entry), ...args], {
    cwd,
    env: { ...cleanEnv(), ...env },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', chunk => (stdout += chunk))
  child.stderr.on('data', chunk => (stderr += chunk))
  const exitCode = await new Promise<number>(resolve => child.on('close', code => resolve(code ?? 1)))
  return { exitCode, stdout, stderr }
}

/** `artifact-action <args>` from src/entry/cli.ts. */
export async function runCliFromSource(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string
): Promise<SourceRun> {
  return { ...(await run('src/entry/cli.ts', args, env, cwd)), outputs: {} }
}

/** `artifact-action <args>` in a network namespace of its own (`unshare -rn`): only loopback, and nothing on it. */
export async function runCliWithoutNetwork(
  args: string[],
  env: Record<string, string> = {},
  cwd?: string
): Promise<SourceRun> {
  return { ...(await run('src/entry/cli.ts', args, env, cwd, ['unshare', '-rn'])), outputs: {} }
}

/** A sub-action from src/entry/<entry>.ts, as the runner runs it: inputs as INPUT_<NAME>, a file for outputs. */
export async function runActionFromSource(
  entry: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {}
): Promise<SourceRun> {
  const dir = await tempDir('source-step')
  const files = { GITHUB_OUTPUT: path.join(dir, 'output'), GITHUB_STEP_SUMMARY: path.join(dir, 'summary') }
  for (const file of Object.values(files)) await writeFile(file, '')
  const inputEnv = Object.fromEntries(
    Object.entries(inputs).map(([name, value]) => [`INPUT_${name.toUpperCase()}`, value])
  )
  const result = await run(`src/entry/${entry}.ts`, [], { RUNNER_TEMP: dir, ...files, ...inputEnv, ...env })
  return { ...result, outputs: parseCommandFile(await readFile(files.GITHUB_OUTPUT, 'utf8')) }
}
