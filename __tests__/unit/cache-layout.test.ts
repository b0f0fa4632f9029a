import fc from 'fast-check'
import {
  accessKey,
  CACHE_PREFIXES,
  kindOf,
  leaseKey,
  manifestKey,
  MAX_REVISION,
  objectKey,
  refKey,
  refOfAccess,
  refPrefix,
  revisionsPrefix,
  signatureKey,
  type CacheKeyKind
} from '../../src/core/cache/cache-layout.js'

/** The key a parsed kind names: the inverse kindOf must have. */
function keyOf(parsed: CacheKeyKind): string {
  switch (parsed.kind) {
    case 'object':
      return objectKey(parsed.name)
    case 'manifest':
      return manifestKey(parsed.digest)
    case 'ref':
      return refKey(parsed.scope, parsed.version, parsed.key, parsed.revision)
    case 'access':
      return accessKey(refKey(parsed.scope, parsed.version, parsed.key, parsed.revision))
    case 'signature':
      return signatureKey(refKey(parsed.scope, parsed.version, parsed.key), parsed.tree)
    case 'lease':
      return leaseKey(parsed.id)
  }
}

const hex = (length: number) => fc.stringMatching(new RegExp(`^[0-9a-f]{${length}}$`))
/** Scopes and keys as users write them: any text, with the characters the encoding must handle. */
const anyName = fc
  .oneof(
    fc.string({ unit: 'grapheme', minLength: 1, maxLength: 16 }),
    fc.stringMatching(/^[a-zA-Z0-9@%/. _~*'()!,-]{1,12}$/)
  )
  .filter(text => text !== '.' && text !== '..')

/** Every kind of key, from the given parts. */
function kindsOf(parts: {
  name: fc.Arbitrary<string>
  version: fc.Arbitrary<string>
  revision: fc.Arbitrary<number>
  digest: fc.Arbitrary<string>
  id: fc.Arbitrary<string>
}): fc.Arbitrary<CacheKeyKind> {
  const { name, version, revision, digest, id } = parts
  const entry = fc.record({ scope: name, version, key: name, revision })
  return fc.oneof(
    digest.map(name => ({ kind: 'object' as const, name })),
    digest.map(digest => ({ kind: 'manifest' as const, digest })),
    entry.map(entry => ({ kind: 'ref' as const, ...entry })),
    entry.map(entry => ({ kind: 'access' as const, ...entry })),
    fc
      .record({ scope: name, version, key: name, tree: digest })
      .map(entry => ({ kind: 'signature' as const, ...entry })),
    id.map(id => ({ kind: 'lease' as const, id }))
  )
}

const revision = fc.oneof(fc.constant(0), fc.integer({ min: 1, max: MAX_REVISION }))
const entryName = fc.record({ scope: anyName, version: hex(16), key: anyName, revision })
const kinds = kindsOf({ name: anyName, version: hex(16), revision, digest: hex(64), id: fc.uuid() })
/** Few parts, often shared, and names that look like one another's encodings: keys that could collide do often. */
const nearKinds = kindsOf({
  name: fc.constantFrom(
    'a',
    'A',
    'a/b',
    'a%2Fb',
    'a@b',
    'a@0000000001',
    '%',
    '%25',
    'é',
    'e\u0301',
    '0123456789abcdef'
  ),
  version: fc.constantFrom('0123456789abcdef', 'abcdefabcdefabcd'),
  revision: fc.constantFrom(0, 1, 10),
  digest: fc.constantFrom('ab'.repeat(32), '0123456789abcdef'.repeat(4)),
  id: fc.constantFrom('0f9e2c2a-1b6d-4e3a-9c1f-2a6b1e2d3c4f', 'ab'.repeat(4) + '-abab-4bab-abab-' + 'ab'.repeat(6))
})

/** One random edit of a key with the characters that matter to its spelling. */
const edited = fc
  .tuple(
    kinds.map(keyOf),
    fc.nat(),
    fc.constantFrom('insert', 'delete', 'replace'),
    fc.constantFrom(...'/@%.0aAfF9-2E_ é'.split(''), '%2F', '%2f', '%41', '..', '@0000000000')
  )
  .map(([key, at, edit, text]) => {
    const index = at % (key.length + 1)
    if (edit === 'insert') return key.slice(0, index) + text + key.slice(index)
    if (edit === 'delete') return key.slice(0, index) + key.slice(index + 1)
    return key.slice(0, index) + text + key.slice(index + text.length)
  })

describe('the cache layout', () => {
  it('parses every key it builds back to what built it', () => {
    fc.assert(
      fc.property(kinds, parsed => expect(kindOf(keyOf(parsed))).toEqual(parsed)),
      { numRuns: 2000 }
    )
  })

  it('never builds one key for two different things, of one kind or of two', () => {
    let same = 0
    fc.assert(
      fc.property(nearKinds, nearKinds, (a, b) => {
        if (keyOf(a) === keyOf(b)) same++
        expect(keyOf(a) === keyOf(b)).toBe(JSON.stringify(a) === JSON.stringify(b))
        expect(kindOf(keyOf(a))).toEqual(a)
      }),
      { numRuns: 3000 }
    )
    expect(same).toBeGreaterThan(0)
  })

  it('parses an edited key only when it is exactly what a builder writes', () => {
    let parsed = 0
    fc.assert(
      fc.property(edited, key => {
        const kind = kindOf(key)
        if (kind) {
          parsed++
          expect(keyOf(kind)).toBe(key)
        }
      }),
      { numRuns: 5000 }
    )
    // Some edits (a key's character dropped, a name's letter changed) still spell a key: they must be checked too.
    expect(parsed).toBeGreaterThan(0)
  })

  it('parses no hostile spelling of a key as any kind', () => {
    const hostile = fc.tuple(kinds, fc.nat()).map(([parsed, pick]) => {
      const key = keyOf(parsed)
      const folder = key.slice(0, key.indexOf('/') + 1)
      const rest = key.slice(folder.length)
      // The hex the key holds: an entry's version, else the digest or UUID it ends with.
      const start =
        'version' in parsed ? key.indexOf('/', folder.length) + 1 : key.length - (parsed.kind === 'lease' ? 36 : 64)
      const end = 'version' in parsed ? start + 16 : key.length
      const hexText = key.slice(start, end)
      const withHex = (text: string) => key.slice(0, start) + text + key.slice(end)
      const spellings = [
        `/${key}`,
        `${key}/`,
        key.replace('/', '//'),
        `${folder}../${rest}`,
        `${folder}./${rest}`,
        `${key}%`,
        `${key}%E0%A4%A`,
        `${folder.slice(0, -1)}\\${rest}`,
        withHex(/[a-f]/.test(hexText) ? hexText.toUpperCase() : `A${hexText.slice(1)}`),
        withHex(hexText.slice(1)),
        withHex(`${hexText}0`),
        withHex(`g${hexText.slice(1)}`)
      ]
      if ('version' in parsed) {
        const scope = rest.slice(0, rest.indexOf('/'))
        const after = rest.slice(scope.length)
        spellings.push(`${folder}..${after}`, `${folder}.${after}`, `${folder}${after}`, `${folder}${scope}%41${after}`)
        // An unreserved character percent-encoded: the same name, spelled otherwise.
        const plain = /[A-Za-z0-9]/.exec(scope)
        if (plain) {
          const encoded = `%${plain[0].charCodeAt(0).toString(16).toUpperCase()}`
          spellings.push(`${folder}${scope.replace(plain[0], encoded)}${after}`)
        }
      }
      if (parsed.kind === 'ref' || parsed.kind === 'access')
        spellings.push(`${key}@0000000000`, `${key}@123`, `${key}@00000000001`, `${key}@000000000a`)
      return spellings[pick % spellings.length]
    })
    fc.assert(
      fc.property(hostile, key => expect(kindOf(key)).toBeUndefined()),
      { numRuns: 5000 }
    )
  })

  it('refuses hostile keys by name', () => {
    const tree = 'ab'.repeat(32)
    for (const key of [
      '',
      'refs/',
      'objects',
      'release-store.json',
      `objects/ab/${tree.toUpperCase()}`,
      `objects/AB/${tree}`,
      `objects/cd/${tree}`,
      `objects/ab/${tree.slice(1)}`,
      `objects/ab/../ab/${tree}`,
      `manifests/${tree}0`,
      `manifests/../${tree}`,
      'refs/../0123456789abcdef/deps',
      'refs/branch%2Fmain/0123456789abcdef/..',
      'refs/branch%2Fmain/0123456789abcdef/.',
      'refs/branch%2fmain/0123456789abcdef/deps',
      'refs/branch%2Fmain/0123456789ABCDEF/deps',
      'refs/branch%2Fmain//deps',
      'refs/branch%2Fmain/0123456789abcdef/deps@0000000000',
      'access/branch%2Fmain/0123456789abcdef/',
      `signatures/branch%2Fmain/0123456789abcdef/deps@0000000001/${tree}`,
      `signatures/branch%2Fmain/0123456789abcdef/deps/${tree.toUpperCase()}`,
      'leases/prune-',
      'leases/prune-0F9E2C2A-1B6D-4E3A-9C1F-2A6B1E2D3C4F',
      'leases/../prune-0f9e2c2a-1b6d-4e3a-9c1f-2a6b1e2d3c4f'
    ])
      expect([key, kindOf(key)]).toEqual([key, undefined])
  })

  it('names the kinds of well-formed keys', () => {
    const tree = 'ab'.repeat(32)
    const ref = refKey('branch/main', '0123456789abcdef', 'deps@x', 12)
    expect(ref).toBe('refs/branch%2Fmain/0123456789abcdef/deps%40x@0000000012')
    expect(kindOf(ref)).toEqual({
      kind: 'ref',
      scope: 'branch/main',
      version: '0123456789abcdef',
      key: 'deps@x',
      revision: 12
    })
    expect(kindOf(accessKey(ref))).toMatchObject({ kind: 'access', key: 'deps@x', revision: 12 })
    expect(refOfAccess(accessKey(ref))).toBe(ref)
    expect(refOfAccess(ref)).toBeUndefined()
    expect(kindOf(objectKey(tree))).toEqual({ kind: 'object', name: tree })
    expect(objectKey(tree)).toBe(`objects/ab/${tree}`)
    expect(kindOf(manifestKey(tree))).toEqual({ kind: 'manifest', digest: tree })
    const id = '0f9e2c2a-1b6d-4e3a-9c1f-2a6b1e2d3c4f'
    expect(kindOf(leaseKey(id))).toEqual({ kind: 'lease', id })
    expect(leaseKey(id).startsWith(CACHE_PREFIXES.leases)).toBe(true)
  })

  it('keys a signature by the entry, not its revision', () => {
    const tree = 'cd'.repeat(32)
    const first = refKey('pr/12', '0123456789abcdef', 'deps')
    const update = refKey('pr/12', '0123456789abcdef', 'deps', 3)
    expect(signatureKey(update, tree)).toBe(signatureKey(first, tree))
    expect(kindOf(signatureKey(first, tree))).toEqual({
      kind: 'signature',
      scope: 'pr/12',
      version: '0123456789abcdef',
      key: 'deps',
      tree
    })
    expect(() => signatureKey(accessKey(first), tree)).toThrow(/not the ref of a cache entry/)
  })

  it('lists a key, its revisions and every key it prefixes under the prefixes it gives', () => {
    fc.assert(
      fc.property(entryName, fc.nat(), ({ scope, version, key, revision }, cut) => {
        const ref = refKey(scope, version, key, revision)
        const characters = [...key]
        const prefix = characters.slice(0, cut % (characters.length + 1)).join('')
        expect(ref.startsWith(refPrefix(scope, version, prefix))).toBe(true)
        expect(ref.startsWith(CACHE_PREFIXES.refs)).toBe(true)
        expect(ref.startsWith(revisionsPrefix(scope, version, key))).toBe(revision > 0)
      })
    )
  })

  it('refuses to build a key that would not parse back', () => {
    expect(() => refKey('branch/main', '0123456789abcdef', '..')).toThrow(/^key "\.\.": .*rename it/)
    expect(() => refKey('branch/main', '0123456789abcdef', '')).toThrow(/^key "": /)
    expect(() => refKey('branch/main', 'v1', 'deps')).toThrow(/not an entry version/)
    expect(() => refKey('branch/main', '0123456789abcdef', 'deps', MAX_REVISION + 1)).toThrow(/not a revision/)
    expect(() => refKey('branch/main', '0123456789abcdef', 'deps', 1.5)).toThrow(/not a revision/)
  })
})
