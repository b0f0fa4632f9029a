import { stat } from 'node:fs/promises'
import { InputError, IntegrityError } from '../errors.js'
import { sha256Hex, sha256OfFile, sha256OfStream } from '../store/codec.js'
import type { ObjectStore } from '../store/object-store.js'
import { isKitKey, KIT, kitKey, verifyReadme } from './offline-kit.js'
import { buildProvenanceStatement, releaseFactsOf, SLSA_PROVENANCE_V1, type BuildContext } from './provenance.js'
import { addToIndex } from './release-index.js'
import { assertNotACache, markReleaseStore } from './release-store.js'
import { parseRecord } from './verify-release.js'
import {
  formatSha256Sums,
  RELEASE_SCHEMA,
  releaseLayout,
  validatePackageName,
  validateProjectName,
  validateVersion,
  type ReleaseFile,
  type ReleaseRecord
} from './release-layout.js'

/** Signs an in-toto statement into a Sigstore bundle; key-based or keyless. */
export interface StatementSigner {
  method: 'key' | 'keyless'
  keyId?: string
  publicKeyPem?: string
  sign(statement: object): Promise<object>
  /** Keyless: the trusted root in force (JSON text) for the offline kit; undefined when it cannot be had. */
  trustedRoot?: () => Promise<string | undefined>
}

