export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1'
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1'
export const GITHUB_WORKFLOW_BUILD_TYPE = 'https://actions.github.io/buildtypes/workflow/v1'

/** Where and how a build ran. On GitHub it comes from the runner's environment (buildContextFromEnv). */
export interface BuildContext {
  /** e.g. https://github.com */
  serverUrl: string
  /** owner/name */
  repository: string
  repositoryId?: string
  repositoryOwnerId?: string
  /** The git ref built, e.g. refs/tags/v1.0.0. */
  ref: string
  /** The git commit built (GITHUB_SHA). */
  commit: string
  /** Path of the workflow file, e.g. .github/workflows/release.yml. */
  workflowPath?: string
  /** The workflow's full ref, owner/name/<path>@<ref> (GITHUB_WORKFLOW_REF). */
  workflowRef?: string
  eventName?: string
  runId?: string
  runAttempt?: string
  /** github-hosted or self-hosted */
  runnerEnvironment?: string
}

/** An in-toto Statement v1 carrying SLSA provenance v1. */
export interface ProvenanceStatement {
  _type: typeof STATEMENT_TYPE
  subject: Array<{ name: string; digest: { sha256: string } }>
  predicateType: typeof SLSA_PROVENANCE_V1
  predicate: {
    buildDefinition: {
      buildType: string
      externalParameters: { workflow: { ref: string; repository: string; path: string } }
      internalParameters: {
        github: { event_name: string; repository_id: string; repository_owner_id: string; runner_environment: string }
        /** What this action adds: the pipeline's plan (stage keys and the inputs that made them). */
        artifactAction?: { plan: unknown }
      }
      resolvedDependencies: Array<{ uri: string; digest: { gitCommit: string } }>
    }
    runDetails: { builder: { id: string }; metadata: { invocationId: string } }
  }
}

/** Reads the standard GITHUB_* variables from a given environment (not process.env, so it stays testable). */
export function buildContextFromEnv(env: Record<string, string | undefined>): BuildContext {
  const repository = env.GITHUB_REPOSITORY ?? ''
  const workflowRef = env.GITHUB_WORKFLOW_REF || undefined
  return {
    serverUrl: (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, ''),
    repository,
    repositoryId: env.GITHUB_REPOSITORY_ID,
    repositoryOwnerId: env.GITHUB_REPOSITORY_OWNER_ID,
    ref: env.GITHUB_REF ?? '',
    commit: env.GITHUB_SHA ?? '',
    workflowPath: workflowRef ? splitWorkflowRef(workflowRef, repository).path : undefined,
    workflowRef,
    eventName: env.GITHUB_EVENT_NAME,
    runId: env.GITHUB_RUN_ID,
    runAttempt: env.GITHUB_RUN_ATTEMPT,
    runnerEnvironment: env.RUNNER_ENVIRONMENT
  }
}

/**
 * owner/repo/.github/workflows/x.yml@refs/tags/a@1 → path and ref, splitting at the first @ after
 * the repository as actions/attest does (tags may contain @).
 */
function splitWorkflowRef(workflowRef: string, repository: string): { path: string; ref: string } {
  const rest = repository && workflowRef.startsWith(`${repository}/`) ? workflowRef.slice(repository.length + 1) : workflowRef.split('/').slice(2).join('/')
  const at = rest.indexOf('@')
  return at < 0 ? { path: rest, ref: '' } : { path: rest.slice(0, at), ref: rest.slice(at + 1) }
}

/**
 * An in-toto Statement v1 with a SLSA provenance v1 predicate, shaped like GitHub's own build
 * provenance (actions/attest-build-provenance), plus the pipeline's plan under
 * internalParameters.artifactAction.plan. Secrets are redacted before anything is returned.
 */
export function buildProvenanceStatement(options: { subjects: Array<{ name: string; sha256: string }>; context: BuildContext; plan?: unknown; secrets?: string[] }): ProvenanceStatement {
  const { context } = options
  const repositoryUrl = `${context.serverUrl}/${context.repository}`
  const workflow = context.workflowRef ? splitWorkflowRef(context.workflowRef, context.repository) : { path: context.workflowPath ?? '', ref: context.ref }
  const statement: ProvenanceStatement = {
    _type: STATEMENT_TYPE,
    subject: options.subjects.map(file => ({ name: file.name, digest: { sha256: file.sha256 } })),
    predicateType: SLSA_PROVENANCE_V1,
    predicate: {
      buildDefinition: {
        buildType: GITHUB_WORKFLOW_BUILD_TYPE,
        externalParameters: { workflow: { ref: workflow.ref || context.ref, repository: repositoryUrl, path: workflow.path } },
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
        builder: { id: builderId(context, workflow) },
        metadata: { invocationId: `${repositoryUrl}/actions/runs/${context.runId ?? '0'}/attempts/${context.runAttempt ?? '1'}` }
      }
    }
  }
  return redactSecrets(statement, options.secrets ?? [])
}

