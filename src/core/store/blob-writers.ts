import { availableParallelism } from 'node:os'
import { ThreadJobs } from '../thread-jobs.js'
import type { WriterJob } from './blob-writer.worker.js'
import type { WriteJob } from './write-job.js'

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
  private readonly jobs: ThreadJobs<WriterJob, number>
  private readonly umask = process.umask()

  constructor(
    private readonly openFlags: number,
    threads = Math.min(2, availableParallelism())
  ) {
    const limits = { maxYoungGenerationSizeMb: YOUNG_GENERATION_MB, maxOldGenerationSizeMb: OLD_GENERATION_MB }
    this.jobs = new ThreadJobs('blob writer', new URL('./blob-writer.worker.js', import.meta.url), threads, limits)
  }

  /**
   * Writes every blob of a fetched range on one thread; resolves with the bytes written. The job's
   * arrays move to that thread (each is copied first when it shares its buffer).
   */
  async write(job: WriteJob): Promise<number> {
    const [bytes, files, digests] = [job.bytes, job.files, job.digests].map(own)
    const numbers = ownsItsBuffer(job.numbers) ? job.numbers : job.numbers.slice()
    const moved = [bytes, numbers, files, digests].map(array => array.buffer as ArrayBuffer)
    return this.jobs.run({ bytes, numbers, files, digests, flags: this.openFlags, umask: this.umask }, moved)
  }

  async close(): Promise<void> {
    await this.jobs.close()
  }
}

function own(bytes: Uint8Array): Uint8Array {
  return ownsItsBuffer(bytes) ? bytes : new Uint8Array(bytes)
}

/** Whether an array is the whole of an ArrayBuffer (by its tag: `instanceof` fails across realms, as under jest). */
function ownsItsBuffer(bytes: Uint8Array | Float64Array): boolean {
  const whole = bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength
  return whole && Object.prototype.toString.call(bytes.buffer) === '[object ArrayBuffer]'
}
