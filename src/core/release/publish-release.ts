import { stat } from 'node:fs/promises'
import { InputError } from '../errors.js'
import { sha256Hex, sha256OfFile } from '../store/codec.js'
import type { ObjectStore } from '../store/object-store.js'
import { addToIndex } from './release-index.js'
import { formatSha256Sums, RELEASE_SCHEMA, releaseLayout, validatePackageName, validateProjectName, validateVersion, type ReleaseFile, type ReleaseRecord } from './release-layout.js'

/** Signs an in-toto statement into a Sigstore bundle; key-based or keyless. */
export interface StatementSigner {
  method: 'key' | 'keyless'
  keyId?: string
  publicKeyPem?: string
  sign(statement: object): Promise<object>
}

export interface PublishRequest {
  store: ObjectStore
  project: string
  version: string
  repository: string
  commit: string
  packages: Array<{ name: string; path: string }>
  /** The provenance statement for these subjects (see provenance.ts). */
  statementFor(subjects: ReleaseFile[]): object
  signer: StatementSigner
  /** Retention for buckets with Object Lock but no default rule (governance mode); 3650 days if unset. */
  retentionDays?: number
}

export interface PublishResult {
  status: 'published' | 'unchanged'
  record: ReleaseRecord
  /** Object keys this call created. */
  created: string[]
}

/**
 * Publishes a release. Every object is created with If-None-Match: *, so nothing is ever
 * overwritten; release.json is written last, so a release is visible only once complete. Re-running
 * with identical packages succeeds and changes nothing; different bytes for an existing version fail.
 */
export async function publishRelease(request: PublishRequest): Promise<PublishResult> {
  const { store, project, version } = request
  validateProjectName(project)
  validateVersion(version)
  if (request.packages.length === 0) throw new InputError('packages: no file matched; check the globs, or build the packages before releasing')
  await assertNotACache(store)
  const files = await describePackages(request.packages)

  const existing = await readRecord(store, project, version)
  if (existing) {
    assertSameFiles(existing, files, project, version)
    await addToIndex(store, project, indexEntry(existing))
    return { status: 'unchanged', record: existing, created: [] }
  }

  const lock = await store.objectLock?.()
  const retainUntil = lock?.enabled && !lock.defaultRetention ? new Date(Date.now() + (request.retentionDays ?? 3650) * 86_400_000) : undefined
  const created: string[] = []
  const createOnce = async (key: string, body: Uint8Array | { path: string; size: number }, sha256: string): Promise<void> => {
    if ((await store.put(key, body, { ifNoneMatch: true, retainUntil })) === 'created') {
      created.push(key)
      return
    }
    const present = await store.get(key)
    if (!present || sha256Hex(present) !== sha256) throw new InputError(`version: ${project} ${version} was started earlier with different bytes for ${key.split('/').pop()} and never finished; release under a new version (nothing was overwritten)`)
  }

  for (const file of files) {
    const local = request.packages.find(item => item.name === file.name)!
    await createOnce(releaseLayout.package(project, version, file.name), { path: local.path, size: file.size }, file.sha256)
  }
  const sums = Buffer.from(formatSha256Sums(files))
  await createOnce(releaseLayout.sums(project, version), sums, sha256Hex(sums))

  const provenanceKey = releaseLayout.provenance(project, version)
  let provenance = await store.get(provenanceKey)
  if (!provenance) {
    provenance = Buffer.from(`${JSON.stringify(await request.signer.sign(request.statementFor(files)), null, 2)}\n`)
    await createOnce(provenanceKey, provenance, sha256Hex(provenance))
  }
  const { signer } = request
  if (signer.keyId && signer.publicKeyPem) {
    const keyBytes = Buffer.from(signer.publicKeyPem)
    await createOnce(releaseLayout.key(project, signer.keyId), keyBytes, sha256Hex(keyBytes))
  }
  await store.put(releaseLayout.marker, Buffer.from(`${JSON.stringify({ schema: 'artifact-action/release-store@1', note: 'A release store: never pruned, objects never overwritten.' }, null, 2)}\n`), { ifNoneMatch: true })

  const record: ReleaseRecord = {
    schema: RELEASE_SCHEMA,
    project,
    version,
    repository: request.repository,
    commit: request.commit,
    created: new Date().toISOString(),
    files,
    sha256sums: { path: 'SHA256SUMS', sha256: sha256Hex(sums) },
    provenance: { path: 'provenance.sigstore.json', sha256: sha256Hex(provenance), predicateType: 'https://slsa.dev/provenance/v1' },
    signing: { method: signer.method, keyId: signer.keyId, publicKey: signer.keyId ? `keys/${signer.keyId}.pem` : undefined },
    ...(lock?.enabled ? { retention: retainUntil ? { mode: 'GOVERNANCE', until: retainUntil.toISOString() } : { mode: 'bucket default' } } : {})
  }
  const recordKey = releaseLayout.record(project, version)
  if ((await store.put(recordKey, Buffer.from(`${JSON.stringify(record, null, 2)}\n`), { ifNoneMatch: true, contentType: 'application/json', retainUntil })) === 'exists') {
    // A concurrent run of the same release got there first.
    const winner = (await readRecord(store, project, version))!
    assertSameFiles(winner, files, project, version)
    return { status: 'unchanged', record: winner, created }
  }
  created.push(recordKey)
  await addToIndex(store, project, indexEntry(record))
  return { status: 'published', record, created }
}

export async function readRecord(store: ObjectStore, project: string, version: string): Promise<ReleaseRecord | undefined> {
  const bytes = await store.get(releaseLayout.record(project, version))
  return bytes ? (JSON.parse(bytes.toString('utf8')) as ReleaseRecord) : undefined
}

function indexEntry(record: ReleaseRecord) {
  return { version: record.version, commit: record.commit, created: record.created, record: `releases/${record.version}/release.json` }
}

function assertSameFiles(record: ReleaseRecord, files: ReleaseFile[], project: string, version: string): void {
  const describe = (list: ReleaseFile[]) => list.map(file => `${file.name}:${file.size}:${file.sha256}`).join('\n')
  if (describe(record.files) === describe(files)) return
  const changed = files.find(file => !record.files.some(old => old.name === file.name && old.sha256 === file.sha256)) ?? record.files.find(old => !files.some(file => file.name === old.name))
  throw new InputError(`version: ${project} ${version} is already released with different bytes${changed ? ` (${changed.name})` : ''}; bump the version — the published release stays as it was`)
}

/** A release store must not be a cache: a cache is pruned. */
async function assertNotACache(store: ObjectStore): Promise<void> {
  for (const prefix of ['refs/', 'manifests/']) {
    for await (const _ of store.list(prefix)) throw new InputError(`release-store: ${store.location} holds cache entries (${prefix}); use a separate bucket or prefix for releases, which are never pruned`)
  }
}

async function describePackages(packages: PublishRequest['packages']): Promise<ReleaseFile[]> {
  const names = new Set<string>()
  const files: ReleaseFile[] = []
  for (const item of packages) {
    validatePackageName(item.name)
    if (names.has(item.name)) throw new InputError(`packages: two packages are named ${item.name}; package file names must be unique`)
    names.add(item.name)
    files.push({ name: item.name, size: (await stat(item.path)).size, sha256: await sha256OfFile(item.path) })
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : 1))
}

