// Times a manifest's encode, digest and decodes (objects, columns) on a real tree, 7 runs each, medians.
//   node --experimental-transform-types --no-warnings --import ./scripts/ts-register.mjs bench/manifest-codec.ts [tree]
// The default tree is the bench's 100,000-file one (`npm run bench` makes it).
import type { ObjectStore } from '../src/core/store/object-store.js'
import { decodeManifest, decodeManifestColumns, sealManifest, treeDigest } from '../src/core/manifest/encoding.js'
import { snapshotTree } from '../src/core/store/snapshot.js'

const tree = process.argv[2] ?? '/tmp/artifact-action-bench/trees/tiny-x1/v1/tree'
/** Stores nothing: only the manifest is wanted. */
const nowhere: ObjectStore = {
  location: 'nowhere',
  identity: 'nowhere',
  put: async () => 'created' as const,
  get: async () => undefined,
  getStream: async () => undefined,
  head: async () => undefined,
  list: async function* () {},
  delete: async () => {},
  check: async () => {}
}

const { encoded: stored, digest } = await snapshotTree({ store: nowhere, roots: [{ spec: 'tree', absolute: tree }] })
const manifest = decodeManifest(stored, digest)
console.log(
  `${tree}: ${manifest.entries.length} entries, ${Object.keys(manifest.blobs).length} blobs, stored ${(stored.length / 1e6).toFixed(2)} MB`
)

function time(name: string, run: () => unknown): void {
  const runs: number[] = []
  for (let i = 0; i < 7; i++) {
    const start = performance.now()
    run()
    runs.push(performance.now() - start)
  }
  runs.sort((a, b) => a - b)
  console.log(`${name.padEnd(24)} median ${runs[3].toFixed(0)} ms (min ${runs[0].toFixed(0)})`)
}

time('seal (digest + encode)', () => sealManifest(manifest))
time('tree digest', () => treeDigest(manifest))
time('decode as columns', () => decodeManifestColumns(stored, digest))
time('decode as objects', () => decodeManifest(stored, digest))
