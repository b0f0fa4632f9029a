import { spawn, type ChildProcessByStdio } from 'node:child_process'
import { chown, readFile, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import { tempDir } from './trees.js'

export interface StepResult {
  exitCode: number
  stdout: string
  outputs: Record<string, string>
  state: Record<string, string>
  summary: string
  seconds: number
}

/** Parses a GITHUB_OUTPUT / GITHUB_STATE file (`name<<delimiter` blocks, or `name=value` lines). */
export function parseCommandFile(text: string): Record<string, string> {
  const values: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const heredoc = /^([^=<]+)<<(.+)$/.exec(lines[i])
    if (heredoc) {
      const body: string[] = []
      while (++i < lines.length && lines[i] !== heredoc[2]) body.push(lines[i])
      values[heredoc[1]] = body.join('\n')
    } else if (lines[i].includes('=')) {
      const [name, ...rest] = lines[i].split('=')
      values[name] = rest.join('=')
    }
  }
  return values
}

/** The runner's files of a step, empty, in a folder of its own; `state` adds GITHUB_STATE. */
export async function stepFiles(
  prefix: string,
  options: { state?: boolean } = {}
): Promise<{ dir: string; files: Record<string, string> }> {
  const dir = await tempDir(prefix)
  const files: Record<string, string> = { GITHUB_OUTPUT: path.join(dir, 'output') }
  if (options.state) files.GITHUB_STATE = path.join(dir, 'state')
  files.GITHUB_STEP_SUMMARY = path.join(dir, 'summary')
  for (const file of Object.values(files)) await writeFile(file, '')
  return { dir, files }
}

/** Inputs as the runner passes them: INPUT_<NAME>. */
export function inputEnv(inputs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(inputs).map(([name, value]) => [`INPUT_${name.replace(/ /g, '_').toUpperCase()}`, value])
  )
}

/** Waits for a child process to end: its exit code, each stream, and both in the order they were written. */
export async function collectOutput(
  child: ChildProcessByStdio<null, Readable, Readable>
): Promise<{ exitCode: number; stdout: string; stderr: string; output: string }> {
  let stdout = ''
  let stderr = ''
  let output = ''
  child.stdout.on('data', chunk => {
    stdout += chunk
    output += chunk
  })
  child.stderr.on('data', chunk => {
    stderr += chunk
    output += chunk
  })
  const exitCode = await new Promise<number>(resolve => child.on('close', code => resolve(code ?? 1)))
  return { exitCode, stdout, stderr, output }
}

/**
 * Runs a bundled entry point as the runner does: inputs as INPUT_<NAME>, files for outputs, state
 * and the job summary, and the state of an earlier step as STATE_<name>.
 */
export async function runStep(
  entry: string,
  inputs: Record<string, string>,
  env: Record<string, string> = {},
  state: Record<string, string> = {},
  user?: { uid: number; gid: number }
): Promise<StepResult> {
  const { dir, files } = await stepFiles('step', { state: true })
  // Another user (as the runner's user is not root) must be able to write the runner's files.
  if (user) for (const item of [dir, ...Object.values(files)]) await chown(item, user.uid, user.gid)
  const stateEnv = Object.fromEntries(Object.entries(state).map(([name, value]) => [`STATE_${name}`, value]))
  const cleanEnv = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('INPUT_') && !name.startsWith('STATE_') && !name.startsWith('AWS_')
    )
  )
  const started = Date.now()
  const child = spawn(process.execPath, [path.resolve('dist', entry, 'index.js')], {
    env: { ...cleanEnv, RUNNER_TEMP: dir, ...files, ...inputEnv(inputs), ...stateEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...user
  })
  const { exitCode, output } = await collectOutput(child)
  return {
    exitCode,
    stdout: output,
    outputs: parseCommandFile(await readFile(files.GITHUB_OUTPUT, 'utf8')),
    state: parseCommandFile(await readFile(files.GITHUB_STATE, 'utf8')),
    summary: await readFile(files.GITHUB_STEP_SUMMARY, 'utf8'),
    seconds: (Date.now() - started) / 1000
  }
}

/** A GitHub event payload (the file GITHUB_EVENT_PATH names) of a repository whose default branch is `branch`. */
export async function defaultBranchEvent(branch = 'main'): Promise<string> {
  const file = path.join(await tempDir('event'), 'event.json')
  await writeFile(file, JSON.stringify({ repository: { default_branch: branch } }))
  return file
}
