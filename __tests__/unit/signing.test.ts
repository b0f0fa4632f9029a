import { bundleFromJSON } from '@sigstore/bundle'
import { dsse as sigstoreDsse } from '@sigstore/core'
import { toSignedEntity, Verifier } from '@sigstore/verify'
import { execFileSync, spawnSync } from 'node:child_process'
import { createHash, generateKeyPairSync } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import {
  signStatementKeyless,
  signStatementWithKey,
  verifyBundleKeyless,
  verifyBundleWithKey,
  type KeySignedBundle
} from '../../src/core/signing/bundle.js'
import { IN_TOTO_PAYLOAD_TYPE, preAuthEncoding } from '../../src/core/signing/dsse.js'
import { generateSigningKey, loadPublicKey, loadSigningKey, type SigningKeyType } from '../../src/core/signing/keys.js'
import { tempDir } from '../helpers/trees.js'

const statement = {
  _type: 'https://in-toto.io/Statement/v1',
  subject: [{ name: 'app.tgz', digest: { sha256: 'a'.repeat(64) } }],
  predicateType: 'https://slsa.dev/provenance/v1',
  predicate: { note: 'ünïcödé' }
}
const keyTypes: SigningKeyType[] = ['ecdsa-p256', 'ed25519']

const dirs: string[] = []
afterAll(async () => Promise.all(dirs.map(dir => rm(dir, { recursive: true, force: true }))))
async function scratch(): Promise<string> {
  const dir = await tempDir('signing')
  dirs.push(dir)
  return dir
}

function openssl(args: string[], input?: string): string {
  return execFileSync('openssl', args, { encoding: 'utf8', input, stdio: ['pipe', 'pipe', 'pipe'] })
}

/** DSSE PAE written out here, so the openssl check does not rely on the project's encoder. */
function independentPae(payloadType: string, payload: Buffer): Buffer {
  return Buffer.concat([
    Buffer.from(`DSSEv1 ${Buffer.byteLength(payloadType)} ${payloadType} ${payload.length} `),
    payload
  ])
}

function opensslVerifies(type: SigningKeyType, dir: string): boolean {
  const [pub, sig, pae] = ['pub.pem', 'sig.bin', 'pae.bin'].map(name => path.join(dir, name))
  const args =
    type === 'ed25519'
      ? ['pkeyutl', '-verify', '-pubin', '-inkey', pub, '-rawin', '-in', pae, '-sigfile', sig]
      : ['dgst', '-sha256', '-verify', pub, '-signature', sig, pae]
  return spawnSync('openssl', args).status === 0
}

function copyOf(bundle: KeySignedBundle): KeySignedBundle {
  return JSON.parse(JSON.stringify(bundle))
}

function thrown(action: () => unknown): Error {
  try {
    action()
  } catch (error) {
    return error as Error
  }
  throw new Error('expected an error')
}

describe('DSSE pre-authentication encoding', () => {
  it('matches the DSSE spec example and counts bytes, not characters', () => {
    expect(preAuthEncoding('http://example.com/HelloWorld', Buffer.from('hello world')).toString()).toBe(
      'DSSEv1 29 http://example.com/HelloWorld 11 hello world'
    )
    expect(preAuthEncoding('tÿpe', Buffer.from('é')).toString()).toBe('DSSEv1 5 tÿpe 2 é')
    expect(preAuthEncoding('', Buffer.alloc(0)).toString()).toBe('DSSEv1 0  0 ')
  })

  it("agrees with Sigstore's encoder", () => {
    const payload = Buffer.from(JSON.stringify(statement))
    expect(
      preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload).equals(sigstoreDsse.preAuthEncoding(IN_TOTO_PAYLOAD_TYPE, payload))
    ).toBe(true)
  })
})

