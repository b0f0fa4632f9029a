import { readFileSync } from 'node:fs'
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
