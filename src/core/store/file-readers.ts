import { availableParallelism } from 'node:os'
import { ThreadJobs } from '../thread-jobs.js'

/** Small files read back to back, and the sha256 of each. */
export interface ReadFiles {
  bytes: Uint8Array
  digests: string[]
}

interface ReadJob {
  files: string[]
  sizes: number[]
}

/** The code a reader thread fails with when a file's size is not what the walk saw. */
export const FILE_CHANGED = 'EFILECHANGED'

/**
 * The readers' code, plain CommonJS (see ThreadJobs). Each file is read into one buffer after the
 * one before, asking for a byte more than expected to notice a file that grew (that byte is
 * overwritten by the next file, and the buffer has one to spare), and hashed.
 */
const READER_SOURCE = `
const fs = require('node:fs')
const { createHash } = require('node:crypto')
const changed = file => Object.assign(new Error(file + ' changed while it was being saved'), { code: ${JSON.stringify(FILE_CHANGED)}, file })
serve(({ files, sizes }) => {
  let total = 0
  for (const size of sizes) total += size
  const bytes = Buffer.allocUnsafeSlow(total + 1)
  const digests = []
  let offset = 0
  for (let i = 0; i < files.length; i++) {
    const file = files[i]
    const size = sizes[i]
    let length = 0
    try {
      const fd = fs.openSync(file, 'r')
      try {
        for (let read = -1; read !== 0 && length <= size; length += read) read = fs.readSync(fd, bytes, offset + length, size + 1 - length, null)
      } finally {
        fs.closeSync(fd)
      }
    } catch (error) {
      error.file = file
      throw error
    }
    if (length !== size) throw changed(file)
    digests.push(createHash('sha256').update(bytes.subarray(offset, offset + size)).digest('hex'))
    offset += size
  }
  return { bytes, digests }
}, result => [result.bytes.buffer])
`

/** A reader's young generation: it makes little garbage (see blob-writers.ts). */
const YOUNG_GENERATION_MB = 4
const BATCH_FILES = 256
const BATCH_BYTES = 1024 * 1024
/** Batches read ahead of the one being used. */
const BATCHES_AHEAD = 6

/**
 * Reads small files on worker threads, in the order they will be used, a few batches ahead: per
 * file, the open, read and close system calls cost more than anything else a save does with it.
 */
export class FileReadAhead {
  private readonly jobs: ThreadJobs<ReadJob, ReadFiles>
  private readonly batches: Array<{ start: number; end: number }> = []
  private readonly pending: Array<Promise<ReadFiles>> = []
  private nextBatch = 0
  private current: { start: number; end: number; read: ReadFiles; offset: number } | undefined
  private nextFile = 0

  /** `files` are read in this order; `next()` returns them one by one. */
  constructor(
    private readonly files: Array<{ source: string; size?: number }>,
    threads = Math.min(2, availableParallelism())
  ) {
    this.jobs = new ThreadJobs('file reader', READER_SOURCE, undefined, threads, { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB })
    let start = 0
    let bytes = 0
    for (let i = 0; i < files.length; i++) {
      bytes += files[i].size ?? 0
      if (i + 1 - start >= BATCH_FILES || bytes >= BATCH_BYTES || i === files.length - 1) {
        this.batches.push({ start, end: i + 1 })
        start = i + 1
        bytes = 0
      }
    }
  }

  /** The next file's bytes (valid until the batch after it is reached) and sha256. */
  async next(): Promise<{ bytes: Uint8Array; digest: string }> {
    if (!this.current || this.nextFile >= this.current.end) {
      while (this.pending.length <= BATCHES_AHEAD && this.nextBatch < this.batches.length) this.dispatch(this.batches[this.nextBatch++])
      const batch = this.batches[this.nextBatch - this.pending.length]
      const read = this.pending.shift()
      if (!batch || !read) throw new Error('no file left to read')
      this.current = { ...batch, read: await read, offset: 0 }
    }
    const { read } = this.current
    const index = this.nextFile++ - this.current.start
    const size = this.files[this.current.start + index].size ?? 0
    const bytes = read.bytes.subarray(this.current.offset, this.current.offset + size)
    this.current.offset += size
    return { bytes, digest: read.digests[index] }
  }

  async close(): Promise<void> {
    await this.jobs.close()
  }

  private dispatch(batch: { start: number; end: number }): void {
    const files = this.files.slice(batch.start, batch.end)
    const read = this.jobs.run({ files: files.map(file => file.source), sizes: files.map(file => file.size ?? 0) })
    read.catch(() => {}) // awaited in order by next(); this keeps a failure after an earlier error from going unhandled
    this.pending.push(read)
  }
}
