import { describeRule, type PolicyRule } from '../cache/entry-signature.js'
import { checkRestoredDependencies } from '../cache/restore-record.js'
import { IntegrityError } from '../errors.js'
import { sha256Hex, sha256OfStream } from '../store/codec.js'
import type { ObjectStore } from '../store/object-store.js'
import { releaseFactsOf, type ReleaseFacts } from './provenance.js'
import {
  parseSha256Sums,
  RELEASE_SCHEMA,
  releaseLayout,
  SHA256_HEX,
  validateProjectName,
  validateVersion,
  type ReleaseFile,
  type ReleaseRecord
} from './release-layout.js'

/** Checks a Sigstore bundle's signature and returns the in-toto statement it signs. */
export type BundleVerifier = (bundle: unknown) => Promise<InTotoStatement>

export interface InTotoStatement {
  _type: string
  subject: Array<{ name: string; digest: { sha256?: string } }>
  predicateType: string
  predicate: unknown
}

/** What verify vouches for: only facts of the signed statement (sizes are those of the signed bytes). */
export interface VerifiedRelease {
  release: ReleaseFacts & { files: ReleaseFile[] }
  statement: InTotoStatement
  checked: string[]
}

/**
 * Verifies a published release end to end. The provenance's signature holds and names the release;
 * release.json says the same as the signed statement, field by field; SHA256SUMS lists exactly the
 * signed files; packages/ holds exactly those files, each matching its signed sha256. Any mismatch
 * throws IntegrityError naming the field or file at fault. Nothing unsigned is returned.
 */
export async function verifyRelease(request: {
  store: ObjectStore
  project: string
  version: string
  verifyBundle: BundleVerifier
  /** Refuse a release built from a cache entry or checkpoint this rule does not accept (default any). */
  requireCacheFrom?: PolicyRule
}): Promise<VerifiedRelease> {
  const { store, project, version } = request
  validateProjectName(project)
  validateVersion(version)
  const checked: string[] = []
  const recordBytes = await store.get(releaseLayout.record(project, version))
  if (!recordBytes)
    throw new IntegrityError(
      `${project} ${version}: no release.json; the release does not exist or was never completed`
    )
  const record = parseRecord(recordBytes)

  const provenanceBytes = await store.get(releaseLayout.provenance(project, version))
  if (!provenanceBytes) throw new IntegrityError('provenance.sigstore.json is missing')
  if (sha256Hex(provenanceBytes) !== record.provenance.sha256)
    throw new IntegrityError('provenance.sigstore.json does not match the digest in release.json')
  let bundle: unknown
  try {
    bundle = JSON.parse(provenanceBytes.toString('utf8'))
  } catch {
    throw new IntegrityError('provenance.sigstore.json is not JSON')
  }
  const statement = await request.verifyBundle(bundle)
  checked.push('provenance signature is valid')
  const signed = releaseFactsOf(statement)
  if (signed.project !== project || signed.version !== version) {
    throw new IntegrityError(
      `provenance: signed for ${signed.project} ${signed.version}, not ${project} ${version}; it was copied from another release`
    )
  }
  bindRecord(record, signed)
  checked.push('release.json says what the signed provenance says (project, version, repository, commit, files)')
  if (request.requireCacheFrom && request.requireCacheFrom.kind !== 'any') {
    checkRestoredDependencies(statement, request.requireCacheFrom)
    checked.push(`every cache entry and checkpoint it was built from passes ${describeRule(request.requireCacheFrom)}`)
  }

  const sumsBytes = await store.get(releaseLayout.sums(project, version))
  if (!sumsBytes) throw new IntegrityError('SHA256SUMS is missing')
  let sums: Array<{ name: string; sha256: string }>
  try {
    sums = parseSha256Sums(sumsBytes.toString('utf8'))
  } catch (error) {
    throw new IntegrityError((error as Error).message)
  }
  const unsignedLine = difference(sums.map(fileLine), signed.files.map(fileLine))
  const missingLine = difference(signed.files.map(fileLine), sums.map(fileLine))
  if (unsignedLine || missingLine || sums.length !== signed.files.length) {
    const problem = unsignedLine
      ? `the line for ${unsignedLine.split(' ')[0]} does not match the signed provenance`
      : 'does not list exactly the signed files'
    throw new IntegrityError(`SHA256SUMS: ${problem}`)
  }
  checked.push('SHA256SUMS lists exactly the signed files')

  const signedNames = new Set(signed.files.map(file => file.name))
  const prefix = releaseLayout.packages(project, version)
  for await (const object of store.list(prefix)) {
    const name = object.key.slice(prefix.length)
    if (!signedNames.has(name))
      throw new IntegrityError(
        `packages/${name}: not named by the signed provenance; someone added it, do not use this release`
      )
  }
  const files: ReleaseFile[] = []
  for (const file of signed.files) {
    const stream = await store.getStream(releaseLayout.package(project, version, file.name))
    if (!stream) throw new IntegrityError(`packages/${file.name}: missing`)
    const { sha256, size } = await sha256OfStream(stream)
    if (sha256 !== file.sha256) throw new IntegrityError(`packages/${file.name}: does not match its signed sha256`)
    files.push({ name: file.name, size, sha256 })
  }
  checked.push(`packages/ holds exactly the ${files.length} signed package(s), each matching its sha256`)
  return {
    release: { project, version, repository: signed.repository, commit: signed.commit, files },
    statement,
    checked
  }
}

