/**
 * What signing a cache entry costs: saves of one small tree, unsigned, key-signed and keyless (against the local
 * Sigstore of the tests, on loopback), alternated, each into a key of its own. Prints the median time of each and
 * the objects each save added. A script, not a test:
 *
 *   node --experimental-transform-types --no-warnings --import ./scripts/ts-register.mjs bench/signed-save.ts
 *
 * SIGNED_SAVE_ROUNDS (default 9) rounds; with S3_TEST_ENDPOINT (+ keys, see scripts/s3-server.sh env) on that S3
 * server in a fresh bucket, else in a temporary directory store.
 */
import { randomBytes } from 'node:crypto'
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { saveEntry } from '../src/core/cache/checkpoint-cache.js'
import type { EntrySigning } from '../src/core/cache/entry-signature.js'
import { keylessSigner, keySigner } from '../src/core/release/release-job.js'
import { generateSigningKey } from '../src/core/signing/keys.js'
import { FsStore } from '../src/core/store/fs-store.js'
import type { ObjectStore } from '../src/core/store/object-store.js'
import { S3Store } from '../src/core/store/s3-store.js'
import { startLocalSigstore, type WorkflowIdentity } from '../__tests__/helpers/local-sigstore.js'
import { createTestBucket } from '../__tests__/helpers/s3.js'

const rounds = Number(process.env.SIGNED_SAVE_ROUNDS || 9)
const work = await mkdtemp(path.join(tmpdir(), 'signed-save-'))
const tree = path.join(work, 'tree')
// A small tree: 50 files of 1–8 KiB (about 220 KiB).
for (let i = 0; i < 50; i++) {
  await mkdir(path.join(tree, 'deps', `d${i % 5}`), { recursive: true })
  await writeFile(
    path.join(tree, 'deps', `d${i % 5}`, `f${i}.js`),
    randomBytes(1024 * (1 + (i % 8))).toString('base64')
  )
}
const store: ObjectStore = process.env.S3_TEST_ENDPOINT
  ? new S3Store(await createTestBucket('signed-save'))
  : new FsStore(path.join(work, 'store'))

const sigstore = await startLocalSigstore({ dir: work })
const job: WorkflowIdentity = { repository: 'acme/app', ref: 'refs/heads/main' }
const writer = { repository: 'https://github.com/acme/app', ref: 'refs/heads/main', event: 'push' }
const instance = {
  name: 'custom' as const,
  fulcioURL: sigstore.fulcioURL,
  rekorURL: sigstore.rekorURL,
  tsaURL: sigstore.tsaURL
}
const variants: Record<string, EntrySigning | undefined> = {
  unsigned: undefined,
  key: { sign: keySigner(generateSigningKey().key).sign, writer },
  keyless: { sign: keylessSigner(async () => sigstore.identityToken(job), instance).sign, writer }
}

async function countObjects(): Promise<number> {
  let count = 0
  for await (const _ of store.list('')) count++
  return count
}

const times: Record<string, number[]> = { unsigned: [], key: [], keyless: [] }
const added: Record<string, number> = {}
// One warm-up save of each (module loading, first TLS-free connections), not counted.
for (const round of [-1, ...Array.from({ length: rounds }, (_, i) => i)]) {
  const order = round % 2 === 0 ? Object.keys(variants) : Object.keys(variants).reverse()
  for (const name of order) {
    const before = await countObjects()
    const started = performance.now()
    const result = await saveEntry({
      store,
      key: `bench-${name}-${round}-${randomBytes(4).toString('hex')}`,
      paths: ['deps'],
      workspace: tree,
      readScopes: ['branch/main'],
      signing: variants[name]
    })
    const ms = performance.now() - started
    if (result.status !== 'saved') throw new Error(`${name}: ${result.status}`)
    if (round >= 0) times[name].push(ms)
    added[name] = (await countObjects()) - before
  }
}
await sigstore.close()

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]
console.log(`signed saves of a 50-file, ~220 KiB tree into ${store.location}; ${rounds} rounds, alternated`)
console.log('variant\tmedian ms\tmin–max ms\tobjects added per save (after the first)')
for (const name of Object.keys(times)) {
  const values = times[name]
  const range = `${Math.min(...values).toFixed(1)}–${Math.max(...values).toFixed(1)}`
  console.log(`${name}\t${median(values).toFixed(1)}\t${range}\t${added[name]}`)
}
const base = median(times.unsigned)
console.log(
  `key signing adds ${(median(times.key) - base).toFixed(1)} ms; keyless (local Sigstore) adds ${(median(times.keyless) - base).toFixed(1)} ms`
)
