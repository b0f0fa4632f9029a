import { bundleFromJSON, bundleToJSON, isBundleWithDsseEnvelope, toDSSEBundle, type SerializedBundle } from '@sigstore/bundle'
import { dsse } from '@sigstore/core'
import { toSignedEntity, Verifier, type TrustMaterial } from '@sigstore/verify'
import { sign as signBytes } from 'node:crypto'
import { InputError, IntegrityError } from '../errors.js'
import { keyIdOf, loadPublicKey, type SigningKey } from './signing-keys.js'

export const IN_TOTO_PAYLOAD_TYPE = 'application/vnd.in-toto+json'

/** Signs a statement offline: a DSSE envelope in a Sigstore bundle (v0.3) whose key hint is the key id. */
export function signStatementWithKey(statement: object, key: SigningKey): SerializedBundle {
  const payload = Buffer.from(JSON.stringify(statement))
  const pae = dsse.preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload)
  const signature = signBytes(key.type === 'ed25519' ? null : 'sha256', pae, key.privateKey)
  return bundleToJSON(toDSSEBundle({ artifact: payload, artifactType: IN_TOTO_PAYLOAD_TYPE, signature, keyHint: key.keyId }))
}

/**
 * Signs keylessly, as actions/attest does: a short-lived Fulcio certificate for the workflow's OIDC
 * identity, and a Rekor transparency-log entry.
 */
export async function signStatementKeyless(statement: object, options: { identityToken?: string }): Promise<SerializedBundle> {
  if (!options.identityToken) throw new InputError("signing: keyless signing needs an OIDC token; grant the job 'permissions: id-token: write', or give signing-key for offline signing")
  // Loaded on demand: the keyless stack (Fulcio, Rekor, TUF clients) is large and only needed here.
  const { attest } = await import('sigstore')
  return attest(Buffer.from(JSON.stringify(statement)), IN_TOTO_PAYLOAD_TYPE, { identityToken: options.identityToken })
}

/** Checks a key-signed bundle offline against a public key and returns the statement it signs. */
export function verifyBundleWithKey(bundleJson: unknown, publicKeyPem: string): unknown {
  const publicKey = loadPublicKey(publicKeyPem)
  const bundle = parseBundle(bundleJson)
  const trust: TrustMaterial = {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    publicKey: hint => {
      if (hint !== keyIdOf(publicKey)) throw new IntegrityError(`provenance is signed by key ${hint.slice(0, 12)}, not by the given public key`)
      return { publicKey, validFor: () => true }
    }
  }
  try {
    new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(toSignedEntity(bundle))
  } catch (error) {
    if (error instanceof IntegrityError) throw error
    throw new IntegrityError(`provenance signature is invalid (${(error as Error).message})`)
  }
  return statementOf(bundle)
}

/** Checks a keyless bundle through Sigstore's public-good trust root (needs the network). */
export async function verifyBundleKeyless(bundleJson: unknown, policy: { certificateIdentityURI?: string; certificateIssuer?: string }): Promise<unknown> {
  const bundle = parseBundle(bundleJson)
  try {
    const { verify } = await import('sigstore')
    await verify(bundleJson as SerializedBundle, policy)
  } catch (error) {
    throw new IntegrityError(`provenance signature is invalid (${(error as Error).message})`)
  }
  return statementOf(bundle)
}

function parseBundle(bundleJson: unknown) {
  let bundle
  try {
    bundle = bundleFromJSON(bundleJson)
  } catch (error) {
    throw new IntegrityError(`provenance is not a valid Sigstore bundle (${(error as Error).message})`)
  }
  if (!isBundleWithDsseEnvelope(bundle)) throw new IntegrityError('provenance bundle holds no DSSE envelope')
  if (bundle.content.dsseEnvelope.payloadType !== IN_TOTO_PAYLOAD_TYPE) throw new IntegrityError(`provenance payload type is ${bundle.content.dsseEnvelope.payloadType}, not ${IN_TOTO_PAYLOAD_TYPE}`)
  return bundle
}

function statementOf(bundle: ReturnType<typeof parseBundle>): unknown {
  try {
    return JSON.parse(bundle.content.dsseEnvelope.payload.toString('utf8'))
  } catch {
    throw new IntegrityError('provenance payload is not JSON')
  }
}

