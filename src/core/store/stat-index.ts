import {
  closeSync,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  unlinkSync,
  writeSync,
  type BigIntStats
} from 'node:fs'
import { createHash } from 'node:crypto'
import * as path from 'node:path'
import * as zlib from 'node:zlib'
import type { PathColumn } from '../manifest/path-column.js'
import { assertSafeRelativePath } from '../manifest/validate.js'
import { grown } from '../grown.js'
import { sha256, sha256Hex, zstdPiecesInto, zstdSync } from './codec.js'

/**
 * The stat index of a restore target, as git's index: for each regular file a restore wrote or
 * verified, its lstat identity (device, inode, size, mtime, ctime, mode) and a content key (see
 * contentKey). A file whose lstat still shows that identity and whose manifest entry has that key
 * is taken as unchanged without reading it: any write to a file changes its ctime, even when its
 * mtime is set back. One file per target, named by a hash of its absolute roots, holding no
 * secrets; deleting it only costs hashing on the next restore. This module alone reads and
 * writes it; anything malformed reads as no index.
 *
 * Layout: MAGIC, sha256 of the payload (32 bytes), the payload's length (u32), the zstd'd payload.
 * Payload: a u32 length and a JSON header {roots, count, pathBytes}, then little-endian columns of
 * `count`: root index (u32), path length (u32), dev, ino, size (i64, as lstat gives them), mode (u32),
 * mtime and ctime in ns (i64), content key (32 bytes), then the paths' UTF-8 bytes.
 */

const MAGIC = Buffer.from('AASTIX01')
const PREFIX = MAGIC.length + 32 + 4
/** Bytes per record in the columns, besides its path. */
const RECORD_BYTES = 4 + 4 + 8 + 8 + 8 + 4 + 8 + 8 + 32
/** Larger payloads are not read (nor written): a tree of millions of files restores without one. */
const MAX_PAYLOAD = 512 * 1024 * 1024
const NS_PER_MS = 1_000_000n

/**
 * How long after its last change a file's ctime can still repeat: a write within the same clock
 * tick leaves it as it was (git's "racily clean" files). A file changed this recently before it was
 * looked at is not recorded. Whole-millisecond ctimes may come from a file system that keeps
 * seconds (or two), so they get the longer wait.
 */
export function racyWindowNs(ctimeNs: bigint): bigint {
  return ctimeNs % NS_PER_MS === 0n ? 2_000_000_000n : 100_000_000n
}

/** The system clock in ns: read before the lstat calls whose results it stamps. */
export function clockNs(): bigint {
  return BigInt(Date.now()) * NS_PER_MS
}

/**
 * What a file entry's content is, from its blob digests (hex, in order): the digest itself for one
 * blob, else the sha256 of the digests' concatenated hex.
 */
export function contentKey(digests: string): string {
  return digests.length === 64 ? digests : sha256Hex(digests)
}

/** The index file of a target: a hash of its absolute roots, in order. */
export function statIndexFile(folder: string, roots: string[]): string {
  return path.join(folder, `${sha256Hex(JSON.stringify(roots)).slice(0, 32)}.idx`)
}

/** A payload as the file holds it: MAGIC, its sha256 and length, then zstd'd. */
export function packStatIndex(payload: Buffer): Buffer {
  return Buffer.concat(packedParts(payload))
}

/** The file's prefix and its zstd'd payload: written one after the other, not joined first. */
function packedParts(payload: Buffer): [Buffer, Buffer] {
  if (payload.length > MAX_PAYLOAD) throw new Error('too large')
  return [prefixOf(sha256(payload), payload.length), zstdSync(payload)]
}

/** MAGIC, then the payload's sha256 and length. */
function prefixOf(payloadSha256: Buffer, length: number): Buffer {
  const prefix = Buffer.alloc(PREFIX)
  MAGIC.copy(prefix)
  payloadSha256.copy(prefix, MAGIC.length)
  prefix.writeUInt32LE(length, MAGIC.length + 32)
  return prefix
}

