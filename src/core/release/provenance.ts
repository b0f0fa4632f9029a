import type { ReleaseFile } from './release-layout.js'

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1'
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1'
export const GITHUB_WORKFLOW_BUILD_TYPE = 'https://actions.github.io/buildtypes/workflow/v1'

/** Where and how a build ran. On GitHub it comes from the runner's environment (buildContextFromEnv). */
export interface BuildContext {
  serverUrl: string
  repository: string
  repositoryId?: string
  repositoryOwnerId?: string
  ref: string
  commit: string
  /** Path of the workflow file, e.g. .github/workflows/release.yml. */
  workflowPath?: string
  eventName?: string
  runId?: string
  runAttempt?: string
  runnerEnvironment?: string
}

/** Reads the standard GITHUB_* variables from a given environment. */
export function buildContextFromEnv(env: Record<string, string | undefined>): BuildContext {
  const workflowRef = env.GITHUB_WORKFLOW_REF ?? ''
  const workflowPath = workflowRef.includes('@') ? workflowRef.slice(0, workflowRef.lastIndexOf('@')).split('/').slice(2).join('/') : undefined
  return {
    serverUrl: env.GITHUB_SERVER_URL ?? 'https://github.com',
    repository: env.GITHUB_REPOSITORY ?? '',
    repositoryId: env.GITHUB_REPOSITORY_ID,
    repositoryOwnerId: env.GITHUB_REPOSITORY_OWNER_ID,
    ref: env.GITHUB_REF ?? '',
    commit: env.GITHUB_SHA ?? '',
    workflowPath,
    eventName: env.GITHUB_EVENT_NAME,
    runId: env.GITHUB_RUN_ID,
    runAttempt: env.GITHUB_RUN_ATTEMPT,
    runnerEnvironment: env.RUNNER_ENVIRONMENT
  }
}

/**
 * An in-toto Statement v1 with a SLSA provenance v1 predicate, shaped like GitHub's own build
 * provenance (actions/attest-build-provenance), plus the pipeline's plan: every stage key and the
 * inputs that made it. Secret values are removed before anything is returned.
 */
export function buildProvenanceStatement(options: { subjects: ReleaseFile[]; context: BuildContext; plan?: unknown; secrets?: string[] }): object {
  const { context } = options
  const repositoryUrl = `${context.serverUrl}/${context.repository}`
  const statement = {
    _type: STATEMENT_TYPE,
    subject: options.subjects.map(file => ({ name: file.name, digest: { sha256: file.sha256 } })),
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: GITHUB_WORKFLOW_BUILD_TYPE,
        externalParameters: {
          workflow: { ref: context.ref, repository: repositoryUrl, path: context.workflowPath ?? '' }
        },
        internalParameters: {
          github: {
            event_name: context.eventName ?? '',
            repository_id: context.repositoryId ?? '',
            repository_owner_id: context.repositoryOwnerId ?? '',
            runner_environment: context.runnerEnvironment ?? ''
          },
          ...(options.plan === undefined ? {} : { artifactAction: { plan: options.plan } })
        },
        resolvedDependencies: [{ uri: `git+${repositoryUrl}@${context.ref}`, digest: { gitCommit: context.commit } }]
      },
      runDetails: {
        builder: { id: `${context.serverUrl}/actions/runner/${context.runnerEnvironment === 'self-hosted' ? 'self-hosted' : 'github-hosted'}` },
        metadata: { invocationId: `${repositoryUrl}/actions/runs/${context.runId ?? '0'}/attempts/${context.runAttempt ?? '1'}` }
      }
    }
  }
  return redactSecrets(statement, options.secrets ?? [])
}

const TOKEN_PATTERNS = [/\bgh[pousr]_[A-Za-z0-9]{20,}\b/g, /\bgithub_pat_[A-Za-z0-9_]{20,}\b/g, /\bAKIA[0-9A-Z]{16}\b/g]

/** Replaces every given secret value, and anything shaped like a GitHub token or AWS key id, with ***. */
export function redactSecrets<T>(value: T, secrets: string[]): T {
  let text = JSON.stringify(value)
  for (const secret of secrets.filter(candidate => candidate.length >= 4)) text = text.split(JSON.stringify(secret).slice(1, -1)).join('***')
  for (const pattern of TOKEN_PATTERNS) text = text.replace(pattern, '***')
  return JSON.parse(text) as T
}
