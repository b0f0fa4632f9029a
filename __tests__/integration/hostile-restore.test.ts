import { link, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import fc from 'fast-check'
import { loadManifestColumns, restoreEntry } from '../../src/core/cache/checkpoint-cache.js'
import { findEntry, entryVersion } from '../../src/core/cache/entry-refs.js'
import { restoreTargets } from '../../src/core/cache/tree-paths.js'
import type { BlobWriters } from '../../src/core/store/blob-writers.js'
import { materializeTree, restoreWriters } from '../../src/core/store/materialize.js'
import { FsStore } from '../../src/core/store/fs-store.js'
import type { BlobLocation, ManifestEntry } from '../../src/core/store/manifest.js'
import { CONTENTS, fileEntry, fingerprint, makeSandbox, placeObstacle, plantEntry, SCOPE, storeContents, type Obstacle } from '../helpers/hostile.js'

/**
 * The restore's invariant: nothing outside the restore roots is created, removed or changed,
 * whatever the manifest says and whatever the workspace already holds. Each case plants a
 * manifest in a store, fills a workspace with things in the way, restores, and compares every
 * name, type, mode, content and link outside the restore's region with what was there before.
 * Replay a failure with HOSTILE_SEED=<seed> (and HOSTILE_PATH=<path>) from its report.
 */

/** Every pattern below names `out`: the region a restore may change is workspace/out. */
const PATTERN_SETS = [['out'], ['out/*']]
/** Names that collide, nest and look alike; then a few that are unsafe or too long. */
const NAMES = ['a', 'b', 'A', 'sub', 'out', 'canary', 'keep.txt', 'é', 'e\u0301', 'ｏｕｔ', 'a\u200b', '.hidden', 'a\\b', 'link']
const ODD_NAMES = ['.', '..', '', 'x'.repeat(255), 'y'.repeat(256)]
const MODES = [0o755, 0o644, 0o777, 0o700, 0o555, 0o444, 0o000, 0o1777, 0o4755, 0o2755]
const OBSTACLE_PATHS = ['out', 'out/a', 'out/A', 'out/sub', 'out/a/b', 'out/sub/a', 'out/a/sub/b', 'out/link']
const OBSTACLES: Obstacle[] = ['dir', 'file', 'link-to-canary-dir', 'link-to-canary-file', 'link-up', 'link-inside', 'hardlink-to-canary-file']

interface HostileCase {
  patterns: string[]
  roots: string[]
  entries: Array<{ root: number; path: string; type: 'dir' | 'file' | 'symlink'; mode: number; content: number; target: string }>
  obstacles: Array<{ at: string; kind: Obstacle }>
}

/** Roots: valid ones, overlapping, duplicated, escaping, absolute, and the canary itself ('@' is the sandbox). */
const rootSets = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<string[]>(['out'], ['out/a'], ['out/a', 'out/b'], ['out/sub/link']) },
  { weight: 1, arbitrary: fc.constantFrom<string[]>(['out', 'out/a'], ['out/a', 'out/a'], ['out/a', 'out/a/b'], ['.'], ['out', '../canary'], ['out/../canary'], ['@/canary'], ['@/canary/dir'], ['keep.txt']) }
)
const segment = fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...NAMES) }, { weight: 1, arbitrary: fc.constantFrom(...ODD_NAMES) })
const relativePath = fc.array(segment, { minLength: 0, maxLength: 4 }).map(parts => parts.join('/'))
const entryPath = fc.oneof({ weight: 30, arbitrary: relativePath }, { weight: 1, arbitrary: fc.constantFrom('/abs', '@/canary/file.txt', '../canary', 'a/../../canary', '/') })
const linkTarget = fc.constantFrom('@/canary', '@/canary/dir', '@/canary/file.txt', '../canary', '../../canary', '../../../canary/dir', '..', '.', 'a', 'a/b', 'sub', 'link', '../a', '/')
const entry = fc.record({
  root: fc.nat({ max: 1 }),
  path: entryPath,
  type: fc.constantFrom<'dir' | 'file' | 'symlink'>('dir', 'file', 'symlink'),
  mode: fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...MODES) }, { weight: 1, arbitrary: fc.constant(0o100644) }),
  content: fc.nat({ max: CONTENTS.length - 1 }),
  target: linkTarget
})
/** Mostly short, ordered trees whose names come from a small set, so that paths collide and nest. */
const hostileCase: fc.Arbitrary<HostileCase> = fc.record({
  patterns: fc.constantFrom(...PATTERN_SETS),
  roots: rootSets,
  entries: fc.array(entry, { minLength: 1, maxLength: 6 }),
  obstacles: fc.array(fc.record({ at: fc.constantFrom(...OBSTACLE_PATHS), kind: fc.constantFrom(...OBSTACLES) }), { maxLength: 4 })
})

