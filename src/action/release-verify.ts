import * as core from '@actions/core'
import { parsePolicyRule } from '../core/cache/entry-signature.js'
import { errorMessage, InputError } from '../core/errors.js'
import { verifyPublishedRelease } from '../core/release/release-job.js'
import { IdentityInputs, resolveIdentityPolicy } from '../core/signing/identity-policy.js'
import { resolveSigstoreInstance, SigstoreInputs } from '../core/signing/sigstore-instance.js'
import { openStore } from '../core/store/open-store.js'
import { assertKnownInputs, readStoreInputs, requiredInput, STORE_INPUTS } from './inputs.js'
import { inputValues, versionFromRef } from './release-publish.js'
import { writeSummaryTable } from './job-summary.js'
import { refContextFromEnv } from './github-context.js'

const SIGSTORE_INPUTS = [SigstoreInputs.Sigstore, SigstoreInputs.TrustedRoot]
const IDENTITY_INPUTS = Object.values(IdentityInputs)
const VERIFY_INPUTS = [
  ...['project', 'version', 'release-store', 'public-key', 'require-cache-from'],
  ...IDENTITY_INPUTS,
  ...SIGSTORE_INPUTS,
  ...STORE_INPUTS
]

/** The verify/ sub-action: any mismatch fails the step with the reason. */
export async function runVerifyAction(): Promise<void> {
  try {
    assertKnownInputs(VERIFY_INPUTS)
    const project = requiredInput('project', 'give the project name')
    const version = versionFromRef(process.env.GITHUB_REF, 'version')
    if (!core.getInput('release-store')) throw new InputError('release-store: required; give the release store to verify from')
    const requireCacheFrom = parsePolicyRule(core.getInput('require-cache-from'), 'require-cache-from', refContextFromEnv().defaultBranch)
    const verified = await verifyPublishedRelease({
      requireCacheFrom,
      store: openStore(readStoreInputs('release-store')),
      project,
      version,
      publicKeyPem: core.getInput('public-key') || undefined,
      keyless: {
        instance: resolveSigstoreInstance(inputValues(SIGSTORE_INPUTS), 'verify'),
        policy: resolveIdentityPolicy(inputValues(IDENTITY_INPUTS))
      }
    })
    for (const line of verified.checked) core.info(`ok: ${line}`)
    if (verified.keySource === 'store') core.warning('verified against the public key published in the release store; pin it with the public-key input')
    core.setOutput('verified', 'true')
    await writeSummaryTable(`Verified ${project} ${version}`, verified.checked.map(line => ['ok', line]))
  } catch (error) {
    core.setOutput('verified', 'false')
    core.setFailed(errorMessage(error))
  }
}
