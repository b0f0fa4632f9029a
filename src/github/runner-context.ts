import { readFileSync } from 'node:fs'
import type { EntryWriter } from '../core/cache/entry-signature.js'
import type { RefContext } from '../core/cache/scope.js'

/** The ref, base ref and default branch of this run, from the runner's environment and event payload. */
export function refContextFromEnv(env: NodeJS.ProcessEnv = process.env): RefContext {
  return {
    ref: env.GITHUB_REF || undefined,
    baseRef: env.GITHUB_BASE_REF || undefined,
    defaultBranch: defaultBranchFromEvent(env.GITHUB_EVENT_PATH)
  }
}

function defaultBranchFromEvent(eventPath: string | undefined): string | undefined {
  if (!eventPath) return undefined
  try {
    const event = JSON.parse(readFileSync(eventPath, 'utf8')) as { repository?: { default_branch?: string } }
    return event.repository?.default_branch
  } catch {
    return undefined
  }
}

export function workspaceFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env.GITHUB_WORKSPACE || process.cwd()
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
