import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync, sign, type KeyObject } from 'node:crypto'
import { InputError } from '../errors.js'

export type SigningKeyType = 'ecdsa-p256' | 'ed25519'

/** A private key for offline signing, with the id under which its public key is published. */
export interface SigningKey {
  type: SigningKeyType
  privateKey: KeyObject
  publicKey: KeyObject
  /** SPKI PEM of the public key, what verifiers are given. */
  publicKeyPem: string
  /** Hex sha256 of the public key's SPKI DER. */
  keyId: string
}

const GENERATE_HINT =
  'generate one with `openssl ecparam -name prime256v1 -genkey -noout | openssl pkcs8 -topk8 -nocrypt` (or `artifact-action keygen`)'

/**
 * Loads a PEM private key: PKCS#8 ("PRIVATE KEY") or SEC1 ("EC PRIVATE KEY"), ECDSA P-256 or Ed25519.
 * Tolerates how keys get pasted into secrets: literal \n escapes, indentation, CRLF, surrounding
 * quotes, a leading "EC PARAMETERS" block. Errors are InputError, one line, naming `input`, and
 * never contain key material.
 */
export function loadSigningKey(pem: string | undefined, input = 'signing-key'): SigningKey {
  if (!pem?.trim()) throw new InputError(`${input}: empty; offline signing needs a PEM private key; ${GENERATE_HINT}`)
  const blocks = pemBlocks(pem)
  const block = blocks.find(candidate => candidate.label.endsWith('PRIVATE KEY'))
  if (!block) {
    const found = blocks.some(candidate => candidate.label.endsWith('PUBLIC KEY'))
      ? 'a public key, not the private key'
      : blocks.length
        ? `a PEM ${blocks[0].label}, not a private key`
        : 'not a PEM private key'
    throw new InputError(`${input}: ${found}; give the private key (PKCS#8 or EC PEM); ${GENERATE_HINT}`)
  }
  if (block.label === 'ENCRYPTED PRIVATE KEY' || block.encrypted)
    throw new InputError(
      `${input}: the private key is encrypted; give it unencrypted (\`openssl pkcs8 -topk8 -nocrypt\`) and keep it in a secret`
    )
  if (block.label === 'OPENSSH PRIVATE KEY')
    throw new InputError(`${input}: OpenSSH key format is not supported; give a PKCS#8 or EC PEM key; ${GENERATE_HINT}`)
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey({ key: block.pem, format: 'pem' })
  } catch {
    throw new InputError(
      `${input}: the ${block.label} block is not a readable key (damaged or truncated); ${GENERATE_HINT}`
    )
  }
  const type = keyTypeOf(privateKey)
  if (!type)
    throw new InputError(
      `${input}: ${describeKey(privateKey)} keys are not supported; use ECDSA P-256 (default) or Ed25519; ${GENERATE_HINT}`
    )
  return withPublicKey(type, privateKey)
}

/** Reads a public key PEM (SPKI); the error names the input. */
export function loadPublicKey(pem: string | undefined, input = 'public-key'): KeyObject {
  const block = pemBlocks(pem ?? '').find(candidate => candidate.label === 'PUBLIC KEY')
  if (!block)
    throw new InputError(
      `${input}: not a PEM public key ("BEGIN PUBLIC KEY"); give the .pub file written with the signing key`
    )
  let publicKey: KeyObject
  try {
    publicKey = createPublicKey({ key: block.pem, format: 'pem' })
  } catch {
    throw new InputError(`${input}: the PUBLIC KEY block is not a readable key (damaged or truncated)`)
  }
  if (!keyTypeOf(publicKey))
    throw new InputError(
      `${input}: ${describeKey(publicKey)} keys are not supported; use an ECDSA P-256 or Ed25519 public key`
    )
  return publicKey
}

/** A new key pair, for tests and `artifact-action keygen`; the private key as unencrypted PKCS#8 PEM. */
export function generateSigningKey(type: SigningKeyType = 'ecdsa-p256'): { key: SigningKey; privateKeyPem: string } {
  const { privateKey } =
    type === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
  return {
    key: withPublicKey(type, privateKey),
    privateKeyPem: privateKey.export({ type: 'pkcs8', format: 'pem' }).toString()
  }
}

/** Hex sha256 of the public key's SPKI DER. */
export function keyIdOf(publicKey: KeyObject): string {
  return createHash('sha256')
    .update(publicKey.export({ type: 'spki', format: 'der' }))
    .digest('hex')
}

export function keyTypeOf(key: KeyObject): SigningKeyType | undefined {
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519'
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'ecdsa-p256'
  return undefined
}

/** ECDSA P-256: ecdsa-with-SHA256, DER-encoded (as cosign). Ed25519: pure Ed25519 over the bytes. */
export function signBytes(key: SigningKey, data: Uint8Array): Buffer {
  return sign(key.type === 'ed25519' ? null : 'sha256', data, key.privateKey)
}

function withPublicKey(type: SigningKeyType, privateKey: KeyObject): SigningKey {
  const publicKey = createPublicKey(privateKey)
  return {
    type,
    privateKey,
    publicKey,
    publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }).toString(),
    keyId: keyIdOf(publicKey)
  }
}

function describeKey(key: KeyObject): string {
  if (key.asymmetricKeyType === 'ec') return `ECDSA ${key.asymmetricKeyDetails?.namedCurve ?? 'unknown-curve'}`
  return (key.asymmetricKeyType ?? 'unknown').toUpperCase()
}

interface PemBlock {
  label: string
  /** Re-wrapped canonical PEM of this block alone. */
  pem: string
  /** Legacy OpenSSL encryption header (Proc-Type: 4,ENCRYPTED). */
  encrypted: boolean
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g

/** Finds PEM blocks in pasted text and rebuilds each with 64-column base64 lines. */
function pemBlocks(text: string): PemBlock[] {
  const unescaped = text.replace(/\\r/g, '').replace(/\\n/g, '\n')
  const blocks: PemBlock[] = []
  for (const [, label, content] of unescaped.matchAll(PEM_BLOCK)) {
    const encrypted = /Proc-Type:\s*4,ENCRYPTED/.test(content)
    const base64 = content.replace(/^\s*[A-Za-z-]+:.*$/gm, '').replace(/\s+/g, '')
    const lines = base64.match(/.{1,64}/g) ?? []
    blocks.push({
      label,
      encrypted,
      pem: [`-----BEGIN ${label}-----`, ...lines, `-----END ${label}-----`, ''].join('\n')
    })
  }
  return blocks
}
