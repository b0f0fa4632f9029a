import { createHash } from 'node:crypto'
import {
  constants,
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  symlinkSync,
  writeFileSync
} from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { zstdCompressSync } from 'node:zlib'
import { BlobWriters } from '../../src/core/store/blob-writers.js'
import { handle } from '../../src/core/store/blob-writer.worker.js'
import {
  BLOB_MISMATCH,
  BLOB_UNDECODABLE,
  WriteJobBuilder,
  WriteJobReader,
  type WriteJob
} from '../../src/core/store/write-job.js'
import { ThreadJobError } from '../../src/core/errors.js'

const FLAGS = constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_NOFOLLOW | constants.O_NONBLOCK
const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

interface BlobTarget {
  file: string
  position: number
  whole: boolean
  mode: number
  mtime?: number
}

/** One blob of a range, readably; `jobOf` lays it out with the WriteJobBuilder materialize uses. */
interface RangeBlob {
  digest: string
  offset: number
  length: number
  size: number
  codec: 0 | 1 | 2
  within: number
  frameSize: number
  targets: BlobTarget[]
}

function jobOf({ bytes, blobs }: { bytes: Uint8Array; blobs: RangeBlob[] }): WriteJob {
  const job = new WriteJobBuilder()
  for (const blob of blobs) {
    job.blob(blob.digest, blob.offset, blob.length, blob.size, blob.codec, blob.within, blob.frameSize)
    for (const target of blob.targets)
      job.target(target.file, target.position, target.whole, target.mode, target.mtime ?? NaN)
  }
  return job.build(bytes)
}

/** A range of raw blobs laid end to end, each written whole to its file. */
function rawRange(files: Array<{ file: string; data: Buffer; mode: number; mtime?: number }>): {
  bytes: Uint8Array
  blobs: RangeBlob[]
} {
  let offset = 0
  const blobs = files.map(({ file, data, mode, mtime }) => {
    const blob: RangeBlob = {
      digest: sha256(data),
      offset,
      length: data.length,
      size: data.length,
      codec: 0,
      within: 0,
      frameSize: data.length,
      targets: [{ file, position: 0, whole: true, mode, mtime }]
    }
    offset += data.length
    return blob
  })
  return { bytes: Buffer.concat(files.map(({ data }) => data)), blobs }
}

