import { constants, lstatSync, mkdirSync, mkdtempSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { FileWriters } from '../../src/core/store/file-writers.js'
import { ThreadJobError } from '../../src/core/thread-jobs.js'

const FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_NONBLOCK

describe('file writer threads', () => {
  let writers: FileWriters
  let dir: string
  beforeEach(() => {
    writers = new FileWriters(FLAGS)
    dir = mkdtempSync(path.join(tmpdir(), 'writers-'))
  })
  afterEach(() => writers.close())

  it('writes files with their bytes, mode and mtime, across batches', async () => {
    const mtime = Date.UTC(2024, 0, 2, 3, 4, 5, 678)
    const files = Array.from({ length: 40 }, (_, i) => ({ file: path.join(dir, `f${i}`), data: Buffer.from(`file ${i}\n`.repeat(i)), mode: i % 2 ? 0o755 : 0o600, mtime }))
    await Promise.all([writers.write(files.slice(0, 20)), writers.write(files.slice(20))])
    for (const { file, data, mode } of files) {
      expect(readFileSync(file)).toEqual(data)
      const stats = lstatSync(file)
      expect(stats.mode & 0o777).toBe(mode)
      expect(stats.mtimeMs).toBe(mtime)
    }
  })

  it('replaces a symlink in the way instead of writing through it', async () => {
    const outside = path.join(dir, 'outside.txt')
    writeFileSync(outside, 'untouched')
    symlinkSync(outside, path.join(dir, 'a.txt'))
    await writers.write([{ file: path.join(dir, 'a.txt'), data: Buffer.from('restored'), mode: 0o644 }])
    expect(lstatSync(path.join(dir, 'a.txt')).isFile()).toBe(true)
    expect(readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('restored')
    expect(readFileSync(outside, 'utf8')).toBe('untouched')
  })

  it('names the file and the error code when a write fails', async () => {
    mkdirSync(path.join(dir, 'taken'))
    const failure = writers.write([
      { file: path.join(dir, 'ok.txt'), data: Buffer.from('ok'), mode: 0o644 },
      { file: path.join(dir, 'taken'), data: Buffer.from('x'), mode: 0o644 }
    ])
    await expect(failure).rejects.toBeInstanceOf(ThreadJobError)
    await expect(failure).rejects.toMatchObject({ code: 'EISDIR', file: path.join(dir, 'taken') })
  })
})
