import { rm } from 'node:fs/promises'
import * as path from 'node:path'
import fc from 'fast-check'
import { S3Store } from '../../src/core/store/s3-store.js'
import { runStep } from '../helpers/action-runner.js'
import { hostileCase, KNOWN_ESCAPES, plantCase, storeContents } from '../helpers/hostile.js'
import { createTestBucket } from '../helpers/s3.js'
import { tempDir } from '../helpers/trees.js'

/**
 * The hostile-manifest property through the bundled restore action on radosgw: the shapes that
 * escaped before, then a smaller seeded set. Whatever a bucket holds, the step exits 0 and nothing
 * outside the restore's region changes; a refused entry is a miss with one warning. Replay with
 * HOSTILE_SEED=<seed>.
 */
const CASES = 30

describe('the bundled restore action, given hostile manifests', () => {
  it(`changes nothing outside its paths and never fails the build, over ${CASES} seeded cases`, async () => {
    const config = await createTestBucket('hostile')
    const store = new S3Store({ ...config, prefix: 'ci' })
    const blobs = await storeContents(store)
    const seed = process.env.HOSTILE_SEED ? Number(process.env.HOSTILE_SEED) : Date.now() % 2 ** 31
    const cases = [...KNOWN_ESCAPES, ...fc.sample(hostileCase, { numRuns: CASES - KNOWN_ESCAPES.length, seed })]
    const runDir = await tempDir('hostile-dist')
    let hits = 0
    for (const [index, hostile] of cases.entries()) {
      const key = `hostile-${index}`
      const planted = await plantCase(path.join(runDir, `case-${index}`), hostile, store, key, blobs)
      const inputs = {
        path: hostile.patterns.join('\n'),
        key,
        'restore-keys': '',
        'lookup-only': 'false',
        'fail-on-cache-miss': 'false',
        'exact-mirror': String(hostile.mirror),
        store: `s3://${config.bucket}/ci`,
        endpoint: config.endpoint!,
        'aws-access-key-id': config.credentials!.accessKeyId,
        'aws-secret-access-key': config.credentials!.secretAccessKey
      }
      const step = await runStep('restore-only', inputs, {
        GITHUB_WORKSPACE: planted.workspace,
        GITHUB_REF: 'refs/heads/main'
      })
      const context = `seed ${seed}, case ${index}: ${JSON.stringify(hostile)}\n${step.stdout}`
      expect({ context, exitCode: step.exitCode }).toEqual({ context, exitCode: 0 })
      expect({ context, outside: await planted.outside() }).toEqual({ context, outside: planted.before })
      const warnings = step.stdout.split('\n').filter(line => line.startsWith('::warning::'))
      if (step.outputs['cache-hit'] === 'true') hits++
      else expect({ context, warnings: warnings.length }).toEqual({ context, warnings: 1 })
      await rm(planted.sandbox, { recursive: true, force: true })
    }
    expect(hits).toBeGreaterThan(0)
    await rm(runDir, { recursive: true, force: true })
  })
})
