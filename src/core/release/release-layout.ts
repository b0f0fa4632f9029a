import { InputError } from '../errors.js'

/**
 * Where a release lives in the release store. A client with only HTTPS (or `aws s3 cp`) and
 * `sha256sum` can use these paths directly.
 */
export const RELEASE_SCHEMA = 'artifact-action/release@1'
export const INDEX_SCHEMA = 'artifact-action/release-index@1'

const NAME = /^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$/

export function validateProjectName(project: string, input = 'project'): void {
  if (!NAME.test(project))
    throw new InputError(
      `${input}: "${project}" is not a valid project name; use letters, digits, '.', '_', '+' or '-', starting with a letter or digit`
    )
}

export function validateVersion(version: string, input = 'version'): void {
  if (!NAME.test(version) || version.includes('..'))
    throw new InputError(
      `${input}: "${version}" is not a valid version name; use a tag-like name such as v1.2.3 (letters, digits, '.', '_', '+', '-')`
    )
}

/** A package file name: one path segment, no '..'. */
export function isPackageName(name: string): boolean {
  return NAME.test(name) && !name.includes('..')
}

export { SHA256_HEX } from '../manifest/model.js'

export function validatePackageName(name: string): void {
  if (!isPackageName(name))
    throw new InputError(
      `packages: "${name}" is not a valid package file name; rename it (letters, digits, '.', '_', '+', '-')`
    )
}

export const releaseLayout = {
  marker: 'release-store.json',
  index: (project: string) => `${project}/index.json`,
  indexSlot: (project: string, sequence: number) => `${project}/index.d/${String(sequence).padStart(10, '0')}.json`,
  indexSlots: (project: string) => `${project}/index.d/`,
  key: (project: string, keyId: string) => `${project}/keys/${keyId}.pem`,
  version: (project: string, version: string) => `${project}/releases/${version}/`,
  packages: (project: string, version: string) => `${project}/releases/${version}/packages/`,
  package: (project: string, version: string, file: string) => `${project}/releases/${version}/packages/${file}`,
  sums: (project: string, version: string) => `${project}/releases/${version}/SHA256SUMS`,
  provenance: (project: string, version: string) => `${project}/releases/${version}/provenance.sigstore.json`,
  record: (project: string, version: string) => `${project}/${releaseLayout.recordInProject(version)}`,
  /** release.json as the index names it, relative to its project. */
  recordInProject: (version: string) => `releases/${version}/release.json`,
  /** Whether a key is one that marks a release store: its marker, a project's index, or a release's record. */
  marksReleases(key: string): boolean {
    if (key === releaseLayout.marker) return true
    const parts = key.split('/')
    return (
      (parts.length === 2 && parts[1] === 'index.json') ||
      (parts.length === 4 && `${parts[1]}/${parts[2]}/${parts[3]}` === releaseLayout.recordInProject(parts[2]))
    )
  }
}

export interface ReleaseFile {
  name: string
  size: number
  sha256: string
}

/** release.json: written last, it is the commit marker of a release. */
export interface ReleaseRecord {
  schema: typeof RELEASE_SCHEMA
  project: string
  version: string
  /** The source repository URI; like project, version, commit and files, bound to the signed statement. */
  repository: string
  commit: string
  created: string
  files: ReleaseFile[]
  sha256sums: { path: string; sha256: string }
  provenance: { path: string; sha256: string; predicateType: string }
  signing: { method: 'key' | 'keyless'; keyId?: string; publicKey?: string }
  /** Present when the bucket has Object Lock. */
  retention?: { mode: string; until?: string }
}

export interface ReleaseIndex {
  schema: typeof INDEX_SCHEMA
  project: string
  sequence: number
  versions: Array<{ version: string; commit: string; created: string; record: string }>
}

/** SHA256SUMS in the format `sha256sum -c` reads: digest, two spaces, file name. */
export function formatSha256Sums(files: ReleaseFile[]): string {
  return files.map(file => `${file.sha256}  ${file.name}\n`).join('')
}

export function parseSha256Sums(text: string): Array<{ name: string; sha256: string }> {
  return text
    .split('\n')
    .filter(line => line.length > 0)
    .map(line => {
      const match = /^([0-9a-f]{64}) [ *](.+)$/.exec(line)
      if (!match) throw new Error(`SHA256SUMS line is malformed: ${JSON.stringify(line.slice(0, 80))}`)
      return { sha256: match[1], name: match[2] }
    })
}
