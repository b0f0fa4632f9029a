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
  openSync(path: string, flags: string): number
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: null): number
  closeSync(fd: number): void
}

/**
 * The chunk lengths of a file, read in a window of two maximum chunks that is compacted only once
 * more than a maximum chunk of it has been consumed.
 */
export function scanFileCuts(fs: SyncReader, file: string, buffer: Uint8Array, minSize: number, avgSize: number, maxSize: number, gear: Int32Array, strict: number, loose: number, cut: typeof findCutWith): number[] {
  const cuts: number[] = []
  const fd = fs.openSync(file, 'r')
  try {
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
          const bytesRead = fs.readSync(fd, buffer, end, buffer.length - end, null)
          if (bytesRead === 0) eof = true
          end += bytesRead
        }
      }
      if (end === start) return cuts
      const length = cut(buffer, start, end, minSize, avgSize, maxSize, gear, strict, loose)
      cuts.push(length)
      start += length
    }
  } finally {
    fs.closeSync(fd)
  }
}

const CUT_FINDER_SOURCE = `
const fs = require('node:fs')
const findCutWith = (${findCutWith.toString()})
const scanFileCuts = (${scanFileCuts.toString()})
const { minSize, avgSize, maxSize, gear, strict, loose } = workerData
const buffer = Buffer.allocUnsafe(maxSize * 2)
serve(file => scanFileCuts(fs, file, buffer, minSize, avgSize, maxSize, gear, strict, loose, findCutWith))
`

/**
 * Finds the chunk boundaries of large files on a thread of its own, ahead of the save that reads
 * and stores the chunks: chunking is the one per-byte step of a save that only JavaScript does.
 */
export class CutFinder {
  /** Started by the first file: a save with no large file to chunk starts no thread. */
  private jobs?: ThreadJobs<string, number[]>

  constructor(private readonly params: ChunkParams = DEFAULT_CHUNK_PARAMS) {}

  /** The chunk lengths of `file`, in order; they add up to the bytes it had when it was scanned. */
  cuts(file: string): Promise<number[]> {
    if (!this.jobs) {
      const { strict, loose } = masksFor(this.params.avgSize)
      this.jobs = new ThreadJobs('chunking', CUT_FINDER_SOURCE, { ...this.params, gear: GEAR, strict, loose }, 1)
    }
    return this.jobs.run(file)
  }

  async close(): Promise<void> {
    await this.jobs?.close()
  }
}

/** Reads a file's chunks by their lengths; a file that is longer or shorter than they add up to fails. */
export async function* readChunks(path: string, cuts: number[]): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r')
  try {
    for (const length of cuts) {
      const chunk = Buffer.allocUnsafe(length)
      let read = 0
      while (read < length) {
        const { bytesRead } = await handle.read(chunk, read, length - read, null)
        if (bytesRead === 0) throw new Error(`${path} changed while it was being saved`)
        read += bytesRead
      }
      yield chunk
    }
    if ((await handle.read(Buffer.alloc(1), 0, 1, null)).bytesRead !== 0) throw new Error(`${path} changed while it was being saved`)
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