/**
 * GitHub uses the (job) workflow's URL at its ref. Outside a workflow (a local CLI run) there is
 * none, so the runner kind stands in, as in GitHub's first provenance format.
 */
function builderId(context: BuildContext, workflow: { path: string; ref: string }): string {
  if (context.workflowRef) return `${context.serverUrl}/${context.workflowRef}`
  if (workflow.path) return `${context.serverUrl}/${context.repository}/${workflow.path}@${workflow.ref || context.ref}`
  return `${context.serverUrl}/actions/runner/${context.runnerEnvironment === 'self-hosted' ? 'self-hosted' : 'github-hosted'}`
}

export const REDACTED = '***'

/** Shapes of credentials that must never be published, whatever secrets the caller knew about. */
const CREDENTIAL_PATTERNS: RegExp[] = [
  // GitHub tokens: personal (ghp_), OAuth (gho_), user-to-server (ghu_), server/Actions (ghs_), refresh (ghr_), fine-grained PATs.
  /(?<![A-Za-z0-9])gh[pousr]_[A-Za-z0-9_]{20,}/g,
  /(?<![A-Za-z0-9])github_pat_[A-Za-z0-9_]{20,}/g,
  // AWS access key ids (long-term and temporary).
  /(?<![A-Z0-9])(?:AKIA|ASIA)[A-Z0-9]{16}(?![A-Z0-9])/g,
  // Private keys in PEM form, also with literal \n escapes.
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z0-9 ]*PRIVATE KEY-----/g,
  // Passwords in URLs: scheme://user:password@host.
  /(?<=:\/\/[^/\s:@]+:)[^@\s/]+(?=@)/g
]

/** Environment-variable names that hold credentials, e.g. AWS_SECRET_ACCESS_KEY, NPM_TOKEN, DB_PASSWORD. */
const SECRET_ENV_NAME = /^[A-Z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE_KEY|ACCESS_KEY|API_KEY|CREDENTIALS?)[A-Z0-9_]*$/
/** The same names in assignments inside strings: `AWS_SECRET_ACCESS_KEY=... make`. */
const SECRET_ENV_ASSIGNMENT = /\b([A-Z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE_KEY|ACCESS_KEY|API_KEY|CREDENTIALS?)[A-Z0-9_]*)=("[^"]*"|'[^']*'|[^\s"';&|]+)/g

/**
 * Returns a copy of `value` in which every given secret value, anything shaped like a GitHub token,
 * AWS access key id, PEM private key or URL password, and the value of every env-like entry named
 * like a credential (AWS_SECRET_ACCESS_KEY, *_TOKEN, ...) is replaced with ***. Object keys are
 * redacted too. Secret values shorter than 4 characters are ignored: replacing them would mangle
 * the statement without hiding anything.
 */
export function redactSecrets<T>(value: T, secrets: string[]): T {
  const needles = secretNeedles(secrets)
  const redactString = (text: string): string => {
    let result = text
    for (const needle of needles) result = result.split(needle).join(REDACTED)
    for (const pattern of CREDENTIAL_PATTERNS) result = result.replace(pattern, REDACTED)
    return result.replace(SECRET_ENV_ASSIGNMENT, `$1=${REDACTED}`)
  }
  const walk = (node: unknown): unknown => {
    if (typeof node === 'string') return redactString(node)
    if (Array.isArray(node)) return node.map(walk)
    if (node !== null && typeof node === 'object') {
      const copy: Record<string, unknown> = {}
      for (const [key, inner] of Object.entries(node)) copy[redactString(key)] = SECRET_ENV_NAME.test(key) && (typeof inner === 'string' || typeof inner === 'number') ? REDACTED : walk(inner)
      return copy
    }
    return node
  }
  return walk(value) as T
}

/** Each secret as given, trimmed, with newlines as literal \n (as pasted into secrets), and line by line; longest first. */
function secretNeedles(secrets: string[]): string[] {
  const needles = new Set<string>()
  for (const secret of secrets) {
    const escaped = secret.replace(/\r?\n/g, '\\n')
    for (const candidate of [secret, secret.trim(), escaped, secret.trim().replace(/\r?\n/g, '\\n'), ...secret.split(/\r?\n/).map(line => line.trim())]) {
      if (candidate.length >= 4) needles.add(candidate)
    }
  }
  return [...needles].sort((a, b) => b.length - a.length)
}
