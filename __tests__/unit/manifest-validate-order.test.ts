import fc from 'fast-check'
import { IntegrityError, isNamedError } from '../../src/core/errors.js'
import { columnsOf, EntryCode, type ManifestColumns } from '../../src/core/manifest/columns.js'
import {
  Codec,
  MANIFEST_SCHEMA,
  READABLE_SCHEMAS,
  type BlobLocation,
  type ManifestEntry
} from '../../src/core/manifest/model.js'
import { comparePaths, PathColumn } from '../../src/core/manifest/path-column.js'
import { assertSafeRelativePath, validateColumns } from '../../src/core/manifest/validate.js'

/**
 * validateColumns finds paths listed twice and entries below a file or symlink by looking at neighbours in walk
 * order; these check it against the way it found them before, through a map of every leaf path per root, a map
 * per directory and a set of every path, kept here as the reference.
 */
function referenceValidate(columns: ManifestColumns): void {
  const { schema, roots, types, modes, rootIndexes, refs, blobCounts, blobSizes, sizes, targets } = columns
  const paths = [...columns.paths]
  if (!READABLE_SCHEMAS.includes(schema))
    throw new IntegrityError(`unknown manifest schema ${JSON.stringify(schema)}; a newer artifact-action wrote it`)
  for (const root of roots) {
    if (root === '' || root.includes('\0')) {
      throw new IntegrityError(`manifest root ${JSON.stringify(root)} is not a path; refusing to restore`)
    }
  }
  const sharedFrames = schema !== READABLE_SCHEMAS[0]
  const leaves = roots.map(() => new Map<string, number>())
  for (let i = 0; i < paths.length; i++) {
    if (rootIndexes[i] >= roots.length)
      throw new IntegrityError(`manifest entry ${JSON.stringify(paths[i])} names no root`)
    assertSafeRelativePath(paths[i])
    if (modes[i] > 0o7777) {
      throw new IntegrityError(`manifest mode of ${JSON.stringify(paths[i])} is not a permission mode`)
    }
    if (types[i] !== EntryCode.dir) leaves[rootIndexes[i]].set(paths[i], types[i])
  }
  referenceUniquePaths(columns)
  if (targets.includes('')) throw new IntegrityError('manifest has a symlink with an empty target; refusing to restore')
  const belowLeaf = leaves.map(found => (found.size > 0 ? referenceLeafAncestry(found) : undefined))
  const malformed = new Uint8Array(blobSizes.length)
  for (let k = 0; k < blobSizes.length; k++) if (!referenceValidLocation(columns, k, sharedFrames)) malformed[k] = 1
  let ref = 0
  for (let i = 0; i < paths.length; i++) {
    const leaf = belowLeaf[rootIndexes[i]]?.(paths[i])
    if (leaf !== undefined) {
      const kind = leaves[rootIndexes[i]].get(leaf) === EntryCode.symlink ? 'symlink' : 'file'
      const where = `${kind} (${JSON.stringify(leaf)})`
      throw new IntegrityError(`manifest path ${JSON.stringify(paths[i])} lies below a ${where}; refusing to restore`)
    }
    if (types[i] !== EntryCode.file) continue
    let total = 0
    for (const end = ref + blobCounts[i]; ref < end; ref++) {
      if (malformed[refs[ref]])
        throw new IntegrityError(`manifest location of a piece of ${JSON.stringify(paths[i])} is malformed`)
      total += blobSizes[refs[ref]]
    }
    if (total !== sizes[i]) throw new IntegrityError(`manifest sizes of ${JSON.stringify(paths[i])} do not add up`)
  }
}

function referenceUniquePaths({ rootIndexes, ...columns }: ManifestColumns): void {
  const paths = [...columns.paths]
  let ordered = true
  for (let i = 1; i < paths.length && ordered; i++) {
    const [before, after] = [rootIndexes[i - 1], rootIndexes[i]]
    ordered = before < after || (before === after && comparePaths(paths[i - 1], paths[i]) < 0)
  }
  if (ordered) return
  const seen = new Set<string>()
  for (let i = 0; i < paths.length; i++) {
    const key = `${rootIndexes[i]}\0${paths[i]}`
    if (seen.has(key)) {
      throw new IntegrityError(`manifest path ${JSON.stringify(paths[i])} is listed twice; refusing to restore`)
    }
    seen.add(key)
  }
}

