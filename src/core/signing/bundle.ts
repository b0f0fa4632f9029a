import {
  assertBundleLatest,
  BUNDLE_V03_MEDIA_TYPE,
  bundleFromJSON,
  isBundleWithDsseEnvelope,
  isBundleWithPublicKey,
  type BundleWithDsseEnvelope,
  type SerializedBundle
} from '@sigstore/bundle'
import { InputError, IntegrityError } from '../errors.js'
import { IN_TOTO_PAYLOAD_TYPE, preAuthEncoding } from './dsse.js'
import { toSignedEntity, toTrustMaterial, Verifier, type Signer, type TrustMaterial } from '@sigstore/verify'
import { checkSignerIdentity, GITHUB_ACTIONS_ISSUER, repositoryOfStatement } from './identity-policy.js'
import type { IdentityPolicy } from './identity-policy.js'
import { keyIdOf, loadPublicKey, signBytes, type SigningKey } from './keys.js'
import { PUBLIC_SIGSTORE, type SigstoreInstance } from './sigstore-instance.js'
import { loadTrustedRoot, thresholdsFor } from './trust-root.js'

export { IN_TOTO_PAYLOAD_TYPE } from './dsse.js'

export { GITHUB_ACTIONS_ISSUER } from './identity-policy.js'

/** A key-signed Sigstore bundle v0.3 as JSON: public-key hint, no log entries or timestamps. */
export interface KeySignedBundle {
  mediaType: typeof BUNDLE_V03_MEDIA_TYPE
  verificationMaterial: {
    publicKey: { hint: string }
    tlogEntries: []
    timestampVerificationData: { rfc3161Timestamps: [] }
  }
  dsseEnvelope: { payload: string; payloadType: string; signatures: [{ sig: string; keyid: string }] }
}

/**
 * Signs a statement offline: a DSSE envelope in a Sigstore bundle v0.3 whose public-key hint (and
 * signature keyid) is the key id. No transparency log or timestamp: trust comes from the key alone.
 */
export function signStatementWithKey(statement: object, key: SigningKey): KeySignedBundle {
  const payload = Buffer.from(JSON.stringify(statement), 'utf8')
  const signature = signBytes(key, preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload))
  const bundle: KeySignedBundle = {
    mediaType: BUNDLE_V03_MEDIA_TYPE,
    verificationMaterial: {
      publicKey: { hint: key.keyId },
      tlogEntries: [],
      timestampVerificationData: { rfc3161Timestamps: [] }
    },
    dsseEnvelope: {
      payload: payload.toString('base64'),
      payloadType: IN_TOTO_PAYLOAD_TYPE,
      signatures: [{ sig: signature.toString('base64'), keyid: key.keyId }]
    }
  }
  assertBundleLatest(bundleFromJSON(bundle))
  return bundle
}

/**
 * Checks a key-signed bundle offline against a public key and returns the statement it signs.
 * Bundle problems throw IntegrityError with the reason; an unreadable public key is an InputError.
 */
export function verifyBundleWithKey(bundleJson: unknown, publicKeyPem: string, input = 'public-key'): unknown {
  const publicKey = loadPublicKey(publicKeyPem, input)
  const bundle = parseDsseBundle(bundleJson)
  if (!isBundleWithPublicKey(bundle))
    throw new IntegrityError(
      `provenance is signed keylessly (${bundle.verificationMaterial.content.$case}), not with a key; verify it keylessly`
    )
  const keyId = keyIdOf(publicKey)
  const { hint } = bundle.verificationMaterial.content.publicKey
  if (hint !== keyId)
    throw new IntegrityError(
      `provenance is signed by key ${shortId(hint)}, not by the given public key ${shortId(keyId)}`
    )
  const envelope = bundle.content.dsseEnvelope
  const [signature] = envelope.signatures
  if (signature.keyid && signature.keyid !== keyId)
    throw new IntegrityError(
      `provenance signature names key ${shortId(signature.keyid)}, not the given public key ${shortId(keyId)}`
    )
  // The signature itself is checked by Sigstore's verifier, with this key as the only trust material.
  const trust: TrustMaterial = {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    publicKey: () => ({ publicKey, validFor: () => true })
  }
  try {
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle))
  } catch {
    throw new IntegrityError(
      `provenance signature is invalid: it does not match the payload under key ${shortId(keyId)} (the payload or signature was altered)`
    )
  }
  return statementOf(bundle)
}

/**
 * Signs keylessly, as actions/attest does: a short-lived Fulcio certificate for the workflow's OIDC identity
 * (token audience "sigstore"), then a Rekor entry and/or an RFC 3161 timestamp, as the instance has them.
 * Needs the network; the default instance is the public one.
 */
