// The bundled action on a bad network, run as the runner runs it: retries in the summary and the log,
// a dead endpoint given up within the bound with one warning, a wrong secret worded alike on save and restore.
import * as path from 'node:path'
import type { S3StoreConfig } from '../../src/core/store/s3-store.js'
import { runStep } from '../helpers/action-runner.js'
import { FaultProxy, seededRandom, silentServer } from '../helpers/fault-proxy.js'
import { createTestBucket, s3ConnectionInputs } from '../helpers/s3.js'
import { describeTree, makeBuildTree, tempDir } from '../helpers/trees.js'

function cacheInputs(config: S3StoreConfig, extra: Record<string, string> = {}): Record<string, string> {
  return {
    path: 'build',
    key: 'net-v1',
    'restore-keys': '',
    'lookup-only': 'false',
    'fail-on-cache-miss': 'false',
    store: `s3://${config.bucket}/ci`,
    ...s3ConnectionInputs(config),
    ...extra
  }
}

const warnings = (stdout: string): string[] => stdout.split('\n').filter(line => line.startsWith('::warning::'))
const summaryRetries = (summary: string): number =>
  Number(/<td>retries<\/td><td>(\d+)<\/td>/.exec(summary)?.[1] ?? Number.NaN)

let config: S3StoreConfig
beforeAll(async () => {
  config = await createTestBucket('action-net')
})

test('retries are counted in the job summary and the log line of save and restore', async () => {
  const proxy = await FaultProxy.start(config.endpoint!)
  try {
    const random = seededRandom(7)
    proxy.decide = () => (random() < 0.2 ? 'slow-down' : undefined)
    const workspace = await tempDir('net-save')
    await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 100, largeBytes: 600_000 })
    const inputs = cacheInputs({ ...config, endpoint: proxy.endpoint })
    const save = await runStep('save-only', inputs, { GITHUB_WORKSPACE: workspace, GITHUB_REF: 'refs/heads/main' })
    expect(save.exitCode).toBe(0)
    expect(warnings(save.stdout)).toEqual([])
    const target = await tempDir('net-restore')
    const restore = await runStep('restore-only', inputs, { GITHUB_WORKSPACE: target, GITHUB_REF: 'refs/heads/main' })
    expect(restore.outputs['cache-hit']).toBe('true')
    expect(await describeTree(path.join(target, 'build'))).toEqual(await describeTree(path.join(workspace, 'build')))

    const counted = [summaryRetries(save.summary), summaryRetries(restore.summary)]
    expect(counted[0] + counted[1]).toBe(proxy.faults.length)
    expect(proxy.faults.length).toBeGreaterThan(0)
    for (const [step, line, retries] of [
      [save, /Cache saved with key: .*/, counted[0]],
      [restore, /Cache restored from key: .*/, counted[1]]
    ] as const) {
      const logged = line.exec(step.stdout)![0]
      if (retries > 0) expect(logged).toContain(`; ${retries} request${retries === 1 ? '' : 's'} retried`)
      else expect(logged).not.toContain('retried')
    }
  } finally {
    await proxy.close()
  }
})

test('a dead endpoint: the restore step warns in one line and ends within 30 s, without failing', async () => {
  const dead = await silentServer()
  try {
    const workspace = await tempDir('net-dead')
    const restore = await runStep('restore', cacheInputs({ ...config, endpoint: dead.endpoint }), {
      GITHUB_WORKSPACE: workspace,
      GITHUB_REF: 'refs/heads/main'
    })
    expect(restore.exitCode).toBe(0)
    expect(restore.seconds).toBeLessThan(30)
    expect(restore.outputs['cache-hit']).toBe('false')
    const lines = warnings(restore.stdout)
    expect(lines).toHaveLength(1)
    expect(lines[0]).toContain(`cannot reach the S3 endpoint ${dead.endpoint}`)
    expect(summaryRetries(restore.summary)).toBeGreaterThanOrEqual(1) // the silent attempts made again
  } finally {
    await dead.close()
  }
}, 60_000)

test('a wrong secret reads the same on save and restore, naming the credential inputs', async () => {
  const secret = 'wrong'.padEnd(40, 'x')
  const inputs = cacheInputs(config, { 'aws-secret-access-key': secret })
  const workspace = await tempDir('net-denied')
  await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 5, largeBytes: 1000 })
  const env = { GITHUB_WORKSPACE: workspace, GITHUB_REF: 'refs/heads/main' }
  const restore = await runStep('restore', inputs, env)
  const save = await runStep('save-only', inputs, env)
  expect([restore.exitCode, save.exitCode]).toEqual([0, 0])
  const [restoreWarning] = warnings(restore.stdout)
  const [saveWarning] = warnings(save.stdout)
  const reason = (line: string | undefined, verb: string): string =>
    (line ?? '').replace(`::warning::Failed to ${verb} `, '')
  expect(reason(restoreWarning, 'restore from')).toBe(reason(saveWarning, 'save to'))
  for (const name of ['aws-access-key-id', 'aws-secret-access-key', 'aws-session-token'])
    expect(saveWarning).toContain(name)
  expect(saveWarning).toContain('access denied')
  expect(
    `${restore.stdout}${save.stdout}`
      .split('\n')
      .filter(line => !line.startsWith('::add-mask::'))
      .join('\n')
  ).not.toContain(secret)
})
