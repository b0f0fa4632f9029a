import { retry, type FailureKind, type RetryClock, type RetryPolicy } from '../../src/core/retry.js'

/** A clock that moves only when told to or when slept on, with a fixed jitter draw. */
function fakeClock(jitter = 1): RetryClock & { t: number; sleeps: number[] } {
  const clock = {
    t: 0,
    sleeps: [] as number[],
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.sleeps.push(ms)
      clock.t += ms
    },
    random: () => jitter
  }
  return clock
}

function policy(clock: RetryClock, overrides: Partial<RetryPolicy> = {}): RetryPolicy {
  return { budgetMs: 60_000, silenceMs: 15_000, baseDelayMs: 100, maxDelayMs: 5_000, clock, ...overrides }
}

class Failure extends Error {
  constructor(readonly kind: FailureKind) {
    super(kind)
  }
}
const classify = (error: unknown): FailureKind => (error as Failure).kind

describe('retry', () => {
  test('the first success costs no wait', async () => {
    const clock = fakeClock()
    await expect(retry(async () => 'ok', { classify }, policy(clock))).resolves.toBe('ok')
    expect(clock.sleeps).toEqual([])
  })

  test('answered failures are retried with exponential delays drawn with full jitter, capped', async () => {
    const clock = fakeClock(0.5)
    let attempts = 0
    const retried: number[] = []
    const result = await retry(
      async () => {
        if (++attempts <= 8) throw new Failure('answered')
        return attempts
      },
      { classify, onRetry: (_error, attempt) => retried.push(attempt) },
      policy(clock)
    )
    expect(result).toBe(9)
    expect(retried).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    // Half of min(5000, 100 * 2^(n-1)): the jitter scales the whole window.
    expect(clock.sleeps).toEqual([50, 100, 200, 400, 800, 1600, 2500, 2500])
  })

  test('a fatal failure is thrown at once', async () => {
    const clock = fakeClock()
    let attempts = 0
    const failing = retry(
      async () => {
        attempts++
        throw new Failure('fatal')
      },
      { classify },
      policy(clock)
    )
    await expect(failing).rejects.toThrow('fatal')
    expect(attempts).toBe(1)
    expect(clock.sleeps).toEqual([])
  })

  test('answered failures stop once the time budget is spent, not after a fixed number of attempts', async () => {
    const clock = fakeClock()
    let attempts = 0
    const failing = retry(
      async () => {
        attempts++
        clock.t += 1_000 // each attempt takes a second
        throw new Failure('answered')
      },
      { classify },
      policy(clock, { budgetMs: 30_000 })
    )
    await expect(failing).rejects.toThrow('answered')
    expect(clock.t).toBeLessThanOrEqual(30_000)
    expect(clock.t).toBeGreaterThan(20_000)
    expect(attempts).toBeGreaterThan(5)
  })

  test('silent failures stop once the other side has said nothing for silenceMs', async () => {
    const clock = fakeClock()
    let attempts = 0
    const failing = retry(
      async () => {
        attempts++
        clock.t += 11_000 // a socket that idles until its timeout
        throw new Failure('silent')
      },
      { classify },
      policy(clock)
    )
    await expect(failing).rejects.toThrow('silent')
    expect(attempts).toBe(2)
    expect(clock.t).toBeLessThan(30_000)
  })

  test('hearing from the other side restarts the silence clock: a body that keeps arriving is resumed', async () => {
    const clock = fakeClock()
    let attempts = 0
    const result = await retry(
      async heard => {
        attempts++
        clock.t += 10_000
        heard() // part of a body came before the reset
        if (attempts < 5) throw new Failure('silent')
        return 'whole'
      },
      { classify },
      policy(clock)
    )
    expect(result).toBe('whole')
    expect(attempts).toBe(5)
  })
})