describe('signing with a key', () => {
  it.each(keyTypes)(
    'makes a %s Sigstore v0.3 bundle that openssl verifies independently, and rejects a flipped payload byte',
    async type => {
      const { key } = generateSigningKey(type)
      const bundle = signStatementWithKey(statement, key)
      expect(bundle.mediaType).toBe('application/vnd.dev.sigstore.bundle.v0.3+json')
      expect(bundle.verificationMaterial).toEqual({
        publicKey: { hint: key.keyId },
        tlogEntries: [],
        timestampVerificationData: { rfc3161Timestamps: [] }
      })
      expect(bundle.dsseEnvelope.payloadType).toBe('application/vnd.in-toto+json')
      expect(bundle.dsseEnvelope.signatures).toHaveLength(1)
      expect(bundle.dsseEnvelope.signatures[0].keyid).toBe(key.keyId)
      const payload = Buffer.from(bundle.dsseEnvelope.payload, 'base64')
      expect(JSON.parse(payload.toString('utf8'))).toEqual(statement)

      const dir = await scratch()
      await writeFile(path.join(dir, 'pub.pem'), key.publicKeyPem)
      await writeFile(path.join(dir, 'sig.bin'), Buffer.from(bundle.dsseEnvelope.signatures[0].sig, 'base64'))
      await writeFile(path.join(dir, 'pae.bin'), independentPae(bundle.dsseEnvelope.payloadType, payload))
      expect(opensslVerifies(type, dir)).toBe(true)

      const flipped = Buffer.from(payload)
      flipped[10] ^= 0x01
      await writeFile(path.join(dir, 'pae.bin'), independentPae(bundle.dsseEnvelope.payloadType, flipped))
      expect(opensslVerifies(type, dir)).toBe(false)
    }
  )

  it('writes ECDSA signatures in DER, as cosign does', () => {
    const { key } = generateSigningKey('ecdsa-p256')
    const sig = Buffer.from(signStatementWithKey(statement, key).dsseEnvelope.signatures[0].sig, 'base64')
    expect(sig[0]).toBe(0x30) // ASN.1 SEQUENCE of r and s
    expect(sig[1]).toBe(sig.length - 2)
  })

  it.each(keyTypes)("produces %s bundles that Sigstore's own verifier accepts with the public key", type => {
    const { key } = generateSigningKey(type)
    const entity = toSignedEntity(bundleFromJSON(signStatementWithKey(statement, key)))
    const trust = {
      certificateAuthorities: [],
      timestampAuthorities: [],
      tlogs: [],
      ctlogs: [],
      publicKey: (hint: string) => ({
        publicKey: hint === key.keyId ? key.publicKey : generateSigningKey(type).key.publicKey,
        validFor: () => true
      })
    }
    expect(() =>
      new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 }).verify(entity)
    ).not.toThrow()
  })

  it.each(keyTypes)('verifies a %s bundle with the right key, given as an object or as JSON text', type => {
    const { key } = generateSigningKey(type)
    const bundle = signStatementWithKey(statement, key)
    expect(verifyBundleWithKey(bundle, key.publicKeyPem)).toEqual(statement)
    expect(verifyBundleWithKey(JSON.stringify(bundle), key.publicKeyPem)).toEqual(statement)
  })

  it('says why it rejects a tampered payload, another key, a forged key id, or another payload type', () => {
    const { key } = generateSigningKey()
    const other = generateSigningKey().key
    const bundle = signStatementWithKey(statement, key)

    const tampered = copyOf(bundle)
    tampered.dsseEnvelope.payload = Buffer.from(JSON.stringify({ ...statement, subject: [] })).toString('base64')
    expect(() => verifyBundleWithKey(tampered, key.publicKeyPem)).toThrow(
      expect.objectContaining({ name: 'IntegrityError', message: expect.stringMatching(/signature is invalid/) })
    )

    expect(() => verifyBundleWithKey(bundle, other.publicKeyPem)).toThrow(
      `provenance is signed by key ${key.keyId.slice(0, 12)}, not by the given public key ${other.keyId.slice(0, 12)}`
    )

    // Relabelled as the other key's: the ids match, the signature does not.
    const relabelled = copyOf(bundle)
    relabelled.verificationMaterial.publicKey.hint = other.keyId
    relabelled.dsseEnvelope.signatures[0].keyid = other.keyId
    expect(() => verifyBundleWithKey(relabelled, other.publicKeyPem)).toThrow(/signature is invalid/)

    const mismatchedKeyid = copyOf(bundle)
    mismatchedKeyid.dsseEnvelope.signatures[0].keyid = other.keyId
    expect(() => verifyBundleWithKey(mismatchedKeyid, key.publicKeyPem)).toThrow(
      /signature names key .* not the given public key/
    )

    const retyped = copyOf(bundle)
    retyped.dsseEnvelope.payloadType = 'application/json'
    expect(() => verifyBundleWithKey(retyped, key.publicKeyPem)).toThrow(
      expect.objectContaining({
        name: 'IntegrityError',
        message: 'provenance payload type is "application/json", not application/vnd.in-toto+json'
      })
    )
  })

  it('rejects what is not a usable bundle', () => {
    const { key } = generateSigningKey()
    const bundle = signStatementWithKey(statement, key)
    const unsigned = copyOf(bundle) as unknown as { dsseEnvelope: { signatures: unknown[] } }
    unsigned.dsseEnvelope.signatures = []
    expect(() => verifyBundleWithKey(unsigned, key.publicKeyPem)).toThrow(
      /not a valid Sigstore bundle \(bad content.dsseEnvelope.signatures\)/
    )
    expect(() => verifyBundleWithKey('{not json', key.publicKeyPem)).toThrow(
      expect.objectContaining({ name: 'IntegrityError', message: 'provenance is not JSON' })
    )
    expect(() => verifyBundleWithKey(null, key.publicKeyPem)).toThrow(
      expect.objectContaining({
        name: 'IntegrityError',
        message: 'provenance is not a Sigstore bundle (not a JSON object)'
      })
    )
    expect(() => verifyBundleWithKey({ mediaType: 'x' }, key.publicKeyPem)).toThrow(
      'provenance is not a valid Sigstore bundle (bad mediaType, content, verificationMaterial)'
    )

    const notAnObject = copyOf(bundle)
    notAnObject.dsseEnvelope.payload = Buffer.from('[1]').toString('base64')
    notAnObject.dsseEnvelope.signatures[0].sig = signStatementWithKey([1], key).dsseEnvelope.signatures[0].sig
    expect(() => verifyBundleWithKey(notAnObject, key.publicKeyPem)).toThrow(/not an in-toto statement/)
  })

  it('names the public-key input when the verification key is unusable', () => {
    const bundle = signStatementWithKey(statement, generateSigningKey().key)
    expect(() => verifyBundleWithKey(bundle, '')).toThrow(
      expect.objectContaining({
        name: 'InputError',
        message: expect.stringMatching(/^public-key: not a PEM public key/)
      })
    )
    expect(() => verifyBundleWithKey(bundle, generateSigningKey().privateKeyPem, '--public-key')).toThrow(
      /^--public-key: not a PEM public key/
    )
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' })
      .publicKey.export({ type: 'spki', format: 'pem' })
      .toString()
    expect(() => loadPublicKey(p384)).toThrow(
      'public-key: ECDSA secp384r1 keys are not supported; use an ECDSA P-256 or Ed25519 public key'
    )
  })
})

