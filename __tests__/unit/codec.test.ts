import { randomBytes } from 'node:crypto'
import * as zlib from 'node:zlib'
import { compress, encodeBlob } from '../../src/core/store/codec.js'

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
