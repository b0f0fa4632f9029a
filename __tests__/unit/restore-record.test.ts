import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import fc from 'fast-check'
import { readRestored, recordRestored, type RestoredEntry } from '../../src/core/cache/restore-record.js'

const dir = mkdtempSync(path.join(tmpdir(), 'restore-record-'))
const entry: RestoredEntry = {
  kind: 'checkpoint',
  key: 'stage-a',
  scope: 'branch/main',
  version: 'v1',
  tree: 'a'.repeat(64)
}

describe('the record of restored caches', () => {
  it("reads back this job's entries, without repeats, and skips other jobs' lines", async () => {
    const file = path.join(dir, 'good.jsonl')
    await recordRestored(file, 'job-1', entry)
    await recordRestored(file, 'job-2', { ...entry, key: 'other' })
    await recordRestored(file, 'job-1', entry)
    expect(await readRestored(file, 'job-1')).toEqual([entry])
  })

  it('refuses a line of this job that is not a whole restored entry, whatever it holds', async () => {
    const hostile = fc.oneof(
      fc.constantFrom<unknown>(null, 1, 'x', [], { job: 'job-1' }),
      fc.record({
        kind: fc.constantFrom<unknown>('cache-entry', 'checkpoint', 'release', 1, undefined),
        key: fc.constantFrom<unknown>('k', '', 7, undefined),
        scope: fc.constantFrom<unknown>('pr/1', '', null),
        version: fc.constantFrom<unknown>('v', undefined),
        tree: fc.constantFrom<unknown>('b'.repeat(64), 'B'.repeat(64), 'b'.repeat(63), undefined),
        signer: fc.constantFrom<unknown>(undefined, { ref: 'refs/heads/main' }, 'main', []),
        extra: fc.constantFrom<unknown>(undefined, 'x')
      })
    )
    let refused = 0
    await fc.assert(
      fc.asyncProperty(hostile, async value => {
        const file = path.join(dir, `case-${refused++}.jsonl`)
        const line =
          value !== null && typeof value === 'object' && !Array.isArray(value) ? { job: 'job-1', ...value } : value
        writeFileSync(file, `${JSON.stringify(line)}\n`)
        const fields = line as Record<string, unknown> | null
        const whole =
          fields !== null &&
          typeof fields === 'object' &&
          !Array.isArray(fields) &&
          fields.job === 'job-1' &&
          (fields.kind === 'cache-entry' || fields.kind === 'checkpoint') &&
          [fields.key, fields.scope, fields.version].every(value => typeof value === 'string' && value !== '') &&
          fields.tree === 'b'.repeat(64) &&
          (fields.signer === undefined || (typeof fields.signer === 'object' && !Array.isArray(fields.signer))) &&
          fields.extra === undefined
        const ownJob = fields !== null && typeof fields === 'object' && fields.job === 'job-1'
        if (whole) expect(await readRestored(file, 'job-1')).toHaveLength(1)
        else if (ownJob) await expect(readRestored(file, 'job-1')).rejects.toThrow(/not a restored entry/)
        else expect(await readRestored(file, 'job-1')).toEqual([])
      }),
      { numRuns: 300, seed: 17 }
    )
  })
})
