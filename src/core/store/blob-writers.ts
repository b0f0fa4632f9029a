import { availableParallelism } from 'node:os'
import { ThreadJobs } from '../thread-jobs.js'

/** Where one blob is needed: a whole file, or a chunk of a file at a byte position. */
export interface BlobTarget {
  file: string
  position: number
  whole: boolean
  mode: number
  mtime?: number
}

/** One blob of a fetched byte range: where its stored bytes are, how they decode, where they go. */
export interface RangeBlob {
  digest: string
  /** Offset and length of the stored bytes within the fetched range. */
  offset: number
  length: number
  size: number
  codec: 0 | 1 | 2
  /** Shared frames: the blob's place in the decompressed frame, and the frame's raw size. */
  within: number
  frameSize: number
  targets: BlobTarget[]
}

/** A fetched byte range of one object and the blobs in it, in offset order. */
export interface FetchedRange {
  bytes: Uint8Array
  blobs: RangeBlob[]
}

/** Codes a writer thread fails with when a blob is not what the manifest says. */
export const BLOB_UNDECODABLE = 'EBLOBDECODE'
export const BLOB_MISMATCH = 'EBLOBDIGEST'

interface OpenFs {
  openSync(path: string, flags: number, mode: number): number
  unlinkSync(path: string): void
}

/**
 * Opens a file for writing in place of whatever non-directory is there. With O_NOFOLLOW in `flags`
 * a symlink in the way fails (ELOOP) instead of being followed; it is replaced, as are a busy
 * executable, a FIFO and a read-only file. Self-contained: the writer threads run it from its
 * source text.
 */
export function openReplacing(fs: OpenFs, file: string, flags: number, mode: number): number {
  try {
    return fs.openSync(file, flags, mode)
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code !== 'ELOOP' && code !== 'ETXTBSY' && code !== 'ENXIO' && code !== 'EACCES') throw error
    fs.unlinkSync(file)
    return fs.openSync(file, flags, mode)
  }
}

/**
 * The writers' code, plain CommonJS so it runs the same from `lib/`, from a test and from an ncc
 * bundle. Per range, in offset order: each blob is decoded (a shared frame once), checked against its sha256, and
 * written to its targets. A whole file is opened with openReplacing, written, given its mode when
 * the umask would have narrowed it, and its mtime; a chunk is written into its file, which the
 * caller created at its full size. Replies with the bytes written.
 */
const WRITER_SOURCE = `
const fs = require('node:fs')
const zlib = require('node:zlib')
const { createHash } = require('node:crypto')
const openReplacing = (${openReplacing.toString()})
const { flags, umask } = workerData
const CHUNK_FLAGS = fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW
const failure = (code, message) => Object.assign(new Error(message), { code })
const unzstd = (stored, size) => zlib.zstdDecompressSync(stored, { chunkSize: Math.max(64, size), maxOutputLength: Math.max(1, size) })

function writeAll(fd, data, position) {
  let written = 0
  while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written, position === null ? null : position + written)
}

serve(({ bytes, blobs }) => {
  // Blobs come in offset order, so a shared frame's blobs are neighbours: one decoded frame is kept.
  let frame
  let frameOffset = -1
  let current = ''
  let written = 0
  try {
    for (const blob of blobs) {
      current = ''
      const stored = bytes.subarray(blob.offset, blob.offset + blob.length)
      let raw
      try {
        if (blob.codec === 0) raw = stored
        else if (blob.codec === 1) raw = unzstd(stored, blob.size)
        else {
          if (frameOffset !== blob.offset) {
            frame = unzstd(stored, blob.frameSize)
            frameOffset = blob.offset
          }
          raw = frame.subarray(blob.within, blob.within + blob.size)
        }
      } catch {
        throw failure(${JSON.stringify(BLOB_UNDECODABLE)}, 'a blob does not decode')
      }
      if (raw.length !== blob.size || createHash('sha256').update(raw).digest('hex') !== blob.digest) {
        throw failure(${JSON.stringify(BLOB_MISMATCH)}, 'a blob does not match its sha256')
      }
      for (const target of blob.targets) {
        current = target.file
        const fd = target.whole ? openReplacing(fs, target.file, flags, target.mode) : fs.openSync(target.file, CHUNK_FLAGS)
        try {
          writeAll(fd, raw, target.whole ? null : target.position)
          if (target.whole && (target.mode & umask) !== 0) fs.fchmodSync(fd, target.mode)
          if (target.whole && target.mtime !== undefined) fs.futimesSync(fd, target.mtime / 1000, target.mtime / 1000)
        } finally {
          fs.closeSync(fd)
        }
        written += raw.length
      }
    }
  } catch (error) {
    if (current) error.file = current
    throw error
  }
  return written
})
`

/**
 * A writer's young generation: its garbage is short-lived frames, and a small nursery keeps the
 * process's peak memory down (about 50–90 MiB on the 100,000-file bench tree) at no measurable cost.
 */
const YOUNG_GENERATION_MB = 4

/**
 * Decodes, checks and writes fetched ranges on worker threads, so the main thread only fetches:
 * per file, the open, write, utime and close system calls cost more than anything else a restore
 * does, and decompressing and hashing on the same thread spares copies between threads.
 */
export class BlobWriters {
  private readonly jobs: ThreadJobs<FetchedRange, number>

  constructor(openFlags: number, threads = Math.min(2, availableParallelism())) {
    this.jobs = new ThreadJobs('blob writer', WRITER_SOURCE, { flags: openFlags, umask: process.umask() }, threads, { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB })
  }

  /**
   * Writes every blob of a fetched range on one thread; resolves with the bytes written. The
   * range's memory moves to that thread (it is copied first when it shares its buffer).
   */
  async write(range: FetchedRange): Promise<number> {
    const owned = ownsItsBuffer(range.bytes) ? range.bytes : new Uint8Array(range.bytes)
    return this.jobs.run({ bytes: owned, blobs: range.blobs }, [owned.buffer as ArrayBuffer])
  }

  async close(): Promise<void> {
    await this.jobs.close()
  }
}

function ownsItsBuffer(bytes: Uint8Array): boolean {
  return bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
}
