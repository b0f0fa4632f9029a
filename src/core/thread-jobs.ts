import { existsSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Worker, type ResourceLimits } from 'node:worker_threads'
import { ThreadJobError } from './errors.js'
import { workerName, type JobMessage, type Reply, type ThreadData } from './thread-protocol.js'

/**
 * The hooks that let node run the TypeScript sources (a relative `x.js` resolves to `x.ts`), from
 * this file's folder in src/. A variable, so that the bundler does not take the file for an asset.
 */
const SOURCE_HOOKS = '../../scripts/ts-register.mjs'

/**
 * Jobs for a few worker threads running a worker module (`x.worker.ts`, which answers them with
 * serveJobs). `worker` is the module's built file, `new URL('./x.worker.js', import.meta.url)`
 * beside its caller: lib/ has it, and the bundler emits its bundle beside each bundle that needs it.
 * Run from the sources (jest, or node with --experimental-transform-types), where only x.worker.ts
 * exists, the thread runs that, its types stripped by node, with the source hooks. Threads start on
 * the first job; each job goes to the thread with the fewest unanswered jobs.
 */
export class ThreadJobs<Job, Result> {
  private workers: Worker[] = []
  /** Jobs each thread has not answered yet. */
  private load: number[] = []
  private readonly pending = new Map<
    number,
    { worker: number; resolve: (result: Result) => void; reject: (error: Error) => void }
  >()
  private nextId = 0
  private failure: Error | undefined

  constructor(
    private readonly name: string,
    private readonly worker: URL | string,
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
      this.workers[worker].postMessage({ id, job } satisfies JobMessage<Job>, transfer)
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
    const { file, execArgv } = threadEntry(this.worker)
    const workerData: ThreadData = { serves: workerName(file) }
    this.workers = Array.from({ length: Math.max(1, this.threads) }, () => {
      const worker = new Worker(file, { workerData, execArgv, resourceLimits: this.resourceLimits })
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

/** The file a thread starts from: the worker module's built file, or its TypeScript source beside it. */
function threadEntry(worker: URL | string): { file: URL; execArgv?: string[] } {
  const built = typeof worker === 'string' ? pathToFileURL(worker) : worker
  if (existsSync(built) || !built.pathname.endsWith('.js')) return { file: built }
  const source = new URL(built.href.replace(/\.js$/, '.ts'))
  if (!existsSync(source)) return { file: built }
  const hooks = fileURLToPath(new URL(SOURCE_HOOKS, import.meta.url))
  // Node strips the types itself (worker modules and what they import use erasable syntax only),
  // which starts a thread several times faster than --experimental-transform-types does.
  return { file: source, execArgv: ['--no-warnings', '--import', hooks] }
}
