/**
 * Runs background tasks with a bound on how many run at once and on the bytes they hold.
 * `submit` waits until there is room, so a producer never runs far ahead of its uploads.
 * The first failure is kept and rethrown by `submit` and `drain`.
 */
export class TaskPool {
  private running = 0
  private bytesHeld = 0
  private failure: unknown
  private readonly waiters: Array<() => void> = []
  private readonly inFlight = new Set<Promise<void>>()

  constructor(
    private readonly concurrency: number,
    private readonly byteBudget = Number.POSITIVE_INFINITY
  ) {}

  async submit(bytes: number, task: () => Promise<void>): Promise<void> {
    while (this.running >= this.concurrency || (this.running > 0 && this.bytesHeld + bytes > this.byteBudget)) {
      this.rethrow()
      await new Promise<void>(resolve => this.waiters.push(resolve))
    }
    this.rethrow()
    this.running++
    this.bytesHeld += bytes
    const done = task()
      .catch(error => {
        this.failure ??= error
      })
      .finally(() => {
        this.running--
        this.bytesHeld -= bytes
        this.inFlight.delete(done)
        this.waiters.splice(0).forEach(wake => wake())
      })
    this.inFlight.add(done)
  }

  async drain(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all(this.inFlight)
    this.rethrow()
  }

  private rethrow(): void {
    if (this.failure !== undefined) throw this.failure
  }
}

/**
 * Maps with at most `limit` calls at once; results in input order. After a failure no further
 * item is started, and the first failure is thrown once the calls under way have ended.
 */
export async function mapLimit<T, R>(items: Iterable<T>, limit: number, map: (item: T) => Promise<R>): Promise<R[]> {
  const list = [...items]
  const results = new Array<R>(list.length)
  let next = 0
  let failed = false
  const worker = async (): Promise<void> => {
    while (next < list.length && !failed) {
      const index = next++
      try {
        results[index] = await map(list[index])
      } catch (error) {
        failed = true
        throw error
      }
    }
  }
  const workers = Array.from({ length: Math.min(limit, list.length) }, worker)
  const settled = await Promise.allSettled(workers)
  const failure = settled.find(outcome => outcome.status === 'rejected')
  if (failure) throw failure.reason
  return results
}
