import { createHash } from 'node:crypto'

/**
 * FastCDC content-defined chunking (Xia et al., 2016) with normalized chunking. A cut depends only
 * on the bytes just before it, so an insertion moves the cuts near it and no others.
 */
export interface ChunkParams {
  minSize: number
  avgSize: number
  maxSize: number
}

export const DEFAULT_CHUNK_PARAMS: ChunkParams = {
  minSize: 512 * 1024,
  avgSize: 2 * 1024 * 1024,
  maxSize: 8 * 1024 * 1024
}

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

/** The chunk sizes with what finding a cut derives from them: the gear table and the two masks. */
export interface CutOptions extends ChunkParams {
  gear: Int32Array
  /** Before the average size: harder to match, so chunks tend to grow towards it. */
  strict: number
  /** After the average size: easier to match, so chunks tend to end soon after it. */
  loose: number
}

export function cutOptions(params: ChunkParams): CutOptions {
  const bits = Math.round(Math.log2(params.avgSize))
  const { minSize, avgSize, maxSize } = params
  const strict = topBitsMask(Math.min(bits + 1, 31))
  const loose = topBitsMask(Math.max(bits - 1, 1))
  return { minSize, avgSize, maxSize, gear: GEAR, strict, loose }
}

/** Length of the first chunk of `data[start, end)`, which holds at least one chunk's worth or the end of the input. */
export function findCut(data: Uint8Array, start: number, end: number, options: CutOptions): number {
  const { minSize, avgSize, maxSize, gear, strict, loose } = options
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

/** Splits an in-memory buffer; the same cuts as CutFinder gives for a file with these bytes. */
export function chunkBuffer(data: Uint8Array, params: ChunkParams = DEFAULT_CHUNK_PARAMS): Uint8Array[] {
  const options = cutOptions(params)
  const chunks: Uint8Array[] = []
  let start = 0
  while (start < data.length) {
    const cut = findCut(data, start, data.length, options)
    chunks.push(data.subarray(start, start + cut))
    start += cut
  }
  return chunks
}
