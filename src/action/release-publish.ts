import * as core from '@actions/core'
import { readFile } from 'node:fs/promises'
import * as path from 'node:path'
import { errorMessage, InputError } from '../core/errors.js'
import { buildContextFromEnv } from '../core/release/provenance.js'
import { publishRelease, type StatementSigner } from '../core/release/publish-release.js'
import { assertSeparateStores, keylessSigner, keySigner, resolvePackages } from '../core/release/release-job.js'
import { releaseLayout, versionOfTagRef } from '../core/release/release-layout.js'
import { formatBytes } from '../core/report-format.js'
import { loadSigningKey } from '../core/signing/keys.js'
import { resolveSigstoreInstance, SigstoreInputs } from '../core/signing/sigstore-instance.js'
import { openStore } from '../core/store/open-store.js'
import { describeStore } from '../core/store/store-config.js'
import { publishGitHubRelease, releaseNotes } from '../github/github-release.js'
import { workspaceFromEnv } from './github-context.js'
import { assertKnownInputs, booleanInput, Inputs, listInput, readStoreInputs, requiredInput, STORE_INPUTS } from './inputs.js'
import { writeSummaryGrid } from './job-summary.js'
import { readRestored, restoredDependency } from '../core/cache/restore-record.js'
import { restoreRecordFrom } from './entry-trust.js'

export const ReleaseInputs = {
  Project: 'project',
  Version: 'version',
  Packages: 'packages',
  PlanFile: 'plan-file',
  ReleaseStore: 'release-store',
  Signing: 'signing',
  SigningKey: 'signing-key',
  GitHubRelease: 'github-release',
  GitHubToken: 'github-token',
  RetentionDays: 'retention-days',
  KitTrustedRoot: 'kit-trusted-root'
} as const

/** The Sigstore instance inputs of keyless signing (verify also takes trusted-root). */
const SIGSTORE_SIGNING_INPUTS = [
  SigstoreInputs.Sigstore,
  SigstoreInputs.FulcioURL,
  SigstoreInputs.RekorURL,
  SigstoreInputs.TimestampURL
]

const RELEASE_INPUTS = [...Object.values(ReleaseInputs), ...SIGSTORE_SIGNING_INPUTS, ...STORE_INPUTS]

/** The values of the given inputs, for the shared Sigstore and identity readers. */
export function inputValues<Name extends string>(names: readonly Name[]): Partial<Record<Name, string>> {
  const values = names.map(name => [name, core.getInput(name) || undefined])
  return Object.fromEntries(values) as Partial<Record<Name, string>>
}

export function versionFromRef(ref: string | undefined, input: string): string {
  const explicit = core.getInput(input)
  if (explicit) return explicit
  const tagged = versionOfTagRef(ref)
  if (tagged) return tagged
  throw new InputError(`${input}: required when the workflow does not run on a tag; give the version, e.g. v1.2.3`)
}

function signerFromInputs(): StatementSigner {
  const method = core.getInput(ReleaseInputs.Signing) || (core.getInput(ReleaseInputs.SigningKey) ? 'key' : 'keyless')
  const sigstore = inputValues(SIGSTORE_SIGNING_INPUTS)
  if (method === 'keyless') {
    const instance = resolveSigstoreInstance(sigstore, 'sign')
    const kitRoot = core.getInput(ReleaseInputs.KitTrustedRoot)
    const token = () => core.getIDToken('sigstore').catch(() => undefined)
    return keylessSigner(token, kitRoot ? { ...instance, trustedRootPath: kitRoot } : instance)
  }
  if (method !== 'key') throw new InputError(`${ReleaseInputs.Signing}: "${method}" is not key or keyless`)
  const stray = SIGSTORE_SIGNING_INPUTS.find(name => sigstore[name])
  if (stray) {
    throw new InputError(`${stray}: only for keyless signing; drop it, or set ${ReleaseInputs.Signing} to keyless`)
  }
  const pem = core.getInput(ReleaseInputs.SigningKey)
  if (pem) core.setSecret(pem)
  return keySigner(loadSigningKey(pem, ReleaseInputs.SigningKey))
}