describe('a restore of a hostile manifest', () => {
  let runDir: string
  let store: FsStore
  let blobs: Record<string, BlobLocation>
  let writers: BlobWriters
  let caseNumber = 0

  beforeAll(async () => {
    runDir = await mkdtemp(path.join(tmpdir(), 'hostile-'))
    store = new FsStore(path.join(runDir, 'store'))
    blobs = await storeContents(store)
    writers = restoreWriters()
  })

  afterAll(async () => {
    await writers.close()
    await rm(runDir, { recursive: true, force: true })
  })

  /**
   * What restoreEntry does once it found the entry, on writer threads shared by every case (a
   * thread's start would cost more than the case).
   */
  async function restore(key: string, patterns: string[], workspace: string): Promise<string> {
    const match = await findEntry(store, { scopes: [SCOPE], version: entryVersion(patterns), key, restoreKeys: [] })
    if (!match) return 'miss'
    const manifest = await loadManifestColumns(store, match.record.tree)
    const targets = restoreTargets(manifest.roots, patterns, workspace)
    const destinations = targets.map(target => target.destination)
    await materializeTree({ store, manifest, destinations, bases: targets.map(target => target.base), writers })
    return 'found'
  }

  /** Plants the case's manifest, restores it into a fresh sandbox, and returns what changed outside workspace/out. */
  async function run(hostile: HostileCase): Promise<{ before: string[]; after: string[]; outcome: string }> {
    const sandbox = path.join(runDir, `case-${caseNumber++}`)
    await mkdir(sandbox)
    const { workspace, canary } = await makeSandbox(sandbox)
    const at = (text: string) => text.replace(/^@/, sandbox)
    for (const obstacle of hostile.obstacles) await placeObstacle(workspace, canary, obstacle.at, obstacle.kind)
    const roots = hostile.roots.map(at)
    const entries: ManifestEntry[] = hostile.entries.map(({ root, path: entryPath, type, mode, content, target }) => {
      const within = Math.min(root, roots.length - 1)
      if (type === 'file') return fileEntry(within, at(entryPath), mode, content)
      if (type === 'symlink') return { root: within, path: at(entryPath), type, mode: 0o777, target: at(target) }
      return { root: within, path: at(entryPath), type, mode }
    })
    const key = `hostile-${caseNumber}`
    await plantEntry(store, key, hostile.patterns, roots, entries, blobs)
    const region = path.join(workspace, 'out')
    const before = await fingerprint(sandbox, region)
    let outcome: string
    try {
      outcome = await restore(key, hostile.patterns, workspace)
    } catch (error) {
      outcome = (error as Error).message
    }
    const after = await fingerprint(sandbox, region)
    await rm(sandbox, { recursive: true, force: true })
    return { before, after, outcome }
  }

  it('changes nothing outside the restore roots, over 2,000 seeded cases', async () => {
    const seed = process.env.HOSTILE_SEED ? Number(process.env.HOSTILE_SEED) : Date.now() % 2 ** 31
    const started = Date.now()
    const outcomes = new Map<string, number>()
    await fc.assert(
      fc.asyncProperty(hostileCase, async hostile => {
        const { before, after, outcome } = await run(hostile)
        const kind = outcome.split(/[\s:]+/).slice(0, 3).join(' ')
        outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1)
        expect(after).toEqual(before)
      }),
      { numRuns: 2000, seed, path: process.env.HOSTILE_PATH, endOnFailure: true }
    )
    const seconds = (Date.now() - started) / 1000
    console.log(`2,000 hostile cases in ${seconds.toFixed(1)} s (seed ${seed}); outcomes:\n${[...outcomes].map(([kind, count]) => `  ${count} ${kind}`).join('\n')}`)
    // Some cases must get through to writing, or the property proves little.
    expect(outcomes.get('found') ?? 0).toBeGreaterThan(200)
  })

  describe('the shapes that escaped before', () => {
    /** A sandbox and a planted entry; the test restores and looks. */
    async function planted(roots: string[], entries: (sandbox: string) => ManifestEntry[], patterns = ['out']) {
      const sandbox = path.join(runDir, `named-${caseNumber++}`)
      await mkdir(sandbox)
      const { workspace, canary } = await makeSandbox(sandbox)
      const key = `named-${caseNumber}`
      await plantEntry(store, key, patterns, roots.map(root => root.replace(/^@/, sandbox)), entries(sandbox), blobs)
      const before = await fingerprint(sandbox, path.join(workspace, 'out'))
      const restore = () => restoreEntry({ store, key, paths: patterns, workspace, readScopes: [SCOPE] })
      const outside = () => fingerprint(sandbox, path.join(workspace, 'out'))
      return { workspace, canary, before, restore, outside }
    }

    it('refuses a symlink root with entries below it, before writing anything', async () => {
      const { workspace, before, restore, outside } = await planted(['out'], sandbox => [
        { root: 0, path: 'a', type: 'dir', mode: 0o777 },
        { root: 0, path: '', type: 'symlink', mode: 0o777, target: path.join(sandbox, 'canary', 'dir') },
        { root: 0, path: 'sub', type: 'symlink', mode: 0o777, target: '/' }
      ])
      await mkdir(path.join(workspace, 'out', 'sub'), { recursive: true })
      await expect(restore()).rejects.toThrow(/manifest path "a" lies below a symlink \(""\)/)
      expect(await outside()).toEqual(before)
      expect((await lstat(path.join(workspace, 'out'))).isDirectory()).toBe(true)
      expect((await lstat(path.join(workspace, 'out', 'sub'))).isDirectory()).toBe(true)
    })

    it('refuses a path listed twice with different types (a directory that becomes a symlink)', async () => {
      const { before, restore, outside } = await planted(['out'], sandbox => [
        { root: 0, path: '', type: 'dir', mode: 0o755 },
        { root: 0, path: 'd', type: 'dir', mode: 0o777 },
        { root: 0, path: 'd', type: 'symlink', mode: 0o777, target: path.join(sandbox, 'canary', 'dir') }
      ])
      await expect(restore()).rejects.toThrow(/manifest path "d" is listed twice/)
      expect(await outside()).toEqual(before)
    })

    it('refuses roots that overlap, so that one root\'s link cannot lead another\'s writes', async () => {
      const { before, restore, outside } = await planted(['out', 'out/b'], sandbox => [
        { root: 0, path: '', type: 'dir', mode: 0o755 },
        { root: 0, path: 'b', type: 'symlink', mode: 0o777, target: path.join(sandbox, 'canary', 'dir') },
        { root: 1, path: '', type: 'dir', mode: 0o777 }
      ])
      await expect(restore()).rejects.toThrow(/manifest roots overlap at .*out\/b/)
      expect(await outside()).toEqual(before)
    })

    it('refuses a root reached through a symlink the workspace already holds', async () => {
      const { workspace, canary, before, restore, outside } = await planted(['out/a/deep'], () => [fileEntry(0, '', 0o644, 1)], ['out/*/deep'])
      await mkdir(path.join(workspace, 'out'))
      await symlink(path.join(canary, 'dir'), path.join(workspace, 'out', 'a'))
      await expect(restore()).rejects.toThrow(/would pass through the symlink .*out\/a; refused/)
      expect(await outside()).toEqual(before)
    })

    it('replaces a hard link to a file outside instead of writing into it', async () => {
      const { workspace, canary, before, restore, outside } = await planted(['out'], () => [{ root: 0, path: '', type: 'dir', mode: 0o755 }, fileEntry(0, 'f', 0o644, 1), fileEntry(0, 'big', 0o644, 3)])
      await mkdir(path.join(workspace, 'out'))
      await link(path.join(canary, 'file.txt'), path.join(workspace, 'out', 'f'))
      await link(path.join(canary, 'dir', 'inner.txt'), path.join(workspace, 'out', 'big'))
      await expect(restore()).resolves.toMatchObject({ status: 'found' })
      expect(await readFile(path.join(workspace, 'out', 'f'))).toEqual(CONTENTS[1])
      expect(await readFile(path.join(workspace, 'out', 'big'))).toEqual(CONTENTS[3])
      expect(await outside()).toEqual(before)
    })

    it('replaces a directory where a symlink goes, and sets the modes of its own directories only', async () => {
      const { workspace, before, restore, outside } = await planted(['out'], sandbox => [
        { root: 0, path: '', type: 'dir', mode: 0o700 },
        { root: 0, path: 'd', type: 'dir', mode: 0o555 },
        fileEntry(0, 'd/f', 0o644, 1),
        { root: 0, path: 'l', type: 'symlink', mode: 0o777, target: path.join(sandbox, 'canary', 'dir') }
      ])
      await mkdir(path.join(workspace, 'out', 'l', 'old'), { recursive: true })
      await expect(restore()).resolves.toMatchObject({ status: 'found' })
      expect(await readlink(path.join(workspace, 'out', 'l'))).toMatch(/canary\/dir$/)
      expect((await lstat(path.join(workspace, 'out', 'd'))).mode & 0o7777).toBe(0o555)
      expect((await lstat(path.join(workspace, 'out'))).mode & 0o7777).toBe(0o700)
      expect(await outside()).toEqual(before)
    })

    it('refuses a root elsewhere in the workspace than the requested paths', async () => {
      const { workspace, before, restore, outside } = await planted(['keep.txt'], () => [fileEntry(0, '', 0o644, 2)])
      await expect(restore()).rejects.toThrow(/manifest root "keep.txt" lies outside the requested paths/)
      expect(await readFile(path.join(workspace, 'keep.txt'), 'utf8')).toBe('beside the restore\n')
      expect(await outside()).toEqual(before)
    })
  })
})