function referenceLeafAncestry(leaves: Map<string, number>): (path: string) => string | undefined {
  const known = new Map<string, string | null>()
  const leafAbove = (dir: string): string | null => {
    let answer = known.get(dir)
    if (answer === undefined) {
      const slash = dir.lastIndexOf('/')
      answer = leaves.has(dir) ? dir : dir === '' ? null : leafAbove(slash < 0 ? '' : dir.slice(0, slash))
      known.set(dir, answer)
    }
    return answer
  }
  return path => {
    if (path === '') return undefined
    const slash = path.lastIndexOf('/')
    return leafAbove(slash < 0 ? '' : path.slice(0, slash)) ?? undefined
  }
}

function referenceValidLocation(columns: ManifestColumns, k: number, sharedFrames: boolean): boolean {
  const max = 256 * 1024 * 1024
  const [offset, length, size] = [columns.offsets[k], columns.lengths[k], columns.blobSizes[k]]
  if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && Number.isSafeInteger(size))) return false
  if (!(offset >= 0 && length >= 0 && size >= 0 && size <= max)) return false
  const codec = columns.codecs[k]
  if (codec === Codec.raw) return length === size
  if (codec === Codec.zstd) return true
  if (codec !== Codec.sharedFrame || !sharedFrames) return false
  const [within, frameSize] = [columns.withins[k], columns.frameSizes[k]]
  return Number.isSafeInteger(within) && within >= 0 && within + size <= frameSize && frameSize <= max
}

/** What a check says of columns: accepted, or the IntegrityError's message. */
function outcome(check: (columns: ManifestColumns) => void, columns: ManifestColumns): string {
  try {
    check(columns)
    return 'accepted'
  } catch (error) {
    if (!isNamedError(error, 'IntegrityError')) throw error
    return (error as Error).message
  }
}

/** A good blob (5 bytes, stored raw) and one whose location is malformed (stored length is not its size). */
const GOOD = 'a1'.repeat(32)
const BAD = 'b2'.repeat(32)

/**
 * Names chosen to collide and to sort next to '/': '!', '-' and '.' sort below '/' by code unit, but walk order
 * puts '/' first; astral characters (before U+E000–U+FFFF by code unit, after them by code point and as UTF-8)
 * and lone surrogates (each stored as U+FFFD). Rarely a path is unsafe ('..', '.', ''); a NUL cannot be stored.
 */
const name = fc.oneof(
  { weight: 12, arbitrary: fc.constantFrom('a', 'b', 'a!', 'a-', 'a.', 'a.b', 'a0', 'é', '\u{1F600}', 'a\u{10000}') },
  { weight: 3, arbitrary: fc.constantFrom('\uD800', '\uDC00', 'a\uD83D', '\uFFFF', '\u00FF') },
  {
    weight: 1,
    arbitrary: fc
      .string({ unit: 'binary', minLength: 1, maxLength: 3 })
      .filter(s => !/[/\0]/.test(s) && s !== '.' && s !== '..')
  }
)

/** As stored (UTF-8 holds no lone surrogate), so that the arrangements below order what the columns hold. */
const path = fc
  .oneof(
    { weight: 8, arbitrary: fc.constant('') },
    { weight: 80, arbitrary: fc.array(name, { minLength: 1, maxLength: 3 }).map(names => names.join('/')) },
    {
      weight: 1,
      arbitrary: fc.tuple(name, fc.constantFrom('..', '.', '')).map(([safe, unsafe]) => `${safe}/${unsafe}`)
    }
  )
  .map(p => Buffer.from(p).toString())

interface EntrySpec {
  root: number
  path: string
  kind: 'dir' | 'file' | 'symlink'
  blobs: string[]
  sizeOff: number
  emptyTarget: boolean
}

const entrySpec = fc.record({
  root: fc.oneof({ weight: 200, arbitrary: fc.nat(2) }, { weight: 1, arbitrary: fc.constant(3) }),
  path,
  kind: fc.constantFrom<EntrySpec['kind']>('dir', 'dir', 'file', 'file', 'symlink'),
  blobs: fc.array(fc.oneof({ weight: 20, arbitrary: fc.constant(GOOD) }, { weight: 1, arbitrary: fc.constant(BAD) }), {
    maxLength: 2
  }),
  sizeOff: fc.oneof({ weight: 30, arbitrary: fc.constant(0) }, { weight: 1, arbitrary: fc.constant(1) }),
  emptyTarget: fc.oneof({ weight: 40, arbitrary: fc.constant(false) }, { weight: 1, arbitrary: fc.constant(true) })
})

/**
 * How the entries are listed: in walk order with each path once (as a save writes), sorted with repeats,
 * shuffled, or as given.
 */
type Arrangement = 'walk' | 'sorted' | 'shuffled' | 'given'

