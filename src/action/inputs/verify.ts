import { parsePolicyRule } from '../../core/cache/entry-signature.js'
import { refContextFromEnv } from '../../github/runner-context.js'
import { InputError } from '../../core/errors.js'
import { IdentityInputs, resolveIdentityPolicy } from '../../core/signing/identity-policy.js'
import { resolveSigstoreInstance } from '../../core/signing/sigstore-instance.js'
import type { VerifyInputValues } from '../../config/step-inputs.js'
import { StoreInputs, SigstoreVerifyInputs, VerifyInputs } from '../names.js'
import { assertKnownInputs, input, inputValues, requiredInput, storeInput, versionInput } from './read.js'

/** The identity inputs; their names live beside their parser, which the CLI's flags share. */
const IDENTITY_INPUTS = Object.values(IdentityInputs)
const VERIFY_INPUTS = [
  ...Object.values(VerifyInputs),
  ...IDENTITY_INPUTS,
  ...SigstoreVerifyInputs,
  ...Object.values(StoreInputs)
]

export type { VerifyInputValues }

/** The inputs of verify/. */
export function readVerifyInputs(): VerifyInputValues {
  const env = process.env
  assertKnownInputs(VERIFY_INPUTS, env)
  const project = requiredInput(VerifyInputs.Project, 'give the project name')
  const version = versionInput(VerifyInputs.Version, env.GITHUB_REF)
  if (!input(VerifyInputs.ReleaseStore)) {
    throw new InputError(`${VerifyInputs.ReleaseStore}: required; give the release store to verify from`)
  }
  const requireCacheFrom = parsePolicyRule(
    input(VerifyInputs.RequireCacheFrom),
    VerifyInputs.RequireCacheFrom,
    refContextFromEnv(env).defaultBranch
  )
  const releaseStore = storeInput(VerifyInputs.ReleaseStore, env)
  return {
    project,
    version,
    releaseStore,
    publicKeyPem: input(VerifyInputs.PublicKey) || undefined,
    requireCacheFrom,
    keyless: {
      instance: resolveSigstoreInstance(inputValues(SigstoreVerifyInputs), 'verify'),
      policy: resolveIdentityPolicy(inputValues(IDENTITY_INPUTS))
    }
  }
}
