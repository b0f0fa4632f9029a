import {
  appendFileSync,
  chmodSync,
  cpSync,
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { restoreEntry, saveEntry, type RestoreResult, type SaveResult } from '../../src/core/cache/checkpoint-cache.js'
import { FsStore } from '../../src/core/store/fs-store.js'
import { runActionFromSource, runCliFromSource } from '../helpers/source-runner.js'
import { describeTree, makeBuildTree } from '../helpers/trees.js'

const MAIN = ['branch/main']

function saved(result: SaveResult): Extract<SaveResult, { status: 'saved' }> {
  if (result.status !== 'saved') throw new Error(`expected a save, got ${result.status}`)
  return result
}

function stats(result: RestoreResult) {
  if (result.status !== 'found' || !result.stats) throw new Error(`expected a restore, got ${result.status}`)
  return result.stats
}

describe('a restore over a target that holds an earlier version of the tree', () => {
  it('fetches and writes only the files that differ, and removes the rest only for an exact mirror', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'over-target-'))
    const store = new FsStore(path.join(base, 'store'))
    const source = path.join(base, 'source')
    const out = (root: string, ...names: string[]): string => path.join(root, 'out', ...names)
    await makeBuildTree(out(source), { smallFiles: 300, largeBytes: 3 * 1024 * 1024 })
    const first = saved(await saveEntry({ store, key: 'v1', paths: ['out'], workspace: source, readScopes: MAIN }))

    // The target holds version 1, as an earlier restore left it.
    const target = path.join(base, 'target')
    expect(
      stats(await restoreEntry({ store, key: 'v1', paths: ['out'], workspace: target, readScopes: MAIN }))
        .filesUnchanged
    ).toBe(0)

    // Version 2: ten files change, one changes mode, two go, two come, the large log grows.
    for (let i = 0; i < 300; i += 30)
      appendFileSync(out(source, `pkg${i % 10}`, `mod${i % 7}`, `file${i}.js`), '// v2\n')
    chmodSync(out(source, 'pkg1', 'mod1', 'file1.js'), 0o600)
    rmSync(out(source, 'pkg2', 'mod2', 'file2.js'))
    rmSync(out(source, 'pkg3', 'mod3', 'file3.js'))
    writeFileSync(out(source, 'pkg4', 'new-a.js'), 'new a\n')
    writeFileSync(out(source, 'pkg4', 'new-b.js'), 'new b\n')
    appendFileSync(out(source, 'large-text.log'), 'appended\n'.repeat(1000))
    saved(
      await saveEntry({
        store,
        key: 'v2',
        paths: ['out'],
        workspace: source,
        readScopes: MAIN,
        baseTrees: [first.tree]
      })
    )

    // Meanwhile the target drifted: a file has other bytes of the same size and mtime (only its
    // sha256 tells), and files and folders the tree does not have appeared.
    const same = out(target, 'pkg5', 'mod5', 'file5.js')
    const { mtime } = lstatSync(same)
    writeFileSync(same, readFileSync(same, 'utf8').replace('file 5', 'FILE 5'))
    utimesSync(same, mtime, mtime)
    writeFileSync(out(target, 'untracked.txt'), 'left by a build\n')
    mkdirSync(out(target, 'pkg6', 'untracked-dir', 'inner'), { recursive: true })
    symlinkSync('/nonexistent', out(target, 'pkg6', 'untracked-link'))
    const mirror = path.join(base, 'mirror')
    cpSync(target, mirror, { recursive: true, verbatimSymlinks: true, preserveTimestamps: true })

    const over = stats(await restoreEntry({ store, key: 'v2', paths: ['out'], workspace: target, readScopes: MAIN }))
    const expected = await describeTree(out(source))
    // What the tree no longer has, and what it never had, is left as it was.
    const left = ['pkg2/mod2/file2.js', 'pkg3/mod3/file3.js', 'pkg6/untracked-dir', 'pkg6/untracked-dir/inner']
    left.push('pkg6/untracked-link', 'untracked.txt')
    const pathOf = (line: string): string => line.split(' ')[0]
    const described = await describeTree(out(target))
    expect(described.filter(line => !left.includes(pathOf(line)))).toEqual(expected)
    expect(described.filter(line => left.includes(pathOf(line))).map(pathOf)).toEqual([...left].sort())
    // Unchanged: all but the ten changed, the one of another mode, the two new, the drifted one and the grown log.
    expect(over.filesUnchanged).toBe(over.files - 15)
    expect(over.bytesDownloaded).toBeLessThan(over.treeBytes / 10)

    const exact = stats(
      await restoreEntry({ store, key: 'v2', paths: ['out'], workspace: mirror, readScopes: MAIN, exactMirror: true })
    )
    expect(await describeTree(out(mirror))).toEqual(expected)
    expect(exact.filesUnchanged).toBe(over.filesUnchanged)

    // Restored again over itself, nothing is fetched or written.
    const again = stats(
      await restoreEntry({ store, key: 'v2', paths: ['out'], workspace: mirror, readScopes: MAIN, exactMirror: true })
    )
    expect(again).toMatchObject({ filesUnchanged: again.files, bytesDownloaded: 0 })
    rmSync(base, { recursive: true, force: true })
  })

  it('writes a new file in place of a hard link that holds the same bytes, mode and mtime', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'over-link-'))
    const store = new FsStore(path.join(base, 'store'))
    const source = path.join(base, 'source')
    mkdirSync(path.join(source, 'out'), { recursive: true })
    writeFileSync(path.join(source, 'out', 'same.txt'), 'same bytes\n')
    saved(await saveEntry({ store, key: 'v1', paths: ['out'], workspace: source, readScopes: MAIN }))
    // Outside the target, a file like the saved one; in the target, a hard link to it.
    const outside = path.join(base, 'outside.txt')
    cpSync(path.join(source, 'out', 'same.txt'), outside, { preserveTimestamps: true })
    const target = path.join(base, 'target')
    mkdirSync(path.join(target, 'out'), { recursive: true })
    linkSync(outside, path.join(target, 'out', 'same.txt'))

    const over = stats(await restoreEntry({ store, key: 'v1', paths: ['out'], workspace: target, readScopes: MAIN }))
    expect(over.filesUnchanged).toBe(0)
    expect(lstatSync(path.join(target, 'out', 'same.txt')).nlink).toBe(1)
    expect(lstatSync(outside).nlink).toBe(1)
    expect(readFileSync(path.join(target, 'out', 'same.txt'), 'utf8')).toBe('same bytes\n')
    rmSync(base, { recursive: true, force: true })
  })

  it("removes, for an exact mirror, only what lies in the tree's directories, never through a link", async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'over-mirror-'))
    const store = new FsStore(path.join(base, 'store'))
    const source = path.join(base, 'source')
    mkdirSync(path.join(source, 'out', 'sub'), { recursive: true })
    writeFileSync(path.join(source, 'out', 'sub', 'kept.txt'), 'kept\n')
    saved(await saveEntry({ store, key: 'v1', paths: ['out'], workspace: source, readScopes: MAIN }))
    const outside = path.join(base, 'outside')
    mkdirSync(path.join(outside, 'inner'), { recursive: true })
    writeFileSync(path.join(outside, 'inner', 'precious.txt'), 'precious\n')
    const target = path.join(base, 'target')
    mkdirSync(path.join(target, 'out', 'sub'), { recursive: true })
    writeFileSync(path.join(target, 'beside.txt'), 'beside the root\n')
    symlinkSync(outside, path.join(target, 'out', 'sub', 'to-outside'))
    mkdirSync(path.join(target, 'out', 'stale', 'deeper'), { recursive: true })
    symlinkSync(path.join(outside, 'inner'), path.join(target, 'out', 'stale', 'deeper', 'link'))

    await restoreEntry({ store, key: 'v1', paths: ['out'], workspace: target, readScopes: MAIN, exactMirror: true })
    expect(await describeTree(path.join(target, 'out'))).toEqual(await describeTree(path.join(source, 'out')))
    expect(readFileSync(path.join(target, 'beside.txt'), 'utf8')).toBe('beside the root\n')
    expect(readFileSync(path.join(outside, 'inner', 'precious.txt'), 'utf8')).toBe('precious\n')
    rmSync(base, { recursive: true, force: true })
  })

  it('mirrors through the CLI flag --exact-mirror and the restore action input exact-mirror, reporting unchanged files', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'over-entry-'))
    const storeDir = path.join(base, 'store')
    const source = path.join(base, 'source')
    await makeBuildTree(path.join(source, 'out'), { smallFiles: 20, largeBytes: 64 * 1024 })
    saved(
      await saveEntry({ store: new FsStore(storeDir), key: 'k', paths: ['out'], workspace: source, readScopes: MAIN })
    )
    const expected = await describeTree(path.join(source, 'out'))
    const restoreArgs = ['restore', '--store', storeDir, '--key', 'k', '--ref', 'refs/heads/main', 'out']

    const cli = path.join(base, 'cli')
    mkdirSync(cli)
    expect((await runCliFromSource([...restoreArgs, '--workspace', cli])).exitCode).toBe(0)
    writeFileSync(path.join(cli, 'out', 'pkg1', 'extra.txt'), 'extra\n')
    const again = await runCliFromSource([...restoreArgs, '--workspace', cli, '--exact-mirror'])
    expect(again.stdout).toMatch(/: (\d+) files, .*, \1 files unchanged, downloaded 0 B/)
    expect(await describeTree(path.join(cli, 'out'))).toEqual(expected)

    const action = path.join(base, 'action')
    mkdirSync(path.join(action, 'out'), { recursive: true })
    writeFileSync(path.join(action, 'out', 'extra.txt'), 'extra\n')
    const inputs = { path: 'out', key: 'k', store: storeDir, 'exact-mirror': 'true' }
    const step = await runActionFromSource('restore-only', inputs, {
      GITHUB_WORKSPACE: action,
      GITHUB_REF: 'refs/heads/main'
    })
    expect(step.outputs['cache-hit']).toBe('true')
    expect(step.stdout).toMatch(/Cache restored from key: k .*, 0 files unchanged/)
    expect(await describeTree(path.join(action, 'out'))).toEqual(expected)
    rmSync(base, { recursive: true, force: true })
  })
})
