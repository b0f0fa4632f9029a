import { execFileSync, spawnSync } from 'node:child_process'
import { writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { signStatementKeyless, signStatementWithKey, verifyBundleWithKey } from '../../src/core/signing/provenance-bundle.js'
import { generateSigningKey, loadSigningKey, type SigningKeyType } from '../../src/core/signing/signing-keys.js'
import { tempDir } from '../helpers/trees.js'

const statement = { _type: 'https://in-toto.io/Statement/v1', subject: [{ name: 'a.tgz', digest: { sha256: 'a'.repeat(64) } }], predicateType: 'https://slsa.dev/provenance/v1', predicate: {} }

/** DSSE pre-authentication encoding, written out here so the check does not use the project's code. */
function pae(payloadType: string, payload: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `), payload])
}

function opensslVerifies(type: SigningKeyType, dir: string): boolean {
  const args =
    type === 'ed25519'
      ? ['pkeyutl', '-verify', '-pubin', '-inkey', path.join(dir, 'pub.pem'), '-rawin', '-in', path.join(dir, 'pae.bin'), '-sigfile', path.join(dir, 'sig.bin')]
      : ['dgst', '-sha256', '-verify', path.join(dir, 'pub.pem'), '-signature', path.join(dir, 'sig.bin'), path.join(dir, 'pae.bin')]
  return spawnSync('openssl', args).status === 0
}

describe('signing', () => {
  it.each(['ecdsa-p256', 'ed25519'] as const)('makes a %s DSSE bundle that openssl verifies independently, and rejects a flipped byte', async type => {
    const { key } = generateSigningKey(type)
    const bundle = signStatementWithKey(statement, key) as { mediaType: string; dsseEnvelope: { payload: string; payloadType: string; signatures: Array<{ sig: string; keyid: string }> }; verificationMaterial: { publicKey: { hint: string } } }
    expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json')
    expect(bundle.verificationMaterial.publicKey.hint).toBe(key.keyId)

    const dir = await tempDir('openssl')
    const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64')
    await writeFile(path.join(dir, 'pub.pem'), key.publicKeyPem)
    await writeFile(path.join(dir, 'sig.bin'), Buffer.from(bundle.dsseEnvelope.signatures[0].sig, 'base64'))
    await writeFile(path.join(dir, 'pae.bin'), pae(bundle.dsseEnvelope.payloadType, payload))
    expect(opensslVerifies(type, dir)).toBe(true)

    const flipped = Buffer.from(payload)
    flipped[10] ^= 1
    await writeFile(path.join(dir, 'pae.bin'), pae(bundle.dsseEnvelope.payloadType, flipped))
    expect(opensslVerifies(type, dir)).toBe(false)
  })

  it('verifies with the right key and says why it rejects a tampered payload or another key', () => {
    const { key } = generateSigningKey()
    const bundle = signStatementWithKey(statement, key)
    expect(verifyBundleWithKey(bundle, key.publicKeyPem)).toEqual(statement)

    const tampered = JSON.parse(JSON.stringify(bundle))
    tampered.dsseEnvelope.payload = Buffer.from(JSON.stringify({ ...statement, subject: [] })).toString('base64')
    expect(() => verifyBundleWithKey(tampered, key.publicKeyPem)).toThrow(/signature is invalid/)
    expect(() => verifyBundleWithKey(bundle, generateSigningKey().key.publicKeyPem)).toThrow(/signed by key .* not by the given public key/)
  })

  it('loads PKCS#8 and SEC1 keys, also pasted with literal \\n escapes', () => {
    const sec1 = execFileSync('openssl', ['ecparam', '-name', 'prime256v1', '-genkey', '-noout'], { encoding: 'utf8' })
    expect(loadSigningKey(sec1).type).toBe('ecdsa-p256')
    const { privateKeyPem, key } = generateSigningKey('ed25519')
    expect(loadSigningKey(privateKeyPem.replace(/\n/g, '\\n')).keyId).toBe(key.keyId)
  })

  it.each([
    ['no key', '', /^signing-key: empty; offline signing needs a private key/],
    ['a malformed key', '-----BEGIN PRIVATE KEY-----\nnot base64\n-----END PRIVATE KEY-----', /^signing-key: not a readable PEM private key/],
    ['another curve', execFileSync('openssl', ['ecparam', '-name', 'secp384r1', '-genkey', '-noout'], { encoding: 'utf8' }), /^signing-key: key type ec\/secp384r1 is not supported/]
  ])('refuses %s with a one-line message that names the input', (_case, pem, message) => {
    expect(() => loadSigningKey(pem)).toThrow(message)
    try {
      loadSigningKey(pem)
    } catch (error) {
      expect((error as Error).message).not.toContain('\n')
      expect((error as Error).message).not.toContain('BEGIN')
    }
  })

  it('asks for id-token: write when keyless signing has no OIDC token', async () => {
    await expect(signStatementKeyless(statement, {})).rejects.toThrow(/id-token: write/)
  })
})
