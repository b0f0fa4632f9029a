import { zstdCompressSync, zstdDecompressSync } from 'node:zlib'
import { IntegrityError } from '../../src/core/errors.js'
import { decodeManifest, encodeManifest, MANIFEST_SCHEMA, treeDigest, validateManifest, type Manifest } from '../../src/core/store/manifest.js'

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
    const changedContent = manifest({ blobs: { d2: ['pack1', 0, 5, 5, 0] } })
    changedContent.entries[1].blobs = ['d2']
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
    expect(() => validateManifest(manifest({ schema: 'artifact-action/manifest@9' }))).toThrow(/unknown manifest schema.*newer artifact-action/)
  })

  it('places a blob inside its shared frame, and refuses one that lies outside it', () => {
    expect(() => validateManifest(manifest({ blobs: { [D1]: ['pack1', 0, 40, 5, 2, 95, 100] } }))).not.toThrow()
    expect(() => validateManifest(manifest({ blobs: { [D1]: ['pack1', 0, 40, 5, 2, 96, 100] } }))).toThrow(/malformed/)
    expect(() => validateManifest(manifest({ blobs: { [D1]: ['pack1', 0, 4, 5, 0] } }))).toThrow(/malformed/)
    expect(() => validateManifest(manifest({ blobs: { [D1]: ['pack1', -1, 5, 5, 0] } }))).toThrow(/malformed/)
    // A frame too large to decompress safely, whatever the blob inside it.
    expect(() => validateManifest(manifest({ blobs: { [D1]: ['pack1', 0, 40, 5, 2, 0, 2 ** 40] } }))).toThrow(/malformed/)
  })

  it('stores each digest once, and refuses a stored manifest whose indexes point nowhere', () => {
    const digest = 'ab'.repeat(32)
    const shared = manifest({
      entries: [
        { root: 0, path: '', type: 'dir', mode: 0o755 },
        { root: 0, path: 'a.txt', type: 'file', mode: 0o644, size: 5, blobs: [digest] },
        { root: 0, path: 'b.txt', type: 'file', mode: 0o644, size: 5, blobs: [digest] }
      ],
      blobs: { [digest]: ['pack1', 0, 40, 5, 2, 0, 5] }
    })
    const encoded = encodeManifest(shared)
    const stored = JSON.parse(zstdDecompressSync(encoded).toString('utf8'))
    expect(stored.digests).toEqual([digest])
    expect(stored.entries[2].blobs).toEqual([0])
    expect(JSON.stringify(stored).split(digest).length - 1).toBe(1)
    expect(decodeManifest(encoded, treeDigest(shared))).toEqual(shared)

    stored.entries[2].blobs = [1]
    const broken = zstdCompressSync(Buffer.from(JSON.stringify(stored)))
    expect(() => decodeManifest(broken, treeDigest(shared))).toThrow(/unreadable/)
  })

  it('stores a blob that follows the previous one in its frame as just its size', () => {
    const [first, second, third] = ['a1', 'b2', 'c3'].map(prefix => prefix.repeat(32))
    const framed = manifest({
      entries: [
        { root: 0, path: '', type: 'dir', mode: 0o755 },
        { root: 0, path: 'z.txt', type: 'file', mode: 0o644, size: 5, blobs: [second] },
        { root: 0, path: 'a.txt', type: 'file', mode: 0o644, size: 7, blobs: [first] },
        { root: 0, path: 'm.txt', type: 'file', mode: 0o644, size: 3, blobs: [third] }
      ],
      blobs: { [second]: ['pack1', 100, 40, 5, 2, 0, 15], [first]: ['pack1', 100, 40, 7, 2, 5, 15], [third]: ['pack2', 0, 3, 3, 0] }
    })
    const encoded = encodeManifest(framed)
    const stored = JSON.parse(zstdDecompressSync(encoded).toString('utf8'))
    expect(stored.digests).toEqual([second, first, third])
    expect(stored.locations).toEqual([[0, 100, 40, 5, 2, 0, 15], [7], [1, 0, 3, 3, 0]])
    expect(decodeManifest(encoded, treeDigest(framed))).toEqual(framed)

    stored.locations = [[7], [0, 100, 40, 5, 2, 0, 15], [1, 0, 3, 3, 0]]
    expect(() => decodeManifest(zstdCompressSync(Buffer.from(JSON.stringify(stored))), treeDigest(framed))).toThrow(/unreadable/)
  })
})
