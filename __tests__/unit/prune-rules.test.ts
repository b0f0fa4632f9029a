import { planEvictions, type EvictionCandidate } from '../../src/core/cache/prune-plan.js'
import {
  formatDuration,
  parseDuration,
  parseEntryCount,
  parsePruneRules,
  parseScope,
  parseSize
} from '../../src/core/cache/prune-rules.js'
import { InputError } from '../../src/core/errors.js'

const HOUR = 3_600_000
const DAY = 24 * HOUR
const NOW = Date.parse('2025-06-01T00:00:00Z')

function entry(
  id: string,
  scope: string,
  daysSinceUse: number,
  keys: string[],
  extra: Partial<EvictionCandidate> = {}
): EvictionCandidate {
  return { id, scope, lastUsed: NOW - daysSinceUse * DAY, created: NOW - 30 * DAY, keys, ...extra }
}

function evicted(plan: ReturnType<typeof planEvictions>): Record<string, string> {
  return Object.fromEntries([...plan.evicted.entries()].sort())
}

describe('parsing prune rules', () => {
  it('reads durations with one unit', () => {
    expect(parseDuration('7d', 'max-age')).toBe(7 * DAY)
    expect(parseDuration('12h', 'max-age')).toBe(12 * HOUR)
    expect(parseDuration('90m', 'grace-period')).toBe(90 * 60_000)
    expect(parseDuration('30s', 'grace-period')).toBe(30_000)
    expect(parseDuration('2w', 'max-age')).toBe(14 * DAY)
    expect(parseDuration(' 1.5h ', 'max-age')).toBe(1.5 * HOUR)
    expect(parseDuration('0s', 'grace-period')).toBe(0)
  })

  it.each(['7x', '7', 'd', '-1d', '7 days', '', '1h30m'])(
    'refuses the duration %j, naming the input and the format',
    text => {
      expect(() => parseDuration(text, 'max-age')).toThrow(InputError)
      expect(() => parseDuration(text, 'max-age')).toThrow(
        /^max-age: ".*" is not a duration; give a number and a unit s, m, h, d or w, e\.g\. 7d/
      )
    }
  )

  it('prints a duration in its largest whole unit', () => {
    expect(formatDuration(7 * DAY)).toBe('1w')
    expect(formatDuration(3 * DAY)).toBe('3d')
    expect(formatDuration(90 * 60_000)).toBe('90m')
    expect(formatDuration(1500)).toBe('1.5s')
  })

  it('reads sizes in decimal and binary units, any case', () => {
    expect(parseSize('10GB', 'max-size')).toBe(10_000_000_000)
    expect(parseSize('500 mb', 'max-size')).toBe(500_000_000)
    expect(parseSize('1.5GiB', 'max-size')).toBe(1.5 * 2 ** 30)
    expect(parseSize('64KiB', 'max-size')).toBe(65536)
    expect(parseSize('1000', 'max-size')).toBe(1000)
    expect(parseSize('2TB', 'max-size')).toBe(2e12)
  })

  it.each(['10XB', 'GB', '-5GB', 'ten GB', ''])('refuses the size %j, naming the input and the format', text => {
    expect(() => parseSize(text, '--max-size')).toThrow(
      /^--max-size: ".*" is not a size; give a number and a unit B, KB, MB, GB, TB/
    )
  })

  it('reads entry counts of at least one', () => {
    expect(parseEntryCount('5', 'max-entries-per-scope')).toBe(5)
    for (const text of ['0', '-1', '2.5', 'five', ''])
      expect(() => parseEntryCount(text, 'max-entries-per-scope')).toThrow(
        /^max-entries-per-scope: ".*" is not a whole number of entries/
      )
  })

  it('reads scopes, and maps a git ref to its scope', () => {
    expect(parseScope('pr/12', 'delete-scopes')).toBe('pr/12')
    expect(parseScope(' branch/feature/x ', 'delete-scopes')).toBe('branch/feature/x')
    expect(parseScope('refs/pull/12/merge', 'delete-scopes')).toBe('pr/12')
    expect(parseScope('refs/heads/main', 'delete-scopes')).toBe('branch/main')
    expect(parseScope('local', 'delete-scopes')).toBe('local')
    for (const text of ['12', 'pr/', '/12', 'pr 12/x', ''])
      expect(() => parseScope(text, 'delete-scopes')).toThrow(
        /^delete-scopes: ".*" is not a scope; give one such as pr\/12/
      )
  })

  it('reads the default branch, its protection and the eviction order, naming each bad value', () => {
    const names = {
      maxAge: 'max-age',
      maxSize: 'max-size',
      maxEntriesPerScope: 'max-entries-per-scope',
      deleteScopes: 'delete-scopes',
      grace: 'grace-period',
      keepVersions: 'keep-versions',
      defaultBranch: 'default-branch',
      protectDefaultBranch: 'protect-default-branch',
      evictOrder: 'evict-order'
    }
    const texts = { deleteScopes: [] }
    expect(
      parsePruneRules(
        {
          ...texts,
          keepVersions: '3',
          defaultBranch: 'refs/heads/release/2.x',
          protectDefaultBranch: 'false',
          evictOrder: 'LRU'
        },
        names
      )
    ).toMatchObject({ keepVersions: 3, defaultBranch: 'release/2.x', protectDefaultBranch: false, evictOrder: 'lru' })
    expect(() => parsePruneRules({ ...texts, keepVersions: '0' }, names)).toThrow(/^keep-versions: "0" is not a whole/)
    expect(() => parsePruneRules({ ...texts, defaultBranch: 'a b' }, names)).toThrow(
      /^default-branch: "a b" is not a branch name; give one such as main$/
    )
    expect(() => parsePruneRules({ ...texts, protectDefaultBranch: 'maybe' }, names)).toThrow(
      /^protect-default-branch: "maybe" is not a boolean; use true or false$/
    )
    expect(() => parsePruneRules({ ...texts, evictOrder: 'fifo' }, names)).toThrow(
      /^evict-order: "fifo" is not an eviction order; give branches-first or lru$/
    )
  })
})