/** Fresh columns of entries arranged so. The paths go in after encoding, so that no check of encoding sees them. */
function columnsFrom(specs: EntrySpec[], arrangement: Arrangement, seed: number): ManifestColumns {
  const byWalk = (a: EntrySpec, b: EntrySpec) => a.root - b.root || comparePaths(a.path, b.path)
  let listed = [...specs]
  if (arrangement === 'walk') {
    listed = listed.sort(byWalk).filter((s, k, all) => k === 0 || byWalk(all[k - 1], s) !== 0)
  } else if (arrangement === 'sorted') {
    listed = listed.sort(byWalk)
  } else if (arrangement === 'shuffled') {
    let state = seed
    for (let k = listed.length - 1; k > 0; k--) {
      state = (state * 1103515245 + 12345) % 2 ** 31
      const other = state % (k + 1)
      ;[listed[k], listed[other]] = [listed[other], listed[k]]
    }
  }
  const entries = listed.map((s, k): ManifestEntry => {
    const common = { root: s.root, path: `p${k}` }
    if (s.kind === 'dir') return { ...common, type: 'dir', mode: 0o755 }
    if (s.kind === 'symlink') return { ...common, type: 'symlink', mode: 0o777, target: s.emptyTarget ? '' : 't' }
    return { ...common, type: 'file', mode: 0o644, size: 5 * s.blobs.length + s.sizeOff, blobs: s.blobs }
  })
  const blobs: Record<string, BlobLocation> = { [GOOD]: ['pack', 0, 5, 5, 0], [BAD]: ['pack', 0, 4, 5, 0] }
  const columns = columnsOf({ schema: MANIFEST_SCHEMA, roots: ['build', 'cache', 'more'], entries, blobs })
  return { ...columns, paths: PathColumn.of(listed.map(s => s.path)) }
}

/** The specs' safe, good entries, each path once and every path with something below it a directory. */
function validTree(specs: EntrySpec[]): EntrySpec[] {
  const key = (root: number, path: string) => `${root}\0${path}`
  const unsafe = /(?:^|\/)\.{0,2}(?:\/|$)|\0/
  const safe = specs.filter(s => s.root < 3 && (s.path === '' || !unsafe.test(s.path)))
  const unique = [...new Map(safe.map(s => [key(s.root, s.path), s])).values()]
  const above = new Set<string>()
  for (const { root, path } of unique) {
    if (path === '') continue
    above.add(key(root, ''))
    for (let slash = path.indexOf('/'); slash >= 0; slash = path.indexOf('/', slash + 1))
      above.add(key(root, path.slice(0, slash)))
  }
  return unique.map(s => ({
    ...s,
    kind: above.has(key(s.root, s.path)) ? 'dir' : s.kind,
    blobs: above.has(key(s.root, s.path)) || s.kind !== 'file' ? [] : s.blobs.map(() => GOOD),
    sizeOff: 0,
    emptyTarget: false
  }))
}