/** The payload of a file, checked against its length and sha256; throws when it does not match. */
export function unpackStatIndex(file: Buffer): Buffer {
  if (file.length < PREFIX || !file.subarray(0, MAGIC.length).equals(MAGIC)) throw new Error('not a stat index')
  const rawLength = file.readUInt32LE(MAGIC.length + 32)
  if (rawLength > MAX_PAYLOAD) throw new Error('too large')
  // Decoded into one buffer of the length it should have (and a spare byte), not in chunks joined.
  const payload = zlib.zstdDecompressSync(file.subarray(PREFIX), {
    chunkSize: Math.max(zlib.constants.Z_MIN_CHUNK, rawLength + 1),
    maxOutputLength: Math.max(1, rawLength)
  })
  if (payload.length !== rawLength) throw new Error('wrong length')
  if (sha256Hex(payload) !== file.toString('hex', MAGIC.length, MAGIC.length + 32)) throw new Error('wrong sha256')
  return payload
}

/** A read index: the records of one target's roots, found through a hash table of their paths. */
export class StatIndex {
  private constructor(
    private readonly payload: Buffer,
    private readonly columns: number,
    private readonly count: number,
    /** Where each record's path starts in the payload. */
    private readonly pathStarts: Float64Array,
    /** Open addressing: a record's number plus one, at its path's hash (and on); 0 where none. */
    private readonly slots: Uint32Array
  ) {}

  /** The target's index in `folder`, or undefined when there is none or it is not sound. */
  static read(folder: string, roots: string[]): StatIndex | undefined {
    try {
      return StatIndex.parse(readFileSync(statIndexFile(folder, roots)), roots)
    } catch {
      return undefined
    }
  }

  /** Checks the whole file before any record is used; throws on anything amiss. */
  static parse(file: Buffer, roots: string[]): StatIndex {
    const payload = unpackStatIndex(file)
    const headerLength = payload.readUInt32LE(0)
    const header: unknown = JSON.parse(payload.toString('utf8', 4, 4 + headerLength))
    if (!isHeader(header) || JSON.stringify(header.roots) !== JSON.stringify(roots)) throw new Error('other roots')
    const { count, pathBytes } = header
    const columns = 4 + headerLength
    if (payload.length !== columns + count * RECORD_BYTES + pathBytes) throw new Error('wrong size')
    const pathStarts = new Float64Array(count)
    const slots = new Uint32Array(tableSize(count))
    const mask = slots.length - 1
    let at = columns + count * RECORD_BYTES
    for (let j = 0; j < count; j++) {
      const root = payload.readUInt32LE(columns + 4 * j)
      const length = payload.readUInt32LE(columns + 4 * count + 4 * j)
      if (root >= roots.length || length > pathBytes) throw new Error('bad record')
      const relative = payload.toString('utf8', at, at + length)
      assertSafeRelativePath(relative)
      if (Buffer.byteLength(relative) !== length) throw new Error('bad path')
      pathStarts[j] = at
      let slot = pathHash(root, payload, at, at + length) & mask
      for (let probes = 0; slots[slot] !== 0; slot = (slot + 1) & mask) {
        // Paths made to collide would make the parse quadratic: such an index is not used.
        if (++probes > MAX_PROBES) throw new Error('paths collide')
        const other = slots[slot] - 1
        const otherLength = payload.readUInt32LE(columns + 4 * count + 4 * other)
        const sameRoot = payload.readUInt32LE(columns + 4 * other) === root
        const otherStart = pathStarts[other]
        if (sameRoot && payload.compare(payload, at, at + length, otherStart, otherStart + otherLength) === 0)
          throw new Error('bad path')
      }
      slots[slot] = j + 1
      at += length
    }
    if (at !== payload.length) throw new Error('wrong path bytes')
    return new StatIndex(payload, columns, count, pathStarts, slots)
  }

  /** Whether path `i` of `paths`, in root `root`, is recorded with exactly this lstat identity and content key. */
  trusts(root: number, paths: PathColumn, i: number, stats: BigIntStats, key: string): boolean {
    const j = this.recordOf(root, paths, i)
    if (j === undefined || !stats.isFile() || stats.nlink !== 1n) return false
    const { payload, columns, count } = this
    const i64 = (offset: number): bigint => payload.readBigInt64LE(columns + offset * count + 8 * j)
    const keyAt = columns + count * (RECORD_BYTES - 32) + 32 * j
    return (
      i64(8) === stats.dev &&
      i64(16) === stats.ino &&
      i64(24) === stats.size &&
      payload.readUInt32LE(columns + 32 * count + 4 * j) === Number(stats.mode) &&
      i64(36) === stats.mtimeNs &&
      i64(44) === stats.ctimeNs &&
      payload.toString('hex', keyAt, keyAt + 32) === key
    )
  }

