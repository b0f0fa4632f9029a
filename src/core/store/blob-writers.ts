import { availableParallelism } from 'node:os'
import { ThreadJobs } from '../thread-jobs.js'

/**
 * A fetched byte range as a writer job: its bytes, then numbers and two strings that say where each
 * blob's stored bytes are, how they decode and where they go. Copying nested objects to a thread
 * costs several times more than copying these (0.4 s against 0.06 s for 100,000 small files).
 */
export interface WriteJob {
  bytes: Uint8Array
  /**
   * Per blob, in offset order: offset and length of its stored bytes within `bytes`, raw size,
   * codec, place within its shared frame and the frame's raw size (else 0), target count; then per
   * target: position, whole (1: the blob is the whole file, 2: the same where something may be in
   * the way, 0: a chunk at the position), mode, mtime (NaN when none).
   */
  numbers: Float64Array
  /** The targets' files, NUL-separated (a manifest path has no NUL). */
  files: string
  /** The blobs' sha256 hex digests, back to back. */
  digests: string
}

/** Lays out a WriteJob: each blob, in offset order, followed by its targets. */
export class WriteJobBuilder {
  private readonly numbers: number[] = []
  private readonly files: string[] = []
  private readonly digests: string[] = []
  /** Where the last blob's target count is. */
  private countAt = -1

  blob(digest: string, offset: number, length: number, size: number, codec: number, within: number, frameSize: number): void {
    this.countAt = this.numbers.push(offset, length, size, codec, within, frameSize, 0) - 1
    this.digests.push(digest)
  }

  /**
   * A target of the last blob: the `whole` file, or a chunk of it at `position`; `mtime` NaN when
   * none. `inTheWay`: the file's directory was there before, so something may already be at its
   * place (a new directory of the restore holds nothing).
   */
  target(file: string, position: number, whole: boolean, mode: number, mtime: number, inTheWay = true): void {
    this.numbers[this.countAt]++
    this.numbers.push(position, whole ? (inTheWay ? 2 : 1) : 0, mode, mtime)
    this.files.push(file)
  }

  build(bytes: Uint8Array): WriteJob {
    return { bytes, numbers: Float64Array.from(this.numbers), files: this.files.join('\0'), digests: this.digests.join('') }
  }
}

/** Codes a writer thread fails with when a blob is not what the manifest says. */
export const BLOB_UNDECODABLE = 'EBLOBDECODE'
export const BLOB_MISMATCH = 'EBLOBDIGEST'

interface OpenFs {
  openSync(path: string, flags: number, mode: number): number
  unlinkSync(path: string): void
  lstatSync(path: string, options: { throwIfNoEntry: false }): { isDirectory(): boolean } | undefined
}

/**
 * Opens a file for writing in place of whatever non-directory is there. With O_EXCL in `flags`
 * anything in the way fails (EEXIST) and is replaced by a new file; with O_NOFOLLOW a symlink in
 * the way fails (ELOOP) instead of being followed; it is replaced, as are a busy executable, a
 * FIFO and a read-only file. `inTheWay`: something may be there, so it is looked for first (a
 * failed open costs far more than a look). Self-contained: the writer threads run it from its
 * source text.
 */
