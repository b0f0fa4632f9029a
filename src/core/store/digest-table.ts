import { randomBytes } from 'node:crypto'
import { DIGEST_BYTES } from '../manifest/columns.js'

/** Per process, so that digests a manifest lists cannot be chosen to fall into one slot. */
const SEED = randomBytes(4).readUInt32LE(0)

/**
 * sha256 digests numbered 0, 1, …: 32 bytes each in one buffer, found by an open-addressing table
 * of their numbers. About 40 bytes a digest, where a Map keyed by hex strings takes several times that.
 */
export class DigestTable {
  /** Digest `k` at `32 * k`. */
  private bytes: Buffer
  private count: number
  /** `k + 1` per used slot, 0 in an empty one; a power of two in length, at most half full. */
  private slots: Uint32Array

  /** A table of the digests in `bytes` (32 each), none of them findable until `index` makes it so. */
  private constructor(bytes: Buffer, count: number) {
    this.bytes = bytes
    this.count = count
    this.slots = new Uint32Array(slotsFor(count))
  }

  static empty(): DigestTable {
    return new DigestTable(Buffer.allocUnsafeSlow(DIGEST_BYTES * 1024), 0)
  }

  /**
   * The digests in `digests` (32 bytes each, used in place) under their positions, where
   * `findable(k)` holds; a digest listed twice is found under its first findable position.
   */
  static of(digests: Uint8Array, findable: (k: number) => boolean): DigestTable {
    const bytes = Buffer.from(digests.buffer, digests.byteOffset, digests.length)
    const table = new DigestTable(bytes, bytes.length / DIGEST_BYTES)
    for (let k = 0; k < table.count; k++) if (findable(k) && table.find(bytes, DIGEST_BYTES * k) < 0) table.insert(k)
    return table
  }

  get size(): number {
    return this.count
  }

  /** The number of the digest at `source[offset…offset + 32]`, or -1. */
  find(source: Uint8Array, offset = 0): number {
    const mask = this.slots.length - 1
    for (let slot = hashOf(source, offset) & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]
      if (entry === 0) return -1
      const at = DIGEST_BYTES * (entry - 1)
      if (this.bytes.compare(source, offset, offset + DIGEST_BYTES, at, at + DIGEST_BYTES) === 0) return entry - 1
    }
  }

  /** Numbers a digest the table does not hold yet (see `find`): the next number. */
  add(source: Uint8Array, offset = 0): number {
    const k = this.count++
    if (this.bytes.length < DIGEST_BYTES * this.count) {
      const bytes = Buffer.allocUnsafeSlow(Math.max(2 * this.bytes.length, DIGEST_BYTES * 1024))
      this.bytes.copy(bytes, 0, 0, DIGEST_BYTES * k)
      this.bytes = bytes
    }
    this.bytes.set(source.subarray(offset, offset + DIGEST_BYTES), DIGEST_BYTES * k)
    if (2 * this.count > this.slots.length) {
      this.slots = new Uint32Array(2 * this.slots.length)
      for (let j = 0; j < k; j++) this.insert(j)
    }
    this.insert(k)
    return k
  }

  /** The number of a digest, added if the table does not hold it yet. */
  numberOf(source: Uint8Array, offset = 0): number {
    const k = this.find(source, offset)
    return k < 0 ? this.add(source, offset) : k
  }

  /** The buffer digest `k` is in, at `32 * k`: valid until the next `add`. */
  get buffer(): Buffer {
    return this.bytes
  }

  hexAt(k: number): string {
    return this.bytes.toString('hex', DIGEST_BYTES * k, DIGEST_BYTES * k + DIGEST_BYTES)
  }

  /** Every digest in order, 32 bytes each: a view, valid until the next `add`. */
  digests(): Buffer {
    return this.bytes.subarray(0, DIGEST_BYTES * this.count)
  }

  private insert(k: number): void {
    const mask = this.slots.length - 1
    let slot = hashOf(this.bytes, DIGEST_BYTES * k) & mask
    while (this.slots[slot] !== 0) slot = (slot + 1) & mask
    this.slots[slot] = k + 1
  }
}

function slotsFor(count: number): number {
  let slots = 2048
  while (slots < 2 * count) slots *= 2
  return slots
}

/** A seeded hash of all 32 bytes of a digest. */
function hashOf(bytes: Uint8Array, offset: number): number {
  let hash = SEED
  for (let at = offset; at < offset + DIGEST_BYTES; at += 4) {
    const word = bytes[at] | (bytes[at + 1] << 8) | (bytes[at + 2] << 16) | (bytes[at + 3] << 24)
    hash = Math.imul(hash ^ word, 0x9e3779b1)
    hash ^= hash >>> 15
  }
  return hash >>> 0
}
