import fc from 'fast-check'
import { MANIFEST_SCHEMA, type BlobLocation, type Manifest, type ManifestEntry } from '../../src/core/manifest/model.js'
import { comparePaths } from '../../src/core/manifest/path-column.js'

/** Random manifests for property tests: a base tree of specs and the same tree after random edits. */
export interface RandomTreeOptions {
  /** The digest of pool blob `d`. */
  hex: (d: number) => string
  /** How many objects the locations spread over. */
  objects: number
  /** At most this many blobs a file. */
  maxBlobs: number
}

export interface Spec {
  root: number
  dir: number
  name: number
  kind: 'file' | 'symlink' | 'dir'
  mode: number
  blobs: number[]
  mtime: number | null
  target: number
}

/** Each pool digest's raw size; 12 of them in the base, 4 more that only edits use. */
export const blobSize = (d: number): number => 10 + d * 7

export function randomTrees({ hex, objects, maxBlobs }: RandomTreeOptions) {
  /** A location of pool digest `d`, one of a few per digest: raw, zstd or in a shared frame. */
  const locationOf = (d: number, variant: number): BlobLocation => {
    const object = `o${(d + variant) % objects}`
    const size = blobSize(d)
    if (variant % 3 === 0) return [object, d * 100, size, size, 0]
    if (variant % 3 === 1) return [object, d * 100 + variant, size - 1, size, 1]
    return [object, variant * 10, 500, size, 2, d * 50, 4096]
  }

  const spec = (pool: number): fc.Arbitrary<Spec> =>
    fc.record({
      root: fc.nat(1),
      dir: fc.nat(3),
      name: fc.nat(30),
      kind: fc.constantFrom<Spec['kind']>('file', 'file', 'file', 'symlink', 'dir'),
      mode: fc.constantFrom(0o644, 0o755, 0o600),
      blobs: fc.array(fc.nat(pool - 1), { maxLength: maxBlobs }),
      mtime: fc.option(fc.nat(1000)),
      target: fc.nat(5)
    })

  const entryOf = (s: Spec): ManifestEntry => {
    const { root, mode } = s
    if (s.kind === 'dir') return { root, path: `d${s.dir}`, type: 'dir', mode }
    const path = `d${s.dir}/${s.kind === 'file' ? 'f' : 'l'}${s.name}`
    if (s.kind === 'symlink') return { root, path, type: 'symlink', mode: 0o777, target: `t${s.target}` }
    const size = s.blobs.reduce((sum, d) => sum + blobSize(d), 0)
    const blobs = s.blobs.map(hex)
    return s.mtime === null
      ? { root, path, type: 'file', mode, size, blobs }
      : { root, path, type: 'file', mode, size, blobs, mtime: s.mtime }
  }

  /** A tree of the specs in walk order (the last spec of a path wins), its blobs at `variants`' locations. */
  const manifestFrom = (specs: Spec[], variants: Map<number, number>): Manifest => {
    const byPath = new Map<string, ManifestEntry>()
    for (const root of [0, 1]) byPath.set(`${root}\0`, { root, path: '', type: 'dir', mode: 0o755 })
    const poolOf = new Map<string, number>()
    for (const s of specs) {
      const entry = entryOf(s)
      s.blobs.forEach(d => poolOf.set(hex(d), d))
      byPath.set(`${entry.root}\0${entry.path}`, entry)
    }
    const entries = [...byPath.values()].sort((a, b) => a.root - b.root || comparePaths(a.path, b.path))
    const blobs: Record<string, BlobLocation> = {}
    for (const entry of entries)
      for (const digest of entry.blobs ?? []) {
        const d = poolOf.get(digest)!
        blobs[digest] = locationOf(d, variants.get(d) ?? 0)
      }
    return { schema: MANIFEST_SCHEMA, roots: ['build', 'cache'], entries, blobs }
  }

  const edit = fc.record({
    kind: fc.constantFrom('remove', 'content', 'mode', 'mtime', 'location', 'symlink', 'add'),
    at: fc.nat(),
    spec: spec(16)
  })

  /** A base tree and an edited one (edits reuse the base's digests as well as new ones), and a free seed. */
  const trees = fc
    .tuple(fc.array(spec(12), { maxLength: 40 }), fc.array(edit, { maxLength: 30 }), fc.nat())
    .map(([specs, edits, seed]) => {
      const base = manifestFrom(specs, new Map())
      const after = specs.map(s => ({ ...s }))
      const variants = new Map<number, number>()
      for (const { kind, at, spec: s } of edits) {
        if (kind === 'add' || after.length === 0) {
          after.push(s)
          continue
        }
        const i = at % after.length
        if (kind === 'remove') after.splice(i, 1)
        else if (kind === 'content') after[i] = { ...after[i], blobs: s.blobs }
        else if (kind === 'mode') after[i] = { ...after[i], mode: s.mode }
        else if (kind === 'mtime') after[i] = { ...after[i], mtime: s.mtime }
        else if (kind === 'symlink') after[i] = { ...after[i], kind: 'symlink' }
        else if (kind === 'location') variants.set(at % 16, 1 + (at % 5))
      }
      return { base, next: manifestFrom(after, variants), seed }
    })

  return { spec, entryOf, locationOf, manifestFrom, trees }
}