describe('loading a signing key', () => {
  it.each(keyTypes)('loads the %s key that generateSigningKey wrote, with the same key id and public key', type => {
    const { key, privateKeyPem } = generateSigningKey(type)
    const loaded = loadSigningKey(privateKeyPem)
    expect(loaded.type).toBe(type)
    expect(loaded.keyId).toBe(key.keyId)
    expect(loaded.publicKeyPem).toBe(key.publicKeyPem)
    expect(loaded.publicKeyPem).toMatch(/^-----BEGIN PUBLIC KEY-----\n/)
  })

  it('takes the key id as sha256 of the SPKI DER, as openssl computes it', () => {
    const pem = openssl(['genpkey', '-algorithm', 'ed25519'])
    const der = execFileSync('openssl', ['pkey', '-pubout', '-outform', 'DER'], { input: pem })
    expect(loadSigningKey(pem).keyId).toBe(createHash('sha256').update(der).digest('hex'))
  })

  it('accepts the PKCS#8 key from the documented openssl command, and SEC1 keys with or without EC PARAMETERS', () => {
    const sec1 = openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout'])
    expect(sec1).toContain('BEGIN EC PRIVATE KEY')
    const pkcs8 = openssl(['pkcs8', '-topk8', '-nocrypt'], sec1)
    expect(pkcs8).toContain('BEGIN PRIVATE KEY')
    expect(loadSigningKey(pkcs8).type).toBe('ecdsa-p256')
    expect(loadSigningKey(sec1).keyId).toBe(loadSigningKey(pkcs8).keyId)
    const withParameters = openssl(['ecparam', '-name', 'prime256v1', '-genkey'])
    expect(withParameters).toContain('BEGIN EC PARAMETERS')
    expect(loadSigningKey(withParameters).type).toBe('ecdsa-p256')
  })

  it('accepts keys as pasted into secrets: literal \\n escapes, CRLF, indentation, one line, quotes', () => {
    const { key, privateKeyPem } = generateSigningKey('ecdsa-p256')
    const pasted = [
      privateKeyPem.replace(/\n/g, '\\n'),
      privateKeyPem.replace(/\n/g, '\r\n'),
      privateKeyPem.replace(/^/gm, '    '),
      privateKeyPem.replace(/\n/g, ' '),
      `"${privateKeyPem.trim().replace(/\n/g, '\\n')}"`
    ]
    for (const pem of pasted) expect(loadSigningKey(pem).keyId).toBe(key.keyId)
  })

  it.each(keyTypes)('signs with a loaded %s key so that the published public key verifies it', type => {
    const { key, privateKeyPem } = generateSigningKey(type)
    const bundle = signStatementWithKey(statement, loadSigningKey(privateKeyPem.replace(/\n/g, '\\n')))
    expect(verifyBundleWithKey(bundle, key.publicKeyPem)).toEqual(statement)
  })
})

