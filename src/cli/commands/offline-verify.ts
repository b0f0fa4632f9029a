import { readFile } from 'node:fs/promises'
import * as path from 'node:path'
import { verifyInputs } from '../../config/step-core.js'
import type { VerifyInputValues } from '../../config/step-inputs.js'
import { parsePolicyRule } from '../../core/cache/entry-signature.js'
import { InputError } from '../../core/errors.js'
import { KIT, openReleaseFolder, pinnedCarriedKey, pinnedCarriedRoot } from '../../core/release/offline-kit.js'
import { IdentityInputs, resolveIdentityPolicy } from '../../core/signing/identity-policy.js'
import { resolveSigstoreInstance } from '../../core/signing/sigstore-instance.js'
import { Exit, stringValue, type Options, type Values } from '../command.js'

const print = (line: string): void => void process.stdout.write(`${line}\n`)

export const offlineVerifyOptions = {
  offline: { type: 'string', description: 'verify a copied release folder with no network, against what you pin' },
  'public-key-fingerprint': {
    type: 'string',
    description: `--offline, key: sha256 of the public key; ${KIT.publicKey} must match`
  },
  'trusted-root-sha256': {
    type: 'string',
    description: `--offline, keyless: sha256 of ${KIT.trustedRoot}, which must match`
  }
} satisfies Options

/**
 * verify --offline DIR: only what the folder carries, and only under the user's pins: a key (file or fingerprint
 * of the carried public-key.pem), or a trusted root (own file, or sha256 of the carried one) plus a signer identity.
 */
export async function verifyOffline(values: Values): Promise<number> {
  const dir = path.resolve(stringValue(values, 'offline')!)
  const { store, project, version } = await openReleaseFolder(dir)
  const bundle = JSON.parse(await readFile(path.join(dir, 'provenance.sigstore.json'), 'utf8').catch(() => '{}'))
  const keySigned = Boolean(bundle?.verificationMaterial?.publicKey)
  const pinned: string[] = []
  let publicKeyPem: string | undefined
  let trustedRoot: string | undefined
  if (keySigned) {
    const keyFile = stringValue(values, 'public-key')
    const fingerprint = stringValue(values, 'public-key-fingerprint')
    if (keyFile) {
      publicKeyPem = await readFile(keyFile, 'utf8')
      pinned.push(`the public key in ${keyFile}`)
    } else if (fingerprint) {
      publicKeyPem = await pinnedCarriedKey(dir, fingerprint, '--public-key-fingerprint')
      pinned.push(`the key with fingerprint ${fingerprint} (the carried ${KIT.publicKey} matched)`)
    } else {
      throw new InputError(
        '--public-key-fingerprint: required with --offline for a key-signed release (or --public-key); ' +
          'the release carries its key, but anyone who can edit the release can replace it'
      )
    }
  } else {
    const rootFile = stringValue(values, 'trusted-root')
    const rootSha = stringValue(values, 'trusted-root-sha256')
    if (rootFile) {
      trustedRoot = rootFile
      pinned.push(`the trusted root in ${rootFile}`)
    } else if (rootSha) {
      trustedRoot = await pinnedCarriedRoot(dir, rootSha, '--trusted-root-sha256')
      pinned.push(`the trusted root with sha256 ${rootSha} (the carried ${KIT.trustedRoot} matched)`)
    } else {
      throw new InputError(
        '--trusted-root-sha256: required with --offline for a keyless release (or --trusted-root); ' +
          `the carried ${KIT.trustedRoot} alone proves nothing: anyone who can edit the release can replace it`
      )
    }
    const identity = Object.values(IdentityInputs).filter(name => name !== IdentityInputs.Issuer)
    const given = identity.filter(name => stringValue(values, name))
    if (given.length === 0) {
      throw new InputError(
        `--source-repository: required with --offline for a keyless release (or --${IdentityInputs.Identity} or ` +
          `--${IdentityInputs.IdentityRegexp}); say whose workflow must have signed it`
      )
    }
    for (const name of given) pinned.push(`${name} ${stringValue(values, name)}`)
  }
  const policyValues = Object.fromEntries(Object.values(IdentityInputs).map(name => [name, stringValue(values, name)]))
  const inputs: VerifyInputValues = {
    // The copied folder, read-only and only under its release's prefix.
    releaseStore: { kind: 'external', location: store.location, open: () => store },
    project,
    version,
    publicKeyPem,
    requireCacheFrom: parsePolicyRule(
      stringValue(values, 'require-cache-from'),
      '--require-cache-from',
      stringValue(values, 'default-branch')
    ),
    keyless: keySigned
      ? undefined
      : {
          instance: resolveSigstoreInstance(
            { sigstore: stringValue(values, 'sigstore') ?? 'custom', 'trusted-root': trustedRoot ?? '' },
            'verify',
            '--'
          ),
          policy: resolveIdentityPolicy(policyValues, '--'),
          trustedRootInput: '--trusted-root'
        }
  }
  const verified = await verifyInputs(inputs)
  for (const line of verified.checked) print(`ok: ${line}`)
  for (const line of pinned) print(`pinned: ${line}`)
  print(
    `verified offline ${project} ${version} (${verified.release.repository}@${verified.release.commit.slice(0, 12)})`
  )
  return Exit.Ok
}
