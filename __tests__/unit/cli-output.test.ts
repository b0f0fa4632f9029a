import { spawn } from 'node:child_process'
import { mkdir, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { tempDir } from '../helpers/trees.js'

/** `artifact-action <args>` from the sources; stdout read only after `delay` ms, or closed after its first chunk. */
async function cli(args: string[], reader: { delay: number } | 'first-chunk') {
  const node = ['--experimental-transform-types', '--no-warnings', '--import', path.resolve('scripts/ts-register.mjs')]
  const entry = path.resolve('src/entry/cli.ts')
  const child = spawn(process.execPath, [...node, entry, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', chunk => (stderr += chunk))
  const exited = new Promise<number>(resolve => child.on('close', code => resolve(code ?? 1)))
  const chunks: Buffer[] = []
  if (reader === 'first-chunk') {
    child.stdout.once('data', () => child.stdout.destroy())
  } else {
    child.stdout.pause()
    await sleep(reader.delay)
    child.stdout.on('data', chunk => chunks.push(chunk)).resume()
  }
  return { exitCode: await exited, stdout: Buffer.concat(chunks).toString(), stderr }
}

describe('CLI output into a pipe', () => {
  let pipelineFile: string
  beforeAll(async () => {
    const dir = await tempDir('big-plan')
    await mkdir(path.join(dir, 'src'))
    for (let i = 0; i < 3000; i++) await writeFile(path.join(dir, 'src', `file-${i}.txt`), `${i}\n`)
    pipelineFile = path.join(dir, 'pipeline.yml')
    await writeFile(pipelineFile, 'stages:\n  - id: build\n    run: "true"\n    inputs: [src]\n    paths: [out]\n')
  })

  it('reaches a slow reader whole, far beyond the 64 KiB a pipe holds', async () => {
    const { exitCode, stdout, stderr } = await cli(['plan', pipelineFile], { delay: 1500 })
    expect(stderr).toBe('')
    expect(exitCode).toBe(0)
    expect(stdout.length).toBeGreaterThan(256 * 1024)
    const plan = JSON.parse(stdout) as { stages: Array<{ inputs: { files: Record<string, string> } }> }
    expect(Object.keys(plan.stages[0].inputs.files)).toHaveLength(3000)
  })

  it('ends quietly when the reader stops early, as `| head` does', async () => {
    const { exitCode, stderr } = await cli(['plan', pipelineFile], 'first-chunk')
    expect(stderr).toBe('')
    expect(exitCode).toBe(0)
  })
})
