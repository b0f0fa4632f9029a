import fc from 'fast-check'
import { columnsOf, encodeColumnsWith, readColumns } from '../../src/core/manifest/columns.js'
import { MANIFEST_SCHEMA, type Manifest } from '../../src/core/manifest/model.js'
import { comparePaths, PathColumn, PathColumnBuilder } from '../../src/core/manifest/path-column.js'

/**
 * Paths held as UTF-8 bytes must answer every question as their strings would: order, equality, ancestry and
 * lookup. These compare the byte answers with the string ones on names chosen for where UTF-8 and UTF-16 order
 * differ (U+10000 on against U+E000–U+FFFF), next to '/', and on any string at all.
 */
const name = fc.oneof(
  {
    weight: 6,
    arbitrary: fc.constantFrom('a', 'a!', 'a-', 'a.', 'b', 'é', '\uE000', '\uFFFF', '\u{10000}', '\u{1F600}')
  },
  { weight: 2, arbitrary: fc.constantFrom('\uD800', '\uDFFF', 'x\uD83D') },
  { weight: 3, arbitrary: fc.string({ unit: 'binary', maxLength: 4 }).filter(s => !/[/\0]/.test(s)) }
)
const path = fc.oneof(
  { weight: 1, arbitrary: fc.constant('') },
  { weight: 8, arbitrary: fc.array(name, { minLength: 1, maxLength: 3 }).map(names => names.join('/')) }
)
/** What a string is once stored: lone surrogates become U+FFFD. */
const stored = (s: string): string => Buffer.from(s).toString()
const sign = (n: number): number => Math.sign(n)

/** Whether `below` lies below `above` ('' is the root), as strings. */
function liesBelow(below: string, above: string): boolean {
  return above === '' ? below !== '' : below.startsWith(`${above}/`)
}

describe('PathColumn', () => {
  it('holds what it was given, as stored text, and reads back from its own bytes', () => {
    fc.assert(
      fc.property(fc.array(path, { maxLength: 40 }), paths => {
        const column = PathColumn.of(paths)
        expect(column.length).toBe(paths.length)
        expect([...column]).toEqual(paths.map(stored))
        expect(column.text.equals(Buffer.from(paths.join('\0')))).toBe(true)
        const read = PathColumn.read(Buffer.from(column.text), paths.length)
        expect([...read]).toEqual(paths.map(stored))
        paths.forEach((p, i) => {
          expect(read.isRoot(i)).toBe(p === '')
          expect(read.bytesOf(i).equals(Buffer.from(p))).toBe(true)
        })
      })
    )
  })

  it('orders, compares, nests and hashes as the stored strings do', () => {
    fc.assert(
      fc.property(fc.array(path, { minLength: 1, maxLength: 12 }), fc.array(path, { maxLength: 12 }), (a, b) => {
        const left = PathColumn.of(a)
        const right = PathColumn.of([...b, ...a])
        for (let i = 0; i < left.length; i++)
          for (let j = 0; j < right.length; j++) {
            const [x, y] = [left.at(i), right.at(j)]
            expect(sign(left.compare(i, right, j))).toBe(sign(comparePaths(x, y)))
            expect(left.equals(i, right, j)).toBe(x === y)
            if (x === y) expect(left.hash(i, 7)).toBe(right.hash(j, 7))
          }
        for (let i = 0; i < left.length; i++)
          for (let j = 0; j < left.length; j++) expect(left.liesBelow(i, j)).toBe(liesBelow(left.at(i), left.at(j)))
      }),
      { numRuns: 500 }
    )
  })

  it('puts a name with a character past U+FFFF before one with U+E000 to U+FFFF, as UTF-16 code units do', () => {
    const column = PathColumn.of(['a\u{1F600}', 'a\uFFFF', 'a\uE000', 'a/b', 'a!', 'a'])
    expect(column.compare(0, column, 1)).toBeLessThan(0)
    expect(column.compare(0, column, 2)).toBeLessThan(0)
    expect(column.compare(3, column, 4)).toBeLessThan(0)
    expect(column.compare(5, column, 3)).toBeLessThan(0)
  })

  it('reads only NUL-joined UTF-8 with one path per separator, so that paths differ as bytes exactly when as text', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 24 }), fc.nat(6), (bytes, count) => {
        const text = Buffer.from(bytes)
        const separators = text.filter(byte => byte === 0).length
        const valid = Buffer.from(text.toString()).equals(text)
        let column: PathColumn | undefined
        try {
          column = PathColumn.read(text, count)
        } catch {
          column = undefined
        }
        expect(column !== undefined).toBe(valid && (count === 0 ? text.length === 0 : separators === count - 1))
        for (let i = 0; i < (column?.length ?? 0); i++)
          expect(Buffer.from(column!.at(i)).equals(column!.bytesOf(i))).toBe(true)
      }),
      { numRuns: 3000 }
    )
    for (const hostile of [[0xff], [0xc0, 0x80], [0xed, 0xa0, 0x80], [0x61, 0xe2, 0x82]])
      expect(() => PathColumn.read(Buffer.from(hostile), 1)).toThrow('malformed')
  })

  it('grows past its first buffers and copies paths across columns as they are', () => {
    const paths = Array.from({ length: 5000 }, (_, i) => `dir-${i % 7}/${'é'.repeat(i % 5)}file-${i}`)
    const builder = new PathColumnBuilder()
    for (const p of paths) builder.push(p)
    const column = builder.column()
    const copied = new PathColumnBuilder()
    for (let i = column.length - 1; i >= 0; i--) copied.pushFrom(column, i)
    expect([...column]).toEqual(paths)
    expect([...copied.column()]).toEqual([...paths].reverse())
    expect(() => new PathColumnBuilder().push('a\0b')).toThrow(/NUL/)
  })

  it('makes a stored manifest whose paths are not UTF-8 unreadable', () => {
    const manifest: Manifest = {
      schema: MANIFEST_SCHEMA,
      roots: ['out'],
      entries: [
        { root: 0, path: '', type: 'dir', mode: 0o755 },
        { root: 0, path: 'name', type: 'dir', mode: 0o755 }
      ],
      blobs: {}
    }
    expect([...columnsOf(manifest).paths]).toEqual(['', 'name'])
    const { bytes } = encodeColumnsWith(manifest, () => undefined)
    const at = bytes.indexOf('name')
    bytes[at] = 0xff
    expect(() => readColumns(bytes)).toThrow('malformed')
  })
})
