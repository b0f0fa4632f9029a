import { errorMessage, InputError } from '../errors.js'
import { verifyBundleWithKey, verifyKeylessSignature } from '../signing/bundle.js'
import {
  certificateExtension,
  checkSignerIdentity,
  GITHUB_ACTIONS_ISSUER,
  resolveIdentityPolicy,
  type IdentityPolicy
} from '../signing/identity-policy.js'
import { keyIdOf, loadPublicKey } from '../signing/keys.js'
import {
  resolveSigstoreInstance,
  SigstoreInputs,
  type SigstoreInputValues,
  type SigstoreInstance
} from '../signing/sigstore-instance.js'
import type { ObjectStore } from '../store/object-store.js'
import type { EntryMatch, EntryRecord } from './entry-refs.js'
import { branchName, branchRef, isRefPattern, tagOfRef } from '../git-ref.js'
import { parseEntryKey, signatureKey } from './cache-layout.js'
import { scopeOfRef } from './scope.js'

/**
 * A signed entry has one more object, its signature (cache-layout.ts): a Sigstore bundle whose DSSE envelope
 * carries an in-toto statement over the entry (key, scope, version, tree) and its writer. It lives outside the
 * refs, so prefix listings of refs never see it, and it is named by the tree, so a signature always belongs to
 * one tree. Unsigned stores and entries keep working; only a restore policy asks for signatures.
 */
export const ENTRY_PREDICATE_TYPE = 'https://artifact-action.dev/cache-entry/v1'
const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1'

/** Who wrote an entry, as the writing job describes itself; core knows nothing of GitHub, the caller fills it. */
export interface EntryWriter {
  /** Repository URL, e.g. https://github.com/acme/app */
  repository?: string
  /** The workflow, e.g. acme/app/.github/workflows/ci.yml@refs/heads/main */
  workflow?: string
  /** The git ref the job built, e.g. refs/heads/main, refs/pull/12/merge */
  ref?: string
  /** The event that started the run, e.g. push, pull_request */
  event?: string
  runId?: string
}

export interface EntrySigning {
  /** Signs an in-toto statement and returns the Sigstore bundle (JSON): a key or keyless StatementSigner's sign. */
  sign: (statement: object) => Promise<object>
  writer: EntryWriter
}

/** The writer of an entry as its signature vouches for it, and who signed (`key <id>` or the certificate's SAN). */
export interface SignedWriter extends EntryWriter {
  signer: string
}

export type PolicyRule =
  | { kind: 'any' }
  | { kind: 'signed' }
  /** Pushes to the default branch, and tags (push or release events). */
  | { kind: 'default-branch'; branch: string }
  /** Refs, exact or ending in `*` (a prefix). */
  | { kind: 'refs'; patterns: string[] }

/** Which entries a restore accepts. Any rule but `any` needs a signature by a trusted key or keyless identity. */
export interface RestorePolicy {
  rule: PolicyRule
  /** PEM public keys whose signatures are trusted. */
  publicKeys: string[]
  /** The keyless signers that are trusted, and the Sigstore instance that vouches for them. */
  keyless?: { instance: SigstoreInstance; identity: IdentityPolicy; trustedRootInput?: string }
}

export type PolicyVerdict = { accepted: true; writer?: SignedWriter } | { accepted: false; reason: string }

/** Fulcio's extensions for GitHub Actions: what the certificate, not the statement, says about the job. */
const CERTIFICATE = {
  sourceRepository: '1.3.6.1.4.1.57264.1.12',
  sourceRef: '1.3.6.1.4.1.57264.1.14',
  buildConfig: '1.3.6.1.4.1.57264.1.18',
  trigger: '1.3.6.1.4.1.57264.1.20',
  runInvocation: '1.3.6.1.4.1.57264.1.21'
} as const