describe('validateColumns against the map-and-set reference', () => {
  it('accepts exactly what the reference accepts, and says what it says of a manifest in walk order', () => {
    fc.assert(
      fc.property(
        fc.array(entrySpec, { maxLength: 24 }),
        fc.constantFrom<Arrangement>('walk', 'walk', 'sorted', 'shuffled'),
        fc.nat(),
        (specs, arrangement, seed) => {
          const expected = outcome(referenceValidate, columnsFrom(specs, arrangement, seed))
          const actual = outcome(validateColumns, columnsFrom(specs, arrangement, seed))
          if (arrangement === 'walk' || expected === actual) {
            expect(actual).toBe(expected)
            return
          }
          // Out of walk order, which defect shows first may differ, but only between an entry below a leaf and a
          // later check; a path listed twice is found as before.
          expect(actual).not.toBe('accepted')
          expect(expected).not.toBe('accepted')
          expect(`${expected}\n${actual}`).toMatch(/lies below a/)
          expect(`${expected}\n${actual}`).not.toMatch(/is listed twice/)
        }
      ),
      { numRuns: 3000 }
    )
  })

  it('is fed manifests with each defect the order is about, and manifests without', () => {
    // Guards the first property against a generator that stops making what it is about.
    let seen = { twice: 0, below: 0, belowRoot: 0, accepted: 0 }
    fc.assert(
      fc.property(fc.array(entrySpec, { maxLength: 24 }), fc.nat(), (specs, seed) => {
        const message = outcome(validateColumns, columnsFrom(specs, 'shuffled', seed))
        seen = {
          twice: seen.twice + Number(/is listed twice/.test(message)),
          below: seen.below + Number(/lies below a .* \("[^"]/.test(message)),
          belowRoot: seen.belowRoot + Number(/lies below a .* \(""\)/.test(message)),
          accepted: seen.accepted + Number(message === 'accepted')
        }
      }),
      { numRuns: 1000 }
    )
    for (const count of Object.values(seen)) expect(count).toBeGreaterThan(20)
  })

  it('finds one defect in a large tree in any order, as the reference does', () => {
    fc.assert(
      fc.property(
        fc.array(entrySpec, { minLength: 50, maxLength: 400 }),
        fc.constantFrom('none', 'twice', 'below'),
        fc.nat(),
        (specs, defect, seed) => {
          const tree = validTree(specs)
          const leaves = tree.filter(s => s.kind !== 'dir')
          const pick = <T>(from: T[]) => from[seed % from.length]
          if (defect === 'twice') tree.push({ ...pick(tree), kind: 'dir', blobs: [] })
          if (defect === 'below' && leaves.length > 0) {
            const leaf = pick(leaves)
            tree.push({ ...leaf, path: leaf.path === '' ? 'x' : `${leaf.path}/x`, kind: 'dir', blobs: [] })
          }
          const expected = outcome(referenceValidate, columnsFrom(tree, 'shuffled', seed))
          expect(expected === 'accepted').toBe(defect === 'none' || (defect === 'below' && leaves.length === 0))
          expect(outcome(validateColumns, columnsFrom(tree, 'shuffled', seed))).toBe(expected)
        }
      ),
      { numRuns: 300 }
    )
  })

  const file = (root: number, path: string): EntrySpec => ({
    root,
    path,
    kind: 'file',
    blobs: [GOOD],
    sizeOff: 0,
    emptyTarget: false
  })
  const dir = (root: number, path: string): EntrySpec => ({ ...file(root, path), kind: 'dir', blobs: [] })

  it('finds an entry below a file across names that sort between them by code unit', () => {
    const specs = [dir(0, ''), file(0, 'a'), dir(0, 'a!b'), dir(0, 'a-'), dir(0, 'a.b'), dir(0, 'a/x')]
    for (const arrangement of ['walk', 'shuffled'] as const) {
      expect(() => validateColumns(columnsFrom(specs, arrangement, 7))).toThrow(
        /^manifest path "a\/x" lies below a file \("a"\); refusing to restore$/
      )
    }
    const besideInAnotherRoot = [dir(0, ''), file(0, 'a'), dir(1, 'a/x')]
    expect(() => validateColumns(columnsFrom(besideInAnotherRoot, 'shuffled', 3))).not.toThrow()
    const rootFileThenAnotherRoot = [file(0, ''), dir(1, 'x')]
    expect(() => validateColumns(columnsFrom(rootFileThenAnotherRoot, 'walk', 0))).not.toThrow()
    expect(() => validateColumns(columnsFrom([dir(0, 'y'), ...rootFileThenAnotherRoot], 'shuffled', 1))).toThrow(
      /^manifest path "y" lies below a file \(""\); refusing to restore$/
    )
  })

  it('refuses exactly the paths with an empty, `.` or `..` segment, checked as bytes', () => {
    // validateColumns checks segments on the stored bytes and keeps the regular expression for its message.
    const segment = /(?:^|\/)\.{0,2}(?:\/|$)/
    fc.assert(
      fc.property(fc.stringMatching(/^[a./é]{0,9}$/), path => {
        const unsafe = path !== '' && segment.test(path)
        const message = outcome(validateColumns, columnsFrom([dir(0, path)], 'given', 0))
        expect(message === 'accepted').toBe(!unsafe)
        if (unsafe) expect(message).toMatch(/is unsafe/)
      }),
      { numRuns: 2000 }
    )
  })

  it('names the entry the reference names out of walk order: the first that repeats or lies below', () => {
    // "b" repeats first in the manifest, though "a" sorts first.
    const twice = [dir(0, 'b'), dir(0, 'a'), file(0, 'b'), file(0, 'a')]
    // "g/y" comes first in the manifest, though "f/z" sorts first.
    const below = [dir(0, ''), file(0, 'g'), dir(0, 'g/y'), file(0, 'f'), dir(0, 'f/z')]
    for (const specs of [twice, below]) {
      const expected = outcome(referenceValidate, columnsFrom(specs, 'given', 0))
      expect(expected).toMatch(/"(b|g\/y)"/)
      expect(outcome(validateColumns, columnsFrom(specs, 'given', 0))).toBe(expected)
    }
  })
})
