import { assertBundleLatest, BUNDLE_V03_MEDIA_TYPE, bundleFromJSON, isBundleWithDsseEnvelope, isBundleWithPublicKey, type BundleWithDsseEnvelope, type SerializedBundle } from '@sigstore/bundle'
import { InputError, IntegrityError } from '../errors.js'
import { IN_TOTO_PAYLOAD_TYPE, preAuthEncoding } from './dsse.js'
import { toSignedEntity, Verifier, type TrustMaterial } from '@sigstore/verify'
import { keyIdOf, loadPublicKey, signBytes, type SigningKey } from './keys.js'

export { IN_TOTO_PAYLOAD_TYPE } from './dsse.js'

/** The OIDC issuer of GitHub Actions' id tokens, required of keyless signers unless told otherwise. */
export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com'

/** What a keyless signature must have been made by: the certificate's SAN URI and OIDC issuer. */
export interface KeylessPolicy {
  /** e.g. https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.0.0 */
  certificateIdentityURI?: string
  /** Defaults to GITHUB_ACTIONS_ISSUER. */
  certificateIssuer?: string
}

/** A key-signed Sigstore bundle v0.3 as JSON: public-key hint, no log entries or timestamps. */
export interface KeySignedBundle {
  mediaType: typeof BUNDLE_V03_MEDIA_TYPE
  verificationMaterial: { publicKey: { hint: string }; tlogEntries: []; timestampVerificationData: { rfc3161Timestamps: [] } }
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
    verificationMaterial: { publicKey: { hint: key.keyId }, tlogEntries: [], timestampVerificationData: { rfc3161Timestamps: [] } },
    dsseEnvelope: { payload: payload.toString('base64'), payloadType: IN_TOTO_PAYLOAD_TYPE, signatures: [{ sig: signature.toString('base64'), keyid: key.keyId }] }
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
  if (!isBundleWithPublicKey(bundle)) throw new IntegrityError(`provenance is signed keylessly (${bundle.verificationMaterial.content.$case}), not with a key; verify it keylessly`)
  const keyId = keyIdOf(publicKey)
  const { hint } = bundle.verificationMaterial.content.publicKey
  if (hint !== keyId) throw new IntegrityError(`provenance is signed by key ${shortId(hint)}, not by the given public key ${shortId(keyId)}`)
  const envelope = bundle.content.dsseEnvelope
  const [signature] = envelope.signatures
  if (signature.keyid && signature.keyid !== keyId) throw new IntegrityError(`provenance signature names key ${shortId(signature.keyid)}, not the given public key ${shortId(keyId)}`)
  // The signature itself is checked by Sigstore's verifier, with this key as the only trust material.
  const trust: TrustMaterial = { certificateAuthorities: [], timestampAuthorities: [], tlogs: [], ctlogs: [], publicKey: () => ({ publicKey, validFor: () => true }) }
  try {
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle))
  } catch {
    throw new IntegrityError(`provenance signature is invalid: it does not match the payload under key ${shortId(keyId)} (the payload or signature was altered)`)
  }
  return statementOf(bundle)
}

/**
 * Signs keylessly, as actions/attest does on the public-good Sigstore instance: a short-lived
 * Fulcio certificate for the workflow's OIDC identity (token audience "sigstore") and a Rekor
 * entry. Needs the network.
 */
export async function signStatementKeyless(statement: object, options: { identityToken?: string }): Promise<SerializedBundle> {
  const token = options.identityToken?.trim()
  if (!token) throw new InputError("signing: keyless signing needs the job's OIDC token; add `permissions: id-token: write` to the job, or give signing-key for offline signing")
  if (token.split('.').length !== 3) throw new InputError('signing: the OIDC identity token is not a JWT; request it with audience "sigstore" (core.getIDToken("sigstore"))')
  // Loaded on demand: the keyless stack (Fulcio, Rekor, TUF clients) is large and only needed here.
  const { attest } = await import('sigstore')
  let bundle: SerializedBundle
  try {
    bundle = await attest(Buffer.from(JSON.stringify(statement), 'utf8'), IN_TOTO_PAYLOAD_TYPE, { identityToken: token })
  } catch (error) {
    throw new Error(`keyless signing through Sigstore (Fulcio, Rekor) failed: ${withoutToken(error, token)}`)
  }
  if (bundle.mediaType !== BUNDLE_V03_MEDIA_TYPE) throw new IntegrityError(`Sigstore returned a bundle of type ${bundle.mediaType}, not ${BUNDLE_V03_MEDIA_TYPE}`)
  return bundle
}

/**
 * Checks a keyless bundle against Sigstore's public-good trust root (fetched through TUF, so it needs
 * the network) and the signer policy, then returns the statement it signs.
 */
export async function verifyBundleKeyless(bundleJson: unknown, policy: KeylessPolicy = {}): Promise<unknown> {
  const bundle = parseDsseBundle(bundleJson)
  if (isBundleWithPublicKey(bundle)) throw new IntegrityError('provenance is signed with a key, not keylessly; verify it with the public key')
  const { verify } = await import('sigstore')
  try {
    await verify(jsonOf(bundleJson) as SerializedBundle, { certificateIdentityURI: policy.certificateIdentityURI, certificateIssuer: policy.certificateIssuer ?? GITHUB_ACTIONS_ISSUER })
  } catch (error) {
    throw new IntegrityError(`provenance signature is invalid: ${(error as Error).message}`)
  }
  return statementOf(bundle)
}

/** Parses a bundle (object or JSON text) and requires a DSSE envelope carrying an in-toto statement. */
function parseDsseBundle(bundleJson: unknown): BundleWithDsseEnvelope {
  const json = jsonOf(bundleJson)
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new IntegrityError('provenance is not a Sigstore bundle (not a JSON object)')
  let bundle
  try {
    bundle = bundleFromJSON(json)
  } catch (error) {
    const fields = (error as { fields?: string[] }).fields
    throw new IntegrityError(`provenance is not a valid Sigstore bundle (${fields?.length ? `bad ${fields.join(', ')}` : (error as Error).message})`)
  }
  if (!isBundleWithDsseEnvelope(bundle)) throw new IntegrityError('provenance bundle holds a message signature, not a DSSE envelope')
  const { payloadType } = bundle.content.dsseEnvelope
  if (payloadType !== IN_TOTO_PAYLOAD_TYPE) throw new IntegrityError(`provenance payload type is ${JSON.stringify(payloadType)}, not ${IN_TOTO_PAYLOAD_TYPE}`)
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
  if (typeof statement !== 'object' || statement === null || Array.isArray(statement)) throw new IntegrityError('provenance payload is not an in-toto statement (not a JSON object)')
  return statement
}

function shortId(keyId: string): string {
  return keyId ? keyId.slice(0, 12) : '(none)'
}

function withoutToken(error: unknown, token: string): string {
  return (error instanceof Error ? error.message : String(error)).split(token).join('***')
}
