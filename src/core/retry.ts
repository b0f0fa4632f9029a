/**
 * One generic retry: exponential backoff with full jitter, within a time budget per operation
 * rather than a fixed number of attempts. A caller classifies each failure:
 * - `fatal`: cannot succeed on a retry (403, 404, 412, a malformed answer); thrown at once;
 * - `answered`: the other side answered with a passing failure (503 SlowDown, 500, 429);
 * - `silent`: no answer at all (refused, reset, timed out); retried only while the other side has
 *   said nothing for less than `silenceMs`, so a dead endpoint is given up in bounded time.
 */
export type FailureKind = 'fatal' | 'answered' | 'silent'

/** Time as a retry sees it; tests swap it so they never wait for real backoff. */
export interface RetryClock {
  now(): number
  sleep(ms: number): Promise<void>
  /** Uniform in [0, 1): the jitter. */
  random(): number
}

export const systemClock: RetryClock = {
  now: () => Date.now(),
  sleep: ms => new Promise(resolve => setTimeout(resolve, ms)),
  random: () => Math.random()
}

export interface RetryPolicy {
  /** No retry starts once this long has passed since the first attempt. */
  budgetMs: number
  /** No retry starts once the other side has said nothing to the operation for this long. */
  silenceMs: number
  /** The first retry waits up to this long; each later one up to twice as long as the one before. */
  baseDelayMs: number
  maxDelayMs: number
  clock: RetryClock
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  budgetMs: 60_000,
  silenceMs: 15_000,
  baseDelayMs: 100,
  maxDelayMs: 5_000,
  clock: systemClock
}

export interface RetryHooks {
  classify(error: unknown): FailureKind
  /** Called before each retry's wait. */
  onRetry?(error: unknown, attempt: number, delayMs: number): void
}

/**
 * Runs `attempt` until it succeeds, fails fatally, or the policy allows no further retry; then
 * throws the last failure. An attempt calls `heard()` whenever the other side sends something
 * (an answer, part of a body): that restarts the silence clock.
 */
export async function retry<T>(
  attempt: (heard: () => void, number: number) => Promise<T>,
  hooks: RetryHooks,
  policy: RetryPolicy
): Promise<T> {
  const { clock } = policy
  const started = clock.now()
  let quietSince = started
  const heard = (): void => {
    quietSince = clock.now()
  }
  for (let number = 1; ; number++) {
    try {
      return await attempt(heard, number)
    } catch (error) {
      const kind = hooks.classify(error)
      if (kind === 'fatal') throw error
      const now = clock.now()
      if (kind === 'answered') quietSince = now
      const delay = clock.random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (number - 1))
      if (now + delay - started > policy.budgetMs || now + delay - quietSince > policy.silenceMs) throw error
      hooks.onRetry?.(error, number, delay)
      await clock.sleep(delay)
    }
  }
}
