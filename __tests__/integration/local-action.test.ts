import { spawn } from 'node:child_process'
import { mkdir, readFile, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { tempDir } from '../helpers/trees.js'

/**
 * GitHub's @github/local-action runs the root action from the source, as its README shows: it imports
 * src/action/main/restore.ts and calls its run(), then the post step's src/action/main/save.ts, with
 * @actions/core stubbed and the inputs in a .env file. The store is a local directory.
 */

const ROOT = path.resolve('.')

async function localAction(dotenv: string): Promise<{ exitCode: number; stdout: string }> {
  const args = ['run', '.', 'src/action/main/restore.ts', dotenv, '--post', 'src/action/main/save.ts']
  const env = Object.fromEntries(
    Object.entries(process.env).filter(([name]) => !/^(INPUT_|STATE_|GITHUB_|ACTIONS_|RUNNER_|AWS_)/.test(name))
  )
  const child = spawn(path.join(ROOT, 'node_modules/.bin/local-action'), args, {
    cwd: ROOT,
    env: { ...env, PATH: `${path.join(ROOT, 'node_modules/.bin')}:${process.env.PATH}` },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  child.stdout.on('data', chunk => (stdout += chunk))
  child.stderr.on('data', chunk => (stdout += chunk))
  const exitCode = await new Promise<number>(resolve => child.on('close', code => resolve(code ?? 1)))
  return { exitCode, stdout }
}

describe('@github/local-action', () => {
  it('runs the restore, then the save as its post step, against a local directory store', async () => {
    const dir = await tempDir('local-action')
    const workspace = path.join(dir, 'workspace')
    const dotenv = path.join(dir, '.env')
    await writeFile(
      dotenv,
      [
        'INPUT_PATH=build',
        'INPUT_KEY=local-action-1',
        `INPUT_STORE=${path.join(dir, 'store')}`,
        `GITHUB_WORKSPACE=${workspace}`
      ].join('\n') + '\n'
    )
    await mkdir(path.join(workspace, 'build'), { recursive: true })
    await writeFile(path.join(workspace, 'build', 'out.txt'), 'built by the first run\n')

    const first = await localAction(dotenv)
    expect(first.exitCode).toBe(0)
    expect(first.stdout).toContain('::set-output name=cache-hit::false')
    expect(first.stdout).toContain('Cache not found for input keys: local-action-1')
    expect(first.stdout).toMatch(/Running Post Step[\s\S]*Cache saved with key: local-action-1/)
    expect(first.stdout).toMatch(/::set-output name=tree-digest::[0-9a-f]{64}/)

    await writeFile(path.join(workspace, 'build', 'out.txt'), 'changed after the save\n')
    const second = await localAction(dotenv)
    expect(second.exitCode).toBe(0)
    expect(second.stdout).toContain('::set-output name=cache-hit::true')
    expect(second.stdout).toContain('Cache restored from key: local-action-1')
    expect(second.stdout).toContain('Cache hit occurred on the primary key local-action-1, not saving cache.')
    expect(await readFile(path.join(workspace, 'build', 'out.txt'), 'utf8')).toBe('built by the first run\n')
  })
})
