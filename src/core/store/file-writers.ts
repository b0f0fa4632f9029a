import { availableParallelism } from 'node:os'
import { ThreadJobs } from '../thread-jobs.js'

/** One small file to create: its bytes, mode and mtime. */
export interface SmallFile {
  file: string
  data: Uint8Array
  mode: number
  mtime?: number
}

/**
 * The writers' code, plain CommonJS so it runs the same from `lib/`, from a test and from an ncc
 * bundle. Each file is opened with O_NOFOLLOW (a symlink in the way is replaced, never followed),
 * written, given its mode when the umask would have narrowed it, and its mtime.
 */
const WRITER_SOURCE = `
const fs = require('node:fs')
const { flags, umask } = workerData
function open(file, mode) {
  try {
    return fs.openSync(file, flags, mode)
  } catch (error) {
    if (error.code !== 'ELOOP' && error.code !== 'ETXTBSY' && error.code !== 'ENXIO') throw error
    fs.unlinkSync(file)
    return fs.openSync(file, flags, mode)
  }
}
serve(files => {
  let current = ''
  try {
    for (const { file, data, mode, mtime } of files) {
      current = file
      const fd = open(file, mode)
      try {
        let written = 0
        while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written)
        if ((mode & umask) !== 0) fs.fchmodSync(fd, mode)
        if (mtime !== undefined) fs.futimesSync(fd, mtime / 1000, mtime / 1000)
      } finally {
        fs.closeSync(fd)
      }
    }
  } catch (error) {
    error.file = current
    throw error
  }
})
`

/**
 * Creates many small files on worker threads: per file, the open, write, utime and close system
 * calls cost more than everything else a restore does, and threads let them use every core.
 */
export class FileWriters {
  private readonly jobs: ThreadJobs<SmallFile[], void>

  constructor(openFlags: number, threads = Math.min(2, availableParallelism())) {
    this.jobs = new ThreadJobs('file writer', WRITER_SOURCE, { flags: openFlags, umask: process.umask() }, threads)
  }

  /** Writes a batch of files on one thread; resolves when all are written. */
  async write(files: SmallFile[]): Promise<void> {
    if (files.length > 0) await this.jobs.run(files)
  }

  async close(): Promise<void> {
    await this.jobs.close()
  }
}
