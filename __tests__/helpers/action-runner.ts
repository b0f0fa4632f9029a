import { spawn } from 'node:child_process'
import { chown, readFile, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
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
  const dir = await tempDir('step')
  const files = {
    GITHUB_OUTPUT: path.join(dir, 'output'),
    GITHUB_STATE: path.join(dir, 'state'),
    GITHUB_STEP_SUMMARY: path.join(dir, 'summary')
  }
  for (const file of Object.values(files)) await writeFile(file, '')
  // Another user (as the runner's user is not root) must be able to write the runner's files.
  if (user) for (const item of [dir, ...Object.values(files)]) await chown(item, user.uid, user.gid)
  const inputEnv = Object.fromEntries(
    Object.entries(inputs).map(([name, value]) => [`INPUT_${name.replace(/ /g, '_').toUpperCase()}`, value])
  )
  const stateEnv = Object.fromEntries(Object.entries(state).map(([name, value]) => [`STATE_${name}`, value]))
  const cleanEnv = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) => !name.startsWith('INPUT_') && !name.startsWith('STATE_') && !name.startsWith('AWS_')
    )
  )
  const started = Date.now()
  const child = spawn(process.execPath, [path.resolve('dist', entry, 'index.js')], {
    env: { ...cleanEnv, RUNNER_TEMP: dir, ...files, ...inputEnv, ...stateEnv, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    ...user
  })
  let stdout = ''
  child.stdout.on('data', chunk => (stdout += chunk))
  child.stderr.on('data', chunk => (stdout += chunk))
  const exitCode = await new Promise<number>(resolve => child.on('close', code => resolve(code ?? 1)))
  return {
    exitCode,
    stdout,
    outputs: parseCommandFile(await readFile(files.GITHUB_OUTPUT, 'utf8')),
    state: parseCommandFile(await readFile(files.GITHUB_STATE, 'utf8')),
    summary: await readFile(files.GITHUB_STEP_SUMMARY, 'utf8'),
    seconds: (Date.now() - started) / 1000
  }
}
