/**
 * A fetched byte range as a writer job: its bytes, then numbers and two strings that say where each
 * blob's stored bytes are, how they decode and where they go. Copying nested objects to a thread
 * costs several times more than copying these flat arrays.
 */
export interface WriteJob {
  bytes: Uint8Array
  /** Per blob, in offset order, its BLOB fields; then per target of it, its TARGET fields. */
  numbers: Float64Array
  /** The targets' files, NUL-separated (a manifest path has no NUL). */
  files: string
  /** The blobs' sha256 hex digests, back to back. */
  digests: string
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
  private readonly numbers: number[] = []
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
    this.blobAt = this.numbers.length
    // In BLOB's order; push keeps the array packed.
    this.numbers.push(offset, length, size, codec, within, frameSize, 0)
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
    this.numbers.push(position, whole ? (inTheWay ? 2 : 1) : 0, mode, mtime)
    this.files.push(file)
  }

  build(bytes: Uint8Array): WriteJob {
    return {
      bytes,
      numbers: Float64Array.from(this.numbers),
      files: this.files.join('\0'),
      digests: this.digests.join('')
    }
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
  private path = 0
  private readonly job: WriteJob
  private readonly paths: string[]

  // No parameter property: a writer thread run from the sources takes this file as node strips it.
  constructor(job: WriteJob) {
    this.job = job
    this.paths = job.files.split('\0')
  }

  nextBlob(): boolean {
    const { numbers, digests } = this.job
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
    this.digest = digests.slice(this.blob * 64, this.blob * 64 + 64)
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
    this.file = this.paths[this.path++]
  }
}
