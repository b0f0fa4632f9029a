import { parentPort, workerData } from 'node:worker_threads'

/**
 * What passes between ThreadJobs and a worker module (a `*.worker.ts` file): ThreadJobs starts the
 * module as a thread with `{ serves: <its name> }` as worker data, posts `{ id, job }` messages, and
 * the module, through serveJobs, answers each with `{ id, result }` or `{ id, error }`.
 */
export interface JobMessage<Job> {
  id: number
  job: Job
}

export interface Reply {
  id: number
  result?: unknown
  error?: { code?: string; message: string; file?: string }
}

export interface ThreadData {
  /** The name of the worker module the thread was started to serve. */
  serves: string
}

/** A worker module's name: its file's name without the extension, the same for its .ts, .js and bundle. */
export function workerName(file: string | URL): string {
  const name = String(file).split(/[\\/]/).pop() ?? ''
  return name.replace(/\.(?:[cm]?js|ts)$/, '')
}

/**
 * Answers the jobs of the thread this module was started as, with `handle`; does nothing when the
 * module is imported anywhere else (by a test, or on the main thread). `moduleUrl` is the worker
 * module's import.meta.url. A job that throws is answered with the error's code, message and file.
 */
export function serveJobs<Job, Result>(moduleUrl: string, handle: (job: Job) => Result): void {
  const port = parentPort
  if (!port || (workerData as Partial<ThreadData> | null)?.serves !== workerName(moduleUrl)) return
  port.on('message', ({ id, job }: JobMessage<Job>) => {
    let reply: Reply
    try {
      reply = { id, result: handle(job) }
    } catch (error) {
      const { code, message, file } = error as { code?: string; message: string; file?: string }
      reply = { id, error: { code, message, file } }
    }
    port.postMessage(reply)
  })
}