/** The statement a save signs: the entry as its ref names it, and the writer. */
export function entryStatement(
  record: Pick<EntryRecord, 'key' | 'scope' | 'version' | 'tree'>,
  writer: EntryWriter
): object {
  const { key, scope, version, tree } = record
  return {
    _type: STATEMENT_TYPE,
    subject: [{ name: `${scope}/${key}`, digest: { sha256: tree } }],
    predicateType: ENTRY_PREDICATE_TYPE,
    predicate: { key, scope, version, tree, writer }
  }
}

/** Signs an entry and stores its signature (overwriting one a bucket writer may have planted for this tree). */
export async function writeEntrySignature(
  store: ObjectStore,
  entryRefKey: string,
  record: EntryRecord,
  signing: EntrySigning
): Promise<void> {
  const bundle = await signing.sign(entryStatement(record, signing.writer))
  await store.put(signatureKey(entryRefKey, record.tree), Buffer.from(JSON.stringify(bundle)), {
    contentType: 'application/json'
  })
}

const PATTERN_HINT = 'any, signed, default-branch, or refs such as "refs/heads/main refs/tags/*"'

/** Parses `restore-policy` (or `--restore-policy`); default-branch needs the repository's default branch. */
export function parsePolicyRule(
  text: string | undefined,
  input: string,
  defaultBranch: string | undefined
): PolicyRule {
  const value = (text ?? '').trim()
  if (value === '' || value === 'any') return { kind: 'any' }
  if (value === 'signed') return { kind: 'signed' }
  if (value === 'default-branch') {
    if (!defaultBranch)
      throw new InputError(
        `${input}: default-branch needs the repository's default branch, which this run does not name; ` +
          'list refs instead, e.g. refs/heads/main'
      )
    return { kind: 'default-branch', branch: branchName(defaultBranch) }
  }
  const patterns = value.split(/[\s,]+/).filter(Boolean)
  const bad = patterns.find(pattern => !isRefPattern(pattern))
  if (bad) throw new InputError(`${input}: "${bad}" is not ${PATTERN_HINT}`)
  return { kind: 'refs', patterns }
}

/** The inputs (or flags, with prefix `--`) of a restore policy; the public key as PEM text. */
export type RestorePolicyValues = Partial<
  Record<'restore-policy' | 'restore-public-key' | 'restore-identity' | 'restore-identity-regexp', string>
> &
  SigstoreInputValues

/**
 * The restore policy: `any` unless restore-policy says otherwise. Without restore-public-key or an identity, a
 * keyless signature by a workflow of `repository` (owner/name), run in it, is trusted.
 */
export function resolveRestorePolicy(
  values: RestorePolicyValues,
  context: { defaultBranch?: string; repository?: string },
  prefix = ''
): RestorePolicy {
  const name = (input: string) => `${prefix}${input}`
  const rule = parsePolicyRule(values['restore-policy'], name('restore-policy'), context.defaultBranch)
  const publicKeys = values['restore-public-key']?.trim() ? [values['restore-public-key']] : []
  for (const pem of publicKeys) loadPublicKey(pem, name('restore-public-key'))
  const exact = values['restore-identity']?.trim()
  const regexp = values['restore-identity-regexp']?.trim()
  if (rule.kind === 'any') {
    const stray = (['restore-public-key', 'restore-identity', 'restore-identity-regexp'] as const).find(input =>
      values[input]?.trim()
    )
    if (stray) {
      const hint = `set ${name('restore-policy')} to signed, default-branch or refs`
      throw new InputError(`${name(stray)}: only with a restore policy other than any; ${hint}`)
    }
    return { rule, publicKeys }
  }
  if (publicKeys.length > 0 && !exact && !regexp) return { rule, publicKeys }
  if (!exact && !regexp && !context.repository) {
    const trust = `${name('restore-public-key')}, ${name('restore-identity')} or a GitHub repository`
    throw new InputError(`${name('restore-policy')}: ${rule.kind} needs ${trust} to trust`)
  }
  const identity = resolveIdentityPolicy(
    {
      'certificate-identity': exact,
      'certificate-identity-regexp': regexp,
      'certificate-oidc-issuer': GITHUB_ACTIONS_ISSUER,
      'source-repository': context.repository
    },
    prefix
  )
  const instance = resolveSigstoreInstance(values, 'verify', prefix)
  return { rule, publicKeys, keyless: { instance, identity, trustedRootInput: name(SigstoreInputs.TrustedRoot) } }
}

