import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'
import { ThreadJobs } from '../thread-jobs.js'

/**
 * FastCDC content-defined chunking (Xia et al., 2016) with normalized chunking. A cut depends only
 * on the bytes just before it, so an insertion moves the cuts near it and no others.
 */
export interface ChunkParams {
  minSize: number
  avgSize: number
  maxSize: number
}

export const DEFAULT_CHUNK_PARAMS: ChunkParams = { minSize: 512 * 1024, avgSize: 2 * 1024 * 1024, maxSize: 8 * 1024 * 1024 }

/** 256 pseudo-random 32-bit values, fixed forever: changing them changes every chunk boundary. */
const GEAR = (() => {
  // Int32: the rolling hash stays a small integer for V8 (uint32 values above 2^31 become doubles).
  const table = new Int32Array(256)
  for (let i = 0; i < 256; i++) {
    table[i] = createHash('sha256').update(`artifact-action gear ${i}`).digest().readInt32BE(0)
  }
  return table
})()

/** The top `bits` bits of a 32-bit word: they depend on the last 32 bytes seen. */
function topBitsMask(bits: number): number {
  return (0xffffffff << (32 - bits)) | 0
}

function masksFor(avgSize: number): { strict: number; loose: number } {
  const bits = Math.round(Math.log2(avgSize))
  return { strict: topBitsMask(Math.min(bits + 1, 31)), loose: topBitsMask(Math.max(bits - 1, 1)) }
}

/** Length of the first chunk of `data`, which holds at least one chunk's worth or the end of the input. */
export function findCut(data: Uint8Array, start: number, end: number, params: ChunkParams): number {
  const { strict, loose } = masksFor(params.avgSize)
  return findCutWith(data, start, end, params.minSize, params.avgSize, params.maxSize, GEAR, strict, loose)
}

// The two functions below use nothing from outside them, so that a thread can run them from their source text.

/** findCut with its parameters spelled out. */
export function findCutWith(data: Uint8Array, start: number, end: number, minSize: number, avgSize: number, maxSize: number, gear: Int32Array, strict: number, loose: number): number {
  const remaining = end - start
  if (remaining <= minSize) return remaining
  const limit = Math.min(remaining, maxSize)
  const normal = Math.min(limit, avgSize)
  let hash = 0
  let i = minSize
  for (; i < normal; i++) {
    hash = ((hash << 1) + gear[data[start + i]]) | 0
    if ((hash & strict) === 0) return i + 1
  }
  for (; i < limit; i++) {
    hash = ((hash << 1) + gear[data[start + i]]) | 0
    if ((hash & loose) === 0) return i + 1
  }
  return limit
}

interface SyncReader {
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number
}

/**
 * The chunk lengths of an open file from `position` on, read in a window of two maximum chunks that
 * is compacted only once more than a maximum chunk of it has been consumed.
 */
export function scanFileCuts(fs: SyncReader, fd: number, position: number, buffer: Uint8Array, minSize: number, avgSize: number, maxSize: number, gear: Int32Array, strict: number, loose: number, cut: typeof findCutWith): number[] {
  const cuts: number[] = []
  let start = 0
  let end = 0
  let eof = false
  for (;;) {
    if (!eof && end - start < maxSize) {
      if (start >= maxSize) {
        buffer.copyWithin(0, start, end)
        end -= start
        start = 0
      }
      while (!eof && end < buffer.length) {
        const bytesRead = fs.readSync(fd, buffer, end, buffer.length - end, position)
        if (bytesRead === 0) eof = true
        end += bytesRead
        position += bytesRead
      }
    }
    if (end === start) return cuts
    const length = cut(buffer, start, end, minSize, avgSize, maxSize, gear, strict, loose)
    cuts.push(length)
    start += length
  }
}

/**
 * How many of a file's chunks in an earlier save (`lengths`, and `digests` as hex back to back) it
 * still starts with, checked by sha256. A cut depends only on the bytes of its chunk, so a chunk
 * with the same bytes ends at the same cut; the last known chunk may have ended where the file did
 * rather than at a cut, so it is never confirmed.
 */