describe('refusing an unusable signing key', () => {
  const p256Pkcs8 = generateSigningKey().privateKeyPem
  const body = p256Pkcs8.split('\n')[1]
  const cases: Array<[string, string | undefined, RegExp]> = [
    [
      'no key',
      undefined,
      /^signing-key: empty; offline signing needs a PEM private key; generate one with `openssl ecparam -name prime256v1 -genkey -noout \| openssl pkcs8 -topk8 -nocrypt`/
    ],
    ['a blank key', ' \n ', /^signing-key: empty;/],
    ['text that is not PEM', 'my-signing-password', /^signing-key: not a PEM private key; give the private key/],
    [
      'a damaged key',
      p256Pkcs8.replace(body, body.slice(0, 20) + 'AAAA' + body.slice(24)),
      /^signing-key: the PRIVATE KEY block is not a readable key \(damaged or truncated\)/
    ],
    [
      'a truncated key',
      `-----BEGIN PRIVATE KEY-----\n${body.slice(0, 30)}\n-----END PRIVATE KEY-----`,
      /^signing-key: the PRIVATE KEY block is not a readable key/
    ],
    [
      'a P-384 key',
      openssl(['ecparam', '-name', 'secp384r1', '-genkey', '-noout']),
      /^signing-key: ECDSA secp384r1 keys are not supported; use ECDSA P-256 \(default\) or Ed25519/
    ],
    [
      'a secp256k1 key',
      openssl(['ecparam', '-name', 'secp256k1', '-genkey', '-noout']),
      /^signing-key: ECDSA secp256k1 keys are not supported/
    ],
    [
      'an RSA key',
      generateKeyPairSync('rsa', { modulusLength: 2048 })
        .privateKey.export({ type: 'pkcs8', format: 'pem' })
        .toString(),
      /^signing-key: RSA keys are not supported/
    ],
    [
      'an Ed448 key',
      generateKeyPairSync('ed448').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      /^signing-key: ED448 keys are not supported/
    ],
    ['the public key', generateSigningKey().key.publicKeyPem, /^signing-key: a public key, not the private key/],
    [
      'a certificate',
      '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----',
      /^signing-key: a PEM CERTIFICATE, not a private key/
    ],
    [
      'an encrypted key',
      generateKeyPairSync('ec', { namedCurve: 'prime256v1' })
        .privateKey.export({ type: 'pkcs8', format: 'pem', cipher: 'aes-256-cbc', passphrase: 'pass' })
        .toString(),
      /^signing-key: the private key is encrypted; give it unencrypted/
    ],
    [
      'an OpenSSH key',
      '-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAA\n-----END OPENSSH PRIVATE KEY-----',
      /^signing-key: OpenSSH key format is not supported/
    ]
  ]

  it.each(cases)(
    'refuses %s with a one-line InputError that names the input and leaks nothing',
    (_case, pem, message) => {
      const error = thrown(() => loadSigningKey(pem))
      expect(error.name).toBe('InputError')
      expect(error.message).toMatch(message)
      expect(error.message).not.toContain('\n')
      expect(error.message).not.toMatch(/BEGIN|END /)
      for (const line of (pem ?? '').split('\n').filter(line => line.length >= 16 && !line.startsWith('-----')))
        expect(error.message).not.toContain(line.slice(0, 16))
    }
  )

  it('names the input it was given', () => {
    expect(() => loadSigningKey('', '--signing-key-file')).toThrow(/^--signing-key-file: empty;/)
  })
})