function retentionDaysInput(): number | undefined {
  const text = core.getInput(ReleaseInputs.RetentionDays)
  if (!text) return undefined
  const days = Number(text)
  if (!Number.isInteger(days) || days < 1) throw new InputError(`${ReleaseInputs.RetentionDays}: "${text}" is not a whole number of days; give e.g. 3650`)
  return days
}

/** The release/ sub-action: publish packages and signed provenance, then optionally a GitHub Release. */
export async function runReleaseAction(): Promise<void> {
  try {
    assertKnownInputs(RELEASE_INPUTS)
    const project = requiredInput(ReleaseInputs.Project, 'give the project name, the top folder of its releases')
    const version = versionFromRef(process.env.GITHUB_REF, ReleaseInputs.Version)
    const cacheConfig = core.getInput(Inputs.Store) ? readStoreInputs() : undefined
    const releaseConfig = readStoreInputs(ReleaseInputs.ReleaseStore)
    if (!core.getInput(ReleaseInputs.ReleaseStore)) throw new InputError(`${ReleaseInputs.ReleaseStore}: required; give s3://bucket/prefix for releases, apart from the cache`)
    assertSeparateStores(releaseConfig, cacheConfig)
    const workspace = workspaceFromEnv()
    const packages = await resolvePackages(listInput(ReleaseInputs.Packages), workspace)
    const signer = signerFromInputs()
    const planFile = core.getInput(ReleaseInputs.PlanFile)
    const plan = planFile ? JSON.parse(await readFile(path.resolve(workspace, planFile), 'utf8')) : undefined
    const context = buildContextFromEnv(process.env)
    const secrets = [core.getInput(ReleaseInputs.SigningKey), core.getInput(ReleaseInputs.GitHubToken), core.getInput(Inputs.SecretAccessKey), core.getInput(Inputs.SessionToken)].filter(Boolean)

    const record = restoreRecordFrom()
    const restored = record ? await readRestored(record.file, record.job) : []
    for (const entry of restored) core.info(`The provenance names the restored ${entry.kind} ${entry.key} (scope ${entry.scope})`)
    const store = openStore(releaseConfig)
    const result = await publishRelease({
      dependencies: restored.map(restoredDependency),
      store,
      project,
      version,
      packages,
      context,
      plan,
      secrets,
      signer,
      retentionDays: retentionDaysInput()
    })
    const base = `${describeStore(releaseConfig).split(' at ')[0].replace(/\/$/, '')}/${releaseLayout.version(project, version)}`
    core.setOutput('version', version)
    core.setOutput('release-url', base)
    core.setOutput('status', result.status)
    core.setOutput('provenance-sha256', result.record.provenance.sha256)
    core.info(result.status === 'published' ? `Published ${project} ${version} to ${base}` : `${project} ${version} is already published with identical bytes; nothing changed`)
    await writeSummaryGrid(`Release ${project} ${version} (${result.status})`, ['package', 'size', 'sha256'], result.record.files.map(file => [file.name, formatBytes(file.size), file.sha256]))

    if (booleanInput(ReleaseInputs.GitHubRelease)) {
      const token = requiredInput(ReleaseInputs.GitHubToken, 'give a token with contents: write, e.g. ${{ github.token }}')
      const bundle = await store.get(releaseLayout.provenance(project, version))
      const github = await publishGitHubRelease({
        token,
        repository: context.repository,
        tag: version,
        apiUrl: process.env.GITHUB_API_URL,
        body: releaseNotes(result.record, { releaseUrl: base, verifyCommand: `npx artifact-action verify --project ${project} --version ${version} --release-store ${base.replace(/\/[^/]+\/releases\/.*$/, '')}` }),
        assets: [{ name: 'provenance.sigstore.json', data: bundle!, contentType: 'application/json' }]
      })
      core.setOutput('github-release-url', github.url)
      core.info(`${github.created ? 'Created' : 'Updated'} the GitHub Release ${github.url}`)
    }
  } catch (error) {
    core.setFailed(errorMessage(error))
  }
}