export function confirmKnownChunks(fs: SyncReader, fd: number, buffer: Uint8Array, lengths: number[], digests: string, sha256: (data: Uint8Array) => string): number {
  let confirmed = 0
  let position = 0
  for (; confirmed < lengths.length - 1; confirmed++) {
    const length = lengths[confirmed]
    if (length > buffer.length) break
    let filled = 0
    for (let read = -1; read !== 0 && filled < length; filled += read) read = fs.readSync(fd, buffer, filled, length - filled, position + filled)
    if (filled !== length || sha256(buffer.subarray(0, length)) !== digests.slice(confirmed * 64, confirmed * 64 + 64)) break
    position += length
  }
  return confirmed
}

const CUT_FINDER_SOURCE = `
const fs = require('node:fs')
const { hash } = require('node:crypto')
const findCutWith = (${findCutWith.toString()})
const scanFileCuts = (${scanFileCuts.toString()})
const confirmKnownChunks = (${confirmKnownChunks.toString()})
const { minSize, avgSize, maxSize, gear, strict, loose } = workerData
const buffer = Buffer.allocUnsafe(maxSize * 2)
const sha256 = data => hash('sha256', data, 'hex')
serve(({ file, lengths, digests }) => {
  const fd = fs.openSync(file, 'r')
  try {
    const confirmed = confirmKnownChunks(fs, fd, buffer, lengths, digests, sha256)
    const known = lengths.slice(0, confirmed)
    const position = known.reduce((sum, length) => sum + length, 0)
    return { cuts: known.concat(scanFileCuts(fs, fd, position, buffer, minSize, avgSize, maxSize, gear, strict, loose, findCutWith)), confirmed }
  } finally {
    fs.closeSync(fd)
  }
})
`

/** A file's chunks in an earlier save: their lengths and sha256 digests, in order. */
export interface KnownChunks {
  lengths: number[]
  digests: string[]
}

/** Where a file is cut, and how many of its first chunks are known ones confirmed by their digests. */
export interface FileCuts {
  cuts: number[]
  confirmed: number
}

/**
 * Finds the chunk boundaries of large files on a thread of its own, ahead of the save that reads
 * and stores the chunks: chunking is the one per-byte step of a save that only JavaScript does.
 */
export class CutFinder {
  /** Started by the first file: a save with no large file to chunk starts no thread. */
  private jobs?: ThreadJobs<{ file: string; lengths: number[]; digests: string }, FileCuts>

  constructor(private readonly params: ChunkParams = DEFAULT_CHUNK_PARAMS) {}

  /**
   * The chunk lengths of `file`, in order; they add up to the bytes it had when it was scanned. The
   * chunks it still shares from the start with `known` are confirmed by sha256 instead of scanned:
   * the same cuts, at the cost of hashing (a file that grew at its end is scanned from its last known chunk).
   */
  cuts(file: string, known: KnownChunks = { lengths: [], digests: [] }): Promise<FileCuts> {
    if (!this.jobs) {
      const { strict, loose } = masksFor(this.params.avgSize)
      this.jobs = new ThreadJobs('chunking', CUT_FINDER_SOURCE, { ...this.params, gear: GEAR, strict, loose }, 1)
    }
    return this.jobs.run({ file, lengths: known.lengths, digests: known.digests.join('') })
  }

  async close(): Promise<void> {
    await this.jobs?.close()
  }
}

/**
 * Reads a file's chunks by their lengths, from `position` on; a file that is longer or shorter than
 * they add up to fails.
 */
export async function* readChunks(path: string, cuts: number[], position = 0): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r')
  try {
    for (const length of cuts) {
      const chunk = Buffer.allocUnsafe(length)
      let read = 0
      while (read < length) {
        const { bytesRead } = await handle.read(chunk, read, length - read, position)
        if (bytesRead === 0) throw new Error(`${path} changed while it was being saved`)
        read += bytesRead
        position += bytesRead
      }
      yield chunk
    }
    if ((await handle.read(Buffer.alloc(1), 0, 1, position)).bytesRead !== 0) throw new Error(`${path} changed while it was being saved`)
  } finally {
    await handle.close()
  }
}

/** Splits an in-memory buffer; the same cuts as CutFinder gives for a file with these bytes. */
export function chunkBuffer(data: Uint8Array, params: ChunkParams = DEFAULT_CHUNK_PARAMS): Uint8Array[] {
  const chunks: Uint8Array[] = []
  let start = 0
  while (start < data.length) {
    const cut = findCut(data, start, data.length, params)
    chunks.push(data.subarray(start, start + cut))
    start += cut
  }
  return chunks
}