describe('choosing entries to evict', () => {
  const sizes = new Map([
    ['m/a', 10],
    ['m/b', 10],
    ['m/c', 10],
    ['m/d', 10],
    ['o/1', 100],
    ['o/2', 200],
    ['o/3', 300],
    ['o/4', 400],
    ['o/shared', 1000]
  ])
  const entries = [
    entry('a', 'branch/main', 1, ['m/a', 'o/shared', 'o/1']),
    entry('b', 'branch/main', 5, ['m/b', 'o/shared', 'o/2']),
    entry('c', 'pr/12', 3, ['m/c', 'o/shared', 'o/3']),
    entry('d', 'pr/13', 9, ['m/d', 'o/4'])
  ]

  it('keeps everything without rules, and counts each shared key once', () => {
    const plan = planEvictions(entries, sizes, {}, NOW)
    expect(plan.evicted.size).toBe(0)
    expect(plan.liveBytes).toBe(40 + 1000 + 100 + 200 + 300 + 400)
  })

  it('evicts entries unused for longer than the maximum age', () => {
    expect(evicted(planEvictions(entries, sizes, { maxAgeMs: 4 * DAY }, NOW))).toEqual({ b: 'max-age', d: 'max-age' })
    expect(evicted(planEvictions(entries, sizes, { maxAgeMs: 5 * DAY }, NOW))).toEqual({ d: 'max-age' })
  })

  it('evicts least recently used first until the referenced bytes fit the budget, freeing a shared key only with its last entry', () => {
    // Unused longest: d (9 days), then b (5), c (3), a (1).
    expect(evicted(planEvictions(entries, sizes, { maxBytes: 1700 }, NOW))).toEqual({ d: 'max-size' })
    const first = planEvictions(entries, sizes, { maxBytes: 1600 }, NOW)
    expect(evicted(first)).toEqual({ b: 'max-size', d: 'max-size' })
    expect(first.liveBytes).toBe(20 + 1000 + 100 + 300)
    // Evicting c frees only its own 310 bytes; the shared 1000 stay for a.
    const tighter = planEvictions(entries, sizes, { maxBytes: 1200 }, NOW)
    expect(evicted(tighter)).toEqual({ b: 'max-size', c: 'max-size', d: 'max-size' })
    expect(tighter.liveBytes).toBe(10 + 1000 + 100)
    expect(evicted(planEvictions(entries, sizes, { maxBytes: 0 }, NOW))).toEqual({
      a: 'max-size',
      b: 'max-size',
      c: 'max-size',
      d: 'max-size'
    })
  })

  it('counts a restore as a use: the recently restored entry outlives newer ones', () => {
    const restored = entries.map(candidate =>
      candidate.id === 'd' ? { ...candidate, lastUsed: NOW - HOUR } : candidate
    )
    expect(evicted(planEvictions(restored, sizes, { maxBytes: 1600 }, NOW))).toEqual({ b: 'max-size', c: 'max-size' })
  })

  it('breaks ties in last use by creation, then by id', () => {
    const tied = [
      entry('y', 's/1', 2, ['o/1'], { created: NOW - 3 * DAY }),
      entry('x', 's/1', 2, ['o/2'], { created: NOW - 3 * DAY }),
      entry('z', 's/1', 2, ['o/3'], { created: NOW - 4 * DAY })
    ]
    expect(evicted(planEvictions(tied, sizes, { maxBytes: 300 }, NOW))).toEqual({ z: 'max-size' })
    expect(evicted(planEvictions(tied, sizes, { maxBytes: 150 }, NOW))).toEqual({ x: 'max-size', z: 'max-size' })
  })

  it('keeps the most recently used entries of each scope', () => {
    const many = [...entries, entry('e', 'branch/main', 2, ['o/4']), entry('f', 'pr/12', 0, ['o/4'])]
    expect(evicted(planEvictions(many, sizes, { maxEntriesPerScope: 1 }, NOW))).toEqual({
      b: 'max-entries-per-scope',
      c: 'max-entries-per-scope',
      e: 'max-entries-per-scope'
    })
    expect(evicted(planEvictions(many, sizes, { maxEntriesPerScope: 2 }, NOW))).toEqual({ b: 'max-entries-per-scope' })
  })

  it('deletes whole scopes whatever their use, and gives each entry the first rule that removes it', () => {
    const plan = planEvictions(
      [...entries, entry('old', 'pr/12', 30, ['o/1']), entry('gone', 'pr/13', 0, ['o/9'], { broken: true })],
      sizes,
      { deleteScopes: ['pr/12'], maxAgeMs: 7 * DAY, maxBytes: 1500 },
      NOW
    )
    expect(evicted(plan)).toEqual({ c: 'deleted-scope', old: 'deleted-scope', d: 'max-age', gone: 'broken' })
    expect(plan.liveBytes).toBe(20 + 1000 + 100 + 200)
  })

  it('applies the size budget after the other rules, to what they left', () => {
    const plan = planEvictions(entries, sizes, { deleteScopes: ['pr/13'], maxBytes: 1500 }, NOW)
    // Without d, the rest reference 30 + 1000 + 600 = 1630: b, the least recently used left, goes.
    expect(evicted(plan)).toEqual({ b: 'max-size', d: 'deleted-scope' })
  })

  it('keeps the newest revisions of each key, per scope, and counts the older ones as evictable', () => {
    const revisions = [
      entry('k', 'branch/main', 3, ['o/1'], { entryKey: 'v/k', revision: 0 }),
      entry('k@1', 'branch/main', 2, ['o/2'], { entryKey: 'v/k', revision: 1 }),
      entry('k@2', 'branch/main', 4, ['o/3'], { entryKey: 'v/k', revision: 2 }),
      entry('pr-k', 'pr/12', 9, ['o/4'], { entryKey: 'v/k', revision: 0 }),
      entry('other', 'branch/main', 9, ['o/4'], { entryKey: 'v/other', revision: 0 })
    ]
    // Revision order decides, not last use: k@2 is the newest though k@1 was restored later.
    expect(evicted(planEvictions(revisions, sizes, {}, NOW))).toEqual({ k: 'old-version', 'k@1': 'old-version' })
    expect(evicted(planEvictions(revisions, sizes, { keepVersions: 2 }, NOW))).toEqual({ k: 'old-version' })
    expect(evicted(planEvictions(revisions, sizes, { keepVersions: 3 }, NOW))).toEqual({})
  })

  describe('with a default branch', () => {
    // Two families in main (deps-, build-) and entries of two pull requests and a feature branch.
    const mixed = [
      entry('main-deps-old', 'branch/main', 8, ['o/1'], { family: 'deps-', created: NOW - 9 * DAY }),
      entry('main-deps-new', 'branch/main', 6, ['o/2'], { family: 'deps-', created: NOW - 7 * DAY }),
      entry('main-build', 'branch/main', 7, ['o/3'], { family: 'build-', created: NOW - 8 * DAY }),
      entry('pr-deps', 'pr/12', 1, ['m/a', 'o/shared'], { family: 'deps-' }),
      entry('pr-build', 'pr/13', 2, ['m/b'], { family: 'build-' }),
      entry('feature', 'branch/feature', 3, ['m/c', 'o/4'], { family: 'deps-' })
    ]
    const order = (plan: ReturnType<typeof planEvictions>): string[] => [...plan.evicted.keys()]

    it('evicts other scopes first, least recently used first, then the default branch, never its newest of a family', () => {
      const plan = planEvictions(mixed, sizes, { maxBytes: 0, defaultBranch: 'main' }, NOW)
      expect(order(plan)).toEqual(['feature', 'pr-build', 'pr-deps', 'main-deps-old'])
      expect([...plan.protected].sort()).toEqual(['main-build', 'main-deps-new'])
      expect(plan.liveBytes).toBe(200 + 300)
      // A budget that other scopes can meet leaves main whole, though its entries are the least recently used.
      expect(order(planEvictions(mixed, sizes, { maxBytes: 1700, defaultBranch: 'main' }, NOW))).toEqual(['feature'])
    })

    it('evicts by last use alone with evict-order lru, and protects nothing when told not to', () => {
      const lru = planEvictions(mixed, sizes, { maxBytes: 1600, defaultBranch: 'main', evictOrder: 'lru' }, NOW)
      expect(order(lru)).toEqual(['main-deps-old', 'feature'])
      const unprotected = {
        maxBytes: 0,
        defaultBranch: 'main',
        evictOrder: 'lru',
        protectDefaultBranch: false
      } as const
      expect(order(planEvictions(mixed, sizes, unprotected, NOW))).toEqual([
        'main-deps-old',
        'main-build',
        'main-deps-new',
        'feature',
        'pr-build',
        'pr-deps'
      ])
      // Without a default branch, nothing is protected either.
      expect(planEvictions(mixed, sizes, { maxBytes: 0 }, NOW).evicted.size).toBe(6)
    })

    it('keeps the protected entries beyond the per-scope count, and lets the age limit take them', () => {
      const counted = planEvictions(mixed, sizes, { maxEntriesPerScope: 1, defaultBranch: 'main' }, NOW)
      expect(evicted(counted)).toEqual({ 'main-deps-old': 'max-entries-per-scope' })
      const aged = planEvictions(mixed, sizes, { maxAgeMs: 5 * DAY, defaultBranch: 'main' }, NOW)
      expect(evicted(aged)).toEqual({ 'main-build': 'max-age', 'main-deps-new': 'max-age', 'main-deps-old': 'max-age' })
    })
  })
})