export function openReplacing(fs: OpenFs, file: string, flags: number, mode: number, inTheWay = true): number {
  if (inTheWay && fs.lstatSync(file, { throwIfNoEntry: false })?.isDirectory() === false) fs.unlinkSync(file)
  try {
    return fs.openSync(file, flags, mode)
  } catch (error) {
    const code = (error as { code?: string }).code
    const inTheWayCodes = ['EEXIST', 'ELOOP', 'ETXTBSY', 'ENXIO', 'EACCES']
    if (!inTheWayCodes.includes(code ?? '')) throw error
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
const { hash } = require('node:crypto')
const openReplacing = (${openReplacing.toString()})
const { flags, umask } = workerData
const CHUNK_FLAGS = fs.constants.O_WRONLY | fs.constants.O_NOFOLLOW
const failure = (code, message) => Object.assign(new Error(message), { code })
const unzstd = (stored, size) => zlib.zstdDecompressSync(stored, { chunkSize: Math.max(64, size), maxOutputLength: Math.max(1, size) })

function writeAll(fd, data, position) {
  let written = 0
  while (written < data.length) written += fs.writeSync(fd, data, written, data.length - written, position === null ? null : position + written)
}

serve(({ bytes, numbers, files, digests }) => {
  // Blobs come in offset order, so a shared frame's blobs are neighbours: one decoded frame is kept.
  let frame
  let frameOffset = -1
  let current = ''
  let written = 0
  const paths = files.split('\0')
  let path = 0
  let at = 0
  try {
    for (let blob = 0; at < numbers.length; blob++) {
      current = ''
      const offset = numbers[at], length = numbers[at + 1], size = numbers[at + 2], codec = numbers[at + 3]
      const within = numbers[at + 4], frameSize = numbers[at + 5], targets = numbers[at + 6]
      at += 7
      const stored = bytes.subarray(offset, offset + length)
      let raw
      try {
        if (codec === 0) raw = stored
        else if (codec === 1) raw = unzstd(stored, size)
        else {
          if (frameOffset !== offset) {
            frame = unzstd(stored, frameSize)
            frameOffset = offset
          }
          raw = frame.subarray(within, within + size)
        }
      } catch {
        throw failure(${JSON.stringify(BLOB_UNDECODABLE)}, 'a blob does not decode')
      }
      if (raw.length !== size || hash('sha256', raw, 'hex') !== digests.slice(blob * 64, blob * 64 + 64)) {
        throw failure(${JSON.stringify(BLOB_MISMATCH)}, 'a blob does not match its sha256')
      }
      for (let target = 0; target < targets; target++) {
        const position = numbers[at], whole = numbers[at + 1] !== 0, mode = numbers[at + 2], mtime = numbers[at + 3]
        const inTheWay = numbers[at + 1] === 2
        at += 4
        current = paths[path++]
        const fd = whole ? openReplacing(fs, current, flags, mode, inTheWay) : fs.openSync(current, CHUNK_FLAGS)
        try {
          writeAll(fd, raw, whole ? null : position)
          if (whole && (mode & umask) !== 0) fs.fchmodSync(fd, mode)
          if (whole && !Number.isNaN(mtime)) fs.futimesSync(fd, mtime / 1000, mtime / 1000)
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
 * A writer's old generation: a job holds at most MAX_RUN_BLOBS targets of frames of at most
 * MAX_FRAME_BLOBS blobs, a few MiB of strings and numbers; its bytes are outside the heap. A
 * bound keeps promoted garbage from growing the heap (20–40 MiB less at the mixed bench tree's peak).
 */
const OLD_GENERATION_MB = 128

/**
 * Decodes, checks and writes fetched ranges on worker threads, so the main thread only fetches:
 * per file, the open, write, utime and close system calls cost more than anything else a restore
 * does, and decompressing and hashing on the same thread spares copies between threads.
 */
export class BlobWriters {
  private readonly jobs: ThreadJobs<WriteJob, number>

  constructor(openFlags: number, threads = Math.min(2, availableParallelism())) {
    this.jobs = new ThreadJobs('blob writer', WRITER_SOURCE, { flags: openFlags, umask: process.umask() }, threads, { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB, maxOldGenerationSizeMb: OLD_GENERATION_MB })
  }

  /**
   * Writes every blob of a fetched range on one thread; resolves with the bytes written. The
   * range's memory moves to that thread (it is copied first when it shares its buffer).
   */
  async write(job: WriteJob): Promise<number> {
    const bytes = ownsItsBuffer(job.bytes) ? job.bytes : new Uint8Array(job.bytes)
    return this.jobs.run({ ...job, bytes }, [bytes.buffer as ArrayBuffer])
  }

  async close(): Promise<void> {
    await this.jobs.close()
  }
}

function ownsItsBuffer(bytes: Uint8Array): boolean {
  return bytes.buffer instanceof ArrayBuffer && bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
}