describe('blob writer threads', () => {
  let writers: BlobWriters
  let dir: string
  beforeEach(() => {
    writers = new BlobWriters(FLAGS)
    dir = mkdtempSync(path.join(tmpdir(), 'writers-'))
  })
  afterEach(() => writers.close())
  const write = (range: { bytes: Uint8Array; blobs: RangeBlob[] }) => writers.write(jobOf(range))

  it('writes raw blobs as files with their bytes, mode and mtime, across ranges', async () => {
    const mtime = Date.UTC(2024, 0, 2, 3, 4, 5, 678)
    const files = Array.from({ length: 40 }, (_, i) => ({
      file: path.join(dir, `f${i}`),
      data: Buffer.from(`file ${i}\n`.repeat(i)),
      mode: i % 2 ? 0o755 : 0o600,
      mtime
    }))
    const written = await Promise.all([write(rawRange(files.slice(0, 20))), write(rawRange(files.slice(20)))])
    expect(written[0] + written[1]).toBe(files.reduce((sum, { data }) => sum + data.length, 0))
    for (const { file, data, mode } of files) {
      expect(readFileSync(file)).toEqual(data)
      const stats = lstatSync(file)
      expect(stats.mode & 0o777).toBe(mode)
      expect(Math.floor(stats.mtimeMs)).toBe(mtime)
    }
  })

  it('decodes a shared frame once for its blobs, a zstd blob on its own, and writes chunks at their positions', async () => {
    const a = Buffer.from('alpha '.repeat(300))
    const b = Buffer.from('beta '.repeat(500))
    const frame = zstdCompressSync(Buffer.concat([a, b]))
    const chunk = Buffer.from('chunk '.repeat(1000))
    const packed = zstdCompressSync(chunk)
    const large = path.join(dir, 'large')
    writeFileSync(large, Buffer.alloc(chunk.length * 2))
    const whole = (file: string): BlobTarget[] => [
      { file: path.join(dir, file), position: 0, whole: true, mode: 0o644 }
    ]
    const blobs: RangeBlob[] = [
      {
        digest: sha256(a),
        offset: 0,
        length: frame.length,
        size: a.length,
        codec: 2,
        within: 0,
        frameSize: a.length + b.length,
        targets: whole('a')
      },
      {
        digest: sha256(b),
        offset: 0,
        length: frame.length,
        size: b.length,
        codec: 2,
        within: a.length,
        frameSize: a.length + b.length,
        targets: whole('b')
      },
      {
        digest: sha256(chunk),
        offset: frame.length,
        length: packed.length,
        size: chunk.length,
        codec: 1,
        within: 0,
        frameSize: chunk.length,
        targets: [
          { file: large, position: 0, whole: false, mode: 0o644 },
          { file: large, position: chunk.length, whole: false, mode: 0o644 }
        ]
      }
    ]
    await write({ bytes: Buffer.concat([frame, packed]), blobs })
    expect(readFileSync(path.join(dir, 'a'))).toEqual(a)
    expect(readFileSync(path.join(dir, 'b'))).toEqual(b)
    expect(readFileSync(large)).toEqual(Buffer.concat([chunk, chunk]))
  })

  it('refuses a blob that does not match its sha256 or does not decode, and writes nothing of it', async () => {
    const good = Buffer.from('good')
    const range = rawRange([{ file: path.join(dir, 'bad'), data: good, mode: 0o644 }])
    range.blobs[0].digest = sha256(Buffer.from('other'))
    await expect(write(range)).rejects.toMatchObject({ code: BLOB_MISMATCH })
    const garbled: RangeBlob = {
      digest: sha256(good),
      offset: 0,
      length: 4,
      size: 4,
      codec: 1,
      within: 0,
      frameSize: 4,
      targets: [{ file: path.join(dir, 'garbled'), position: 0, whole: true, mode: 0o644 }]
    }
    await expect(write({ bytes: Buffer.from('nope'), blobs: [garbled] })).rejects.toMatchObject({
      code: BLOB_UNDECODABLE
    })
    expect(existsSync(path.join(dir, 'bad'))).toBe(false)
    expect(existsSync(path.join(dir, 'garbled'))).toBe(false)
  })

  it('copies a range that shares its buffer, leaving the caller its bytes', async () => {
    const data = Buffer.from('shared bytes')
    const larger = Buffer.concat([Buffer.from('xx'), data, Buffer.from('yy')])
    const range = rawRange([{ file: path.join(dir, 'shared'), data, mode: 0o644 }])
    await write({ bytes: larger.subarray(2, 2 + data.length), blobs: range.blobs })
    expect(readFileSync(path.join(dir, 'shared'))).toEqual(data)
    expect(larger.toString()).toBe('xxshared bytesyy')
  })

  it('moves a built job to the thread: each of its arrays is detached here, none left to collect', async () => {
    const files = [0, 1, 2].map(i => ({
      file: path.join(dir, `moved-é${i}`),
      data: Buffer.from(`moved ${i}`),
      mode: 0o644
    }))
    const range = rawRange(files)
    const job = jobOf({ ...range, bytes: new Uint8Array(range.bytes) })
    const arrays = [job.bytes, job.numbers, job.files, job.digests]
    expect(arrays.map(array => array.byteLength > 0)).toEqual([true, true, true, true])
    await writers.write(job)
    expect(arrays.map(array => array.buffer.byteLength)).toEqual([0, 0, 0, 0])
    for (const { file, data } of files) expect(readFileSync(file)).toEqual(data)
  })

  it('replaces a symlink in the way instead of writing through it', async () => {
    const outside = path.join(dir, 'outside.txt')
    writeFileSync(outside, 'untouched')
    symlinkSync(outside, path.join(dir, 'a.txt'))
    await write(rawRange([{ file: path.join(dir, 'a.txt'), data: Buffer.from('restored'), mode: 0o644 }]))
    expect(lstatSync(path.join(dir, 'a.txt')).isFile()).toBe(true)
    expect(readFileSync(path.join(dir, 'a.txt'), 'utf8')).toBe('restored')
    expect(readFileSync(outside, 'utf8')).toBe('untouched')
  })

  it('names the file and the error code when a write fails', async () => {
    mkdirSync(path.join(dir, 'taken'))
    const failure = write(
      rawRange([
        { file: path.join(dir, 'ok.txt'), data: Buffer.from('ok'), mode: 0o644 },
        { file: path.join(dir, 'taken'), data: Buffer.from('x'), mode: 0o644 }
      ])
    )
    await expect(failure).rejects.toBeInstanceOf(ThreadJobError)
    await expect(failure).rejects.toMatchObject({ code: 'EISDIR', file: path.join(dir, 'taken') })
  })

  it("writes a range on the calling thread when a test calls the worker module's handle", () => {
    const mtime = Date.UTC(2024, 5, 6, 7, 8, 9)
    const files = [0, 1, 2].map(i => ({
      file: path.join(dir, `direct${i}`),
      data: Buffer.from(`direct ${i}\n`),
      mode: 0o640,
      mtime
    }))
    const written = handle({ ...jobOf(rawRange(files)), flags: FLAGS, umask: process.umask() })
    expect(written).toBe(files.reduce((sum, { data }) => sum + data.length, 0))
    for (const { file, data, mode } of files) {
      expect(readFileSync(file)).toEqual(data)
      expect(lstatSync(file).mode & 0o777).toBe(mode)
      expect(Math.floor(lstatSync(file).mtimeMs)).toBe(mtime)
    }
    const bad = rawRange([{ file: path.join(dir, 'bad'), data: Buffer.from('bad'), mode: 0o644 }])
    bad.blobs[0].digest = sha256(Buffer.from('other'))
    expect(() => handle({ ...jobOf(bad), flags: FLAGS, umask: process.umask() })).toThrow(
      expect.objectContaining({ code: BLOB_MISMATCH })
    )
  })
})

