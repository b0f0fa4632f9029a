import * as core from '@actions/core'
import { resolveRestorePolicy, type EntrySigning, type RestorePolicy } from '../../core/cache/entry-signature.js'
import { InputError } from '../../core/errors.js'
import { keylessSigner, keySigner } from '../../core/release/release-job.js'
import { loadSigningKey } from '../../core/signing/keys.js'
import { resolveSigstoreInstance, SigstoreInputs } from '../../core/signing/sigstore-instance.js'
import { refContextFromEnv } from '../../github/runner-context.js'
import { writerFromEnv } from '../../github/runner-context.js'
import { TrustInputs } from '../names.js'
import { input as rawInput } from './read.js'

/** The trust inputs of the cache actions and run/: how a save signs, and which entries a restore accepts. */

function input(name: string): string | undefined {
  return rawInput(name).trim() || undefined
}

function sigstoreValues(): Record<string, string | undefined> {
  return Object.fromEntries(Object.values(SigstoreInputs).map(name => [name, input(name)]))
}

/** How a save signs its entries: none (default), key (`signing-key`) or keyless (the job's OIDC token). */
export function readEntrySigning(env: NodeJS.ProcessEnv = process.env): EntrySigning | undefined {
  const pem = rawInput(TrustInputs.SigningKey)
  if (pem) core.setSecret(pem)
  const method = input(TrustInputs.Signing) ?? (pem ? 'key' : 'none')
  if (method === 'none') {
    if (pem) {
      throw new InputError(`${TrustInputs.SigningKey}: given, but ${TrustInputs.Signing} is none; drop one of them`)
    }
    return undefined
  }
  const writer = writerFromEnv(env)
  if (method === 'key') return { sign: keySigner(loadSigningKey(pem, TrustInputs.SigningKey)).sign, writer }
  if (method !== 'keyless') throw new InputError(`${TrustInputs.Signing}: "${method}" is not none, key or keyless`)
  const instance = resolveSigstoreInstance(sigstoreValues(), 'sign')
  return { sign: keylessSigner(() => core.getIDToken('sigstore').catch(() => undefined), instance).sign, writer }
}

/** The restore policy from the inputs (see resolveRestorePolicy). */
export function readRestorePolicy(env: NodeJS.ProcessEnv = process.env): RestorePolicy {
  const values = Object.fromEntries(Object.values(TrustInputs).map(name => [name, input(name)]))
  return resolveRestorePolicy(
    { ...values, ...sigstoreValues() },
    { defaultBranch: refContextFromEnv(env).defaultBranch, repository: env.GITHUB_REPOSITORY }
  )
}
