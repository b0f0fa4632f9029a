import * as core from '@actions/core'
import { readRestored, restoredDependency } from '../core/cache/restore-record.js'
import { publishInputs } from '../config/step-core.js'
import { buildContextFromEnv } from '../core/release/provenance.js'
import { releaseLayout } from '../core/release/release-layout.js'
import { formatBytes } from '../core/report-format.js'
import { openStore } from '../core/store/open-store.js'
import { describeStore } from '../core/store/store-config.js'
import { publishGitHubRelease, releaseNotes } from '../github/github-release.js'
import { restoreRecordFrom } from './entry-trust.js'
import type { ReleaseInputValues } from './inputs/release.js'
import { writeSummaryGrid } from './job-summary.js'
import { ReleaseOutputs } from './names.js'

/** The release/ sub-action: publish packages and signed provenance, then optionally a GitHub Release. */
export async function publishReleaseStep(inputs: ReleaseInputValues): Promise<void> {
  const { project, version } = inputs
  const context = buildContextFromEnv(process.env)
  const store = openStore(inputs.releaseStore)
  const result = await publishInputs(inputs, {
    store,
    context,
    dependencies: async () => {
      const record = restoreRecordFrom()
      const restored = record ? await readRestored(record.file, record.job) : []
      for (const entry of restored) {
        core.info(`The provenance names the restored ${entry.kind} ${entry.key} (scope ${entry.scope})`)
      }
      return restored.map(restoredDependency)
    },
    identityToken: () => core.getIDToken('sigstore').catch(() => undefined)
  })
  const where = describeStore(inputs.releaseStore).split(' at ')[0].replace(/\/$/, '')
  const base = `${where}/${releaseLayout.version(project, version)}`
  core.setOutput(ReleaseOutputs.Version, version)
  core.setOutput(ReleaseOutputs.ReleaseUrl, base)
  core.setOutput(ReleaseOutputs.Status, result.status)
  core.setOutput(ReleaseOutputs.ProvenanceSha256, result.record.provenance.sha256)
  core.info(
    result.status === 'published'
      ? `Published ${project} ${version} to ${base}`
      : `${project} ${version} is already published with identical bytes; nothing changed`
  )
  await writeSummaryGrid(
    `Release ${project} ${version} (${result.status})`,
    ['package', 'size', 'sha256'],
    result.record.files.map(file => [file.name, formatBytes(file.size), file.sha256])
  )

  if (inputs.githubRelease) {
    const bundle = await store.get(releaseLayout.provenance(project, version))
    const releaseStore = base.replace(/\/[^/]+\/releases\/.*$/, '')
    const verifyCommand = `npx artifact-action verify --project ${project} --version ${version}`
    const github = await publishGitHubRelease({
      token: inputs.githubRelease.token,
      repository: context.repository,
      tag: version,
      apiUrl: process.env.GITHUB_API_URL,
      body: releaseNotes(result.record, {
        releaseUrl: base,
        verifyCommand: `${verifyCommand} --release-store ${releaseStore}`
      }),
      assets: [{ name: 'provenance.sigstore.json', data: bundle!, contentType: 'application/json' }]
    })
    core.setOutput(ReleaseOutputs.GitHubReleaseUrl, github.url)
    core.info(`${github.created ? 'Created' : 'Updated'} the GitHub Release ${github.url}`)
  }
}
