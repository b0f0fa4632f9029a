import { open } from 'node:fs/promises'
import { ThreadJobs } from '../thread-jobs.js'
import type { CutJob, FileCuts } from './chunker.worker.js'
import { DEFAULT_CHUNK_PARAMS, type ChunkParams } from './fastcdc.js'

/** A file's chunks in an earlier save: their lengths and sha256 digests, in order. */
export interface KnownChunks {
  lengths: number[]
  digests: string[]
}

/**
 * Finds the chunk boundaries of large files on a thread of its own, ahead of the save that reads
 * and stores the chunks: chunking is the one per-byte step of a save that only JavaScript does.
 */
export class CutFinder {
  /** Started by the first file: a save with no large file to chunk starts no thread. */
  private jobs?: ThreadJobs<CutJob, FileCuts>

  constructor(private readonly params: ChunkParams = DEFAULT_CHUNK_PARAMS) {}

  /**
   * The chunk lengths of `file`, in order; they add up to the bytes it had when it was scanned. The
   * chunks it still shares from the start with `known` are confirmed by sha256 instead of scanned:
   * the same cuts, at the cost of hashing (a file that grew at its end is scanned from its last known chunk).
   */
  cuts(file: string, known: KnownChunks = { lengths: [], digests: [] }): Promise<FileCuts> {
    if (!this.jobs) this.jobs = new ThreadJobs('chunking', new URL('./chunker.worker.js', import.meta.url), 1)
    return this.jobs.run({ file, lengths: known.lengths, digests: known.digests.join(''), params: this.params })
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
    if ((await handle.read(Buffer.alloc(1), 0, 1, position)).bytesRead !== 0)
      throw new Error(`${path} changed while it was being saved`)
  } finally {
    await handle.close()
  }
}