export interface PublishRequest {
  store: ObjectStore
  project: string
  version: string
  packages: Array<{ name: string; path: string }>
  /** Where and from what the packages were built; the provenance statement is made from it. */
  context: BuildContext
  /** The pipeline's plan, carried in the provenance. */
  plan?: unknown
  /** What the job restored from the cache: resolved dependencies of the provenance. */
  dependencies?: Parameters<typeof buildProvenanceStatement>[0]['dependencies']
  /** Values kept out of the provenance (see redactSecrets). */
  secrets?: string[]
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
 * Publishes a release. The statement is made from the local packages and signed before anything is
 * written, so a signing failure leaves the store as it was. Every object is created with
 * If-None-Match: *, so nothing is ever overwritten; release.json is written last, so a release is
 * visible only once complete. Re-running with identical packages writes nothing; different bytes
 * for an existing version fail.
 */
export async function publishRelease(request: PublishRequest): Promise<PublishResult> {
  const { store, project, version, context, signer } = request
  validateProjectName(project)
  validateVersion(version)
  if (!context.repositoryUri)
    throw new InputError('repository: unknown; give the source repository (owner/name or its URL)')
  if (!context.commit) throw new InputError('commit: unknown; give the commit the packages were built from')
  if (request.packages.length === 0)
    throw new InputError('packages: no file matched; check the globs, or build the packages before releasing')
  const files = await describePackages(request.packages)
  await assertNotACache(store)

  const existing = await readRecord(store, project, version)
  if (existing) return alreadyPublished(store, existing, files)

  const statement = buildProvenanceStatement({
    subjects: files,
    context,
    release: { project, version },
    plan: request.plan,
    dependencies: request.dependencies,
    secrets: request.secrets
  })
  const facts = releaseFactsOf(statement)
  const sums = Buffer.from(formatSha256Sums(files))
  const publicKey =
    signer.keyId && signer.publicKeyPem
      ? { key: releaseLayout.key(project, signer.keyId), bytes: Buffer.from(signer.publicKeyPem) }
      : undefined
  const earlier = await earlierAttempt(store, { project, version, files, sums, facts, signer })
  if (earlier.record) return alreadyPublished(store, earlier.record, files)
  if (publicKey) await assertSameIfPresent(store, publicKey.key, publicKey.bytes)
  // Signed before the first write: a signer that fails leaves nothing behind.
  const provenance = earlier.provenance ?? json(await signer.sign(statement))
  const kit = await offlineKit(project, version, facts, files, signer)

  const lock = await store.objectLock?.()
  const retainUntil =
    lock?.enabled && !lock.defaultRetention
      ? new Date(Date.now() + (request.retentionDays ?? 3650) * 86_400_000)
      : undefined
  const created: string[] = []
  const createOnce = async (
    key: string,
    body: Uint8Array | { path: string; size: number },
    sha256: string
  ): Promise<void> => {
    if (earlier.present.has(key)) return
    if ((await store.put(key, body, { ifNoneMatch: true, retainUntil })) === 'created') {
      created.push(key)
      return
    }
    const present = await store.get(key)
    if (!present || sha256Hex(present) !== sha256) throw startedEarlier(project, version, key)
  }

  await markReleaseStore(store)
  for (const file of files) {
    const local = request.packages.find(item => item.name === file.name)!
    await createOnce(
      releaseLayout.package(project, version, file.name),
      { path: local.path, size: file.size },
      file.sha256
    )
  }
  await createOnce(releaseLayout.sums(project, version), sums, sha256Hex(sums))
  await createOnce(releaseLayout.provenance(project, version), provenance, sha256Hex(provenance))
  for (const item of kit) await createOnce(item.key, item.bytes, sha256Hex(item.bytes))
  if (publicKey && !(await store.head(publicKey.key))) {
    if ((await store.put(publicKey.key, publicKey.bytes, { ifNoneMatch: true, retainUntil })) === 'created')
      created.push(publicKey.key)
  }

  const record: ReleaseRecord = {
    schema: RELEASE_SCHEMA,
    project,
    version,
    repository: facts.repository,
    commit: facts.commit,
    created: new Date().toISOString(),
    files,
    sha256sums: { path: 'SHA256SUMS', sha256: sha256Hex(sums) },
    provenance: { path: 'provenance.sigstore.json', sha256: sha256Hex(provenance), predicateType: SLSA_PROVENANCE_V1 },
    signing: {
      method: signer.method,
      keyId: signer.keyId,
      publicKey: signer.keyId ? `keys/${signer.keyId}.pem` : undefined
    },
    ...(lock?.enabled
      ? {
          retention: retainUntil ? { mode: 'GOVERNANCE', until: retainUntil.toISOString() } : { mode: 'bucket default' }
        }
      : {})
  }
  const recordKey = releaseLayout.record(project, version)
  if (
    (await store.put(recordKey, json(record), { ifNoneMatch: true, contentType: 'application/json', retainUntil })) ===
    'exists'
  ) {
    // A concurrent run of the same release got there first.
    const winner = (await readRecord(store, project, version))!
    assertSameFiles(winner, files)
    return { status: 'unchanged', record: winner, created }
  }
  created.push(recordKey)
  await addToIndex(store, project, indexEntry(record))
  return { status: 'published', record, created }
}

/** The offline verification kit (offline-kit.ts): public key or trusted root, and VERIFY.md. */
async function offlineKit(
  project: string,
  version: string,
  facts: ReturnType<typeof releaseFactsOf>,
  files: ReleaseFile[],
  signer: StatementSigner
): Promise<Array<{ key: string; bytes: Buffer }>> {
  const kit: Array<{ key: string; bytes: Buffer }> = []
  const add = (name: string, text: string) =>
    kit.push({ key: kitKey(project, version, name), bytes: Buffer.from(text) })
  if (signer.publicKeyPem) add(KIT.publicKey, signer.publicKeyPem)
  const root = signer.method === 'keyless' ? await signer.trustedRoot?.() : undefined
  if (root) add(KIT.trustedRoot, root)
  const keyId = signer.method === 'key' ? signer.keyId : undefined
  add(
    KIT.readme,
    verifyReadme({ project, version, repository: facts.repository, files, keyId, trustedRoot: Boolean(root) })
  )
  return kit
}

export async function readRecord(
  store: ObjectStore,
  project: string,
  version: string
): Promise<ReleaseRecord | undefined> {
  const bytes = await store.get(releaseLayout.record(project, version))
  return bytes ? parseRecord(bytes) : undefined
}

/** An identical re-run: writes nothing, except an index entry that an interrupted run did not add. */
async function alreadyPublished(
  store: ObjectStore,
  record: ReleaseRecord,
  files: ReleaseFile[]
): Promise<PublishResult> {
  assertSameFiles(record, files)
  await addToIndex(store, record.project, indexEntry(record))
  return { status: 'unchanged', record, created: [] }
}

/**
 * What an earlier run of this version that never finished left behind, checked before anything is
 * signed or written: each object must be exactly what this run would write (a provenance counts
 * when it is for the same release, files, repository and commit, by the same key), or the run stops.
 */
async function earlierAttempt(
  store: ObjectStore,
  want: {
    project: string
    version: string
    files: ReleaseFile[]
    sums: Buffer
    facts: ReturnType<typeof releaseFactsOf>
    signer: StatementSigner
  }
): Promise<{ present: Set<string>; provenance?: Buffer; record?: ReleaseRecord }> {
  const { project, version } = want
  const present = new Set<string>()
  let provenance: Buffer | undefined
  for await (const object of store.list(releaseLayout.version(project, version))) {
    const key = object.key
    const file = want.files.find(item => releaseLayout.package(project, version, item.name) === key)
    if (key === releaseLayout.record(project, version))
      return { present, record: await readRecord(store, project, version) }
    if (file) {
      const stream = await store.getStream(key)
      if (!stream || (await sha256OfStream(stream)).sha256 !== file.sha256) throw startedEarlier(project, version, key)
    } else if (key === releaseLayout.sums(project, version)) {
      if (!want.sums.equals((await store.get(key)) ?? Buffer.alloc(0))) throw startedEarlier(project, version, key)
    } else if (isKitKey(project, version, key)) {
      // The kit is unsigned convenience that verifiers pin; an earlier attempt's copy stays as it is.
    } else if (key === releaseLayout.provenance(project, version)) {
      provenance = await store.get(key)
      if (!provenance || !sameSignedRelease(provenance, want.facts, want.signer))
        throw startedEarlier(project, version, key)
    } else {
      throw startedEarlier(project, version, key)
    }
    present.add(key)
  }
  return { present, provenance }
}

/** Whether a bundle signs the same release (facts and files) with the same key, judged from its payload. */
function sameSignedRelease(
  bundleBytes: Buffer,
  facts: ReturnType<typeof releaseFactsOf>,
  signer: StatementSigner
): boolean {
  try {
    const bundle = JSON.parse(bundleBytes.toString('utf8'))
    const hint = bundle.verificationMaterial?.publicKey?.hint
    if (signer.method === 'key' ? hint !== signer.keyId : hint !== undefined) return false
    const earlier = releaseFactsOf(JSON.parse(Buffer.from(bundle.dsseEnvelope.payload, 'base64').toString('utf8')))
    return JSON.stringify(earlier) === JSON.stringify(facts)
  } catch {
    return false
  }
}

async function assertSameIfPresent(store: ObjectStore, key: string, bytes: Buffer): Promise<void> {
  const present = await store.get(key)
  if (present && !present.equals(bytes))
    throw new IntegrityError(
      `release-store: ${key} is not the signing key's public key; the release store was altered, remove it or use another store`
    )
}

function startedEarlier(project: string, version: string, key: string): InputError {
  const name = key.slice(releaseLayout.version(project, version).length)
  return new InputError(
    `version: ${project} ${version} was started earlier with a different ${name} and never finished; release under a new version (nothing was overwritten)`
  )
}

function indexEntry(record: ReleaseRecord) {
  return {
    version: record.version,
    commit: record.commit,
    created: record.created,
    record: releaseLayout.recordInProject(record.version)
  }
}

function assertSameFiles(record: ReleaseRecord, files: ReleaseFile[]): void {
  const { project, version } = record
  const describe = (list: ReleaseFile[]) => list.map(file => `${file.name}:${file.size}:${file.sha256}`).join('\n')
  if (describe(record.files) === describe(files)) return
  const changed =
    files.find(file => !record.files.some(old => old.name === file.name && old.sha256 === file.sha256)) ??
    record.files.find(old => !files.some(file => file.name === old.name))
  throw new InputError(
    `version: ${project} ${version} is already released with different bytes${changed ? ` (${changed.name})` : ''}; bump the version — the published release stays as it was`
  )
}

async function describePackages(packages: PublishRequest['packages']): Promise<ReleaseFile[]> {
  const names = new Set<string>()
  const files: ReleaseFile[] = []
  for (const item of packages) {
    validatePackageName(item.name)
    if (names.has(item.name))
      throw new InputError(`packages: two packages are named ${item.name}; package file names must be unique`)
    names.add(item.name)
    files.push({ name: item.name, size: (await stat(item.path)).size, sha256: await sha256OfFile(item.path) })
  }
  return files.sort((a, b) => (a.name < b.name ? -1 : 1))
}

function json(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`)
}