/**
 * Whether an entry may be restored under the policy. Everything is read from the signature: the statement must
 * name this entry (key, scope, version, tree) exactly as its ref does, and the writer's ref and event come from the
 * certificate for keyless signatures (a workflow can claim anything in its own statement). The writer's ref must be
 * one whose scope is the entry's scope. Never throws: a refusal carries its reason.
 */
export async function checkEntry(store: ObjectStore, match: EntryMatch, policy: RestorePolicy): Promise<PolicyVerdict> {
  if (policy.rule.kind === 'any') return { accepted: true }
  try {
    const writer = await verifiedWriter(store, match, policy)
    const refusal = ruleRefusal(policy.rule, writer)
    return refusal ? { accepted: false, reason: refusal } : { accepted: true, writer }
  } catch (error) {
    return { accepted: false, reason: errorMessage(error) }
  }
}

class Refused extends Error {}

async function verifiedWriter(store: ObjectStore, match: EntryMatch, policy: RestorePolicy): Promise<SignedWriter> {
  const { record } = match
  const bytes = await store.get(signatureKey(match.refKey, record.tree))
  if (!bytes) throw new Refused('unsigned (no signature for its tree)')
  let bundle: { verificationMaterial?: { publicKey?: { hint?: unknown } } }
  try {
    bundle = JSON.parse(bytes.toString('utf8'))
  } catch {
    throw new Refused('its signature is not JSON')
  }
  const hint = bundle?.verificationMaterial?.publicKey?.hint
  let statement: unknown
  let signer: string
  let certified: EntryWriter | undefined
  if (typeof hint === 'string') {
    const pem = policy.publicKeys.find(candidate => keyIdOf(loadPublicKey(candidate)) === hint)
    if (!pem) throw new Refused(`signed by key ${hint.slice(0, 12)}, which is not trusted`)
    statement = verifyBundleWithKey(bundle, pem)
    signer = `key ${hint.slice(0, 12)}`
  } else {
    if (!policy.keyless) throw new Refused('signed keylessly, but no keyless identity is trusted')
    const { identity } = policy.keyless
    // The statement's repository is the writer's own claim: the trusted repository must come from the policy.
    if (identity.identity.kind === 'repository-workflows' && !identity.sourceRepository)
      throw new Refused('signed keylessly, but no repository is trusted')
    const verified = await verifyKeylessSignature(bundle, policy.keyless, 'entry')
    statement = verified.statement
    const writerOfStatement = predicateOf(statement).writer
    checkSignerIdentity(verified.identity, policy.keyless.identity, stringOr(writerOfStatement?.repository), 'entry')
    signer = verified.identity?.subjectAlternativeName ?? '(no SAN)'
    const extension = (oid: string) => certificateExtension(verified.identity, oid)
    certified = {
      repository: extension(CERTIFICATE.sourceRepository),
      workflow: extension(CERTIFICATE.buildConfig),
      ref: extension(CERTIFICATE.sourceRef),
      event: extension(CERTIFICATE.trigger),
      runId: extension(CERTIFICATE.runInvocation)
    }
  }
  const predicate = predicateOf(statement)
  const location = parseEntryKey(match.refKey)
  const expected = { key: record.key, scope: record.scope, version: record.version, tree: record.tree }
  for (const field of ['key', 'scope', 'version', 'tree'] as const) {
    if (predicate[field] !== expected[field])
      throw new Refused(
        `its signature covers ${field} ${short(predicate[field])}, but its ref names ${short(expected[field])}`
      )
    if (field !== 'tree' && location && location[field] !== expected[field])
      throw new Refused(
        `its ref is stored under ${field} ${short(location[field])}, but names ${short(expected[field])}`
      )
  }
  const claimed: EntryWriter = predicate.writer ?? {}
  // Keyless: only what the certificate says; a field it lacks is unknown, never filled in from the claim.
  const writer: SignedWriter = { ...pickWriter(certified ?? claimed), signer }
  if (certified) {
    for (const field of ['repository', 'ref', 'event'] as const) {
      if (claimed[field] !== undefined && certified[field] !== undefined && claimed[field] !== certified[field]) {
        throw new Refused(
          `its signature claims ${field} ${claimed[field]}, but the certificate says ${certified[field]}`
        )
      }
    }
  }
  if (!writer.ref) throw new Refused(`its signature names no writer ref (signed by ${signer})`)
  const writerScope = scopeOfRef(writer.ref)
  if (writerScope !== record.scope)
    throw new Refused(`it is in scope ${record.scope}, but was signed by a job of ${writer.ref} (scope ${writerScope})`)
  return writer
}

