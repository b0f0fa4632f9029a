import { spawnSync } from 'node:child_process'
import { existsSync, rmSync } from 'node:fs'
import * as path from 'node:path'

const REPO = path.resolve(import.meta.dirname, '..')
/** Inside the repository, so that the compiled files find node_modules; bench/out is git-ignored. */
export const BUILD_DIR = path.join(import.meta.dirname, 'out', 'build')
const WORKERS = ['bench/ours-worker.ts', 'bench/baseline-worker.ts']

/**
 * Compiles the workers and the sources they import to plain JavaScript, as the action ships them:
 * a worker run under type stripping would carry the transformer's memory and start-up in its numbers.
 * Returns the compiled worker's path for a worker source path (e.g. bench/ours-worker.ts).
 */
export function compileWorkers(log: (line: string) => void): (worker: string) => string {
  log('compiling the workers and src/ with tsc')
  rmSync(BUILD_DIR, { recursive: true, force: true })
  const tsc = path.join(REPO, 'node_modules', 'typescript', 'bin', 'tsc')
  const options = ['--outDir', BUILD_DIR, '--rootDir', REPO, '--module', 'nodenext', '--moduleResolution', 'nodenext', '--target', 'es2023', '--skipLibCheck', '--types', 'node']
  const result = spawnSync(process.execPath, [tsc, ...options, ...WORKERS.map(worker => path.join(REPO, worker))], { cwd: REPO, encoding: 'utf8' })
  // tsc emits despite type errors (other files may be mid-edit); only a missing output is fatal.
  const compiled = (worker: string): string => path.join(BUILD_DIR, worker.replace(/\.ts$/, '.js'))
  for (const worker of WORKERS) {
    if (!existsSync(compiled(worker))) throw new Error(`tsc did not compile ${worker}:\n${result.stdout}${result.stderr}`)
  }
  if (result.status !== 0) log(`warning: tsc reported errors (the workers were still emitted):\n${result.stdout.trim().split('\n').slice(0, 10).join('\n')}`)
  return compiled
}