  /** The record of path `i` of `paths` in root `root`, if any. */
  private recordOf(root: number, paths: PathColumn, i: number): number | undefined {
    const { payload, columns, count, pathStarts, slots } = this
    const path = paths.bytesOf(i)
    const mask = slots.length - 1
    for (let slot = pathHash(root, path, 0, path.length) & mask; slots[slot] !== 0; slot = (slot + 1) & mask) {
      const j = slots[slot] - 1
      if (payload.readUInt32LE(columns + 4 * j) !== root) continue
      const length = payload.readUInt32LE(columns + 4 * count + 4 * j)
      if (length === path.length && path.compare(payload, pathStarts[j], pathStarts[j] + length) === 0) return j
    }
    return undefined
  }
}

/** Records probed past at most per insert; a table at most half full rarely passes a few dozen. */
const MAX_PROBES = 4096

/** A power of two at least twice `count`: the hash table's slots. */
function tableSize(count: number): number {
  let size = 16
  while (size < 2 * count) size *= 2
  return size
}

/** FNV-1a of a root and a path's UTF-8 bytes, `bytes[start…end)`. */
function pathHash(root: number, bytes: Buffer, start: number, end: number): number {
  let hash = Math.imul(0x811c9dc5 ^ root, 0x01000193)
  for (let at = start; at < end; at++) hash = Math.imul(hash ^ bytes[at], 0x01000193)
  return hash >>> 0
}

/** The records of a restore, collected as files are written or found unchanged, then written at once. */
export class StatIndexBuilder {
  private count = 0
  /** Per record, its entry's index in `paths`: the builder holds no copy of a path. */
  private entries: Uint32Array
  /** The payload's columns, in typed arrays as it lays them out (not an lstat object per file), and grown by doubling. */
  private roots: Uint32Array
  private devs: BigInt64Array
  private inos: BigInt64Array
  private sizes: BigInt64Array
  private modes: Uint32Array
  private mtimes: BigInt64Array
  private ctimes: BigInt64Array
  /** Per record, its content key's 32 bytes. */
  private keys: Buffer

  /** `paths`: the manifest's, which records name by index; `capacity`: the records expected at most (more grow the arrays). */
  constructor(
    private readonly paths: PathColumn,
    capacity = 1024
  ) {
    const records = Math.max(1, capacity)
    this.entries = new Uint32Array(records)
    this.roots = new Uint32Array(records)
    this.devs = new BigInt64Array(records)
    this.inos = new BigInt64Array(records)
    this.sizes = new BigInt64Array(records)
    this.modes = new Uint32Array(records)
    this.mtimes = new BigInt64Array(records)
    this.ctimes = new BigInt64Array(records)
    this.keys = Buffer.alloc(32 * records)
  }

  /**
   * Records a regular file of one link, unless it changed within the racy window before `stampNs`
   * (a clock reading taken before its lstat).
   */
  add(root: number, i: number, stats: BigIntStats, key: string, stampNs: bigint): void {
    if (!stats.isFile() || stats.nlink !== 1n) return
    if (stats.ctimeNs + racyWindowNs(stats.ctimeNs) > stampNs) return
    const j = this.count
    if (j === this.roots.length) this.grow()
    this.devs[j] = stats.dev
    this.inos[j] = stats.ino
    this.sizes[j] = stats.size
    this.modes[j] = Number(stats.mode)
    this.mtimes[j] = stats.mtimeNs
    this.ctimes[j] = stats.ctimeNs
    if (this.keys.write(key, 32 * j, 32, 'hex') !== 32) throw new Error('a content key is 64 hex digits')
    this.roots[j] = root
    this.entries[j] = i
    this.count++
  }

