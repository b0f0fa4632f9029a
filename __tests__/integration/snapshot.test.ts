import { appendFile, mkdir, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { sha256Hex } from '../../src/core/store/codec.js'
import { chunkBuffer } from '../../src/core/store/fastcdc.js'
import { FsStore } from '../../src/core/store/fs-store.js'
import { decodeManifest, decodeManifestColumns } from '../../src/core/manifest/encoding.js'
import { Codec, MAX_FRAME_BLOBS } from '../../src/core/manifest/model.js'
import { objectKey } from '../../src/core/cache/cache-layout.js'
import { materializeTree } from '../../src/core/store/materialize.js'
import { snapshotTree, type SnapshotTuning } from '../../src/core/store/snapshot.js'
import { describeTree, seededBytes, tempDir } from '../helpers/trees.js'

/** Saves `dir` into a store in a local folder with `tuning`, and restores it elsewhere; returns the manifest. */
async function roundTrip(dir: string, tuning: Partial<SnapshotTuning> = {}) {
  const store = new FsStore(await tempDir('store'))
  const snapshot = await snapshotTree({ store, roots: [{ spec: 'tree', absolute: dir }], tuning })
  const target = path.join(await tempDir('restore'), 'tree')
  await materializeTree({
    store,
    manifest: decodeManifestColumns(snapshot.encoded, snapshot.digest),
    destinations: [target]
  })
  expect(await describeTree(target)).toEqual(await describeTree(dir))
  return decodeManifest(snapshot.encoded, snapshot.digest)
}

describe('snapshot', () => {
  it('keeps every frame its own bytes while frame buffers are reused, across raw and compressed frames and many packs', async () => {
    const dir = await tempDir('frames')
    // Alternating runs of random (stored raw) and text (compressed) files, so that both kinds of
    // frame are sealed in every pack, and frames of later packs are read into reused buffers.
    for (let i = 0; i < 240; i++) {
      const random = Math.floor(i / 6) % 2 === 0
      const content = random ? seededBytes(9000 + i, i + 1) : Buffer.from(`text file ${i}\n`.repeat(600 + i))
      await writeFile(path.join(dir, `file${String(i).padStart(3, '0')}`), content)
    }
    const manifest = await roundTrip(dir, { frameSize: 32 * 1024, packSize: 128 * 1024 })
    const locations = Object.values(manifest.blobs)
    expect(locations.some(location => location[4] === Codec.raw)).toBe(true)
    expect(locations.some(location => location[4] === Codec.sharedFrame)).toBe(true)
    expect(new Set(locations.map(location => location[0])).size).toBeGreaterThan(10)
  })

  it('stores a large file that grew as its base chunks and a few new ones, cut as a fresh save cuts it', async () => {
    const dir = await tempDir('grown')
    const chunk = { minSize: 64 * 1024, avgSize: 256 * 1024, maxSize: 1024 * 1024 }
    const tuning = { chunk, smallFileLimit: 64 * 1024 }
    const log = path.join(dir, 'build.log')
    await writeFile(log, seededBytes(6 * 1024 * 1024, 21))
    const store = new FsStore(await tempDir('store'))
    const roots = [{ spec: 'tree', absolute: dir }]
    const first = await snapshotTree({ store, roots, tuning })
    await appendFile(log, seededBytes(100 * 1024, 22))

    const grown = await snapshotTree({
      store,
      roots,
      tuning,
      bases: [decodeManifestColumns(first.encoded, first.digest)]
    })
    const fresh = await snapshotTree({ store: new FsStore(await tempDir('store')), roots, tuning })
    expect(grown.digest).toBe(fresh.digest)
    // The last known chunk and the appended bytes: about two chunks of the ~25.
    expect(grown.stats.bytesUploaded).toBeLessThan(1.5 * 1024 * 1024)
    expect(grown.stats.bytesDeduplicated).toBeGreaterThan(4.5 * 1024 * 1024)
    const target = path.join(await tempDir('restore'), 'tree')
    await materializeTree({
      store,
      manifest: decodeManifestColumns(grown.encoded, grown.digest),
      destinations: [target]
    })
    expect(await describeTree(target)).toEqual(await describeTree(dir))
  })

  it('counts objects found in the store as deduplicated, with no base to name them', async () => {
    const dir = await tempDir('stored')
    for (let i = 0; i < 20; i++) await writeFile(path.join(dir, `small${i}`), `small file ${i}\n`.repeat(50))
    await writeFile(path.join(dir, 'large.bin'), seededBytes(3 * 1024 * 1024, 5))
    const store = new FsStore(await tempDir('store'))
    const roots = [{ spec: 'tree', absolute: dir }]
    const chunk = { minSize: 64 * 1024, avgSize: 256 * 1024, maxSize: 1024 * 1024 }
    const tuning = { chunk, smallFileLimit: 64 * 1024 }
    const first = await snapshotTree({ store, roots, tuning })
    expect(first.stats.bytesDeduplicated).toBe(0)

    const again = await snapshotTree({ store, roots, tuning })
    expect(again.digest).toBe(first.digest)
    expect(again.stats.bytesUploaded).toBe(0)
    expect(again.stats.bytesDeduplicated).toBe(again.stats.treeBytes)
    expect(again.reusedObjects.size).toBeGreaterThan(1)
  })

  it('stops asking before each put once the store holds nothing, and still takes a chunk it holds as stored', async () => {
    const dir = await tempDir('cold')
    const text = Buffer.from(Array.from({ length: 200_000 }, (_, i) => `line ${i} of the build log\n`).join(''))
    await writeFile(path.join(dir, 'build.log'), text)
    const chunk = { minSize: 64 * 1024, avgSize: 256 * 1024, maxSize: 1024 * 1024 }
    const chunks = chunkBuffer(text, chunk)
    expect(chunks.length).toBeGreaterThan(12)
    // Another client stored the last chunk raw, where this save would compress it.
    const last = chunks[chunks.length - 1]
    const heads: string[] = []
    const store = new (class extends FsStore {
      override head(key: string) {
        heads.push(key)
        return super.head(key)
      }
    })(await tempDir('store'))
    await store.put(objectKey(sha256Hex(last)), last, { ifNoneMatch: true })

    const snapshot = await snapshotTree({ store, roots: [{ spec: 'tree', absolute: dir }], tuning: { chunk } })
    expect(heads.length).toBeLessThan(chunks.length)
    expect(snapshot.reusedObjects.has(sha256Hex(last))).toBe(true)
    expect(snapshot.stats.bytesDeduplicated).toBe(last.length)
    const manifest = decodeManifest(snapshot.encoded, snapshot.digest)
    expect(manifest.blobs[sha256Hex(last)]).toEqual([sha256Hex(last), 0, last.length, last.length, Codec.raw])
    expect(manifest.blobs[sha256Hex(chunks[0])][4]).toBe(Codec.zstd)
    const target = path.join(await tempDir('restore'), 'tree')
    await materializeTree({
      store,
      manifest: decodeManifestColumns(snapshot.encoded, snapshot.digest),
      destinations: [target]
    })
    expect(await describeTree(target)).toEqual(await describeTree(dir))
  })

  it(`puts at most ${MAX_FRAME_BLOBS} blobs in a shared frame`, async () => {
    const dir = await tempDir('many-tiny')
    for (let d = 0; d < 10; d++) {
      await mkdir(path.join(dir, `d${d}`))
      await Promise.all(
        Array.from({ length: 500 }, (_, i) => writeFile(path.join(dir, `d${d}`, `f${i}`), `${d}/${i}\n`.repeat(4)))
      )
    }
    const manifest = await roundTrip(dir)
    const perFrame = new Map<string, number>()
    for (const location of Object.values(manifest.blobs)) {
      const frame = `${location[0]}:${location[1]}`
      perFrame.set(frame, (perFrame.get(frame) ?? 0) + 1)
    }
    // 5,000 files of a few bytes fit one frame's bytes many times over: only the cap splits them.
    expect([...perFrame.values()].sort((a, b) => b - a)).toEqual([MAX_FRAME_BLOBS, 5000 - MAX_FRAME_BLOBS])
  })
})
