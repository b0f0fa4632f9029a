import { zstdCompressSync, zstdDecompressSync } from 'node:zlib'
import { IntegrityError } from '../../src/core/errors.js'
import { decodeManifest, encodeManifest, sealManifest, treeDigest } from '../../src/core/manifest/encoding.js'
import { MANIFEST_SCHEMA, type Manifest } from '../../src/core/manifest/model.js'
import { comparePaths } from '../../src/core/manifest/path-column.js'
import { validateManifest } from '../../src/core/manifest/validate.js'

const D1 = 'd1'.repeat(32)

function manifest(overrides: Partial<Manifest> = {}): Manifest {
  return {
    schema: MANIFEST_SCHEMA,
    roots: ['build'],
    entries: [
      { root: 0, path: '', type: 'dir', mode: 0o755 },
      { root: 0, path: 'a.txt', type: 'file', mode: 0o644, size: 5, blobs: [D1] },
      { root: 0, path: 'link', type: 'symlink', mode: 0o777, target: 'a.txt' }
    ],
    blobs: { [D1]: ['pack1', 0, 5, 5, 0] },
    ...overrides
  }
}

describe('manifest', () => {
  it('has a tree digest that ignores where the bytes are stored', () => {
    const a = manifest()
    const b = manifest({ blobs: { [D1]: ['another-pack', 4096, 3, 5, 1] } })
    expect(treeDigest(a)).toBe(treeDigest(b))
    expect(treeDigest(a)).toMatch(/^[0-9a-f]{64}$/)
  })

  it('changes its digest when content, mode or a path changes', () => {
    const base = treeDigest(manifest())
    const changedMode = manifest()
    changedMode.entries[1].mode = 0o755
    const changedPath = manifest()
    changedPath.entries[1].path = 'b.txt'
    const changedContent = manifest({ blobs: { ['d2'.repeat(32)]: ['pack1', 0, 5, 5, 0] } })
    changedContent.entries[1].blobs = ['d2'.repeat(32)]
    for (const other of [changedMode, changedPath, changedContent]) expect(treeDigest(other)).not.toBe(base)
  })

  it('round-trips through its stored form and rejects a tampered copy', () => {
    const original = manifest()
    const digest = treeDigest(original)
    expect(decodeManifest(encodeManifest(original), digest)).toEqual(original)
    const tampered = manifest()
    tampered.entries[1].mode = 0o4755
    expect(() => decodeManifest(encodeManifest(tampered), digest)).toThrow(IntegrityError)
  })

  it.each([['../escape'], ['/etc/passwd'], ['a/../../b'], ['a//b'], ['./a']])('refuses the unsafe path %s', unsafe => {
    const bad = manifest()
    bad.entries[1].path = unsafe
    expect(() => validateManifest(bad)).toThrow(/unsafe/)
  })

  it('refuses a path below a symlink of the same tree', () => {
    const bad = manifest()
    bad.entries.push({ root: 0, path: 'link/passwd', type: 'file', mode: 0o644, size: 5, blobs: [D1] })
    expect(() => validateManifest(bad)).toThrow(/below a symlink/)
  })

  it('refuses sizes that do not add up', () => {
    const bad = manifest()
    bad.entries[1].size = 6
    expect(() => validateManifest(bad)).toThrow(/do not add up/)
  })

  it('reads @1 manifests, which have no shared frames, and refuses an unknown schema', () => {
    const old = manifest({ schema: 'artifact-action/manifest@1' })
    expect(decodeManifest(encodeManifest(old), treeDigest(old))).toEqual(old)
    const framed = manifest({ schema: 'artifact-action/manifest@1', blobs: { [D1]: ['pack1', 0, 40, 5, 2, 0, 5] } })
    expect(() => validateManifest(framed)).toThrow(/malformed/)
    expect(() => validateManifest(manifest({ schema: 'artifact-action/manifest@9' }))).toThrow(
      /unknown manifest schema.*newer artifact-action/
    )
  })

  it('places a blob inside its shared frame, and refuses one that lies outside it', () => {
    expect(() => validateManifest(manifest({ blobs: { [D1]: ['pack1', 0, 40, 5, 2, 95, 100] } }))).not.toThrow()
    expect(() => validateManifest(manifest({ blobs: { [D1]: ['pack1', 0, 40, 5, 2, 96, 100] } }))).toThrow(/malformed/)
    expect(() => validateManifest(manifest({ blobs: { [D1]: ['pack1', 0, 4, 5, 0] } }))).toThrow(/malformed/)
    expect(() => validateManifest(manifest({ blobs: { [D1]: ['pack1', -1, 5, 5, 0] } }))).toThrow(/malformed/)
    // A frame too large to decompress safely, whatever the blob inside it.
    expect(() => validateManifest(manifest({ blobs: { [D1]: ['pack1', 0, 40, 5, 2, 0, 2 ** 40] } }))).toThrow(
      /malformed/
    )
  })

  it('refuses a path below a symlink at any depth, and allows one beside it', () => {
    const deep = manifest()
    deep.entries.push({ root: 0, path: 'dir/sub/deeper/x', type: 'file', mode: 0o644, size: 5, blobs: [D1] })
    deep.entries.push({ root: 0, path: 'dir/sub', type: 'symlink', mode: 0o777, target: '/etc' })
    expect(() => validateManifest(deep)).toThrow(/dir\/sub\/deeper\/x.*below a symlink/)
    const beside = manifest()
    beside.entries.push({ root: 0, path: 'linked/x', type: 'file', mode: 0o644, size: 5, blobs: [D1] })
    beside.entries.push({ root: 1, path: 'link/x', type: 'file', mode: 0o644, size: 5, blobs: [D1] })
    beside.roots.push('other')
    expect(() => validateManifest(beside)).not.toThrow()
  })

  it('refuses a path listed twice in one root, in walk order or any other, and allows it in two roots', () => {
    const ordered = manifest()
    ordered.entries.splice(2, 0, { root: 0, path: 'a.txt', type: 'dir', mode: 0o755 })
    expect(() => validateManifest(ordered)).toThrow(/"a.txt" is listed twice/)
    const shuffled = manifest()
    shuffled.entries.push({ root: 0, path: 'a.txt', type: 'symlink', mode: 0o777, target: '/etc' })
    expect(() => validateManifest(shuffled)).toThrow(/"a.txt" is listed twice/)
    const twoRoots = manifest({ roots: ['build', 'other'] })
    twoRoots.entries.push({ root: 1, path: 'a.txt', type: 'file', mode: 0o644, size: 5, blobs: [D1] })
    expect(() => validateManifest(twoRoots)).not.toThrow()
  })

  it('refuses entries below a file, and below a root that is a symlink or a file', () => {
    const belowFile = manifest()
    belowFile.entries.push({ root: 0, path: 'a.txt/x', type: 'dir', mode: 0o755 })
    expect(() => validateManifest(belowFile)).toThrow(/"a.txt\/x" lies below a file \("a.txt"\)/)
    const linkRoot = manifest()
    linkRoot.entries[0] = { root: 0, path: '', type: 'symlink', mode: 0o777, target: '/' }
    expect(() => validateManifest(linkRoot)).toThrow(/"a.txt" lies below a symlink \(""\)/)
    const lone = manifest({ entries: [{ root: 0, path: '', type: 'symlink', mode: 0o777, target: '../elsewhere' }] })
    expect(() => validateManifest(lone)).not.toThrow()
  })

  it('refuses a mode with file-type bits, an empty symlink target and an empty root', () => {
    const typed = manifest()
    typed.entries[1].mode = 0o100644
    expect(() => validateManifest(typed)).toThrow(/mode of "a.txt" is not a permission mode/)
    const setuid = manifest()
    setuid.entries[1].mode = 0o4755
    expect(() => validateManifest(setuid)).not.toThrow()
    const emptyTarget = manifest()
    emptyTarget.entries[2].target = ''
    expect(() => validateManifest(emptyTarget)).toThrow(/empty target/)
    expect(() => validateManifest(manifest({ roots: [''] }))).toThrow(/manifest root "" is not a path/)
  })

  it('orders paths as a walk lists them: name by name, a folder before what it holds', () => {
    const walked = ['', 'a', 'a/b', 'a/b/c', 'a-c', 'a.txt', 'ab', 'b', 'é']
    expect([...walked].reverse().sort(comparePaths)).toEqual(walked)
    expect(comparePaths('a', 'a')).toBe(0)
  })

  it('stores columns: each digest once as 32 bytes, mtimes and locations outside the digest', () => {
    const digest = 'ab'.repeat(32)
    const shared = manifest({
      roots: ['build', '~/.cache/ü'],
      entries: [
        { root: 0, path: '', type: 'dir', mode: 0o755 },
        { root: 0, path: 'a.txt', type: 'file', mode: 0o644, size: 5, blobs: [digest], mtime: 1700000000123 },
        { root: 0, path: 'b/ünïcode.txt', type: 'file', mode: 0o600, size: 5, blobs: [digest] },
        { root: 0, path: 'empty', type: 'file', mode: 0o644, size: 0, blobs: [] },
        {
          root: 1,
          path: 'big',
          type: 'file',
          mode: 0o755,
          size: 2 ** 33 + 5,
          blobs: [...Array<string>(32).fill(D1), digest]
        },
        { root: 1, path: 'link', type: 'symlink', mode: 0o777, target: '../a.txt' }
      ],
      blobs: { [digest]: ['pack1', 0, 40, 5, 2, 0, 5], [D1]: ['chunk1', 0, 2 ** 28, 2 ** 28, 0] }
    })
    const encoded = encodeManifest(shared)
    const raw = zstdDecompressSync(encoded)
    expect(raw.subarray(0, 4).toString('latin1')).toBe('AAM3')
    expect(countOf(raw, Buffer.from(digest, 'hex'))).toBe(1)
    expect(countOf(raw, Buffer.from(digest))).toBe(0)
    expect(decodeManifest(encoded, treeDigest(shared))).toEqual(shared)
    expect(sealManifest(shared)).toEqual({ digest: treeDigest(shared), encoded })

    const touched = structuredClone(shared)
    touched.entries[1].mtime = 1800000000000
    touched.blobs[digest] = ['pack9', 4096, 40, 5, 2, 0, 5]
    expect(treeDigest(touched)).toBe(treeDigest(shared))
  })

  it('refuses columnar bytes that are tampered with or cut short', () => {
    const original = manifest()
    const digest = treeDigest(original)
    const raw = zstdDecompressSync(encodeManifest(original))
    const modeAt = raw.indexOf(Buffer.from(new Uint32Array([0o755, 0o644, 0o777]).buffer))
    expect(modeAt).toBeGreaterThan(0)
    const setuid = Buffer.from(raw)
    setuid.writeUInt32LE(0o4755, modeAt + 4)
    expect(() => decodeManifest(zstdCompressSync(setuid), digest)).toThrow(/does not match its digest/)
    for (const cut of [raw.length - 1, 12, 6]) {
      expect(() => decodeManifest(zstdCompressSync(raw.subarray(0, cut)), digest)).toThrow(/unreadable/)
    }
    const nowhere = Buffer.from(raw)
    // The last columns: the one blob's object index (4 bytes, padded to 8), then its codec (1 byte).
    nowhere.writeUInt32LE(7, nowhere.length - 9)
    expect(() => decodeManifest(zstdCompressSync(nowhere), digest)).toThrow(/unreadable/)
    expect(() => decodeManifest(Buffer.from('not zstd'), digest)).toThrow(/unreadable/)
  })

  it('reads @2 manifests: digests stored once, and a blob that follows the previous one in its frame as just its size', () => {
    const [first, second, third] = ['a1', 'b2', 'c3'].map(prefix => prefix.repeat(32))
    const expected = manifest({
      schema: 'artifact-action/manifest@2',
      entries: [
        { root: 0, path: '', type: 'dir', mode: 0o755 },
        { root: 0, path: 'z.txt', type: 'file', mode: 0o644, size: 5, blobs: [second] },
        { root: 0, path: 'a.txt', type: 'file', mode: 0o644, size: 7, blobs: [first] },
        { root: 0, path: 'a2.txt', type: 'file', mode: 0o644, size: 7, blobs: [first] },
        { root: 0, path: 'm.txt', type: 'file', mode: 0o644, size: 3, blobs: [third] }
      ],
      blobs: {
        [second]: ['pack1', 100, 40, 5, 2, 0, 15],
        [first]: ['pack1', 100, 40, 7, 2, 5, 15],
        [third]: ['pack2', 0, 3, 3, 0]
      }
    })
    const stored = {
      schema: 'artifact-action/manifest@2',
      roots: ['build'],
      entries: expected.entries.map(entry =>
        entry.blobs ? { ...entry, blobs: entry.blobs.map(digest => [second, first, third].indexOf(digest)) } : entry
      ),
      objects: ['pack1', 'pack2'],
      digests: [second, first, third],
      locations: [[0, 100, 40, 5, 2, 0, 15], [7], [1, 0, 3, 3, 0]]
    }
    const compressed = (value: unknown) => zstdCompressSync(Buffer.from(JSON.stringify(value)))
    const digest = treeDigest(expected)
    expect(decodeManifest(compressed(stored), digest)).toEqual(expected)

    expect(() =>
      decodeManifest(compressed({ ...stored, locations: [[7], [0, 100, 40, 5, 2, 0, 15], [1, 0, 3, 3, 0]] }), digest)
    ).toThrow(/unreadable/)
    const pointsNowhere = structuredClone(stored)
    pointsNowhere.entries[2].blobs = [3]
    expect(() => decodeManifest(compressed(pointsNowhere), digest)).toThrow(/unreadable/)
  })
})

function countOf(haystack: Buffer, needle: Buffer): number {
  let count = 0
  for (let at = haystack.indexOf(needle); at >= 0; at = haystack.indexOf(needle, at + 1)) count++
  return count
}
