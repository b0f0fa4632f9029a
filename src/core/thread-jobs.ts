import { Worker, type ResourceLimits } from 'node:worker_threads'

interface Reply {
  id: number
  result?: unknown
  error?: { code?: string; message: string; file?: string }
}

/** A job's failure as the thread reported it. */
export class ThreadJobError extends Error {
  constructor(
    message: string,
    readonly code?: string,
    readonly file?: string
  ) {
    super(message)
  }
}

/**
 * Jobs for a few worker threads running `source`: CommonJS text started with `eval: true`, so it
 * runs the same from lib/, from jest and from an ncc bundle. The source handles
 * `{ id, job }` messages with `serve(handler)` (defined for it), which answers each with
 * `{ id, result }` or `{ id, error }`. Threads start on the first job; each job goes to the thread
 * with the fewest unanswered jobs.
 */
export class ThreadJobs<Job, Result> {
  private workers: Worker[] = []
  /** Jobs each thread has not answered yet. */
  private load: number[] = []
  private readonly pending = new Map<number, { worker: number; resolve: (result: Result) => void; reject: (error: Error) => void }>()
  private nextId = 0
  private failure: Error | undefined

  constructor(
    private readonly name: string,
    private readonly source: string,
    private readonly workerData: unknown,
    private readonly threads: number,
    private readonly resourceLimits?: ResourceLimits
  ) {}

  async run(job: Job, transfer: ArrayBuffer[] = []): Promise<Result> {
    if (this.failure) throw this.failure
    if (this.workers.length === 0) this.start()
    const id = this.nextId++
    const worker = this.load.indexOf(Math.min(...this.load))
    this.load[worker]++
    return new Promise<Result>((resolve, reject) => {
      this.pending.set(id, { worker, resolve, reject })
      this.workers[worker].postMessage({ id, job }, transfer)
    })
  }

  async close(): Promise<void> {
    const workers = this.workers
    this.workers = []
    this.load = []
    for (const worker of workers) worker.removeAllListeners('exit')
    await Promise.all(workers.map(worker => worker.terminate()))
  }

  private start(): void {
    const source = `${REPLY_HELPER}\n${this.source}`
    this.workers = Array.from({ length: Math.max(1, this.threads) }, () => {
      const worker = new Worker(source, { eval: true, workerData: this.workerData, resourceLimits: this.resourceLimits })
      worker.on('message', (reply: Reply) => this.settle(reply))
      worker.on('error', error => this.fail(error))
      worker.on('exit', code => this.fail(new Error(`a ${this.name} thread stopped (exit code ${code})`)))
      return worker
    })
    this.load = this.workers.map(() => 0)
  }

  private settle(reply: Reply): void {
    const waiter = this.pending.get(reply.id)
    if (!waiter) return
    this.pending.delete(reply.id)
    this.load[waiter.worker]--
    if (reply.error) waiter.reject(new ThreadJobError(reply.error.message, reply.error.code, reply.error.file))
    else waiter.resolve(reply.result as Result)
  }

  /** A thread that failed or stopped fails every pending job and every later one. */
  private fail(error: Error): void {
    this.failure ??= error
    for (const waiter of this.pending.values()) waiter.reject(error)
    this.pending.clear()
  }
}

const REPLY_HELPER = `
const { parentPort, workerData } = require('node:worker_threads')
function serve(handler) {
  parentPort.on('message', ({ id, job }) => {
    try {
      parentPort.postMessage({ id, result: handler(job) })
    } catch (error) {
      parentPort.postMessage({ id, error: { code: error.code, message: error.message, file: error.file } })
    }
  })
}
`
