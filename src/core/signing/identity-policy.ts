import { ASN1Obj } from '@sigstore/core'
import type { Signer } from '@sigstore/verify'
import { InputError, IntegrityError } from '../errors.js'

/** The OIDC issuer of GitHub Actions' id tokens, required of keyless signers unless told otherwise. */
export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com'

/** Fulcio's Source Repository URI extension: the repository whose workflow run got the certificate. */
const SOURCE_REPOSITORY_OID = '1.3.6.1.4.1.57264.1.12'

/** Input names, as action.yml declares them (the CLI flags add `--`). */
export const IdentityInputs = {
  Identity: 'certificate-identity',
  IdentityRegexp: 'certificate-identity-regexp',
  Issuer: 'certificate-oidc-issuer',
  SourceRepository: 'source-repository'
} as const

export type IdentityInputValues = Partial<Record<(typeof IdentityInputs)[keyof typeof IdentityInputs], string>>

/**
 * Who must have signed a keyless bundle. The issuer alone is never enough: the certificate's identity (SAN URI)
 * is always checked too, by default against the workflows of the repository the release comes from.
 */
export interface IdentityPolicy {
  issuer: string
  identity:
    | { kind: 'exact'; uri: string }
    | { kind: 'regexp'; pattern: RegExp }
    /** A workflow of the source repository: the SAN starts with `<repository URL>/`. */
    | { kind: 'repository-workflows' }
  /** The repository URL the release must come from; by default the one the signed statement names. */
  sourceRepository?: string
}

/** Reads the policy from inputs (or flags, with prefix `--`). */
export function resolveIdentityPolicy(values: IdentityInputValues, prefix = ''): IdentityPolicy {
  const name = (input: string) => `${prefix}${input}`
  const exact = values['certificate-identity']?.trim()
  const regexp = values['certificate-identity-regexp']?.trim()
  if (exact && regexp) {
    throw new InputError(`${name('certificate-identity')}: give it or ${name('certificate-identity-regexp')}, not both`)
  }
  const issuer = values['certificate-oidc-issuer']?.trim() || GITHUB_ACTIONS_ISSUER
  const repository = values['source-repository']?.trim()
  const sourceRepository = repository ? repositoryUrl(repository, name('source-repository')) : undefined
  if (exact) return { issuer, identity: { kind: 'exact', uri: exact }, sourceRepository }
  if (regexp) {
    const pattern = compile(regexp, name('certificate-identity-regexp'))
    return { issuer, identity: { kind: 'regexp', pattern }, sourceRepository }
  }
  return { issuer, identity: { kind: 'repository-workflows' }, sourceRepository }
}

/**
 * Checks a verified certificate's identity against the policy; `statementRepository` is the repository URL the
 * signed statement names. Throws IntegrityError with the reason.
 */
export function checkSignerIdentity(
  identity: Signer['identity'],
  policy: IdentityPolicy,
  statementRepository: string | undefined,
  subject = 'provenance'
): void {
  const san = identity?.subjectAlternativeName
  const issuer = identity?.extensions?.issuer
  if (issuer !== policy.issuer) {
    throw new IntegrityError(`${subject} certificate is for OIDC issuer ${issuer ?? '(none)'}, not ${policy.issuer}`)
  }
  if (!san) throw new IntegrityError(`${subject} certificate names no signer identity (no SAN)`)
  if (policy.sourceRepository && !sameUrl(statementRepository, policy.sourceRepository)) {
    const named = statementRepository ?? '(none)'
    throw new IntegrityError(`${subject} names repository ${named}, not ${policy.sourceRepository}`)
  }
  const repository = policy.sourceRepository ?? statementRepository
  if (policy.identity.kind === 'exact' && san !== policy.identity.uri) {
    throw new IntegrityError(`${subject} was signed by ${san}, not by ${policy.identity.uri}`)
  }
  if (policy.identity.kind === 'regexp' && !policy.identity.pattern.test(san)) {
    const pattern = policy.identity.pattern.source
    throw new IntegrityError(`${subject} was signed by ${san}, which does not match ${pattern}`)
  }
  if (policy.identity.kind === 'repository-workflows') {
    if (!repository) {
      throw new IntegrityError(`${subject} names no source repository; give certificate-identity to verify its signer`)
    }
    if (!san.toLowerCase().startsWith(`${trimSlash(repository).toLowerCase()}/`)) {
      const which = policy.sourceRepository ? 'source-repository' : 'the repository it names'
      throw new IntegrityError(`${subject} was signed by ${san}, not by a workflow of ${repository}, ${which}`)
    }
  }
  // A reusable workflow of the repository, run by another one, has a SAN under the repository: the certificate's
  // source repository tells them apart.
  if (policy.identity.kind === 'repository-workflows' || policy.sourceRepository) {
    const source = sourceRepositoryOf(identity)
    if (!sameUrl(source, repository)) {
      const ran = source ?? '(no source repository)'
      throw new IntegrityError(`${subject} was signed by a workflow run in ${ran}, not in ${repository}`)
    }
  }
}

/** The repository URL an in-toto statement of GitHub's workflow build type names. */
export function repositoryOfStatement(statement: unknown): string | undefined {
  type Workflow = { workflow?: { repository?: unknown } }
  const { predicate } = (statement ?? {}) as { predicate?: { buildDefinition?: { externalParameters?: Workflow } } }
  const repository = predicate?.buildDefinition?.externalParameters?.workflow?.repository
  return typeof repository === 'string' && repository ? repository : undefined
}

function sourceRepositoryOf(identity: Signer['identity']): string | undefined {
  return certificateExtension(identity, SOURCE_REPOSITORY_OID)
}

/** The text of a Fulcio certificate extension (a DER UTF8String), by OID; undefined when absent or unreadable. */
export function certificateExtension(identity: Signer['identity'], oid: string): string | undefined {
  const extension = identity?.oids?.find(candidate => candidate.oid?.id.join('.') === oid)
  if (!extension) return undefined
  try {
    return ASN1Obj.parseBuffer(Buffer.from(extension.value)).value.toString('utf8')
  } catch {
    return undefined
  }
}

/** owner/name means a GitHub repository; a URL is taken as it is. */
function repositoryUrl(value: string, input: string): string {
  if (/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(value)) return `https://github.com/${value}`
  if (/^https?:\/\/[^/]+\/[^/]+\/[^/]+\/?$/.test(value)) return trimSlash(value)
  throw new InputError(`${input}: "${value}" is not owner/name or a repository URL; give e.g. acme/app`)
}

function compile(pattern: string, input: string): RegExp {
  try {
    return new RegExp(pattern)
  } catch (error) {
    throw new InputError(`${input}: not a valid regular expression (${(error as Error).message})`)
  }
}

function sameUrl(a: string | undefined, b: string | undefined): boolean {
  return a !== undefined && b !== undefined && trimSlash(a).toLowerCase() === trimSlash(b).toLowerCase()
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '')
}
