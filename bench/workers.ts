import { spawn } from 'node:child_process'
import * as path from 'node:path'
import type { CompiledWorkers } from './compile.js'
import type { BaselineJob, OursJob } from './jobs.js'
import { RESULT_PREFIX, type WorkerResult } from './measure.js'

export type Method = 'ours' | 'baseline'

const REPO = path.resolve(import.meta.dirname, '..')
const WORKER_TIMEOUT_MS = 20 * 60 * 1000

export interface WorkerOptions {
  compiled: CompiledWorkers
  /** Write a V8 CPU profile of the worker here (`--cpu-prof`), named after `profileName`. */
  profileDir?: string
  profileName?: string
}

/** Runs one operation in a fresh Node process and returns what it measured. */
export async function runWorker(
  method: Method,
  job: OursJob | BaselineJob,
  options: WorkerOptions
): Promise<WorkerResult> {
  const script = options.compiled.path(method === 'ours' ? 'bench/ours-worker.ts' : 'bench/baseline-worker.ts')
  const profile = options.profileDir
    ? [
        '--cpu-prof',
        '--cpu-prof-dir',
        options.profileDir,
        '--cpu-prof-name',
        `${options.profileName ?? method}.cpuprofile`
      ]
    : []
  const args = [...profile, script, JSON.stringify(job)]
  const child = spawn(process.execPath, args, { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout!.on('data', chunk => (stdout += chunk))
  child.stderr!.on('data', chunk => (stderr += chunk))
  const timer = setTimeout(() => child.kill('SIGKILL'), WORKER_TIMEOUT_MS)
  const code = await new Promise<number | null>(resolve => child.on('close', resolve))
  clearTimeout(timer)
  const line = stdout.split('\n').find(candidate => candidate.startsWith(RESULT_PREFIX))
  if (code !== 0 || !line)
    throw new Error(
      `${method} ${job.operation} ${job.key} failed (exit ${code}):\n${stderr.trim().split('\n').slice(-15).join('\n')}`
    )
  if (stderr.trim()) process.stderr.write(stderr)
  return JSON.parse(line.slice(RESULT_PREFIX.length)) as WorkerResult
}
