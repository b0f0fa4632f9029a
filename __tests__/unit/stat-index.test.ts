import {
  linkSync,
  lstatSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  utimesSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import fc from 'fast-check'
import { statIndexDir } from '../../src/config/step-core.js'
import { restoreEntry, saveEntry, type RestoreResult } from '../../src/core/cache/checkpoint-cache.js'
import { PathColumn } from '../../src/core/manifest/path-column.js'
import { futimesSeconds } from '../../src/core/store/file-times.js'
import { FsStore } from '../../src/core/store/fs-store.js'
import {
  packStatIndex,
  racyWindowNs,
  StatIndex,
  StatIndexBuilder,
  statIndexFile,
  unpackStatIndex
} from '../../src/core/store/stat-index.js'
import { describeTree, makeBuildTree } from '../helpers/trees.js'

const MAIN = ['branch/main']

function stats(result: RestoreResult) {
  if (result.status !== 'found' || !result.stats) throw new Error(`expected a restore, got ${result.status}`)
  return result.stats
}

/** Waits until the files below `root` changed longer ago than the racy window, so that a restore records them. */
async function pastRacyWindow(root: string): Promise<void> {
  const ctime = lstatSync(path.join(root, 'tool.sh'), { bigint: true }).ctimeNs
  await new Promise(resolve => setTimeout(resolve, Number(racyWindowNs(ctime) / 1_000_000n) + 50))
}

/** A manifest's paths column of one file, as records name it. */
const toolSh = PathColumn.of(['tool.sh'])

describe('the stat index of a restore target', () => {
  let base: string
  let store: FsStore
  let source: string
  let expected: string[]

  beforeAll(async () => {
    base = mkdtempSync(path.join(tmpdir(), 'stat-index-'))
    store = new FsStore(path.join(base, 'store'))
    source = path.join(base, 'source')
    await makeBuildTree(path.join(source, 'out'), { smallFiles: 60, largeBytes: 3 * 1024 * 1024 })
    await saveEntry({ store, key: 'v1', paths: ['out'], workspace: source, readScopes: MAIN })
    expected = await describeTree(path.join(source, 'out'))
  })

  afterAll(() => rmSync(base, { recursive: true, force: true }))

  const restore = async (workspace: string, statIndex: string | undefined) =>
    stats(await restoreEntry({ store, key: 'v1', paths: ['out'], workspace, readScopes: MAIN, statIndex }))

  /** A target restored, then verified by hashing once the racy window passed: its index vouches for every file. */
  const indexedTarget = async (name: string): Promise<{ target: string; folder: string }> => {
    const target = path.join(base, name)
    const folder = path.join(base, `${name}-index`)
    expect(await restore(target, folder)).toMatchObject({ filesUnchanged: 0, filesTrusted: 0 })
    await pastRacyWindow(path.join(target, 'out'))
    // Files written within the racy window before the first restore looked at them are hashed now.
    const verified = await restore(target, folder)
    expect(verified.filesUnchanged).toBe(verified.files)
    return { target, folder }
  }

  it('lets a restore over the previous one take every unchanged file as it is, without reading it', async () => {
    const { target, folder } = await indexedTarget('same')
    const again = await restore(target, folder)
    expect(again).toMatchObject({ filesUnchanged: again.files, filesTrusted: again.files, bytesDownloaded: 0 })
    expect(await describeTree(path.join(target, 'out'))).toEqual(expected)
    // Without the index every file is read again.
    expect(await restore(target, undefined)).toMatchObject({ filesUnchanged: again.files, filesTrusted: 0 })
  })

  it('restores a file rewritten with its size and mtime kept: its ctime changed', async () => {
    const { target, folder } = await indexedTarget('rewritten')
    const file = path.join(target, 'out', 'pkg5', 'mod5', 'file5.js')
    const before = lstatSync(file, { bigint: true })
    writeFileSync(file, readFileSync(file, 'utf8').replace('file 5', 'FILE 5'))
    setMtimeBack(file, before.mtimeMs)
    // Only the ctime tells.
    const after = lstatSync(file, { bigint: true })
    expect([after.ino, after.size, after.mode, after.mtimeNs]).toEqual([
      before.ino,
      before.size,
      before.mode,
      before.mtimeNs
    ])
    expect(after.ctimeNs).not.toBe(before.ctimeNs)
    const over = await restore(target, folder)
    expect(over).toMatchObject({ filesUnchanged: over.files - 1, filesTrusted: over.files - 1 })
    expect(await describeTree(path.join(target, 'out'))).toEqual(expected)
  })

  it('does not take a symlink or a hard-linked file in place of a recorded file', async () => {
    const { target, folder } = await indexedTarget('linked')
    const out = path.join(target, 'out')
    const hardLinked = path.join(out, 'pkg1', 'mod1', 'file1.js')
    linkSync(hardLinked, path.join(base, 'elsewhere.js'))
    const symlinked = path.join(out, 'pkg2', 'mod2', 'file2.js')
    renameSync(symlinked, path.join(base, 'moved.js'))
    symlinkSync(path.join(base, 'moved.js'), symlinked)
    const over = await restore(target, folder)
    expect(over).toMatchObject({ filesUnchanged: over.files - 2, filesTrusted: over.files - 2 })
    expect(await describeTree(out)).toEqual(expected)
    expect(lstatSync(path.join(base, 'elsewhere.js')).nlink).toBe(1)
  })

  it('is not used for other roots, even for the same files', async () => {
    const { target, folder } = await indexedTarget('moved-from')
    const moved = path.join(base, 'moved-to')
    renameSync(target, moved)
    // The index of the old roots under the new roots' name: what it says about its roots is checked.
    const roots = (workspace: string) => [path.join(workspace, 'out')]
    writeFileSync(statIndexFile(folder, roots(moved)), readFileSync(statIndexFile(folder, roots(target))))
    const over = await restore(moved, folder)
    expect(over).toMatchObject({ filesUnchanged: over.files, filesTrusted: 0 })
    expect(await describeTree(path.join(moved, 'out'))).toEqual(expected)
  })

  it('ignores a malformed index and replaces it', async () => {
    const { target, folder } = await indexedTarget('malformed')
    const file = statIndexFile(folder, [path.join(target, 'out')])
    const sound = readFileSync(file)
    const payload = unpackStatIndex(sound)
    const headerLength = payload.readUInt32LE(0)
    const header = JSON.parse(payload.toString('utf8', 4, 4 + headerLength)) as { count: number }
    /** The payload with another header of the same length: one more record than it holds. */
    const recounted = Buffer.from(payload)
    recounted.write(
      JSON.stringify({ ...header, count: header.count + 1 })
        .padEnd(headerLength)
        .slice(0, headerLength),
      4
    )
    const cases: Array<[string, Buffer]> = [
      ['random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) & 0xff))],
      ['empty', Buffer.alloc(0)],
      ['truncated', sound.subarray(0, sound.length >> 1)],
      // The prefix is 'AASTIX01', the payload's sha256 and length (44 bytes); the zstd frame follows.
      ['a flipped bit in the sha256', Buffer.from(sound.map((byte, i) => (i === 8 + 5 ? byte ^ 1 : byte)))],
      ['a flipped bit in the zstd frame', Buffer.from(sound.map((byte, i) => (i === 44 + 1 ? byte ^ 1 : byte)))],
      ['a wrong count', packStatIndex(recounted)],
      ['an extra byte', packStatIndex(Buffer.concat([payload, Buffer.from([0])]))]
    ]
    for (const [what, bytes] of cases) {
      writeFileSync(file, bytes)
      expect(() => StatIndex.parse(bytes, [path.join(target, 'out')])).toThrow()
      const over = await restore(target, folder)
      expect({ what, ...over }).toMatchObject({ what, filesUnchanged: over.files, filesTrusted: 0 })
      expect(await describeTree(path.join(target, 'out'))).toEqual(expected)
    }
    // Each restore wrote a sound one again.
    expect(await restore(target, folder)).toMatchObject({ filesTrusted: expected.filter(isFile).length })
  })

  it('refuses a whole index with a path that leaves its root', async () => {
    const { target } = await indexedTarget('escape')
    const roots = [path.join(target, 'out')]
    const stat = lstatSync(path.join(target, 'out', 'tool.sh'), { bigint: true })
    const stamp = stat.ctimeNs + 10_000_000_000n
    for (const relative of ['../escape', 'a/../../b', '/etc/passwd', 'a//b', 'a\0b']) {
      // Made whole, as no manifest could hold a NUL: the index must refuse what a writer of its file could put there.
      const text = Buffer.from(`tool.sh\0${relative}`)
      const builder = new StatIndexBuilder(new PathColumn(text, Uint32Array.of(0, 8, text.length + 1)))
      builder.add(0, 0, stat, 'ab'.repeat(32), stamp)
      builder.add(0, 1, stat, 'ab'.repeat(32), stamp)
      expect(() => StatIndex.parse(builder.encode(roots), roots)).toThrow()
    }
    const sound = new StatIndexBuilder(toolSh)
    sound.add(0, 0, stat, 'ab'.repeat(32), stamp)
    expect(StatIndex.parse(sound.encode(roots), roots).trusts(0, toolSh, 0, stat, 'ab'.repeat(32))).toBe(true)
  })

  it('leaves out a file changed within the racy window before it was looked at', () => {
    const roots = [path.join(base, 'racy')]
    const stat = lstatSync(path.join(source, 'out', 'tool.sh'), { bigint: true })
    const key = 'cd'.repeat(32)
    const window = racyWindowNs(stat.ctimeNs)
    const indexAt = (stamp: bigint): StatIndex => {
      const builder = new StatIndexBuilder(toolSh)
      builder.add(0, 0, stat, key, stamp)
      return StatIndex.parse(builder.encode(roots), roots)
    }
    // A write later in the same clock tick would leave the ctime as it was.
    expect(indexAt(stat.ctimeNs).trusts(0, toolSh, 0, stat, key)).toBe(false)
    expect(indexAt(stat.ctimeNs + window - 1n).trusts(0, toolSh, 0, stat, key)).toBe(false)
    expect(indexAt(stat.ctimeNs + window).trusts(0, toolSh, 0, stat, key)).toBe(true)
    expect(indexAt(stat.ctimeNs + window).trusts(0, toolSh, 0, stat, 'ce'.repeat(32))).toBe(false)
  })

  it('never makes a restore differ from the manifest, whatever its bytes say', async () => {
    const { target, folder } = await indexedTarget('property')
    const out = path.join(target, 'out')
    const file = statIndexFile(folder, [out])
    const sound = readFileSync(file)
    const payload = unpackStatIndex(sound)
    const changed = path.join(out, 'pkg3', 'mod3', 'file3.js')
    const edits = fc.array(fc.record({ at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }), {
      minLength: 1,
      maxLength: 8
    })
    await fc.assert(
      fc.asyncProperty(edits, fc.boolean(), fc.option(fc.nat()), async (changes, repack, cut) => {
        // A file of other content with its size and mtime kept, as after the index was written.
        const { mtimeMs } = lstatSync(changed, { bigint: true })
        writeFileSync(changed, readFileSync(changed, 'utf8').replace('file 3', 'FILE 3'))
        setMtimeBack(changed, mtimeMs)
        // Edits of the records with a sound envelope, or of the file's bytes as they are.
        const edited = Buffer.from(repack ? payload : sound)
        for (const { at, byte } of changes) edited[at % edited.length] = byte
        const packed = repack ? packStatIndex(edited) : edited
        writeFileSync(file, cut === null ? packed : packed.subarray(0, cut % (packed.length + 1)))
        await restore(target, folder)
        expect(await describeTree(out)).toEqual(expected)
      }),
      { numRuns: 40 }
    )
  })

  it('is quietly left out where its folder cannot be made', async () => {
    const blocker = path.join(base, 'not-a-folder')
    writeFileSync(blocker, 'a file where the folder would be\n')
    const target = path.join(base, 'no-folder')
    await restore(target, path.join(blocker, 'stat-index'))
    await pastRacyWindow(path.join(target, 'out'))
    const over = await restore(target, path.join(blocker, 'stat-index'))
    expect(over).toMatchObject({ filesUnchanged: over.files, filesTrusted: 0 })
    expect(await describeTree(path.join(target, 'out'))).toEqual(expected)
    expect(readdirSync(base).filter(name => name.endsWith('.tmp'))).toEqual([])
  })
})

/** Sets a file's mtime to the whole millisecond as a restore sets it, to the nanosecond. */
function setMtimeBack(file: string, mtimeMs: bigint): void {
  const seconds = futimesSeconds(Number(mtimeMs))
  utimesSync(file, seconds, seconds)
}

function isFile(line: string): boolean {
  return line.split(' ')[1] === 'file'
}

describe('where the action and the CLI keep stat indexes', () => {
  test('in the user cache folder, and nowhere on a GitHub-hosted runner', () => {
    expect(statIndexDir({ XDG_CACHE_HOME: '/x/cache' })).toBe(path.join('/x/cache', 'artifact-action', 'stat-index'))
    expect(statIndexDir({ XDG_CACHE_HOME: '/x/cache', RUNNER_ENVIRONMENT: 'self-hosted' })).toBe(
      path.join('/x/cache', 'artifact-action', 'stat-index')
    )
    expect(statIndexDir({ XDG_CACHE_HOME: '/x/cache', RUNNER_ENVIRONMENT: 'github-hosted' })).toBeUndefined()
  })
})

describe('the stat index as records', () => {
  // A regular file of one link, as the index records.
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'stat-index-records-')), 'file')
  writeFileSync(file, 'recorded\n')
  const stat = lstatSync(file, { bigint: true })
  afterAll(() => rmSync(path.dirname(file), { recursive: true, force: true }))
  const stamp = stat.ctimeNs + 10_000_000_000n
  const roots = ['/work/a', '/work/b']
  const keyOf = (n: number): string => n.toString(16).padStart(64, '0')
  const segment = fc.stringMatching(/^[a-zA-Z0-9_é☃-]{1,6}$/).filter(name => name !== '.' && name !== '..')
  const relative = fc.array(segment, { minLength: 1, maxLength: 3 }).map(parts => parts.join('/'))

  it('finds exactly the paths it records, in their root, with their key', () => {
    const records = fc.uniqueArray(fc.record({ root: fc.integer({ min: 0, max: 1 }), path: relative }), {
      selector: ({ root, path }) => `${root}\0${path}`,
      maxLength: 200
    })
    fc.assert(
      fc.property(records, fc.array(relative, { maxLength: 20 }), (recorded, others) => {
        const paths = PathColumn.of(recorded.map(({ path }) => path))
        const builder = new StatIndexBuilder(paths, 4)
        recorded.forEach(({ root }, n) => builder.add(root, n, stat, keyOf(n), stamp))
        const index = StatIndex.parse(builder.encode(roots), roots)
        recorded.forEach(({ root }, n) => {
          expect(index.trusts(root, paths, n, stat, keyOf(n))).toBe(true)
          expect(index.trusts(root, paths, n, stat, keyOf(n + 1))).toBe(false)
        })
        const known = new Set(recorded.map(({ root, path }) => `${root}\0${path}`))
        const otherPaths = PathColumn.of(others)
        others.forEach((path, k) => {
          for (const root of [0, 1])
            if (!known.has(`${root}\0${path}`)) expect(index.trusts(root, otherPaths, k, stat, keyOf(0))).toBe(false)
        })
      })
    )
  })

  it('refuses a whole index that lists a path twice in one root, but not in two roots', () => {
    const paths = PathColumn.of(['a/b.js', 'a/b.js'])
    const twice = new StatIndexBuilder(paths)
    twice.add(0, 0, stat, keyOf(1), stamp)
    twice.add(0, 1, stat, keyOf(2), stamp)
    expect(() => StatIndex.parse(twice.encode(roots), roots)).toThrow()
    const both = new StatIndexBuilder(paths)
    both.add(0, 0, stat, keyOf(1), stamp)
    both.add(1, 1, stat, keyOf(2), stamp)
    const index = StatIndex.parse(both.encode(roots), roots)
    expect(index.trusts(1, paths, 1, stat, keyOf(2))).toBe(true)
    expect(index.trusts(0, paths, 0, stat, keyOf(2))).toBe(false)
  })
})
