import { hash } from 'node:crypto'
import * as fs from 'node:fs'
import * as zlib from 'node:zlib'
import { serveJobs } from '../thread-protocol.js'
import { futimesSeconds } from './file-times.js'
import { openReplacing } from './open-replacing.js'
import { BLOB_MISMATCH, BLOB_UNDECODABLE, WriteJobReader, type WriteJob } from './write-job.js'

/**
 * A blob writer thread (BlobWriters starts them). Per range, in offset order: each blob is decoded
 * (a shared frame once), checked against its sha256, and written to its targets. A whole file is
 * opened with openReplacing, written, given its mode when the umask would have narrowed it, and its
 * mtime; a chunk is written into its file, which the caller created at its full size. Replies with
 * the bytes written.
 */

/** A range to write, with how its whole files are opened and the process's umask. */
export interface WriterJob extends WriteJob {
  flags: number
  umask: number
}

// Windows has no O_NOFOLLOW: a chunk's file there is opened following a link (the restore made the file itself).
const CHUNK_FLAGS = fs.constants.O_WRONLY | (fs.constants.O_NOFOLLOW ?? 0)

const failure = (code: string, message: string): Error => Object.assign(new Error(message), { code })

const unzstd = (stored: Uint8Array, size: number): Buffer =>
  zlib.zstdDecompressSync(stored, { chunkSize: Math.max(64, size), maxOutputLength: Math.max(1, size) })

function writeAll(fd: number, data: Uint8Array, position: number | null): void {
  let written = 0
  while (written < data.length) {
    written += fs.writeSync(fd, data, written, data.length - written, position === null ? null : position + written)
  }
}

export function handle(job: WriterJob): number {
  const { bytes, flags, umask } = job
  const blob = new WriteJobReader(job)
  // Blobs come in offset order, so a shared frame's blobs are neighbours: one decoded frame is kept.
  let frame: Uint8Array | undefined
  let frameOffset = -1
  let current = ''
  let written = 0
  try {
    while (blob.nextBlob()) {
      current = ''
      const { offset, size } = blob
      const stored = bytes.subarray(offset, offset + blob.length)
      let raw: Uint8Array
      try {
        if (blob.codec === 0) raw = stored
        else if (blob.codec === 1) raw = unzstd(stored, size)
        else {
          if (frameOffset !== offset || !frame) {
            frame = unzstd(stored, blob.frameSize)
            frameOffset = offset
          }
          raw = frame.subarray(blob.within, blob.within + size)
        }
      } catch {
        throw failure(BLOB_UNDECODABLE, 'a blob does not decode')
      }
      if (raw.length !== size || hash('sha256', raw, 'hex') !== blob.digest) {
        throw failure(BLOB_MISMATCH, 'a blob does not match its sha256')
      }
      for (let target = 0; target < blob.targets; target++) {
        blob.nextTarget()
        const { whole, inTheWay, mode, mtime } = blob
        current = blob.file
        const fd = whole ? openReplacing(fs, current, flags, mode, inTheWay) : fs.openSync(current, CHUNK_FLAGS)
        try {
          writeAll(fd, raw, whole ? null : blob.position)
          if (whole && (mode & umask) !== 0) fs.fchmodSync(fd, mode)
          if (whole && !Number.isNaN(mtime)) fs.futimesSync(fd, futimesSeconds(mtime), futimesSeconds(mtime))
        } finally {
          fs.closeSync(fd)
        }
        written += raw.length
      }
    }
  } catch (error) {
    if (current) (error as { file?: string }).file = current
    throw error
  }
  return written
}

serveJobs(import.meta.url, handle)
