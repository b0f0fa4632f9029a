import { IntegrityError } from '../errors.js'
import { sha256Hex, sha256OfStream } from '../store/codec.js'
import type { ObjectStore } from '../store/object-store.js'
import { parseSha256Sums, RELEASE_SCHEMA, releaseLayout, validateProjectName, validateVersion, type ReleaseRecord } from './release-layout.js'

/** Checks a Sigstore bundle's signature and returns the in-toto statement it signs. */
export type BundleVerifier = (bundle: unknown) => Promise<InTotoStatement>

export interface InTotoStatement {
  _type: string
  subject: Array<{ name: string; digest: { sha256?: string } }>
  predicateType: string
  predicate: unknown
}

export interface VerifiedRelease {
  record: ReleaseRecord
  statement: InTotoStatement
  checked: string[]
}

/**
 * Verifies a published release end to end: release.json is complete, SHA256SUMS and every package
 * match it byte for byte, the provenance is the one it names, its signature holds, and its subjects
 * are exactly the packages. Any mismatch throws IntegrityError with the reason.
 */
export async function verifyRelease(request: { store: ObjectStore; project: string; version: string; verifyBundle: BundleVerifier }): Promise<VerifiedRelease> {
  const { store, project, version } = request
  validateProjectName(project)
  validateVersion(version)
  const checked: string[] = []
  const recordBytes = await store.get(releaseLayout.record(project, version))
  if (!recordBytes) throw new IntegrityError(`${project} ${version}: no release.json; the release does not exist or was never completed`)
  const record = parseRecord(recordBytes, project, version)
  checked.push('release.json is complete')

  const sumsBytes = await store.get(releaseLayout.sums(project, version))
  if (!sumsBytes) throw new IntegrityError('SHA256SUMS is missing')
  if (sha256Hex(sumsBytes) !== record.sha256sums.sha256) throw new IntegrityError('SHA256SUMS does not match the digest in release.json')
  let sums: Array<{ name: string; sha256: string }>
  try {
    sums = parseSha256Sums(sumsBytes.toString('utf8'))
  } catch (error) {
    throw new IntegrityError((error as Error).message)
  }
  if (!sameSet(sums.map(line => `${line.name} ${line.sha256}`), record.files.map(file => `${file.name} ${file.sha256}`))) throw new IntegrityError('SHA256SUMS does not list exactly the files of release.json')
  checked.push('SHA256SUMS matches release.json')

  for (const file of record.files) {
    const stream = await store.getStream(releaseLayout.package(project, version, file.name))
    if (!stream) throw new IntegrityError(`package ${file.name} is missing`)
    const { sha256, size } = await sha256OfStream(stream)
    if (size !== file.size || sha256 !== file.sha256) throw new IntegrityError(`package ${file.name} does not match its sha256 in release.json and SHA256SUMS`)
  }
  checked.push(`${record.files.length} package(s) match their sha256`)

  const provenanceBytes = await store.get(releaseLayout.provenance(project, version))
  if (!provenanceBytes) throw new IntegrityError('provenance.sigstore.json is missing')
  if (sha256Hex(provenanceBytes) !== record.provenance.sha256) throw new IntegrityError('provenance.sigstore.json does not match the digest in release.json')
  let bundle: unknown
  try {
    bundle = JSON.parse(provenanceBytes.toString('utf8'))
  } catch {
    throw new IntegrityError('provenance.sigstore.json is not JSON')
  }
  const statement = await request.verifyBundle(bundle)
  checked.push('provenance signature is valid')
  const subjects = statement.subject.map(subject => `${subject.name} ${subject.digest.sha256}`)
  if (!sameSet(subjects, record.files.map(file => `${file.name} ${file.sha256}`))) throw new IntegrityError('provenance subjects do not match the packages')
  if (statement.predicateType !== record.provenance.predicateType) throw new IntegrityError(`provenance predicate type is ${statement.predicateType}, not ${record.provenance.predicateType}`)
  checked.push('provenance subjects are exactly the packages')
  return { record, statement, checked }
}

function parseRecord(bytes: Buffer, project: string, version: string): ReleaseRecord {
  let record: ReleaseRecord
  try {
    record = JSON.parse(bytes.toString('utf8')) as ReleaseRecord
  } catch {
    throw new IntegrityError('release.json is not JSON')
  }
  const hex = /^[0-9a-f]{64}$/
  const complete =
    record.schema === RELEASE_SCHEMA &&
    record.project === project &&
    record.version === version &&
    typeof record.repository === 'string' &&
    typeof record.commit === 'string' &&
    Array.isArray(record.files) &&
    record.files.length > 0 &&
    record.files.every(file => typeof file.name === 'string' && Number.isInteger(file.size) && hex.test(file.sha256)) &&
    hex.test(record.sha256sums?.sha256 ?? '') &&
    hex.test(record.provenance?.sha256 ?? '') &&
    (record.signing?.method === 'key' || record.signing?.method === 'keyless')
  if (!complete) throw new IntegrityError('release.json is incomplete or names another release')
  return record
}

function sameSet(a: string[], b: string[]): boolean {
  const left = [...a].sort()
  const right = [...b].sort()
  return left.length === right.length && left.every((value, index) => value === right[index])
}
