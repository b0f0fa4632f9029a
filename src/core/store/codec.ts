import { createHash, hash } from 'node:crypto'
import { createReadStream } from 'node:fs'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import * as zlib from 'node:zlib'
import { grown } from '../grown.js'

const ZSTD_LEVEL = 3
/** Up to this size a blob is compressed on the calling thread; above it, on the thread pool. */
const INLINE_LIMIT = 64 * 1024
/** Compression is kept only when it saves at least this fraction. */
const MIN_SAVING = 0.05
/** Smaller blobs are stored raw: a zstd context per tiny file costs more time than it saves bytes. */
const MIN_COMPRESSED_SIZE = 1024
/** Blobs from this size are probed with a sample of PROBE_SIZE bytes before being compressed whole. */
const PROBE_FROM = 256 * 1024
const PROBE_SIZE = 64 * 1024

/** sha256 and byte count of a stream (a file's or a downloaded object's bytes). */
export async function sha256OfStream(stream: AsyncIterable<Uint8Array>): Promise<{ sha256: string; size: number }> {
  const hash = createHash('sha256')
  let size = 0
  for await (const chunk of stream) {
    hash.update(chunk)
    size += chunk.length
  }
  return { sha256: hash.digest('hex'), size }
}

export async function sha256OfFile(path: string): Promise<string> {
  return (await sha256OfStream(createReadStream(path))).sha256
}

/** One-shot (crypto.hash): for 100,000 small files ~40% less CPU than a Hash object each. */
export function sha256Hex(data: Uint8Array | string): string {
  return hash('sha256', data, 'hex')
}

/** sha256Hex as the 32 bytes themselves. */
export function sha256(data: Uint8Array | string): Buffer {
  return hash('sha256', data, 'buffer')
}

export interface EncodedBlob {
  bytes: Uint8Array
  zstd: boolean
}

const COMPRESS_OPTIONS: zlib.ZstdOptions = { params: { [zlib.constants.ZSTD_c_compressionLevel]: ZSTD_LEVEL } }
const PROBE_OPTIONS: zlib.ZstdOptions = { params: { [zlib.constants.ZSTD_c_compressionLevel]: 1 } }

/** zstd, as one frame; above INLINE_LIMIT on libuv's thread pool, through a stream kept open. */
export async function compress(raw: Uint8Array): Promise<Buffer> {
  if (raw.length <= INLINE_LIMIT) return zstdSync(raw)
  streams ??= Array.from({ length: COMPRESS_STREAMS }, () => new CompressStream())
  return streams.reduce((least, stream) => (stream.queued < least.queued ? stream : least)).compress(raw)
}

/** As many as libuv's pool has threads: each stream compresses one input at a time. */
const COMPRESS_STREAMS = 4
/** Output steps of the streams: a 1 MiB frame compresses into one (the default 16 KiB would cost a callback each). */
const STREAM_CHUNK_SIZE = 1024 * 1024 + 64 * 1024
let streams: CompressStream[] | undefined

/**
 * A zstd stream kept open for many inputs, each ended as a frame of its own (ZSTD_e_end). Opening a
 * stream per input allocates and clears a compression context each time, a large share of the cost
 * of compressing a frame of small files. The streams live as long as the process
 * (a few MiB each) and hold no handle that keeps it running.
 */
class CompressStream {
  private stream = CompressStream.open()
  private tail: Promise<unknown> = Promise.resolve()
  /** Inputs given and not yet compressed. */
  queued = 0

  private static open(): zlib.ZstdCompress {
    const stream = zlib.createZstdCompress({ ...COMPRESS_OPTIONS, chunkSize: STREAM_CHUNK_SIZE })
    stream.on('error', () => {}) // reported to the input that was being compressed; see frameOf
    return stream
  }

  compress(raw: Uint8Array): Promise<Buffer> {
    this.queued++
    const frame = this.tail.then(() => this.frameOf(raw)).finally(() => this.queued--)
    this.tail = frame.catch(() => {})
    return frame
  }

  /** Writes the input and ends the frame; the output is whatever the stream gave until then. */
  private frameOf(raw: Uint8Array): Promise<Buffer> {
    const stream = this.stream
    const parts: Buffer[] = []
    return new Promise<Buffer>((resolve, reject) => {
      const collect = (part: Buffer): void => void parts.push(part)
      const fail = (error: Error): void => {
        stream.off('data', collect)
        this.stream = CompressStream.open()
        reject(error)
      }
      stream.on('data', collect)
      stream.once('error', fail)
      try {
        stream.write(raw)
        stream.flush(zlib.constants.ZSTD_e_end, () => {
          stream.off('data', collect)
          stream.off('error', fail)
          resolve(parts.length === 1 ? parts[0] : Buffer.concat(parts))
        })
      } catch (error) {
        fail(error as Error)
      }
    })
  }
}

