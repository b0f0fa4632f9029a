import * as core from '@actions/core'
import {
  resolveRestorePolicy,
  type EntrySigning,
  type EntryWriter,
  type RestorePolicy
} from '../core/cache/entry-signature.js'
import { errorMessage, InputError } from '../core/errors.js'
import { recordRestored, type RestoredEntry } from '../core/cache/restore-record.js'
import * as path from 'node:path'
import { keylessSigner, keySigner } from '../core/release/release-job.js'
import { loadSigningKey } from '../core/signing/keys.js'
import { resolveSigstoreInstance, SigstoreInputs } from '../core/signing/sigstore-instance.js'
import { refContextFromEnv } from './github-context.js'

/** Inputs that sign cache entries (save) and choose which entries a restore accepts. */
export const TrustInputs = {
  Signing: 'signing',
  SigningKey: 'signing-key',
  RestorePolicy: 'restore-policy',
  RestorePublicKey: 'restore-public-key',
  RestoreIdentity: 'restore-identity',
  RestoreIdentityRegexp: 'restore-identity-regexp'
} as const

export const TRUST_INPUTS = [...Object.values(TrustInputs), ...Object.values(SigstoreInputs)]

function input(name: string): string | undefined {
  return core.getInput(name).trim() || undefined
}

/** The job as it describes itself in the entries it signs; keyless signatures add the certificate's word. */
export function writerFromEnv(env: NodeJS.ProcessEnv = process.env): EntryWriter {
  const server = env.GITHUB_SERVER_URL || 'https://github.com'
  return {
    repository: env.GITHUB_REPOSITORY ? `${server}/${env.GITHUB_REPOSITORY}` : undefined,
    workflow: env.GITHUB_WORKFLOW_REF || undefined,
    ref: env.GITHUB_REF || undefined,
    event: env.GITHUB_EVENT_NAME || undefined,
    runId: env.GITHUB_RUN_ID
      ? `${server}/${env.GITHUB_REPOSITORY}/actions/runs/${env.GITHUB_RUN_ID}/attempts/${env.GITHUB_RUN_ATTEMPT || '1'}`
      : undefined
  }
}

/** How a save signs its entries: none (default), key (`signing-key`) or keyless (the job's OIDC token). */
export function entrySigningFromInputs(env: NodeJS.ProcessEnv = process.env): EntrySigning | undefined {
  const pem = core.getInput(TrustInputs.SigningKey)
  if (pem) core.setSecret(pem)
  const method = input(TrustInputs.Signing) ?? (pem ? 'key' : 'none')
  if (method === 'none') {
    if (pem)
      throw new InputError(`${TrustInputs.SigningKey}: given, but ${TrustInputs.Signing} is none; drop one of them`)
    return undefined
  }
  const writer = writerFromEnv(env)
  if (method === 'key') return { sign: keySigner(loadSigningKey(pem, TrustInputs.SigningKey)).sign, writer }
  if (method !== 'keyless') throw new InputError(`${TrustInputs.Signing}: "${method}" is not none, key or keyless`)
  const instance = resolveSigstoreInstance(sigstoreValues(), 'sign')
  return { sign: keylessSigner(() => core.getIDToken('sigstore').catch(() => undefined), instance).sign, writer }
}

/** The restore policy from the inputs (see resolveRestorePolicy). */
export function restorePolicyFromInputs(env: NodeJS.ProcessEnv = process.env): RestorePolicy {
  const values = Object.fromEntries(Object.values(TrustInputs).map(name => [name, input(name)]))
  return resolveRestorePolicy(
    { ...values, ...sigstoreValues() },
    { defaultBranch: refContextFromEnv(env).defaultBranch, repository: env.GITHUB_REPOSITORY }
  )
}

function sigstoreValues() {
  return Object.fromEntries(Object.values(SigstoreInputs).map(name => [name, input(name)]))
}

/**
 * The job-local record of restored caches (restore-record.ts): in RUNNER_TEMP, which the runner empties for every
 * job, and each line names this run, attempt and job, so a release step reads only what its own job restored.
 */
export function restoreRecordFrom(env: NodeJS.ProcessEnv = process.env): { file: string; job: string } | undefined {
  if (!env.RUNNER_TEMP) return undefined
  const job = [env.GITHUB_REPOSITORY, env.GITHUB_RUN_ID, env.GITHUB_RUN_ATTEMPT || '1', env.GITHUB_JOB].join('/')
  return { file: path.join(env.RUNNER_TEMP, 'artifact-action-restored.jsonl'), job }
}

/** Appends a restored entry to this job's record; a failure is a warning (the release then names less). */
export async function noteRestored(entry: RestoredEntry): Promise<void> {
  const record = restoreRecordFrom()
  if (!record) return
  try {
    await recordRestored(record.file, record.job, entry)
  } catch (error) {
    core.warning(`could not record the restored ${entry.kind} ${entry.key} for the release provenance: ${errorMessage(error)}`)
  }
}
