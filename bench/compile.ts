import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import * as path from 'node:path'

const REPO = path.resolve(import.meta.dirname, '..')
const WORKERS = ['bench/ours-worker.ts', 'bench/baseline-worker.ts']

export interface CompiledWorkers {
  /** The compiled file for a worker source path (e.g. bench/ours-worker.ts). */
  path(worker: string): string
  remove(): void
}

/**
 * Compiles the workers and the sources they import to plain JavaScript, as the action ships them:
 * a worker run under type stripping would carry the transformer's memory and start-up in its numbers.
 * Each run gets a folder of its own (inside the repository, so the files find node_modules;
 * bench/out is git-ignored), so that two runs never swap each other's workers.
 */
export function compileWorkers(log: (line: string) => void): CompiledWorkers {
  const buildDir = path.join(import.meta.dirname, 'out', 'build', `run-${process.pid}`)
  log(`compiling the workers and src/ with tsc into ${path.relative(REPO, buildDir)}`)
  rmSync(buildDir, { recursive: true, force: true })
  const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc')
  const options = [
    '--outDir',
    buildDir,
    '--rootDir',
    REPO,
    '--module',
    'nodenext',
    '--moduleResolution',
    'nodenext',
    '--target',
    'es2023',
    '--skipLibCheck',
    // As tsconfig.json: without it, narrowing a union by a boolean field reports errors.
    '--strict',
    '--types',
    'node'
  ]
  const result = spawnSync(process.execPath, [tsc, ...options, ...WORKERS.map(worker => path.join(REPO, worker))], {
    cwd: REPO,
    encoding: 'utf8'
  })
  const compiled = (worker: string): string => path.join(buildDir, worker.replace(/\.ts$/, '.js'))
  // tsc emits despite type errors (other files may be mid-edit); only a missing output is fatal.
  for (const worker of WORKERS) {
    if (!existsSync(compiled(worker)))
      throw new Error(`tsc did not compile ${worker}:\n${result.stdout}${result.stderr}`)
  }
  if (result.status !== 0)
    log(
      `warning: tsc reported errors (the workers were still emitted):\n${result.stdout.trim().split('\n').slice(0, 10).join('\n')}`
    )
  return { path: compiled, remove: () => rmSync(buildDir, { recursive: true, force: true }) }
}