/** Whether compressing `raw` would save at least MIN_SAVING. */
export function pays(compressed: Uint8Array, raw: Uint8Array): boolean {
  return compressed.length <= raw.length * (1 - MIN_SAVING)
}

/**
 * True when a sample from the middle of a large blob does not compress: random or already
 * compressed data is then stored raw without spending a whole compression on it.
 */
function looksIncompressible(raw: Uint8Array): boolean {
  if (raw.length < PROBE_FROM) return false
  const start = (raw.length >> 1) - (PROBE_SIZE >> 1)
  const sample = raw.subarray(start, start + PROBE_SIZE)
  return !pays(zlib.zstdCompressSync(sample, PROBE_OPTIONS), sample)
}

/** zstd when it pays, the raw bytes when it does not (random data, tiny files). */
export async function encodeBlob(raw: Uint8Array): Promise<EncodedBlob> {
  if (raw.length < MIN_COMPRESSED_SIZE || looksIncompressible(raw)) return { bytes: raw, zstd: false }
  const compressed = await compress(raw)
  return pays(compressed, raw) ? { bytes: compressed, zstd: true } : { bytes: raw, zstd: false }
}

export function zstdSync(raw: Uint8Array): Buffer {
  return zlib.zstdCompressSync(raw, COMPRESS_OPTIONS)
}

/**
 * zstdSync of bytes given as pieces, `size` in all, compressed on libuv's pool as they are taken:
 * one frame that declares its size, without a copy of the whole input.
 */
export async function zstdPieces(pieces: Iterable<Uint8Array>, size: number): Promise<Buffer> {
  // Into one buffer of zstd's bound, not chunks joined at the end, which would hold the output twice: pages past
  // the output are never touched, so they take no memory.
  let output = Buffer.allocUnsafe(compressBound(size))
  let length = 0
  await zstdPiecesInto(pieces, size, chunk => {
    if (length + chunk.length > output.length)
      output = grown(output.subarray(0, length), Buffer.allocUnsafe(2 * output.length + chunk.length))
    length += chunk.copy(output, length)
  })
  return output.subarray(0, length)
}

/** ZSTD_COMPRESSBOUND, the most a frame of `size` bytes compresses to, and room for the frame's header and checksum. */
function compressBound(size: number): number {
  const small = 128 * 1024
  return size + (size >>> 8) + (size < small ? (small - size) >>> 11 : 0) + 64
}

/** zstdPieces, handing each piece of the output to `sink` as it comes instead of keeping it. */
export async function zstdPiecesInto(
  pieces: Iterable<Uint8Array>,
  size: number,
  sink: (output: Buffer) => void
): Promise<void> {
  const compressor = zlib.createZstdCompress({
    ...COMPRESS_OPTIONS,
    pledgedSrcSize: size,
    chunkSize: STREAM_CHUNK_SIZE
  })
  await pipeline(Readable.from(pieces), compressor, async (output: AsyncIterable<Buffer>) => {
    for await (const chunk of output) sink(chunk)
  })
}

/** Above this, a frame's declared size does not set the output's: it is decoded in chunks, then joined. */
const MAX_PRESIZED_OUTPUT = 1024 * 1024 * 1024

/**
 * zstd-decoded bytes. A frame that declares its size is decoded into one buffer of that size (plus
 * one byte), not into chunks joined at the end, which would hold the output twice. A wrong
 * declaration costs only that: zstd checks it, and more output still lands in further chunks.
 */
export function unzstdSync(stored: Uint8Array): Buffer {
  const size = frameContentSize(stored)
  if (size === undefined || size > MAX_PRESIZED_OUTPUT) return zlib.zstdDecompressSync(stored)
  // With one spare byte the output never fills its buffer, which would make node allocate another.
  return zlib.zstdDecompressSync(stored, { chunkSize: Math.max(size + 1, zlib.constants.Z_MIN_CHUNK) })
}

/** The content size a zstd frame's header declares, or undefined when it declares none (or is no frame). */
export function frameContentSize(bytes: Uint8Array): number | undefined {
  if (bytes.length < 6 || bytes[0] !== 0x28 || bytes[1] !== 0xb5 || bytes[2] !== 0x2f || bytes[3] !== 0xfd)
    return undefined
  const descriptor = bytes[4]
  const singleSegment = (descriptor >> 5) & 1
  const sizeBytes = [singleSegment, 2, 4, 8][descriptor >> 6]
  if (sizeBytes === 0) return undefined
  // After the descriptor: a window byte unless single-segment, then the dictionary id, then the size.
  const at = 5 + (singleSegment ? 0 : 1) + [0, 1, 2, 4][descriptor & 3]
  if (at + sizeBytes > bytes.length) return undefined
  let size = 0
  for (let i = sizeBytes - 1; i >= 0; i--) size = size * 256 + bytes[at + i]
  return sizeBytes === 2 ? size + 256 : size
}