export async function signStatementKeyless(
  statement: object,
  options: { identityToken?: string; instance?: SigstoreInstance }
): Promise<SerializedBundle> {
  const token = options.identityToken?.trim()
  if (!token) {
    const hint = 'add `permissions: id-token: write` to the job, or give signing-key for offline signing'
    throw new InputError(`signing: keyless signing needs the job's OIDC token; ${hint}`)
  }
  if (token.split('.').length !== 3) {
    const hint = 'request it with audience "sigstore" (core.getIDToken("sigstore"))'
    throw new InputError(`signing: the OIDC identity token is not a JWT; ${hint}`)
  }
  const instance = options.instance ?? PUBLIC_SIGSTORE
  // Loaded on demand: the keyless stack (Fulcio, Rekor, TUF clients) is large and only needed here.
  const { attest } = await import('sigstore')
  let bundle: SerializedBundle
  try {
    bundle = await attest(Buffer.from(JSON.stringify(statement), 'utf8'), IN_TOTO_PAYLOAD_TYPE, {
      identityToken: token,
      fulcioURL: instance.fulcioURL,
      rekorURL: instance.rekorURL,
      tlogUpload: Boolean(instance.rekorURL),
      tsaServerURL: instance.tsaURL
    })
  } catch (error) {
    const reason = withoutToken(error, token)
    // No cause: the original error may carry the identity token.
    // eslint-disable-next-line preserve-caught-error
    throw new Error(`keyless signing through the ${instance.name} Sigstore (${servicesOf(instance)}) failed: ${reason}`)
  }
  if (bundle.mediaType !== BUNDLE_V03_MEDIA_TYPE) {
    throw new IntegrityError(`Sigstore returned a bundle of type ${bundle.mediaType}, not ${BUNDLE_V03_MEDIA_TYPE}`)
  }
  return bundle
}

/** How to check a keyless bundle: which Sigstore vouches for it, and who must have signed it. */
export interface KeylessVerification {
  /** Default the public instance, whose trusted root comes from TUF. */
  instance?: SigstoreInstance
  /** Default the workflows of the repository the statement names, on GitHub Actions. */
  policy?: IdentityPolicy
  /** The name of the trusted root input, for errors (`--trusted-root` in the CLI). */
  trustedRootInput?: string
}

/**
 * Checks a keyless bundle against the instance's trusted root (from its file, else fetched through TUF) and the
 * identity policy, then returns the statement it signs. A trust root that cannot be fetched is a TrustRootError;
 * a bundle that does not verify, or a signer the policy refuses, is an IntegrityError with the reason.
 */
export async function verifyBundleKeyless(bundleJson: unknown, options: KeylessVerification = {}): Promise<unknown> {
  const { statement, identity } = await verifyKeylessSignature(bundleJson, options)
  const policy = options.policy ?? { issuer: GITHUB_ACTIONS_ISSUER, identity: { kind: 'repository-workflows' } }
  checkSignerIdentity(identity, policy, repositoryOfStatement(statement))
  return statement
}

/**
 * Checks a keyless bundle against the instance's trusted root only, and returns the statement and the certificate's
 * identity, for the caller's identity policy. Errors as verifyBundleKeyless.
 */
export async function verifyKeylessSignature(
  bundleJson: unknown,
  options: Omit<KeylessVerification, 'policy'> = {},
  subject = 'provenance'
): Promise<{ statement: unknown; identity: Signer['identity'] }> {
  const bundle = parseDsseBundle(bundleJson)
  if (isBundleWithPublicKey(bundle)) {
    throw new IntegrityError(`${subject} is signed with a key, not keylessly; verify it with the public key`)
  }
  const statement = statementOf(bundle)
  const instance = options.instance ?? PUBLIC_SIGSTORE
  const root = await loadTrustedRoot(instance, options.trustedRootInput)
  let signer: Signer
  try {
    signer = new Verifier(toTrustMaterial(root), thresholdsFor(instance, root)).verify(toSignedEntity(bundle))
  } catch (error) {
    throw new IntegrityError(`${subject} signature is invalid: ${(error as Error).message}`)
  }
  return { statement, identity: signer.identity }
}

function servicesOf(instance: SigstoreInstance): string {
  const { fulcioURL, rekorURL, tsaURL } = instance
  return [`Fulcio ${fulcioURL}`, rekorURL && `Rekor ${rekorURL}`, tsaURL && `TSA ${tsaURL}`].filter(Boolean).join(', ')
}

/** Parses a bundle (object or JSON text) and requires a DSSE envelope carrying an in-toto statement. */
function parseDsseBundle(bundleJson: unknown): BundleWithDsseEnvelope {
  const json = jsonOf(bundleJson)
  if (typeof json !== 'object' || json === null || Array.isArray(json))
    throw new IntegrityError('provenance is not a Sigstore bundle (not a JSON object)')
  let bundle
  try {
    bundle = bundleFromJSON(json)
  } catch (error) {
    const fields = (error as { fields?: string[] }).fields
    throw new IntegrityError(
      `provenance is not a valid Sigstore bundle (${fields?.length ? `bad ${fields.join(', ')}` : (error as Error).message})`
    )
  }
  if (!isBundleWithDsseEnvelope(bundle))
    throw new IntegrityError('provenance bundle holds a message signature, not a DSSE envelope')
  const { payloadType } = bundle.content.dsseEnvelope
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE)
    throw new IntegrityError(`provenance payload type is ${JSON.stringify(payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`)
  return bundle
}

function jsonOf(bundleJson: unknown): unknown {
  if (typeof bundleJson !== 'string') return bundleJson
  try {
    return JSON.parse(bundleJson)
  } catch {
    throw new IntegrityError('provenance is not JSON')
  }
}

function statementOf(bundle: BundleWithDsseEnvelope): unknown {
  let statement: unknown
  try {
    statement = JSON.parse(bundle.content.dsseEnvelope.payload.toString('utf8'))
  } catch {
    throw new IntegrityError('provenance payload is not JSON')
  }
  if (typeof statement !== 'object' || statement === null || Array.isArray(statement))
    throw new IntegrityError('provenance payload is not an in-toto statement (not a JSON object)')
  return statement
}

function shortId(keyId: string): string {
  return keyId ? keyId.slice(0, 12) : '(none)'
}

function withoutToken(error: unknown, token: string): string {
  return (error instanceof Error ? error.message : String(error)).split(token).join('***')
}