/** The rule in words, e.g. "default-branch (main)". */
export function describeRule(rule: PolicyRule): string {
  if (rule.kind === 'default-branch') return `default-branch (${rule.branch})`
  if (rule.kind === 'refs') return `refs ${rule.patterns.join(', ')}`
  return rule.kind
}

/** Why the rule refuses a verified writer; undefined when it accepts. */
export function ruleRefusal(rule: PolicyRule, writer: EntryWriter): string | undefined {
  const by = `written by ${writer.ref} (${writer.event ?? 'no event'})`
  if (rule.kind === 'default-branch') {
    const defaultPush = writer.ref === branchRef(rule.branch) && writer.event === 'push'
    const tag = tagOfRef(writer.ref) !== undefined && (writer.event === 'push' || writer.event === 'release')
    return defaultPush || tag ? undefined : `${by}, not by a push to ${rule.branch} or a tag`
  }
  if (rule.kind === 'refs') {
    const matches = rule.patterns.some(pattern =>
      pattern.endsWith('*') ? writer.ref!.startsWith(pattern.slice(0, -1)) : writer.ref === pattern
    )
    return matches ? undefined : `${by}, not by ${rule.patterns.join(', ')}`
  }
  return undefined
}

interface EntryPredicate {
  key?: unknown
  scope?: unknown
  version?: unknown
  tree?: unknown
  writer?: EntryWriter
}

function predicateOf(statement: unknown): EntryPredicate {
  const { predicateType, predicate } = (statement ?? {}) as { predicateType?: unknown; predicate?: unknown }
  if (predicateType !== ENTRY_PREDICATE_TYPE || typeof predicate !== 'object' || predicate === null) {
    throw new Refused(`its signature is not over a cache entry (predicate type ${short(predicateType)})`)
  }
  const writer = (predicate as { writer?: unknown }).writer
  return {
    ...(predicate as EntryPredicate),
    writer: typeof writer === 'object' && writer !== null ? (writer as EntryWriter) : undefined
  }
}

function pickWriter(writer: EntryWriter): EntryWriter {
  const picked: EntryWriter = {}
  for (const field of ['repository', 'workflow', 'ref', 'event', 'runId'] as const) {
    const value = stringOr(writer[field])
    if (value !== undefined) picked[field] = value
  }
  return picked
}

function stringOr(value: unknown): string | undefined {
  return typeof value === 'string' && value ? value : undefined
}

function short(value: unknown): string {
  const text = typeof value === 'string' ? value : (JSON.stringify(value) ?? 'none')
  return /^[0-9a-f]{64}$/.test(text) ? text.slice(0, 12) : text.slice(0, 80)
}
