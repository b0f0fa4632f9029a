import { availableParallelism } from 'node:os'
import { Worker } from 'node:worker_threads'

/** One small file to create: its bytes, mode and mtime. */
export interface SmallFile {
  file: string
  data: Uint8Array
  mode: number
  mtime?: number
}

interface Reply {
  id: number
  error?: { code?: string; message: string; file: string }
}

/**
 * The writers' code, plain CommonJS so it runs the same from `lib/`, from a test and from an ncc
 * bundle. Each file is opened with O_NOFOLLOW (a symlink in the way is replaced, never followed),
 * written, given its mode when the umask would have narrowed it, and its mtime.
 */
const WRITER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads')
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
parentPort.on('message', ({ id, files }) => {
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
    parentPort.postMessage({ id })
  } catch (error) {
    parentPort.postMessage({ id, error: { code: error.code, message: error.message, file: current } })
  }
})
`

export class FileWriteError extends Error {
  constructor(
    readonly file: string,
    readonly code: string | undefined,
    message: string
  ) {
    super(message)
  }
}

/**
 * Creates many small files on worker threads: per file, the open, write, utime and close system
 * calls cost more than everything else a restore does, and threads let them use every core.
 */
export class FileWriters {
  private workers: Worker[] = []
  private readonly pending = new Map<number, { resolve: () => void; reject: (error: Error) => void }>()
  private nextId = 0
  private nextWorker = 0
  private failure: Error | undefined

  constructor(
    private readonly openFlags: number,
    private readonly threads = Math.min(2, availableParallelism())
  ) {}

  /** Writes a batch of files on one thread; resolves when all are written. Threads start on first use. */
  async write(files: SmallFile[]): Promise<void> {
    if (files.length === 0) return
    if (this.failure) throw this.failure
    if (this.workers.length === 0) this.start()
    const id = this.nextId++
    const worker = this.workers[this.nextWorker++ % this.workers.length]
    await new Promise<void>((resolve, reject) => {
      this.pending.set(id, { resolve, reject })
      worker.postMessage({ id, files })
    })
  }

  async close(): Promise<void> {
    const workers = this.workers
    this.workers = []
    for (const worker of workers) worker.removeAllListeners('exit')
    await Promise.all(workers.map(worker => worker.terminate()))
  }

  private start(): void {
    const workerData = { flags: this.openFlags, umask: process.umask() }
    this.workers = Array.from({ length: Math.max(1, this.threads) }, () => {
      const worker = new Worker(WRITER_SOURCE, { eval: true, workerData })
      worker.on('message', (reply: Reply) => this.settle(reply))
      worker.on('error', error => this.fail(error))
      worker.on('exit', code => this.fail(new Error(`a file writer thread stopped (exit code ${code})`)))
      return worker
    })
  }

  private settle(reply: Reply): void {
    const waiter = this.pending.get(reply.id)
    if (!waiter) return
    this.pending.delete(reply.id)
    if (reply.error) waiter.reject(new FileWriteError(reply.error.file, reply.error.code, reply.error.message))
    else waiter.resolve()
  }

  /** A thread that failed or stopped fails every pending batch and every later one. */
  private fail(error: Error): void {
    this.failure ??= error
    for (const waiter of this.pending.values()) waiter.reject(error)
    this.pending.clear()
  }
}
