import { Octokit } from '@octokit/rest'
import { InputError } from '../core/errors.js'
import type { ReleaseRecord } from '../core/release/release-layout.js'
import { formatBytes } from '../core/report-format.js'

export interface GitHubReleaseRequest {
  token: string
  repository: string
  tag: string
  /** Release notes. */
  body: string
  assets: Array<{ name: string; data: Buffer; contentType: string }>
  /** The GitHub API URL (GITHUB_API_URL); tests point it at a local server. */
  apiUrl?: string
}

export interface GitHubReleaseResult {
  id: number
  url: string
  created: boolean
}

/**
 * Creates or updates the GitHub Release of a tag and attaches the assets, replacing an asset of the
 * same name (so a re-run converges). A token without permission gets an error that says which.
 */
export async function publishGitHubRelease(request: GitHubReleaseRequest): Promise<GitHubReleaseResult> {
  const [owner, repo] = request.repository.split('/')
  if (!owner || !repo) throw new InputError(`repository: "${request.repository}" is not owner/name`)
  // Failures are thrown and reported once; Octokit's own error log would print the expected 404 too.
  const quiet = (): void => undefined
  const octokit = new Octokit({
    auth: request.token,
    baseUrl: request.apiUrl ?? 'https://api.github.com',
    log: { debug: quiet, info: quiet, warn: quiet, error: quiet }
  })
  try {
    let release: { id: number; html_url: string; upload_url: string }
    let created = false
    const existing = await octokit.rest.repos.getReleaseByTag({ owner, repo, tag: request.tag }).catch(error => {
      if ((error as { status?: number }).status === 404) return undefined
      throw error
    })
    if (existing) {
      release = (
        await octokit.rest.repos.updateRelease({ owner, repo, release_id: existing.data.id, body: request.body })
      ).data
    } else {
      release = (
        await octokit.rest.repos.createRelease({
          owner,
          repo,
          tag_name: request.tag,
          name: request.tag,
          body: request.body
        })
      ).data
      created = true
    }
    const assets = (await octokit.rest.repos.listReleaseAssets({ owner, repo, release_id: release.id, per_page: 100 }))
      .data
    for (const asset of request.assets) {
      const old = assets.find(candidate => candidate.name === asset.name)
      if (old) await octokit.rest.repos.deleteReleaseAsset({ owner, repo, asset_id: old.id })
      await octokit.request({
        method: 'POST',
        url: release.upload_url,
        name: asset.name,
        data: asset.data,
        headers: { 'content-type': asset.contentType, 'content-length': asset.data.length }
      })
    }
    return { id: release.id, url: release.html_url, created }
  } catch (error) {
    const status = (error as { status?: number }).status
    if (status === 401 || status === 403 || status === 404) {
      throw new InputError(
        `github-token: cannot create or update the release of ${request.tag} in ${request.repository} (HTTP ${status}); give the job \`permissions: contents: write\`, or pass a token that has it`
      )
    }
    throw error
  }
}

/** Release notes: the packages with their sizes and digests, where they are, and how to verify. */
export function releaseNotes(record: ReleaseRecord, links: { releaseUrl: string; verifyCommand: string }): string {
  const rows = record.files.map(file => `| \`${file.name}\` | ${formatBytes(file.size)} | \`${file.sha256}\` |`)
  return [
    `Release ${record.version} of ${record.project}, built from ${record.repository}@${record.commit.slice(0, 12)}.`,
    '',
    '| package | size | sha256 |',
    '| --- | --- | --- |',
    ...rows,
    '',
    `Packages, \`SHA256SUMS\`, signed provenance (\`provenance.sigstore.json\`) and \`release.json\`: ${links.releaseUrl}`,
    '',
    'Verify:',
    '```sh',
    links.verifyCommand,
    '```'
  ].join('\n')
}
