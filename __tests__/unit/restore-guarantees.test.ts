import { createHash } from 'node:crypto'
import {
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readlinkSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { restoreEntry, saveEntry } from '../../src/core/cache/checkpoint-cache.js'
import { parsePipeline } from '../../src/core/pipeline/definition.js'
import { runPipelineJob } from '../../src/core/pipeline/pipeline-job.js'
import type { PipelineLog } from '../../src/core/pipeline/runner.js'
import { futimesSeconds } from '../../src/core/store/file-times.js'
import { FsStore } from '../../src/core/store/fs-store.js'
import type { BlobLocation, ManifestEntry } from '../../src/core/manifest/model.js'
import { objectKey } from '../../src/core/cache/cache-layout.js'
import { fileEntry, fingerprint, makeSandbox, plantEntry, SCOPE, storeContents } from '../helpers/hostile.js'
import { seededBytes } from '../helpers/trees.js'

// The restore's guarantees one by one, each against a manifest planted in a local store (the
// property test in hostile-restore.test.ts mixes them at random).

const dir = (root: number, at: string, mode = 0o755): ManifestEntry => ({ root, path: at, type: 'dir', mode })
const link = (root: number, at: string, target: string): ManifestEntry => ({
  root,
  path: at,
  type: 'symlink',
  mode: 0o777,
  target
})

describe('restore guarantees', () => {
  let base: string
  let workspace: string
  let canary: string
  let store: FsStore
  let blobs: Record<string, BlobLocation>
  let n = 0

  beforeEach(async () => {
    base = mkdtempSync(path.join(tmpdir(), 'guarantees-'))
    ;({ workspace, canary } = await makeSandbox(base))
    store = new FsStore(path.join(base, 'store'))
    blobs = await storeContents(store)
  })
  afterEach(() => rmSync(base, { recursive: true, force: true }))

  /** Everything in the sandbox but the store. */
  const everything = () => fingerprint(base, path.join(base, 'store'))

  /** Plants a manifest for a restore of `patterns` and restores it into the workspace. */
  const restorePlanted = async (roots: string[], entries: ManifestEntry[], patterns = ['out'], more = blobs) => {
    const key = `planted-${n++}`
    await plantEntry(store, key, patterns, roots, entries, more)
    return restoreEntry({ store, key, paths: patterns, workspace, readScopes: [SCOPE] })
  }

  it.each<[string, (canary: string) => ManifestEntry[], RegExp]>([
    [
      'a file below a symlink',
      to => [dir(0, ''), link(0, 'a', to), fileEntry(0, 'a/x', 0o644, 1)],
      /^manifest path "a\/x" lies below a symlink \("a"\); refusing to restore$/
    ],
    [
      'an entry in a root that is a symlink',
      to => [link(0, '', to), fileEntry(0, 'x', 0o644, 1)],
      /^manifest path "x" lies below a symlink \(""\); refusing to restore$/
    ],
    [
      'an entry below a file',
      () => [dir(0, ''), fileEntry(0, 'f', 0o644, 1), fileEntry(0, 'f/x', 0o644, 1)],
      /^manifest path "f\/x" lies below a file \("f"\); refusing to restore$/
    ],
    [
      'a .. segment',
      () => [dir(0, ''), fileEntry(0, '../../escaped', 0o644, 1)],
      /^manifest path "\.\.\/\.\.\/escaped" is unsafe \(absolute, or contains '\.\.'\); refusing to restore$/
    ],
    [
      'an absolute path',
      () => [dir(0, ''), fileEntry(0, '/tmp/escaped', 0o644, 1)],
      /^manifest path "\/tmp\/escaped" is unsafe \(absolute, or contains '\.\.'\); refusing to restore$/
    ],
    [
      'an empty segment',
      () => [dir(0, ''), dir(0, 'a'), fileEntry(0, 'a//x', 0o644, 1)],
      /^manifest path "a\/\/x" is unsafe \(absolute, or contains '\.\.'\); refusing to restore$/
    ],
    [
      'a . segment',
      () => [dir(0, ''), fileEntry(0, './x', 0o644, 1)],
      /^manifest path "\.\/x" is unsafe \(absolute, or contains '\.\.'\); refusing to restore$/
    ],
    [
      'a path listed twice, as a directory and a symlink',
      to => [dir(0, ''), dir(0, 'a', 0o777), link(0, 'a', to)],
      /^manifest path "a" is listed twice; refusing to restore$/
    ],
    [
      'a symlink with an empty target',
      () => [dir(0, ''), link(0, 'a', '')],
      /^manifest has a symlink with an empty target; refusing to restore$/
    ],
    [
      'a mode beyond permission bits',
      () => [dir(0, ''), fileEntry(0, 'x', 0o10644, 1)],
      /^manifest mode of "x" is not a permission mode$/
    ]
  ])('refuses %s before writing anything, in one line naming the path', async (_shape, entries, message) => {
    const before = await everything()
    await expect(restorePlanted(['out'], entries(canary))).rejects.toThrow(message)
    expect(await everything()).toEqual(before)
  })

  it('refuses roots that overlap, and roots the path patterns did not request, before writing anything', async () => {
    const before = await everything()
    await expect(
      restorePlanted(['out', 'out/sub'], [dir(0, ''), dir(1, ''), fileEntry(1, 'x', 0o644, 1)])
    ).rejects.toThrow(/^manifest roots overlap at .*\/out\/sub; refusing to restore$/)
    await expect(
      restorePlanted(['out', '.git/hooks'], [dir(0, ''), dir(1, ''), fileEntry(1, 'pre-commit', 0o755, 2)])
    ).rejects.toThrow(/^manifest root "\.git\/hooks" lies outside the requested paths; refusing to restore$/)
    await expect(
      restorePlanted(['out', canary], [dir(0, ''), dir(1, ''), fileEntry(1, 'x', 0o644, 1)])
    ).rejects.toThrow(
      /^manifest root ".*\/canary" lies outside the workspace and the requested paths; refusing to restore$/
    )
    expect(await everything()).toEqual(before)
  })

  it('uses a root that is the workspace itself as it stands, and refuses to replace it', async () => {
    await restorePlanted(['.'], [dir(0, '', 0o700), fileEntry(0, 'x', 0o644, 1)], ['.'])
    expect(readFileSync(path.join(workspace, 'x'), 'utf8')).toBe('owned\n')
    expect(lstatSync(workspace).mode & 0o7777).toBe(0o755)
    const before = await everything()
    await expect(restorePlanted(['.'], [link(0, '', canary)], ['.'])).rejects.toThrow(
      /^manifest root "\." is .*\/workspace itself and must be a directory; refusing to restore$/
    )
    await expect(restorePlanted(['.'], [fileEntry(0, '', 0o644, 1)], ['.'])).rejects.toThrow(/must be a directory/)
    expect(await everything()).toEqual(before)
  })

  it('replaces a symlink at a root that points outside, without following it', async () => {
    symlinkSync(path.join(canary, 'dir'), path.join(workspace, 'out'))
    const before = await fingerprint(canary, '')
    await restorePlanted(['out'], [dir(0, ''), fileEntry(0, 'nested', 0o644, 1)])
    expect(lstatSync(path.join(workspace, 'out')).isDirectory()).toBe(true)
    expect(readFileSync(path.join(workspace, 'out', 'nested'), 'utf8')).toBe('owned\n')
    expect(await fingerprint(canary, '')).toEqual(before)
  })

  it('refuses to restore through a symlink on the way to a root, and writes nothing', async () => {
    symlinkSync(path.join(canary, 'dir'), path.join(workspace, 'deep'))
    const before = await everything()
    await expect(
      restorePlanted(['deep/root'], [dir(0, ''), fileEntry(0, 'x', 0o644, 1)], ['deep/root'])
    ).rejects.toThrow(
      /^restoring .*\/workspace\/deep\/root would pass through the symlink .*\/workspace\/deep; refused$/
    )
    expect(await everything()).toEqual(before)
  })

  it('writes a new file in place of a hard link or a symlink to a file outside, which keep their content', async () => {
    mkdirSync(path.join(workspace, 'out'))
    linkSync(path.join(canary, 'file.txt'), path.join(workspace, 'out', 'hard'))
    symlinkSync(path.join(canary, 'file.txt'), path.join(workspace, 'out', 'soft'))
    const before = await fingerprint(canary, '')
    await restorePlanted(['out'], [dir(0, ''), fileEntry(0, 'hard', 0o644, 1), fileEntry(0, 'soft', 0o644, 2)])
    expect(readFileSync(path.join(workspace, 'out', 'hard'), 'utf8')).toBe('owned\n')
    expect(lstatSync(path.join(workspace, 'out', 'hard')).nlink).toBe(1)
    expect(lstatSync(path.join(workspace, 'out', 'soft')).isFile()).toBe(true)
    expect(readFileSync(path.join(workspace, 'out', 'soft'), 'utf8')).toBe('#!/bin/sh\necho planted\n')
    expect(await fingerprint(canary, '')).toEqual(before)
  })

  it('removes a directory in the way of a symlink inside the root, without following the links it holds', async () => {
    mkdirSync(path.join(workspace, 'out', 'stale'), { recursive: true })
    symlinkSync(path.join(canary, 'dir'), path.join(workspace, 'out', 'stale', 'to-outside'))
    writeFileSync(path.join(workspace, 'out', 'stale', 'old.txt'), 'old\n')
    const before = await fingerprint(canary, '')
    await restorePlanted(['out'], [dir(0, '', 0o555), link(0, 'stale', path.join(canary, 'dir'))])
    expect(readlinkSync(path.join(workspace, 'out', 'stale'))).toBe(path.join(canary, 'dir'))
    expect(lstatSync(path.join(workspace, 'out')).mode & 0o7777).toBe(0o555)
    expect(await fingerprint(canary, '')).toEqual(before)
  })

  it("drops setuid and setgid, and a file's sticky bit, unless asked to keep them", async () => {
    // With mtimes, so that a restore over them can find the files unchanged.
    const file = (at: string, mode: number, content: number) => ({ ...fileEntry(0, at, mode, content), mtime: 1e12 })
    const entries = [
      dir(0, ''),
      dir(0, 'shared', 0o3775),
      file('suid', 0o4755, 2),
      file('sgid', 0o2755, 2),
      file('sticky', 0o1644, 1),
      file('chunked', 0o6755, 3)
    ]
    const key = `special-${n++}`
    await plantEntry(store, key, ['out'], ['out'], entries, blobs)
    const modesOf = () =>
      Object.fromEntries(
        ['shared', 'suid', 'sgid', 'sticky', 'chunked'].map(name => [
          name,
          (lstatSync(path.join(workspace, 'out', name)).mode & 0o7777).toString(8)
        ])
      )
    const restore = (keepSpecialModes?: boolean) =>
      restoreEntry({ store, key, paths: ['out'], workspace, readScopes: [SCOPE], keepSpecialModes })

    await restore()
    expect(modesOf()).toEqual({ shared: '1775', suid: '755', sgid: '755', sticky: '644', chunked: '755' })
    // Restored again, the files are as the restore makes them: none is written again.
    const again = await restore()
    expect(again.status === 'found' && again.stats).toMatchObject({ files: 4, filesUnchanged: 4 })

    rmSync(path.join(workspace, 'out'), { recursive: true })
    await restore(true)
    expect(modesOf()).toEqual({ shared: '3775', suid: '4755', sgid: '2755', sticky: '1644', chunked: '6755' })
  })

  it('a pipeline refuses a planted checkpoint, warns in one line, and builds the stage instead', async () => {
    const warnings: string[] = []
    const log: PipelineLog = {
      info: () => undefined,
      warning: message => warnings.push(message),
      output: () => undefined,
      group: (_title, body) => body()
    }
    const definition =
      'stages:\n  - id: build\n    run: mkdir -p out && echo built > out/x.txt\n    paths: [out]\n    checkpoint: true\n'
    const job = (checkout: string, into: FsStore) => {
      writeFileSync(path.join(checkout, 'pipeline.yml'), definition)
      return runPipelineJob({
        pipeline: parsePipeline(definition, 'pipeline.yml', checkout),
        store: into,
        readScopes: [SCOPE],
        needFinalTree: true,
        log,
        sourcesDir: path.join(checkout, '.sources')
      })
    }
    // The stage's key, from a run against a store of its own.
    const first = await job(mkdtempSync(path.join(base, 'checkout-')), new FsStore(path.join(base, 'own-store')))
    const key = `stage-build-${first.plan.stages[0].key}`
    await plantEntry(store, key, ['out'], ['out'], [link(0, '', canary), fileEntry(0, 'x.txt', 0o644, 1)], blobs)
    const checkout = mkdtempSync(path.join(base, 'checkout-'))
    const before = await fingerprint(canary, '')
    const { result } = await job(checkout, store)
    expect(result.stages.map(stage => stage.outcome)).toEqual(['ran'])
    expect(warnings).toEqual([
      'a checkpoint could not be restored and will be rebuilt: manifest path "x.txt" lies below a symlink (""); ' +
        'refusing to restore'
    ])
    expect(readFileSync(path.join(checkout, 'out', 'x.txt'), 'utf8')).toBe('built\n')
    expect(await fingerprint(canary, '')).toEqual(before)
  })

  it('restores a file of one raw blob of no bytes without reading a range', async () => {
    const empty = createHash('sha256').update('').digest('hex')
    // In an object of its own, of no bytes: no range of it can be read.
    await store.put(objectKey(empty), Buffer.alloc(0))
    const withEmpty = { ...blobs, [empty]: [empty, 0, 0, 0, 0] as BlobLocation }
    const entries: ManifestEntry[] = [
      dir(0, ''),
      { root: 0, path: 'empty', type: 'file', mode: 0o640, size: 0, blobs: [empty] },
      fileEntry(0, 'full', 0o644, 1)
    ]
    const restored = await restorePlanted(['out'], entries, ['out'], withEmpty)
    expect(restored.status).toBe('found')
    expect(readFileSync(path.join(workspace, 'out', 'empty'))).toHaveLength(0)
    expect(lstatSync(path.join(workspace, 'out', 'empty')).mode & 0o7777).toBe(0o640)
    expect(readFileSync(path.join(workspace, 'out', 'full'), 'utf8')).toBe('owned\n')
  })

  it.each([1, 100, 1000])(
    'gives futimes seconds that land on the millisecond on a file system counting %d ns',
    granularity => {
      // libuv turns seconds into a timespec by truncation; the file system truncates to its granularity.
      const landsOn = (mtime: number): number => {
        const seconds = futimesSeconds(mtime)
        const whole = Math.trunc(seconds)
        const nanoseconds = Math.trunc((seconds - whole) * 1e9)
        return Math.floor(whole * 1e3 + (nanoseconds - (nanoseconds % granularity)) / 1e6)
      }
      const mtimes = Array.from({ length: 100_000 }, (_, i) => 1_600_000_000_000 + i * 104_729 + (i % 1000))
      expect(mtimes.filter(mtime => landsOn(mtime) !== mtime)).toEqual([])
    }
  )

  it('restores mtimes to the millisecond, in whole and chunked files, so the next save reads none of them', async () => {
    const source = path.join(base, 'source')
    mkdirSync(path.join(source, 'out'), { recursive: true })
    const names = ['large.bin', ...Array.from({ length: 2000 }, (_, i) => `f${i}.txt`)]
    for (let i = 0; i < 2000; i++) {
      const at = path.join(source, 'out', `f${i}.txt`)
      writeFileSync(at, `file ${i}\n`)
      // Milliseconds of every kind, with sub-millisecond parts of every kind.
      const mtime = 1_700_000_000_000 + i * 7_919 + (i % 1000) + (i % 7) / 7
      utimesSync(at, mtime / 1000, mtime / 1000)
    }
    writeFileSync(path.join(source, 'out', 'large.bin'), seededBytes(3 * 1024 * 1024, 3))
    utimesSync(path.join(source, 'out', 'large.bin'), 1_700_000_000.123, 1_700_000_000.123)
    const saved = await saveEntry({ store, key: 'mtimes', paths: ['out'], workspace: source, readScopes: [SCOPE] })
    if (saved.status !== 'saved') throw new Error(`expected a save, got ${saved.status}`)

    await restoreEntry({ store, key: 'mtimes', paths: ['out'], workspace, readScopes: [SCOPE] })
    // What a save compares: whole milliseconds.
    const millisecondsOf = (root: string) =>
      names.map(name => Math.floor(lstatSync(path.join(root, 'out', name)).mtimeMs))
    expect(millisecondsOf(workspace)).toEqual(millisecondsOf(source))

    const again = await saveEntry({
      store,
      key: 'mtimes-2',
      paths: ['out'],
      workspace,
      readScopes: [SCOPE],
      baseTrees: [saved.tree]
    })
    if (again.status !== 'saved') throw new Error(`expected a save, got ${again.status}`)
    expect(again.stats.filesUnchanged).toBe(again.stats.files)
    expect(again.tree).toBe(saved.tree)
  })
})
