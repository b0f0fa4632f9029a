import { readFileSync } from 'node:fs'
import { resolveRestorePolicy, type EntrySigning, type RestorePolicy } from '../core/cache/entry-signature.js'
import { InputError } from '../core/errors.js'
import { keySigner } from '../core/release/release-job.js'
import { loadSigningKey } from '../core/signing/keys.js'
import { writerFromEnv } from '../github/runner-context.js'
import { stringValue, type Options, type Values } from './command.js'
import { refContextFrom } from './store-options.js'

/** Flags of a restore policy (restore and run). */
export const restorePolicyOptions = {
  'restore-policy': {
    type: 'string',
    description: 'any (default), signed, default-branch, or refs such as "refs/heads/main refs/tags/*"'
  },
  'restore-public-key': { type: 'string', description: 'public key file (PEM) whose entry signatures are trusted' },
  'restore-identity': { type: 'string', description: 'exact keyless signer identity (certificate SAN) to trust' },
  'restore-identity-regexp': { type: 'string', description: 'regular expression for the keyless signer identity' },
  'source-repository': {
    type: 'string',
    description: 'owner/name whose workflows are trusted (default: $GITHUB_REPOSITORY)'
  },
  sigstore: {
    type: 'string',
    description: 'Sigstore instance of keyless signatures: public (default), github, custom'
  },
  'trusted-root': { type: 'string', description: 'trusted root JSON file of the Sigstore instance' }
} satisfies Options

/** Flags of entry signing (save and run); the CLI signs with a key only. */
export const entrySigningOptions = {
  'signing-key-file': { type: 'string', description: 'sign saved entries with this PEM private key' }
} satisfies Options

export function restorePolicyFrom(values: Values): RestorePolicy {
  const keyFile = stringValue(values, 'restore-public-key')
  let publicKey: string | undefined
  try {
    publicKey = keyFile ? readFileSync(keyFile, 'utf8') : undefined
  } catch {
    throw new InputError(`--restore-public-key: cannot read ${keyFile}`)
  }
  const text = (name: string) => stringValue(values, name)
  return resolveRestorePolicy(
    {
      'restore-policy': text('restore-policy'),
      'restore-public-key': publicKey,
      'restore-identity': text('restore-identity'),
      'restore-identity-regexp': text('restore-identity-regexp'),
      sigstore: text('sigstore'),
      'trusted-root': text('trusted-root')
    },
    {
      defaultBranch: refContextFrom(values).defaultBranch,
      repository: text('source-repository') ?? process.env.GITHUB_REPOSITORY
    },
    '--'
  )
}

/** Key signing of saved entries; the writer is this job (GITHUB_* variables) or the --ref given. */
export function entrySigningFrom(values: Values): EntrySigning | undefined {
  const file = stringValue(values, 'signing-key-file')
  if (!file) return undefined
  let pem: string
  try {
    pem = readFileSync(file, 'utf8')
  } catch {
    throw new InputError(`--signing-key-file: cannot read ${file}`)
  }
  const ref = refContextFrom(values).ref
  return { sign: keySigner(loadSigningKey(pem, '--signing-key-file')).sign, writer: { ...writerFromEnv(), ref } }
}
