import { randomBytes } from 'node:crypto'
import { mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { CutFinder, readChunks } from '../../src/core/store/chunker.js'
import { handle } from '../../src/core/store/chunker.worker.js'
import { chunkBuffer, type ChunkParams } from '../../src/core/store/fastcdc.js'
import { sha256Hex } from '../../src/core/store/codec.js'
import { seededBytes } from '../helpers/trees.js'

const params: ChunkParams = { minSize: 2 * 1024, avgSize: 8 * 1024, maxSize: 32 * 1024 }

describe('FastCDC chunker', () => {
  it('covers the input exactly, with every chunk within the size bounds', () => {
    const data = seededBytes(1024 * 1024, 7)
    const chunks = chunkBuffer(data, params)
    expect(Buffer.concat(chunks).equals(data)).toBe(true)
    for (const chunk of chunks.slice(0, -1)) {
      expect(chunk.length).toBeGreaterThanOrEqual(params.minSize)
      expect(chunk.length).toBeLessThanOrEqual(params.maxSize)
    }
    const average = data.length / chunks.length
    expect(average).toBeGreaterThan(params.avgSize / 2)
    expect(average).toBeLessThan(params.avgSize * 2)
  })

  it('keeps the chunks after an insertion: only those near it change', () => {
    const data = seededBytes(2 * 1024 * 1024, 11)
    const edited = Buffer.concat([data.subarray(0, 1_000_000), Buffer.from('inserted bytes'), data.subarray(1_000_000)])
    const before = new Set(chunkBuffer(data, params).map(sha256Hex))
    const after = chunkBuffer(edited, params).map(sha256Hex)
    const changed = after.filter(digest => !before.has(digest))
    expect(changed.length).toBeGreaterThan(0)
    expect(changed.length).toBeLessThanOrEqual(3)
  })

  it('cuts a file the same way as the same bytes in memory', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'chunker-'))
    const data = Buffer.concat([seededBytes(300 * 1024, 3), Buffer.alloc(100 * 1024), randomBytes(50 * 1024)])
    await writeFile(path.join(dir, 'f'), data)
    const fromFile: string[] = []
    const finder = new CutFinder(params)
    try {
      for await (const chunk of readChunks(path.join(dir, 'f'), (await finder.cuts(path.join(dir, 'f'))).cuts))
        fromFile.push(sha256Hex(chunk))
    } finally {
      await finder.close()
    }
    expect(fromFile).toEqual(chunkBuffer(data, params).map(sha256Hex))
  })

  it('cuts long runs of identical bytes at the maximum size', () => {
    const chunks = chunkBuffer(Buffer.alloc(100 * 1024), params)
    expect(chunks.slice(0, -1).every(chunk => chunk.length === params.maxSize)).toBe(true)
  })

  it('confirms the chunks a file still shares with an earlier save by sha256, and scans only after them', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'chunker-'))
    const file = path.join(dir, 'f')
    const data = seededBytes(600 * 1024, 9)
    const earlier = chunkBuffer(data, params)
    const known = { lengths: earlier.map(chunk => chunk.length), digests: earlier.map(sha256Hex) }
    expect(earlier.length).toBeGreaterThan(20)
    const finder = new CutFinder(params)
    try {
      // Grown at its end: every chunk but the last known one is confirmed, and the cuts are a full scan's.
      const grown = Buffer.concat([data, seededBytes(40 * 1024, 10)])
      await writeFile(file, grown)
      expect(await finder.cuts(file, known)).toEqual({
        cuts: chunkBuffer(grown, params).map(chunk => chunk.length),
        confirmed: earlier.length - 1
      })

      // Edited in the middle: the chunks before the edit are confirmed.
      const edited = Buffer.from(data)
      const editAt = 300 * 1024
      edited[editAt] ^= 0xff
      await writeFile(file, edited)
      const before = known.lengths.findIndex(
        (_, i) => known.lengths.slice(0, i + 1).reduce((a, b) => a + b, 0) > editAt
      )
      expect(await finder.cuts(file, known)).toEqual({
        cuts: chunkBuffer(edited, params).map(chunk => chunk.length),
        confirmed: before
      })

      // A first chunk that differs: nothing is confirmed.
      await writeFile(file, Buffer.concat([Buffer.from('new head'), data]))
      expect((await finder.cuts(file, known)).confirmed).toBe(0)
    } finally {
      await finder.close()
    }
  })

  it('reads chunks from a position on', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'chunker-'))
    const file = path.join(dir, 'f')
    const data = seededBytes(100 * 1024, 12)
    await writeFile(file, data)
    const chunks: Buffer[] = []
    for await (const chunk of readChunks(file, [30 * 1024, 30 * 1024], 40 * 1024)) chunks.push(chunk)
    expect(Buffer.concat(chunks).equals(data.subarray(40 * 1024))).toBe(true)
  })

  it('finds the same cuts on its own thread, and notices a file that changed since', async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'chunker-'))
    const data = Buffer.concat([seededBytes(500 * 1024, 5), randomBytes(70 * 1024)])
    const file = path.join(dir, 'f')
    await writeFile(file, data)
    const finder = new CutFinder(params)
    try {
      const { cuts, confirmed } = await finder.cuts(file)
      expect(confirmed).toBe(0)
      expect(cuts).toEqual(chunkBuffer(data, params).map(chunk => chunk.length))
      const chunks: Buffer[] = []
      for await (const chunk of readChunks(file, cuts)) chunks.push(chunk)
      expect(Buffer.concat(chunks).equals(data)).toBe(true)

      await writeFile(file, Buffer.concat([data, Buffer.from('grown')]))
      await expect(async () => {
        for await (const _ of readChunks(file, cuts)) void _
      }).rejects.toThrow(/changed while it was being saved/)
      await expect(finder.cuts(path.join(dir, 'missing'))).rejects.toMatchObject({ code: 'ENOENT' })
    } finally {
      await finder.close()
    }
  })

  it("cuts a file on the calling thread when a test calls the worker module's handle", async () => {
    const dir = await mkdtemp(path.join(tmpdir(), 'chunker-'))
    const file = path.join(dir, 'f')
    const data = seededBytes(400 * 1024, 13)
    await writeFile(file, data)
    const lengths = chunkBuffer(data, params).map(chunk => chunk.length)
    expect(handle({ file, lengths: [], digests: '', params })).toEqual({ cuts: lengths, confirmed: 0 })
    const digests = chunkBuffer(data, params).map(sha256Hex).join('')
    expect(handle({ file, lengths, digests, params })).toEqual({ cuts: lengths, confirmed: lengths.length - 1 })
  })
})
