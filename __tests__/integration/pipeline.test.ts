import { createHash } from 'node:crypto'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { execFileSync } from 'node:child_process'
import { parsePipeline } from '../../src/core/pipeline/definition.js'
import { runPipelineJob } from '../../src/core/pipeline/pipeline-job.js'
import type { PipelineLog, PipelineResult } from '../../src/core/pipeline/runner.js'
import type { StageReport } from '../../src/core/pipeline/stage-report.js'
import type { Plan } from '../../src/core/pipeline/stage-keys.js'
import { S3Store } from '../../src/core/store/s3-store.js'
import { createTestBucket } from '../helpers/s3.js'
import { runActionFromSource } from '../helpers/source-runner.js'
import { tempDir } from '../helpers/trees.js'

const quietLog: PipelineLog = {
  info: () => undefined,
  warning: () => undefined,
  output: () => undefined,
  group: (_title, body) => body()
}

/** Four stages; each records that it ran in $RUN_LOG and writes its output under out/. */
const FOUR_STAGES = `
stages:
  - id: one
    run: echo one >> "$RUN_LOG" && mkdir -p out && cat src/a.txt > out/one.txt
    inputs: [src/a.txt]
    paths: [out/one.txt]
    checkpoint: true
  - id: two
    run: echo two >> "$RUN_LOG" && cat out/one.txt src/b.txt > out/two.txt
    inputs: [src/b.txt]
    paths: [out/two.txt]
    checkpoint: true
  - id: three
    run: echo three >> "$RUN_LOG" && cat out/two.txt src/c.txt > out/three.txt
    inputs: [src/c.txt]
    paths: [out/three.txt]
    checkpoint: true
  - id: four
    run: echo four >> "$RUN_LOG" && mkdir -p dist && cp out/three.txt dist/final.txt
    paths: [dist]
`

async function checkout(): Promise<string> {
  const root = await tempDir('checkout')
  await mkdir(path.join(root, 'src'))
  for (const name of ['a', 'b', 'c']) await writeFile(path.join(root, 'src', `${name}.txt`), `${name}\n`)
  return root
}

interface RunOutcome {
  plan?: Plan
  result?: PipelineResult
  error?: Error & { reports?: StageReport[] }
  ran: string[]
}

async function run(
  root: string,
  store: S3Store,
  definition = FOUR_STAGES,
  options: { needFinalTree?: boolean; readScopes?: string[] } = {}
): Promise<RunOutcome> {
  const runLog = path.join(root, '..', `${path.basename(root)}.runs`)
  await writeFile(runLog, '')
  const pipeline = parsePipeline(definition, 'pipeline.yml', root)
  try {
    const job = await runPipelineJob({
      pipeline,
      store,
      readScopes: options.readScopes ?? ['branch/main'],
      needFinalTree: options.needFinalTree ?? true,
      log: quietLog,
      sourcesDir: path.join(root, '..', 'sources'),
      env: { ...process.env, RUN_LOG: runLog }
    })
    return { ...job, ran: (await readFile(runLog, 'utf8')).split('\n').filter(Boolean) }
  } catch (error) {
    return {
      error: error as Error & { reports?: StageReport[] },
      ran: (await readFile(runLog, 'utf8')).split('\n').filter(Boolean)
    }
  }
}

