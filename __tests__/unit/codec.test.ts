import { randomBytes } from 'node:crypto'
import * as zlib from 'node:zlib'
import { compress, encodeBlob, frameContentSize, unzstdSync, zstdPieces, zstdSync } from '../../src/core/store/codec.js'

describe('compress', () => {
  it('gives each input a frame of its own while many run at once on the open streams', async () => {
    const inputs = Array.from({ length: 40 }, (_, i) => {
      const size = [70_000, 1 << 20, 3 << 20, 200_000][i % 4] + i
      return i % 3 === 0
        ? randomBytes(size)
        : Buffer.from(`row ${i} of a text input\n`.repeat(size / 10)).subarray(0, size)
    })
    const outputs = await Promise.all(inputs.map(input => compress(input)))
    outputs.forEach((output, i) => expect(zlib.zstdDecompressSync(output).equals(inputs[i])).toBe(true))
    // The text compresses; another input's bytes in an output would not decompress to this input.
    expect(outputs[1].length).toBeLessThan(inputs[1].length / 10)
  })

  it('keeps raw what does not compress, and compresses what does', async () => {
    const random = randomBytes(600 * 1024)
    const kept = await encodeBlob(random)
    expect(kept.zstd).toBe(false)
    expect(kept.bytes).toBe(random)
    const text = Buffer.from('a line of a build log\n'.repeat(30_000))
    const encoded = await encodeBlob(text)
    expect(encoded.zstd).toBe(true)
    expect(zlib.zstdDecompressSync(encoded.bytes).equals(text)).toBe(true)
  })
})

describe('unzstdSync', () => {
  const text = (size: number): Buffer => Buffer.from('a manifest row\n'.repeat(size / 15 + 1)).subarray(0, size)

  it('reads the size a frame declares, in each width of the field', () => {
    for (const size of [0, 1, 255, 256, 300, 65_791, 70_000, 5_000_000]) {
      expect(frameContentSize(zstdSync(text(size)))).toBe(size)
    }
    expect(frameContentSize(Buffer.from('not a zstd frame'))).toBeUndefined()
    expect(frameContentSize(zstdSync(text(300)).subarray(0, 5))).toBeUndefined()
  })

  it('decodes into one buffer of the declared size rather than chunks joined', () => {
    const input = text(3_000_000)
    const output = unzstdSync(zstdSync(input))
    expect(output.equals(input)).toBe(true)
    expect(output.buffer.byteLength).toBe(input.length + 1)
  })

  it('decodes a frame that declares no size in chunks', () => {
    const input = text(300_000)
    const unsized = zlib.zstdCompressSync(input, { params: { [zlib.constants.ZSTD_c_contentSizeFlag]: 0 } })
    expect(frameContentSize(unsized)).toBeUndefined()
    expect(unzstdSync(unsized).equals(input)).toBe(true)
  })

  it('refuses a frame that declares another size than it holds', () => {
    const frame = Buffer.from(zstdSync(text(70_000)))
    const at = frame.indexOf(Buffer.from([0x70, 0x11, 0x01, 0x00]))
    expect(at).toBeGreaterThan(4)
    frame.writeUInt32LE(60_000, at)
    expect(frameContentSize(frame)).toBe(60_000)
    expect(() => unzstdSync(frame)).toThrow()
  })
})

describe('zstdPieces', () => {
  it('compresses pieces into one frame that declares their size, even where nothing compresses', async () => {
    const random = randomBytes(3 * 1024 * 1024 + 17)
    for (const input of [Buffer.alloc(0), Buffer.from('a'), Buffer.alloc(1024 * 1024, 7), random]) {
      const pieces = [input.subarray(0, 1000), input.subarray(1000, 500_000), input.subarray(500_000)]
      const output = await zstdPieces(pieces, input.length)
      expect(frameContentSize(output)).toBe(input.length)
      expect(unzstdSync(output).equals(input)).toBe(true)
    }
  })
})