/** Refuses a release.json that says anything the signed statement does not, naming the first field that differs. */
function bindRecord(record: ReleaseRecord, signed: ReturnType<typeof releaseFactsOf>): void {
  for (const field of ['project', 'version', 'repository', 'commit'] as const) {
    if (record[field] !== signed[field]) {
      throw new IntegrityError(
        `release.json: ${field} is ${JSON.stringify(record[field])}, but the signed provenance says ${JSON.stringify(signed[field])}; release.json was altered, do not use this release`
      )
    }
  }
  const extra = difference(record.files.map(fileLine), signed.files.map(fileLine))
  const missing = difference(signed.files.map(fileLine), record.files.map(fileLine))
  if (extra)
    throw new IntegrityError(
      `release.json: files has ${extra.split(' ')[0]} with a digest the signed provenance does not name; release.json was altered`
    )
  if (missing || record.files.length !== signed.files.length)
    throw new IntegrityError(
      `release.json: files lacks ${missing?.split(' ')[0] ?? 'a signed file'} that the signed provenance names; release.json was altered`
    )
}

function fileLine(file: { name: string; sha256: string }): string {
  return `${file.name} ${file.sha256}`
}

/** The first of `a` that is not in `b`. */
function difference(a: string[], b: string[]): string | undefined {
  const other = new Set(b)
  return a.find(item => !other.has(item))
}

/** release.json checked field by field; the error names the first field out of shape. */
export function parseRecord(bytes: Buffer): ReleaseRecord {
  let value: unknown
  try {
    value = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new IntegrityError('release.json is not JSON')
  }
  const fail = (field: string): never => {
    throw new IntegrityError(`release.json: ${field} is missing or malformed; the release is incomplete or was altered`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return fail('(the whole file)')
  const record = value as ReleaseRecord
  if (record.schema !== RELEASE_SCHEMA) fail('schema')
  for (const field of ['project', 'version', 'repository', 'commit'] as const)
    if (typeof record[field] !== 'string') fail(field)
  if (!Array.isArray(record.files) || record.files.length === 0) fail('files')
  record.files.forEach((file, index) => {
    if (
      typeof file !== 'object' ||
      file === null ||
      typeof file.name !== 'string' ||
      !SHA256_HEX.test(String(file.sha256))
    )
      fail(`files[${index}]`)
  })
  if (!SHA256_HEX.test(String(record.provenance?.sha256))) fail('provenance.sha256')
  if (record.signing?.method !== 'key' && record.signing?.method !== 'keyless') fail('signing.method')
  return record
}
