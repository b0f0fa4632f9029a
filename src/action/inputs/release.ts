import * as core from '@actions/core'
import { readFile } from 'node:fs/promises'
import * as path from 'node:path'
import { InputError } from '../../core/errors.js'
import { assertSeparateStores } from '../../core/release/release-job.js'
import type { ReleaseInputValues, ReleaseSigning } from '../../config/step-inputs.js'
import { loadSigningKey } from '../../core/signing/keys.js'
import { resolveSigstoreInstance } from '../../core/signing/sigstore-instance.js'
import { workspaceFromEnv } from '../../github/runner-context.js'
import { Inputs, KnownInputs, ReleaseInputs, SigstoreSigningInputs, StoreInputs } from '../names.js'
import {
  assertKnownInputs,
  booleanInput,
  input,
  inputValues,
  listInput,
  requiredInput,
  storeInput,
  versionInput
} from './read.js'

export type { ReleaseInputValues, ReleaseSigning }

function retentionDaysInput(): number | undefined {
  const text = input(ReleaseInputs.RetentionDays)
  if (!text) return undefined
  const days = Number(text)
  if (!Number.isInteger(days) || days < 1) {
    throw new InputError(`${ReleaseInputs.RetentionDays}: "${text}" is not a whole number of days; give e.g. 3650`)
  }
  return days
}

function signingInputs(): ReleaseSigning {
  const method = input(ReleaseInputs.Signing) || (input(ReleaseInputs.SigningKey) ? 'key' : 'keyless')
  const sigstore = inputValues(SigstoreSigningInputs)
  if (method === 'keyless') {
    const instance = resolveSigstoreInstance(sigstore, 'sign')
    const kitRoot = input(ReleaseInputs.KitTrustedRoot)
    return { method, instance: kitRoot ? { ...instance, trustedRootPath: kitRoot } : instance }
  }
  if (method !== 'key') throw new InputError(`${ReleaseInputs.Signing}: "${method}" is not key or keyless`)
  const stray = SigstoreSigningInputs.find(name => sigstore[name])
  if (stray) {
    throw new InputError(`${stray}: only for keyless signing; drop it, or set ${ReleaseInputs.Signing} to keyless`)
  }
  const pem = input(ReleaseInputs.SigningKey)
  if (pem) core.setSecret(pem)
  return { method, key: loadSigningKey(pem, ReleaseInputs.SigningKey) }
}

/** The inputs of release/; github-release and its token are checked before anything is published. */
export async function readReleaseInputs(): Promise<ReleaseInputValues> {
  const env = process.env
  assertKnownInputs(KnownInputs.release, env)
  const project = requiredInput(ReleaseInputs.Project, 'give the project name, the top folder of its releases')
  const version = versionInput(ReleaseInputs.Version, env.GITHUB_REF)
  const cacheStore = input(StoreInputs.Store) ? storeInput(StoreInputs.Store, env) : undefined
  if (!input(ReleaseInputs.ReleaseStore)) {
    throw new InputError(
      `${ReleaseInputs.ReleaseStore}: required; give s3://bucket/prefix for releases, apart from the cache`
    )
  }
  const releaseStore = storeInput(ReleaseInputs.ReleaseStore, env)
  assertSeparateStores(releaseStore, cacheStore)
  const workspace = workspaceFromEnv(env)
  const packages = listInput(ReleaseInputs.Packages)
  const signing = signingInputs()
  const retentionDays = retentionDaysInput()
  const githubRelease = booleanInput(ReleaseInputs.GitHubRelease)
    ? { token: requiredInput(ReleaseInputs.GitHubToken, 'give a token with contents: write, e.g. ${{ github.token }}') }
    : undefined
  const planFile = input(ReleaseInputs.PlanFile)
  const plan: unknown = planFile ? JSON.parse(await readFile(path.resolve(workspace, planFile), 'utf8')) : undefined
  const secretNames = [ReleaseInputs.SigningKey, ReleaseInputs.GitHubToken, Inputs.SecretAccessKey, Inputs.SessionToken]
  const secrets = secretNames.map(input).filter(Boolean)
  return {
    project,
    version,
    packages,
    plan,
    releaseStore,
    signing,
    retentionDays,
    githubRelease,
    secrets,
    workspace
  }
}
