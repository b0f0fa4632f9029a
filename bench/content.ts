import { createCipheriv, createHash } from 'node:crypto'

/** A seeded PRNG (sfc32): the same seed gives the same sequence on every machine and Node version. */
export class Random {
  private a: number
  private b: number
  private c: number
  private d: number

  constructor(seed: string) {
    const bytes = createHash('sha256').update(seed).digest()
    this.a = bytes.readUInt32LE(0)
    this.b = bytes.readUInt32LE(4)
    this.c = bytes.readUInt32LE(8)
    this.d = bytes.readUInt32LE(12)
    for (let i = 0; i < 12; i++) this.uint32()
  }

  uint32(): number {
    const t = (((this.a + this.b) | 0) + this.d) | 0
    this.d = (this.d + 1) | 0
    this.a = this.b ^ (this.b >>> 9)
    this.b = (this.c + (this.c << 3)) | 0
    this.c = (this.c << 21) | (this.c >>> 11)
    this.c = (this.c + t) | 0
    return t >>> 0
  }

  /** Uniform in [0, 1). */
  float(): number {
    return this.uint32() / 4294967296
  }

  /** Uniform integer in [low, high). */
  int(low: number, high: number): number {
    return low + Math.floor(this.float() * (high - low))
  }

  /** Log-uniform integer in [low, high): many small values, a few large ones, as file sizes are. */
  logUniform(low: number, high: number): number {
    return Math.floor(Math.exp(Math.log(low) + this.float() * (Math.log(high) - Math.log(low))))
  }

  chance(probability: number): boolean {
    return this.float() < probability
  }

  pick<T>(items: readonly T[]): T {
    return items[this.int(0, items.length)]
  }
}

/** Incompressible bytes: an AES-CTR keystream keyed by the seed (fast and deterministic). */
export function randomBytes(seed: string, length: number): Buffer {
  const key = createHash('sha256').update(seed).digest()
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(length))
}

const CORPUS_BYTES = 8 * 1024 * 1024
const KEYWORDS = [
  'const',
  'return',
  'function',
  'if',
  'this',
  'export',
  'import',
  'from',
  'let',
  'await',
  'new',
  'null',
  'true',
  'for',
  'of',
  'else',
  'string',
  'number'
]
let corpus: Buffer | undefined

/**
 * Source-like text (identifiers, keywords, numbers, indentation) from a skewed vocabulary. It is
 * larger than zstd's window at level 3, so files cut from it share some, not all, of their phrases.
 */
function textCorpus(): Buffer {
  if (corpus) return corpus
  const random = new Random('bench corpus')
  const letters = 'abcdefghijklmnopqrstuvwxyz'
  const vocabulary: string[] = []
  for (let i = 0; i < 3000; i++) {
    let word = ''
    const length = random.int(2, 11)
    for (let j = 0; j < length; j++) word += letters[random.int(0, 26)]
    if (random.chance(0.3)) word += word[0].toUpperCase() + letters[random.int(0, 26)].repeat(random.int(1, 4))
    vocabulary.push(word)
  }
  const punctuation = ['(', ')', ' = ', '.', ', ', ';\n', ' {\n', '}\n', ' + ', ' => ', '[', ']', ': ', ' ']
  const parts: string[] = []
  let size = 0
  let indent = 0
  while (size < CORPUS_BYTES) {
    // A cubed uniform makes low indices (common words) far more likely than high ones.
    const word = random.chance(0.5)
      ? random.pick(KEYWORDS)
      : vocabulary[Math.floor(vocabulary.length * random.float() ** 4)]
    const mark = random.chance(0.08) ? String(random.int(0, 100000)) : random.pick(punctuation)
    let piece = word + mark
    if (mark.endsWith('\n')) {
      indent = Math.max(0, Math.min(8, indent + (mark.includes('{') ? 2 : mark.includes('}') ? -2 : 0)))
      piece += ' '.repeat(indent)
    }
    parts.push(piece)
    size += piece.length
  }
  corpus = Buffer.from(parts.join('').slice(0, CORPUS_BYTES), 'latin1')
  return corpus
}

/** Compressible bytes (about 3:1 with zstd -3): slices of the text corpus with random numbers between them. */
export function compressibleBytes(seed: string, length: number): Buffer {
  const text = textCorpus()
  const random = new Random(seed)
  const out = Buffer.allocUnsafe(length)
  let filled = 0
  while (filled < length) {
    const sliceLength = Math.min(random.int(32, 1200), length - filled)
    const start = random.int(0, text.length - sliceLength)
    filled += text.copy(out, filled, start, start + sliceLength)
    if (filled < length && random.chance(0.25))
      filled += out.write(`${random.uint32().toString(16)} `, filled, 'latin1')
  }
  return out
}
