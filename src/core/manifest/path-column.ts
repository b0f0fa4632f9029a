import { isUtf8 } from 'node:buffer'
import { grown } from '../grown.js'

/** The separator between paths as a manifest stores them; no path holds one. */
const NUL = 0
const SLASH = 0x2f

/**
 * A column of relative paths as the manifest stores them, their UTF-8 bytes NUL-joined, and where
 * each starts: about a byte a character and 4 an entry, where a string per path costs a heap object
 * each. Path `i` is `text[starts[i] … starts[i + 1] - 1)` (the last one ends where a next separator
 * would be). Paths compare and hash as bytes; `at(i)` decodes one when a string is needed.
 */
export class PathColumn implements Iterable<string> {
  /** Trusts its arguments: read() and PathColumnBuilder make columns. */
  constructor(
    /** The NUL-joined UTF-8 bytes. */
    readonly text: Buffer,
    /** `length + 1` offsets: path `i` starts at `starts[i]` and ends at `starts[i + 1] - 1`. */
    readonly starts: Uint32Array
  ) {}

  static readonly empty = new PathColumn(Buffer.alloc(0), Uint32Array.of(0))

  /** The paths of strings, which must be free of NUL. */
  static of(paths: Iterable<string>): PathColumn {
    const builder = new PathColumnBuilder()
    for (const path of paths) builder.push(path)
    return builder.column()
  }

  /**
   * The column of `count` NUL-joined paths in `text` (a view of it); malformed when the count of
   * separators differs or the bytes are not UTF-8, so that paths that differ as bytes also differ as text.
   */
  static read(text: Buffer, count: number): PathColumn {
    if (count === 0) return text.length === 0 ? PathColumn.empty : malformed()
    if (!isUtf8(text)) malformed()
    const starts = new Uint32Array(count + 1)
    let at = 0
    for (let i = 1; i < count; i++) {
      const separator = text.indexOf(NUL, at)
      if (separator < 0) malformed()
      starts[i] = at = separator + 1
    }
    if (text.indexOf(NUL, at) >= 0) malformed()
    starts[count] = text.length + 1
    return new PathColumn(text, starts)
  }

  get length(): number {
    return this.starts.length - 1
  }

  /** Path `i` as a string. */
  at(i: number): string {
    return this.text.toString('utf8', this.starts[i], this.starts[i + 1] - 1)
  }

  /** Whether path `i` is a root itself (''). */
  isRoot(i: number): boolean {
    return this.starts[i + 1] - 1 === this.starts[i]
  }

  /** The UTF-8 bytes of path `i` (a view). */
  bytesOf(i: number): Buffer {
    return this.text.subarray(this.starts[i], this.starts[i + 1] - 1)
  }

  *[Symbol.iterator](): Iterator<string> {
    for (let i = 0; i < this.length; i++) yield this.at(i)
  }

  /** Whether path `i` is path `j` of `other`, byte for byte. */
  equals(i: number, other: PathColumn, j: number): boolean {
    const start = this.starts[i]
    const length = this.starts[i + 1] - 1 - start
    const from = other.starts[j]
    if (other.starts[j + 1] - 1 - from !== length) return false
    return this.text.compare(other.text, from, from + length, start, start + length) === 0
  }

  /**
   * Walk order between path `i` and path `j` of `other`, as comparePaths orders their strings:
   * name by name, each compared by UTF-16 code units; a path before the paths below it.
   */
  compare(i: number, other: PathColumn, j: number): number {
    const a = this.text
    const b = other.text
    let x = this.starts[i]
    let y = other.starts[j]
    const xEnd = this.starts[i + 1] - 1
    const yEnd = other.starts[j + 1] - 1
    for (; x < xEnd && y < yEnd; x++, y++) {
      if (a[x] !== b[y]) return inWalkOrder(a[x]) - inWalkOrder(b[y])
    }
    return xEnd - x - (yEnd - y)
  }

  /** Whether path `i` lies below path `above` of this column ('' is the root itself). */
  liesBelow(i: number, above: number): boolean {
    const start = this.starts[i]
    const length = this.starts[i + 1] - 1 - start
    const aboveStart = this.starts[above]
    const aboveLength = this.starts[above + 1] - 1 - aboveStart
    if (aboveLength === 0) return length !== 0
    return (
      length > aboveLength &&
      this.text[start + aboveLength] === SLASH &&
      this.text.compare(this.text, aboveStart, aboveStart + aboveLength, start, start + aboveLength) === 0
    )
  }

  /** A hash of path `i`'s bytes from `seed`. */
  hash(i: number, seed: number): number {
    const { text } = this
    let hash = seed
    for (let at = this.starts[i], end = this.starts[i + 1] - 1; at < end; at++)
      hash = Math.imul(hash ^ text[at], 0x01000193)
    hash = Math.imul(hash ^ (hash >>> 15), 0x85ebca6b)
    return (hash ^ (hash >>> 13)) >>> 0
  }
}

/** Walk order: name by name, each compared by UTF-16 code units; a path sorts before the paths below it. */
export function comparePaths(a: string, b: string): number {
  const length = Math.min(a.length, b.length)
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i)
    const y = b.charCodeAt(i)
    if (x !== y) return (x === 0x2f ? -1 : x) - (y === 0x2f ? -1 : y)
  }
  return a.length - b.length
}

/**
 * A byte of valid UTF-8 where two paths first differ, ranked so that byte order is walk order: '/'
 * first, and a 4-byte sequence (U+10000 on, a surrogate pair in UTF-16) before U+E000–U+FFFF (lead
 * bytes 0xEE, 0xEF), as UTF-16 code units order them. Bytes that differ after equal ones are either
 * both lead bytes or both continuation bytes of one sequence length, where byte order is code point order.
 */
function inWalkOrder(byte: number): number {
  if (byte === SLASH) return -1
  return byte === 0xee || byte === 0xef ? byte + 0x100 : byte
}

/** A PathColumn being filled, path by path: its bytes and offsets grow by doubling. */
export class PathColumnBuilder {
  private text = Buffer.alloc(4096)
  private used = 0
  private starts = new Uint32Array(1024)
  private count = 0

  get length(): number {
    return this.count
  }

  /** Appends a path; one holding NUL throws. */
  push(path: string): void {
    if (path.includes('\0')) throw new Error(`path ${JSON.stringify(path)} holds NUL`)
    this.separate(3 * path.length)
    this.used += this.text.write(path, this.used)
    this.starts[this.count] = this.used + 1
  }

  /** Appends path `i` of `from` as it is. */
  pushFrom(from: PathColumn, i: number): void {
    const start = from.starts[i]
    const end = from.starts[i + 1] - 1
    this.separate(end - start)
    this.used += from.text.copy(this.text, this.used, start, end)
    this.starts[this.count] = this.used + 1
  }

  /** The column of the paths pushed so far, in buffers trimmed to them. */
  column(): PathColumn {
    if (this.count === 0) return PathColumn.empty
    return new PathColumn(Buffer.from(this.text.subarray(0, this.used)), this.starts.slice(0, this.count + 1))
  }

  /** Room for a separator and `bytes` more, the separator written, and the next path's start recorded. */
  private separate(bytes: number): void {
    const needed = this.used + 1 + bytes
    if (needed > this.text.length) this.text = grown(this.text, Buffer.alloc(Math.max(2 * this.text.length, needed)))
    if (this.count + 2 > this.starts.length) this.starts = grown(this.starts, new Uint32Array(2 * this.starts.length))
    if (this.count > 0) this.text[this.used++] = NUL
    this.starts[this.count++] = this.used
  }
}

function malformed(): never {
  throw new Error('malformed')
}
