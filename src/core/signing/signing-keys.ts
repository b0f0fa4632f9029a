import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto'
import { InputError } from '../errors.js'

export type SigningKeyType = 'ecdsa-p256' | 'ed25519'

/** A private key for offline signing, with the id under which its public key is published. */
export interface SigningKey {
  type: SigningKeyType
  privateKey: KeyObject
  publicKeyPem: string
  /** Hex sha256 of the public key's SPKI DER. */
  keyId: string
}

const GENERATE_HINT = "generate one with: openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt (or 'artifact-action keygen')"

/**
 * Loads a PEM private key (PKCS#8, or SEC1 "EC PRIVATE KEY"), also when pasted into a secret with
 * literal \n escapes. ECDSA P-256 and Ed25519 are accepted. Messages never include key material.
 */
export function loadSigningKey(pem: string, input = 'signing-key'): SigningKey {
  const text = pem.includes('\\n') && !pem.includes('\n') ? pem.replace(/\\n/g, '\n') : pem
  if (!text.trim()) throw new InputError(`${input}: empty; offline signing needs a private key (PEM); ${GENERATE_HINT}`)
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({ key: text.trim(), format: 'pem' })
  } catch {
    throw new InputError(`${input}: not a readable PEM private key (an unencrypted PKCS#8 or EC key is needed); ${GENERATE_HINT}`)
  }
  const type = keyTypeOf(privateKey)
  if (!type) throw new InputError(`${input}: key type ${describeKey(privateKey)} is not supported; use ECDSA P-256 (default) or Ed25519; ${GENERATE_HINT}`)
  return withPublicKey(type, privateKey)
}

export function generateSigningKey(type: SigningKeyType = 'ecdsa-p256'): { key: SigningKey; privateKeyPem: string } {
  const { privateKey } = type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  return { key: withPublicKey(type, privateKey), privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString() }
}

export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256').update(publicKey.export({ type: 'spki', format: 'der' })).digest('hex')
}

/** Reads a public key PEM; the error names the input. */
export function loadPublicKey(pem: string, input = 'public-key'): KeyObject {
  try {
    const key = createPublicKey({ key: pem.trim(), format: 'pem' })
    if (!keyTypeOf(key)) throw new Error('type')
    return key
  } catch {
    throw new InputError(`${input}: not an ECDSA P-256 or Ed25519 public key in PEM form`)
  }
}

function withPublicKey(type: SigningKeyType, privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey)
  return { type, privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(), keyId: keyIdOf(publicKey) }
}

export function keyTypeOf(key: KeyObject): SigningKeyType | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256'
  return undefined
}

function describeKey(key: KeyObject): string {
  return key.asymmetricKeyType === 'ec' ? `ec/${key.asymmetricKeyDetails?.namedCurve}` : String(key.asymmetricKeyType)
}
