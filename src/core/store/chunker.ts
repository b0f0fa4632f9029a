import { createHash } from 'node:crypto'
import { open } from 'node:fs/promises'

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
  const remaining = end - start
  if (remaining <= params.minSize) return remaining
  const { strict, loose } = masksFor(params.avgSize)
  const limit = Math.min(remaining, params.maxSize)
  const normal = Math.min(limit, params.avgSize)
  let hash = 0
  let i = params.minSize
  for (; i < normal; i++) {
    hash = ((hash << 1) + GEAR[data[start + i]]) | 0
    if ((hash & strict) === 0) return i + 1
  }
  for (; i < limit; i++) {
    hash = ((hash << 1) + GEAR[data[start + i]]) | 0
    if ((hash & loose) === 0) return i + 1
  }
  return limit
}

/**
 * Splits a file into content-defined chunks as it reads it. The window holds at most two maximum
 * chunks; it is compacted only once more than a maximum chunk of it has been consumed.
 */
export async function* chunkFile(path: string, params: ChunkParams = DEFAULT_CHUNK_PARAMS): AsyncGenerator<Buffer> {
  const handle = await open(path, 'r')
  try {
    const buffer = Buffer.allocUnsafe(params.maxSize * 2)
    let start = 0
    let end = 0
    let eof = false
    for (;;) {
      if (!eof && end - start < params.maxSize) {
        if (start >= params.maxSize) {
          buffer.copy(buffer, 0, start, end)
          end -= start
          start = 0
        }
        while (!eof && end < buffer.length) {
          const { bytesRead } = await handle.read(buffer, end, buffer.length - end, null)
          if (bytesRead === 0) eof = true
          end += bytesRead
        }
      }
      if (end === start) return
      const cut = findCut(buffer, start, end, params)
      yield Buffer.from(buffer.subarray(start, start + cut))
      start += cut
    }
  } finally {
    await handle.close()
  }
}

/** Splits an in-memory buffer; the same cuts as chunkFile gives for a file with these bytes. */
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
