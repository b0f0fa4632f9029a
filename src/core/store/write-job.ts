/**
 * A fetched byte range as a writer job: its bytes, then numbers and bytes that say where each blob's
 * stored bytes are, how they decode and where they go. Copying nested objects to a thread costs several
 * times more than copying these flat arrays, and each is moved to the thread, not copied: a large
 * string per job would be garbage that only a full collection frees.
 */
export interface WriteJob {
  bytes: Uint8Array
  /** Per blob, in offset order, its BLOB fields; then per target of it, its TARGET fields. */
  numbers: Float64Array
  /** The targets' files as UTF-8, each followed by a NUL (a manifest path has no NUL). */
  files: Uint8Array
  /** The blobs' sha256 digests, 32 bytes each. */
  digests: Uint8Array
}

/** A blob's fields in `numbers`: where its stored bytes are in `bytes`, their codec, and its target count. */
const BLOB = {
  offset: 0,
  length: 1,
  /** Raw size. */
  size: 2,
  codec: 3,
  /** Place within its shared frame, and the frame's raw size (else 0). */
  within: 4,
  frameSize: 5,
  targets: 6,
  count: 7
} as const satisfies Record<string, number>

/**
 * A target's fields: where the blob goes in its file; whole (1: the blob is the whole file, 2: the same where
 * something may be in the way, 0: a chunk at the position); mode; mtime (NaN when none).
 */
const TARGET = { position: 0, whole: 1, mode: 2, mtime: 3, count: 4 } as const

/** Lays out a WriteJob: each blob, in offset order, followed by its targets. */
export class WriteJobBuilder {
  private numbers = new Float64Array(1024)
  private length = 0
  private readonly files: string[] = []
  private readonly digests: string[] = []
  /** Where the last blob's fields start. */
  private blobAt = -1

  blob(
    digest: string,
    offset: number,
    length: number,
    size: number,
    codec: number,
    within: number,
    frameSize: number
  ): void {
    this.blobAt = this.length
    // In BLOB's order.
    this.push(offset, length, size, codec, within, frameSize, 0)
    this.digests.push(digest)
  }

  /**
   * A target of the last blob: the `whole` file, or a chunk of it at `position`; `mtime` NaN when none.
   * `inTheWay`: the file's directory was there before, so something may already be at its place (a new
   * directory of the restore holds nothing).
   */
  target(file: string, position: number, whole: boolean, mode: number, mtime: number, inTheWay = true): void {
    this.numbers[this.blobAt + BLOB.targets]++
    // In TARGET's order.
    this.push(position, whole ? (inTheWay ? 2 : 1) : 0, mode, mtime)
    this.files.push(file)
  }

  build(bytes: Uint8Array): WriteJob {
    let fileBytes = 0
    for (const file of this.files) fileBytes += Buffer.byteLength(file) + 1
    // Plain typed arrays, each with a buffer of its own, so that they can move to a thread.
    const files = new Uint8Array(fileBytes)
    const fileText = Buffer.from(files.buffer)
    let at = 0
    for (const file of this.files) at += fileText.write(file, at) + 1
    const digests = new Uint8Array(32 * this.digests.length)
    const digestBytes = Buffer.from(digests.buffer)
    this.digests.forEach((digest, blob) => digestBytes.write(digest, 32 * blob, 32, 'hex'))
    return { bytes, numbers: this.numbers.slice(0, this.length), files, digests }
  }

  private push(...values: number[]): void {
    if (this.length + values.length > this.numbers.length) {
      const grown = new Float64Array(2 * this.numbers.length)
      grown.set(this.numbers)
      this.numbers = grown
    }
    this.numbers.set(values, this.length)
    this.length += values.length
  }
}

/** Codes a writer thread fails with when a blob is not what the manifest says. */
export const BLOB_UNDECODABLE = 'EBLOBDECODE'
export const BLOB_MISMATCH = 'EBLOBDIGEST'

/**
 * Reads a WriteJob in the order it was laid out: `nextBlob()` moves to the next blob and
 * `nextTarget()` to the next target of the current blob, each setting the fields below.
 */
export class WriteJobReader {
  offset = 0
  length = 0
  size = 0
  codec = 0
  within = 0
  frameSize = 0
  targets = 0
  digest = ''
  file = ''
  position = 0
  whole = false
  inTheWay = false
  mode = 0
  mtime = NaN
  private at = 0
  private blob = -1
  /** Where the next target's file starts in `files`. */
  private fileAt = 0
  private readonly job: WriteJob
  private readonly files: Buffer
  private readonly digests: Buffer

  // No parameter property: a writer thread run from the sources takes this file as node strips it.
  constructor(job: WriteJob) {
    this.job = job
    this.files = Buffer.from(job.files.buffer, job.files.byteOffset, job.files.byteLength)
    this.digests = Buffer.from(job.digests.buffer, job.digests.byteOffset, job.digests.byteLength)
  }

  nextBlob(): boolean {
    const { numbers } = this.job
    const at = this.at
    if (at >= numbers.length) return false
    this.offset = numbers[at + BLOB.offset]
    this.length = numbers[at + BLOB.length]
    this.size = numbers[at + BLOB.size]
    this.codec = numbers[at + BLOB.codec]
    this.within = numbers[at + BLOB.within]
    this.frameSize = numbers[at + BLOB.frameSize]
    this.targets = numbers[at + BLOB.targets]
    this.at += BLOB.count
    this.blob++
    this.digest = this.digests.toString('hex', this.blob * 32, this.blob * 32 + 32)
    return true
  }

  nextTarget(): void {
    const { numbers } = this.job
    const at = this.at
    this.position = numbers[at + TARGET.position]
    this.whole = numbers[at + TARGET.whole] !== 0
    this.inTheWay = numbers[at + TARGET.whole] === 2
    this.mode = numbers[at + TARGET.mode]
    this.mtime = numbers[at + TARGET.mtime]
    this.at += TARGET.count
    const end = this.files.indexOf(0, this.fileAt)
    this.file = this.files.toString('utf8', this.fileAt, end)
    this.fileAt = end + 1
  }
}
