import { hash } from 'node:crypto'
import * as fs from 'node:fs'
import { serveJobs } from '../thread-protocol.js'
import { cutOptions, findCut, type ChunkParams, type CutOptions } from './fastcdc.js'

/**
 * The chunking thread (CutFinder starts it): finds where a file is cut, confirming by sha256 the
 * chunks it still shares from its start with an earlier save instead of scanning them.
 */

/** One file to cut; `digests` are the known chunks' sha256 hex digests, back to back. */
export interface CutJob {
  file: string
  lengths: number[]
  digests: string
  params: ChunkParams
}

/** Where a file is cut, and how many of its first chunks are known ones confirmed by their digests. */
export interface FileCuts {
  cuts: number[]
  confirmed: number
}

interface SyncReader {
  readSync(fd: number, buffer: Uint8Array, offset: number, length: number, position: number): number
}

/**
 * The chunk lengths of an open file from `position` on, read in a window of two maximum chunks that
 * is compacted only once more than a maximum chunk of it has been consumed.
 */
export function scanFileCuts(
  fs: SyncReader,
  fd: number,
  position: number,
  buffer: Uint8Array,
  options: CutOptions
): number[] {
  const { maxSize } = options
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
    const length = findCut(buffer, start, end, options)
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
export function confirmKnownChunks(
  fs: SyncReader,
  fd: number,
  buffer: Uint8Array,
  lengths: number[],
  digests: string,
  sha256: (data: Uint8Array) => string
): number {
  let confirmed = 0
  let position = 0
  for (; confirmed < lengths.length - 1; confirmed++) {
    const length = lengths[confirmed]
    if (length > buffer.length) break
    let filled = 0
    for (let read = -1; read !== 0 && filled < length; filled += read)
      read = fs.readSync(fd, buffer, filled, length - filled, position + filled)
    if (filled !== length || sha256(buffer.subarray(0, length)) !== digests.slice(confirmed * 64, confirmed * 64 + 64))
      break
    position += length
  }
  return confirmed
}

const sha256 = (data: Uint8Array): string => hash('sha256', data, 'hex')

/** The window a thread reads files through, kept from job to job: two maximum chunks. */
let window: Buffer | undefined

export function handle({ file, lengths, digests, params }: CutJob): FileCuts {
  if (window?.length !== params.maxSize * 2) window = Buffer.allocUnsafe(params.maxSize * 2)
  const fd = fs.openSync(file, 'r')
  try {
    const confirmed = confirmKnownChunks(fs, fd, window, lengths, digests, sha256)
    const known = lengths.slice(0, confirmed)
    const position = known.reduce((sum, length) => sum + length, 0)
    return { cuts: known.concat(scanFileCuts(fs, fd, position, window, cutOptions(params))), confirmed }
  } finally {
    fs.closeSync(fd)
  }
}

serveJobs(import.meta.url, handle)