describe('pipeline with checkpoints on RGW', () => {
  let store: S3Store
  beforeEach(async () => {
    store = new S3Store(await createTestBucket('pipeline'))
  })

  it('runs every stage once, then nothing when the final checkpoint exists', async () => {
    const root = await checkout()
    const first = await run(root, store)
    expect(first.ran).toEqual(['one', 'two', 'three', 'four'])
    expect(first.result?.status).toBe('built')

    await rm(path.join(root, 'out'), { recursive: true })
    await rm(path.join(root, 'dist'), { recursive: true })
    const second = await run(root, store)
    expect(second.ran).toEqual([])
    expect(second.result?.status).toBe('up-to-date')
    expect(second.result?.stages.map(stage => stage.outcome)).toEqual(['skipped', 'skipped', 'skipped', 'restored'])
    expect(await readFile(path.join(root, 'dist', 'final.txt'), 'utf8')).toBe('a\nb\nc\n')

    const lookupOnly = await run(root, store, FOUR_STAGES, { needFinalTree: false })
    expect(lookupOnly.result?.stages.at(-1)?.outcome).toBe('cached')
  })

  it('restores stage 2 and runs only stages 3 and 4 when an input of stage 3 changes', async () => {
    const root = await checkout()
    await run(root, store)
    await writeFile(path.join(root, 'src', 'c.txt'), 'c changed\n')
    await rm(path.join(root, 'out'), { recursive: true })
    const again = await run(root, store)
    expect(again.ran).toEqual(['three', 'four'])
    expect(again.result?.stages.map(stage => stage.outcome)).toEqual(['skipped', 'restored', 'ran', 'ran'])
    expect(await readFile(path.join(root, 'dist', 'final.txt'), 'utf8')).toBe('a\nb\nc changed\n')
  })

  it('commits nothing for a failing stage; the next run starts from the last good checkpoint', async () => {
    const root = await checkout()
    const failing = FOUR_STAGES.replace(
      'echo three >> "$RUN_LOG" && cat',
      'echo three >> "$RUN_LOG" && echo "half-built" > out/three.txt && exit 3 && cat'
    )
    const broken = await run(root, store, failing)
    expect(broken.error?.message).toMatch(/stage three failed with exit code 3; nothing was checkpointed/)
    expect(broken.error?.reports?.map(stage => stage.outcome)).toEqual(['ran', 'ran', 'failed', 'skipped'])
    expect(broken.ran).toEqual(['one', 'two', 'three'])

    await rm(path.join(root, 'out'), { recursive: true })
    const fixed = await run(root, store)
    expect(fixed.ran).toEqual(['three', 'four'])
    expect(await readFile(path.join(root, 'out', 'three.txt'), 'utf8')).toBe('a\nb\nc\n')
  })

  it('reports a missing command and missing outputs, committing nothing', async () => {
    const root = await checkout()
    const notFound = await run(
      root,
      store,
      FOUR_STAGES.replace('cp out/three.txt dist/final.txt', 'no-such-command-xyz')
    )
    expect(notFound.error?.message).toMatch(/stage four failed with exit code 127 \(command not found\)/)
    const missingOutput = await run(root, store, FOUR_STAGES.replace('paths: [dist]', 'paths: [dist, not-made]'))
    expect(missingOutput.error?.message).toMatch(
      /stage four: declared output path not-made missing after the stage ran/
    )
    let entries = 0
    for await (const object of store.list('refs/')) if (object.key.includes('stage-four')) entries++
    expect(entries).toBe(0)
  })

  it('changes no key when a source moves to another URL with the same digest', async () => {
    const content = Buffer.from('pinned source bytes\n')
    const digest = createHash('sha256').update(content).digest('hex')
    const server: Server = createServer((request, response) => {
      if (request.url === '/mirror-a/src.txt' || request.url === '/mirror-b/src.txt') response.end(content)
      else response.writeHead(404).end()
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
    const withSource = (mirror: string): string => `
stages:
  - id: fetch
    run: echo fetch >> "$RUN_LOG" && mkdir -p out && cp vendor/src.txt out/
    sources:
      - { url: ${base}/${mirror}/src.txt, sha256: "${digest}", path: vendor/src.txt }
    paths: [out]
`
    try {
      const root = await checkout()
      const first = await run(root, store, withSource('mirror-a'))
      expect(first.ran).toEqual(['fetch'])
      const moved = await run(root, store, withSource('mirror-b'))
      expect(moved.plan?.stages[0].key).toBe(first.plan?.stages[0].key)
      expect(moved.ran).toEqual([])
    } finally {
      server.close()
    }
  })

  it('gives a PR the checkpoints of its base branch without writing to it', async () => {
    const root = await checkout()
    await run(root, store, FOUR_STAGES, { readScopes: ['branch/main'] })
    await writeFile(path.join(root, 'src', 'c.txt'), 'pr change\n')
    const pr = await run(root, store, FOUR_STAGES, { readScopes: ['pr/3', 'branch/main'] })
    expect(pr.ran).toEqual(['three', 'four'])
    const scopes = new Set<string>()
    for await (const object of store.list('refs/'))
      if (object.key.includes('stage-three')) scopes.add(decodeURIComponent(object.key.split('/')[1]))
    expect([...scopes].sort()).toEqual(['branch/main', 'pr/3'])
  })

  it('runs the example pipeline with the README command on a fresh copy', async () => {
    const copy = await tempDir('example')
    execFileSync('cp', ['-r', path.resolve('examples/hello'), copy])
    const storeDir = await tempDir('local-store')
    const output = execFileSync(
      process.execPath,
      [path.resolve('dist/cli/index.js'), 'run', path.join(copy, 'hello', 'pipeline.yml')],
      { env: { ...process.env, ARTIFACT_ACTION_STORE: storeDir }, encoding: 'utf8' }
    )
    expect(output).toMatch(/package\s+\w{12}\s+ran/)
    const tarball = execFileSync('tar', ['-tzf', path.join(copy, 'hello', 'dist', 'hello-1.0.0.tar.gz')], {
      encoding: 'utf8'
    })
    expect(tarball.split('\n')).toEqual(expect.arrayContaining(['hello', 'version.h']))
    const again = execFileSync(
      process.execPath,
      [path.resolve('dist/cli/index.js'), 'run', path.join(copy, 'hello', 'pipeline.yml')],
      { env: { ...process.env, ARTIFACT_ACTION_STORE: storeDir }, encoding: 'utf8' }
    )
    expect(again).toMatch(/up to date/)
  })
})

describe('the run action', () => {
  it('sets its plan and status outputs when a stage fails', async () => {
    const workspace = await tempDir('job')
    const stages =
      'stages:\n  - id: one\n    run: echo one > one.txt\n    paths: [one.txt]\n' +
      '  - id: two\n    run: exit 3\n    paths: [two.txt]\n'
    const step = await runActionFromSource(
      'run',
      { 'pipeline-yaml': stages, store: await tempDir('store') },
      { GITHUB_WORKSPACE: workspace, GITHUB_REF: 'refs/heads/main' }
    )
    expect(step.exitCode).toBe(1)
    expect(step.outputs.status).toBe('failed')
    const plan = JSON.parse(step.outputs.plan) as Plan
    expect(plan.stages.map(stage => stage.id)).toEqual(['one', 'two'])
    expect(step.outputs['final-key']).toBe(plan.stages[1].key)
    expect(JSON.parse(await readFile(step.outputs['plan-file'], 'utf8'))).toEqual(plan)
  })

  it('sets status to failed, without a plan, when the pipeline cannot be read', async () => {
    const inputs = { pipeline: 'missing.yml', store: await tempDir('store') }
    const step = await runActionFromSource('run', inputs, { GITHUB_WORKSPACE: await tempDir('job') })
    expect(step.exitCode).toBe(1)
    expect(step.outputs).toEqual({ status: 'failed' })
  })
})