  private grow(): void {
    const records = 2 * this.roots.length
    this.entries = grown(this.entries, new Uint32Array(records))
    this.roots = grown(this.roots, new Uint32Array(records))
    this.devs = grown(this.devs, new BigInt64Array(records))
    this.inos = grown(this.inos, new BigInt64Array(records))
    this.sizes = grown(this.sizes, new BigInt64Array(records))
    this.modes = grown(this.modes, new Uint32Array(records))
    this.mtimes = grown(this.mtimes, new BigInt64Array(records))
    this.ctimes = grown(this.ctimes, new BigInt64Array(records))
    this.keys = grown(this.keys, Buffer.alloc(32 * records))
  }

  /** The file's bytes. */
  encode(roots: string[]): Buffer {
    const { length, pieces } = this.payload(roots)
    const payload = Buffer.alloc(length)
    let at = 0
    for (const piece of pieces) at += Buffer.from(piece.buffer, piece.byteOffset, piece.length).copy(payload, at)
    return packStatIndex(payload)
  }

  /**
   * The payload in pieces, made as they are taken: each column in turn (a view), then the paths a
   * batch at a time, so that the payload is never held whole.
   */
  private payload(roots: string[]): { length: number; pieces: Iterable<Uint8Array> } {
    const { count, paths, entries } = this
    const pathLengths = new Uint32Array(count)
    let pathBytes = 0
    for (let j = 0; j < count; j++) pathBytes += pathLengths[j] = paths.bytesOf(entries[j]).length
    const header = Buffer.from(JSON.stringify({ roots, count, pathBytes }))
    const headerLength = Buffer.alloc(4)
    headerLength.writeUInt32LE(header.length, 0)
    const pieces = function* (this: StatIndexBuilder): Generator<Uint8Array> {
      yield headerLength
      yield header
      yield bytesOf(this.roots.subarray(0, count))
      yield bytesOf(pathLengths)
      for (const column of [this.devs, this.inos, this.sizes, this.modes, this.mtimes, this.ctimes])
        yield bytesOf(column.subarray(0, count))
      yield this.keys.subarray(0, 32 * count)
      for (let j = 0; j < count; j += PATH_BATCH) {
        const batch = entries.subarray(j, Math.min(count, j + PATH_BATCH))
        yield Buffer.concat(Array.from(batch, i => paths.bytesOf(i)))
      }
    }
    return { length: 4 + header.length + count * RECORD_BYTES + pathBytes, pieces: pieces.call(this) }
  }

  /**
   * Replaces the target's index in `folder` (made if missing) through a temporary file and a rename.
   * A failure leaves the old one or none: the index only saves reading files.
   */
  async write(folder: string, roots: string[]): Promise<void> {
    const file = statIndexFile(folder, roots)
    const temporary = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`
    try {
      const { length, pieces } = this.payload(roots)
      if (length > MAX_PAYLOAD) return
      const hash = createHash('sha256')
      const hashed = function* (): Generator<Uint8Array> {
        for (const piece of pieces) {
          hash.update(piece)
          yield piece
        }
      }
      mkdirSync(folder, { recursive: true })
      const fd = openSync(temporary, 'wx', 0o600)
      try {
        // The compressed payload goes to the file as it comes; the prefix, which needs its sha256, last.
        let at = PREFIX
        await zstdPiecesInto(hashed(), length, output => (at += writeAll(fd, output, at)))
        writeAll(fd, prefixOf(hash.digest(), length), 0)
      } finally {
        closeSync(fd)
      }
      renameSync(temporary, file)
    } catch {
      try {
        unlinkSync(temporary)
      } catch {
        // never written
      }
    }
  }
}

/** Paths joined into one piece of the payload at a time. */
const PATH_BATCH = 4096

/** The bytes of a typed array (a view). */
function bytesOf(values: Uint32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
}

/** Writes all of `bytes` at `position`; returns their length. */
function writeAll(fd: number, bytes: Buffer, position: number): number {
  for (let written = 0; written < bytes.length;)
    written += writeSync(fd, bytes, written, bytes.length - written, position + written)
  return bytes.length
}

function isHeader(value: unknown): value is { roots: string[]; count: number; pathBytes: number } {
  if (typeof value !== 'object' || value === null) return false
  const { roots, count, pathBytes } = value as Record<string, unknown>
  return (
    Array.isArray(roots) &&
    roots.every(root => typeof root === 'string') &&
    Number.isSafeInteger(count) &&
    (count as number) >= 0 &&
    Number.isSafeInteger(pathBytes) &&
    (pathBytes as number) >= 0
  )
}
