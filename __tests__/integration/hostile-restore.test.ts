import { link, lstat, mkdir, mkdtemp, readFile, readlink, rm, symlink } from 'node:fs/promises'
import { existsSync, lstatSync, readdirSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import fc from 'fast-check'
import { restoreEntry } from '../../src/core/cache/checkpoint-cache.js'
import { findEntry, entryVersion } from '../../src/core/cache/entry-refs.js'
import { restoreTargets } from '../../src/core/cache/tree-paths.js'
import type { BlobWriters } from '../../src/core/store/blob-writers.js'
import { materializeTree, restoreWriters } from '../../src/core/store/materialize.js'
import { FsStore } from '../../src/core/store/fs-store.js'
import { loadManifestColumns } from '../../src/core/manifest/load.js'
import type { BlobLocation, ManifestEntry } from '../../src/core/manifest/model.js'
import {
  CONTENTS,
  fileEntry,
  fingerprint,
  hostileCase,
  KNOWN_ESCAPES,
  makeSandbox,
  plantCase,
  plantEntry,
  SCOPE,
  storeContents,
  type HostileCase
} from '../helpers/hostile.js'

/**
 * The restore's invariant: nothing outside the restore roots is created, removed or changed,
 * whatever the manifest says and whatever the workspace already holds. Each case plants a
 * manifest in a store, fills a workspace with things in the way, restores, and compares every
 * name, type, mode, content and link outside the restore's region with what was there before.
 * Replay a failure with HOSTILE_SEED=<seed> (and HOSTILE_PATH=<path>) from its report.
 */

describe('a restore of a hostile manifest', () => {
  let runDir: string
  let store: FsStore
  let blobs: Record<string, BlobLocation>
  let writers: BlobWriters
  let caseNumber = 0
  /** Files that restores found in place, unchanged: the property reaches that path too. */
  let filesUnchanged = 0

  beforeAll(async () => {
    // On a RAM disk where there is one: a case is a few dozen file operations, and that is its cost.
    runDir = await mkdtemp(path.join(existsSync('/dev/shm') ? '/dev/shm' : tmpdir(), 'hostile-'))
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
  async function restore(key: string, hostile: HostileCase, workspace: string): Promise<string> {
    const { patterns, mirror: exactMirror } = hostile
    const match = await findEntry(store, { scopes: [SCOPE], version: entryVersion(patterns), key, restoreKeys: [] })
    if (!match) return 'miss'
    const manifest = await loadManifestColumns(store, match.record.tree)
    const targets = restoreTargets(manifest.roots, patterns, workspace)
    const destinations = targets.map(target => target.destination)
    const bases = targets.map(target => target.base)
    const stats = await materializeTree({ store, manifest, destinations, bases, writers, exactMirror })
    filesUnchanged += stats.filesUnchanged
    return 'found'
  }

  /**
   * What a restored case left wrong in its roots: a file of the tree that is a link to another
   * (a hard link in the way, kept), or, for an exact mirror, a name in a directory of the tree that
   * the tree does not have (as an entry or a folder above one).
   */
  function restoredProblems(hostile: HostileCase, workspace: string): string[] {
    const problems: string[] = []
    const at = (entry: HostileCase['entries'][number]): string =>
      path.join(workspace, hostile.roots[Math.min(entry.root, hostile.roots.length - 1)], entry.path)
    // The entries, and the folders above them that a manifest need not list.
    const tracked = new Set(
      hostile.entries.flatMap(entry =>
        entry.path.split('/').map((_, end, parts) => at({ ...entry, path: parts.slice(0, end + 1).join('/') }))
      )
    )
    for (const entry of hostile.entries) {
      const stats = lstatSync(at(entry))
      if (entry.type === 'file' && stats.nlink !== 1) problems.push(`${entry.path} has ${stats.nlink} links`)
      if (entry.type !== 'dir' || !hostile.mirror) continue
      for (const name of readdirSync(at(entry))) {
        if (!tracked.has(path.join(at(entry), name)))
          problems.push(`${path.join(entry.path, name)} is left in a mirror`)
      }
    }
    return problems
  }

  /**
   * Restores a case into a fresh sandbox, and a restored one again over itself; what lies outside
   * workspace/out before and after, and what restoredProblems found.
   */
  async function run(
    hostile: HostileCase
  ): Promise<{ before: string[]; after: string[]; outcome: string; problems: string[] }> {
    const key = `hostile-${caseNumber}`
    const planted = await plantCase(path.join(runDir, `case-${caseNumber++}`), hostile, store, key, blobs)
    let outcome: string
    try {
      outcome = await restore(key, hostile, planted.workspace)
    } catch (error) {
      outcome = (error as Error).message
    }
    const problems = outcome === 'found' ? restoredProblems(hostile, planted.workspace) : []
    if (outcome === 'found') {
      // Again over what it restored: the files are found unchanged, and the restore stays inside.
      const again = await restore(key, hostile, planted.workspace).catch((error: Error) => error.message)
      if (again !== 'found') problems.push(`restored again: ${again}`)
      else problems.push(...restoredProblems(hostile, planted.workspace))
    }
    const after = await planted.outside()
    await rm(planted.sandbox, { recursive: true, force: true })
    return { before: planted.before, after, outcome, problems }
  }

  it('changes nothing outside the restore roots, over 2,000 seeded cases', async () => {
    const seed = process.env.HOSTILE_SEED ? Number(process.env.HOSTILE_SEED) : Date.now() % 2 ** 31
    const started = Date.now()
    const outcomes = new Map<string, number>()
    await fc.assert(
      fc.asyncProperty(hostileCase, async hostile => {
        const { before, after, outcome, problems } = await run(hostile)
        const kind = outcome
          .split(/[\s:]+/)
          .slice(0, 3)
          .join(' ')
        outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1)
        expect(after).toEqual(before)
        expect(problems).toEqual([])
      }),
      {
        numRuns: 2000,
        seed,
        path: process.env.HOSTILE_PATH,
        endOnFailure: true,
        examples: KNOWN_ESCAPES.map(known => [known])
      }
    )
    const seconds = (Date.now() - started) / 1000
    const counts = [...outcomes].map(([kind, count]) => `  ${count} ${kind}`).join('\n')
    const unchanged = `${filesUnchanged} files found unchanged`
    console.log(`2,000 hostile cases in ${seconds.toFixed(1)} s (seed ${seed}, ${unchanged}); outcomes:\n${counts}`)
    expect(filesUnchanged).toBeGreaterThan(100)
    // Some cases must get through to writing, or the property proves little.
    expect(outcomes.get('found') ?? 0).toBeGreaterThan(200)
  })

  it('refuses destinations that overlap, however their names sort', async () => {
    const sandbox = await mkdtemp(path.join(runDir, 'overlap-'))
    const manifest = await loadManifestColumns(store, await plantedTree(['a', 'a-b', 'a/c']))
    const destinations = ['a', 'a-b', 'a/c'].map(name => path.join(sandbox, name))
    const restoring = materializeTree({ store, manifest, destinations, writers })
    await expect(restoring).rejects.toThrow(/roots overlap at .*[\\/]a[\\/]c/)
    expect(await fingerprint(sandbox, '')).toEqual(['. dir 700'])
  })

  /** The tree digest of a planted manifest with a directory as each root. */
  async function plantedTree(roots: string[]): Promise<string> {
    const key = `roots-${caseNumber++}`
    const entries = roots.map((_, root): ManifestEntry => ({ root, path: '', type: 'dir', mode: 0o755 }))
    await plantEntry(store, key, ['a'], roots, entries, blobs)
    const match = await findEntry(store, { scopes: [SCOPE], version: entryVersion(['a']), key, restoreKeys: [] })
    return match!.record.tree
  }

  describe('the shapes that escaped before', () => {
    /** A sandbox and a planted entry; the test restores and looks. */
    async function planted(roots: string[], entries: (sandbox: string) => ManifestEntry[], patterns = ['out']) {
      const sandbox = path.join(runDir, `named-${caseNumber++}`)
      await mkdir(sandbox)
      const { workspace, canary } = await makeSandbox(sandbox)
      const key = `named-${caseNumber}`
      await plantEntry(
        store,
        key,
        patterns,
        roots.map(root => root.replace(/^@/, sandbox)),
        entries(sandbox),
        blobs
      )
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

    it("refuses roots that overlap, so that one root's link cannot lead another's writes", async () => {
      const { before, restore, outside } = await planted(['out', 'out/b'], sandbox => [
        { root: 0, path: '', type: 'dir', mode: 0o755 },
        { root: 0, path: 'b', type: 'symlink', mode: 0o777, target: path.join(sandbox, 'canary', 'dir') },
        { root: 1, path: '', type: 'dir', mode: 0o777 }
      ])
      await expect(restore()).rejects.toThrow(/manifest roots overlap at .*out[\\/]b/)
      expect(await outside()).toEqual(before)
    })

    it('refuses a root reached through a symlink the workspace already holds', async () => {
      const { workspace, canary, before, restore, outside } = await planted(
        ['out/a/deep'],
        () => [fileEntry(0, '', 0o644, 1)],
        ['out/*/deep']
      )
      await mkdir(path.join(workspace, 'out'))
      await symlink(path.join(canary, 'dir'), path.join(workspace, 'out', 'a'))
      await expect(restore()).rejects.toThrow(/would pass through the symlink .*out[\\/]a; refused/)
      expect(await outside()).toEqual(before)
    })

    it('replaces a hard link to a file outside instead of writing into it', async () => {
      const { workspace, canary, before, restore, outside } = await planted(['out'], () => [
        { root: 0, path: '', type: 'dir', mode: 0o755 },
        fileEntry(0, 'f', 0o644, 1),
        fileEntry(0, 'big', 0o644, 3)
      ])
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
      expect(await readlink(path.join(workspace, 'out', 'l'))).toMatch(/canary[\\/]dir$/)
      // Windows gives folders no mode.
      if (process.platform !== 'win32') {
        expect((await lstat(path.join(workspace, 'out', 'd'))).mode & 0o7777).toBe(0o555)
        expect((await lstat(path.join(workspace, 'out'))).mode & 0o7777).toBe(0o700)
      }
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