describe('keyless signing (offline checks only)', () => {
  it('asks for id-token: write when there is no OIDC token', async () => {
    await expect(signStatementKeyless(statement, {})).rejects.toMatchObject({
      name: 'InputError',
      message: expect.stringContaining('permissions: id-token: write')
    })
    await expect(signStatementKeyless(statement, { identityToken: '  ' })).rejects.toMatchObject({
      name: 'InputError',
      message: expect.stringContaining('id-token: write')
    })
  })

  it('refuses a token that is not a JWT, without echoing it', async () => {
    const error = await signStatementKeyless(statement, { identityToken: 'not-a-jwt-secret-value' }).catch(
      (caught: Error) => caught
    )
    expect(error).toMatchObject({ name: 'InputError', message: expect.stringContaining('not a JWT') })
    expect((error as Error).message).not.toContain('not-a-jwt-secret-value')
  })

  it('refuses to verify a key-signed or non-in-toto bundle keylessly before going to the network', async () => {
    const bundle = signStatementWithKey(statement, generateSigningKey().key)
    await expect(verifyBundleKeyless(bundle)).rejects.toMatchObject({
      name: 'IntegrityError',
      message: expect.stringContaining('signed with a key, not keylessly')
    })
    const retyped = copyOf(bundle)
    retyped.dsseEnvelope.payloadType = 'text/plain'
    await expect(verifyBundleKeyless(retyped)).rejects.toMatchObject({
      name: 'IntegrityError',
      message: expect.stringContaining('payload type')
    })
  })

  it('refuses to verify a keyless bundle with a key', () => {
    const { key } = generateSigningKey()
    const keyless = {
      ...copyOf(signStatementWithKey(statement, key)),
      verificationMaterial: {
        certificate: { rawBytes: Buffer.from('not a real certificate').toString('base64') },
        tlogEntries: []
      }
    }
    expect(() => verifyBundleWithKey(keyless, key.publicKeyPem)).toThrow(
      expect.objectContaining({
        name: 'IntegrityError',
        message: expect.stringContaining('signed keylessly (certificate)')
      })
    )
  })
})