describe('a writer job', () => {
  it('reads back blob by blob and target by target as the builder laid it out', () => {
    const blobs: RangeBlob[] = [
      { digest: 'a'.repeat(64), offset: 0, length: 10, size: 30, codec: 2, within: 5, frameSize: 90, targets: [] },
      {
        digest: 'b'.repeat(64),
        offset: 10,
        length: 7,
        size: 7,
        codec: 0,
        within: 0,
        frameSize: 0,
        targets: [
          { file: 'x/one', position: 0, whole: true, mode: 0o755, mtime: 1234 },
          { file: 'x/two', position: 4096, whole: false, mode: 0o644 }
        ]
      }
    ]
    const reader = new WriteJobReader(jobOf({ bytes: new Uint8Array(17), blobs }))
    const read: RangeBlob[] = []
    while (reader.nextBlob()) {
      const { digest, offset, length, size, codec, within, frameSize } = reader
      const targets: BlobTarget[] = []
      for (let i = 0; i < reader.targets; i++) {
        reader.nextTarget()
        const { file, position, whole, mode, mtime } = reader
        targets.push({ file, position, whole, mode, ...(Number.isNaN(mtime) ? {} : { mtime }) })
      }
      read.push({ digest, offset, length, size, codec: codec as RangeBlob['codec'], within, frameSize, targets })
    }
    expect(read).toEqual(blobs)
  })
})
