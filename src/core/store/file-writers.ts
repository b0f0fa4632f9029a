import { availableParallelism } from 'node:os'
import { ThreadJobs } from '../thread-jobs.js'

/** One small file to create: its bytes, mode and mtime. */
export interface SmallFile {
  file: string
  data: Uint8Array
  mode: number
  mtime?: number
}

interface OpenFs {
  openSync(path: string, flags: number, mode: number): number
  unlinkSync(path: string): void
}

/**
 * Opens a file for writing in place of whatever non-directory is there. With O_NOFOLLOW in `flags`
 * a symlink in the way fails (ELOOP) instead of being followed; it is replaced, as are a busy
 * executable, a FIFO and a read-only file. Self-contained: the writer threads run it from its
 * source text.
 */
export function openReplacing(fs: OpenFs, file: string, flags: number, mode: number): number {
  try {
    return fs.openSync(file, flags, mode)
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code !== 'ELOOP' && code !== 'ETXTBSY' && code !== 'ENXIO' && code !== 'EACCES') throw error
    fs.unlinkSync(file)
    return fs.openSync(file, flags, mode)
  }
}

/**
 * The writers' code, plain CommonJS so it runs the same from `lib/`, from a test and from an ncc
 * bundle. Each file is opened with openReplacing, written, given its mode when the umask would have
 * narrowed it, and its mtime.
 */
const WRITER_SOURCE = `
const fs = require('node:fs')
const openReplacing = (${openReplacing.toString()})
const { flags, umask } = workerData
serve(files => {
  let current = ''
  try {
    for (const { file, data, mode, mtime } of files) {
      current = file
      const fd = openReplacing(fs, file, flags, mode)
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
