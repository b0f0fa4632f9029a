import { InputError, IntegrityError } from '../errors.js'
import { isPackageName, SHA256_HEX } from './release-layout.js'

export const STATEMENT_TYPE = 'https://in-toto.io/Statement/v1'
export const SLSA_PROVENANCE_V1 = 'https://slsa.dev/provenance/v1'
export const GITHUB_WORKFLOW_BUILD_TYPE = 'https://actions.github.io/buildtypes/workflow/v1'
/** A build run by the CLI on someone's machine: no runner, no workflow, no run id. */
export const LOCAL_BUILD_TYPE = 'urn:artifact-action:buildtype:local:v1'
export const LOCAL_BUILDER_ID = 'urn:artifact-action:builder:local'

/** Where and how a build ran. On GitHub it comes from the runner's environment (buildContextFromEnv). */
export interface BuildContext {
  /** A GitHub Actions runner, or this machine (a CLI run outside Actions). */
  builder: 'github-actions' | 'local'
  /** e.g. https://github.com */
  serverUrl: string
  /** owner/name on GitHub; empty when the source is not a GitHub repository. */
  repository: string
  /** The source repository as a URI: https://host/owner/name, or ssh://… when it has no https form. */
  repositoryUri: string
  repositoryId?: string
  repositoryOwnerId?: string
  /** The git ref built, e.g. refs/tags/v1.0.0; empty when unknown. */
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

/** The release a statement is for, signed with it; release.json repeats these facts. */
export interface ReleaseFacts {
  project: string
  version: string
  /** The source repository URI (BuildContext.repositoryUri). */
  repository: string
  commit: string
}

/** An in-toto Statement v1 carrying SLSA provenance v1. */
export interface ProvenanceStatement {
  _type: typeof STATEMENT_TYPE
  subject: Array<{ name: string; digest: { sha256: string } }>
  predicateType: typeof SLSA_PROVENANCE_V1
  predicate: {
    buildDefinition: {
      buildType: string
      externalParameters:
        | { workflow: { ref: string; repository: string; path: string } }
        | { source: { repository: string; ref?: string } }
      internalParameters: {
        github?: { event_name: string; repository_id: string; repository_owner_id: string; runner_environment: string }
        /** What this action adds: the release, and the pipeline's plan (stage keys and the inputs that made them). */
        artifactAction: { release: ReleaseFacts; plan?: unknown }
      }
      /** The source commit, then every cache entry and checkpoint the job restored (restore-record.ts). */
      resolvedDependencies: Array<{
        uri: string
        digest: Record<string, string>
        annotations?: Record<string, unknown>
      }>
    }
    runDetails: { builder: { id: string }; metadata?: { invocationId: string } }
  }
}

/**
 * Reads the standard GITHUB_* variables from a given environment (not process.env, so it stays testable).
 * Outside GitHub Actions (GITHUB_ACTIONS is not "true") the context names a local build.
 */
export function buildContextFromEnv(env: Record<string, string | undefined>): BuildContext {
  const repository = env.GITHUB_REPOSITORY ?? ''
  const serverUrl = (env.GITHUB_SERVER_URL || 'https://github.com').replace(/\/+$/, '')
  const workflowRef = env.GITHUB_WORKFLOW_REF || undefined
  return {
    builder: env.GITHUB_ACTIONS === 'true' ? 'github-actions' : 'local',
    serverUrl,
    repository,
    repositoryUri: repository ? `${serverUrl}/${repository}` : '',
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
 * A git remote as a repository URI, without credentials or a trailing .git: `git@host:owner/repo`
 * and ssh://host/owner/repo become https://host/owner/repo; SSH on another port stays ssh://host:port/…,
 * as its https address cannot be known. Undefined for a local path or anything else unrecognised.
 */
export function repositoryUriOfRemote(remote: string): string | undefined {
  const text = remote.trim()
  const scp = /^(?:[^@/:\s]+@)?([A-Za-z0-9.-]+):(?!\/\/)([^\s]+)$/.exec(text)
  if (scp) return `https://${scp[1].toLowerCase()}/${repositoryPath(scp[2])}`
  let url: URL
  try {
    url = new URL(text)
  } catch {
    return undefined
  }
  const scheme = url.protocol.replace(/^git\+|\+git$/, '').slice(0, -1)
  const host = url.hostname.toLowerCase()
  const repoPath = repositoryPath(decodeURIComponent(url.pathname))
  if (!host || !repoPath) return undefined
  if (scheme === 'ssh')
    return url.port && url.port !== '22' ? `ssh://${host}:${url.port}/${repoPath}` : `https://${host}/${repoPath}`
  if (scheme === 'https' || scheme === 'http' || scheme === 'git')
    return `${scheme}://${host}${url.port ? `:${url.port}` : ''}/${repoPath}`
  return undefined
}

/** What a CLI run knows of its source: flags first, then the git checkout it runs in. */
export interface SourceFacts {
  /** --repository: owner/name (on serverUrl) or a repository URL or remote. */
  repository?: string
  /** --commit */
  commit?: string
  /** The checkout's origin remote, HEAD commit and the branch HEAD is on (refs/heads/…; none when detached). */
  git?: { remote?: string; head?: string; headRef?: string }
}

/**
 * The context a CLI release signs: given flags override; outside GitHub Actions the git checkout
 * supplies the rest. A ref is kept only for the commit it points at (locally, the branch HEAD is on);
 * nothing unknown is made up. Errors name the flag to give.
 */
export function withSourceFacts(context: BuildContext, facts: SourceFacts): BuildContext {
  const local = context.builder === 'local'
  const named = facts.repository ?? (local ? facts.git?.remote : undefined)
  const result = { ...context }
  if (named !== undefined) {
    const ownerName = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(named)
    const uri = ownerName ? `${context.serverUrl}/${named}` : repositoryUriOfRemote(named)
    if (!uri)
      throw new InputError(
        `repository: ${JSON.stringify(named.slice(0, 200))} is neither owner/name nor a repository URL; give --repository`
      )
    Object.assign(result, { repository: ownerName ? named : '', repositoryUri: uri })
  }
  if (!result.repositoryUri)
    throw new InputError('repository: unknown (no git remote "origin"); give --repository owner/name or its URL')
  const built = local ? facts.git?.head : context.commit
  result.commit = facts.commit ?? built ?? ''
  // The ref is known only for the commit that the checkout (or the workflow) is at.
  result.ref = result.commit !== built ? '' : local ? (facts.git?.headRef ?? '') : context.ref
  if (!/^[0-9a-f]{40}([0-9a-f]{24})?$/.test(result.commit)) {
    throw new InputError(
      `commit: ${JSON.stringify(result.commit)} is not a full git commit id; run in the git checkout, or give --commit`
    )
  }
  return result
}

/** owner/repo.git/ → owner/repo */
function repositoryPath(text: string): string {
  return text.replace(/^\/+|\/+$/g, '').replace(/\.git$/, '')
}

/**
 * owner/repo/.github/workflows/x.yml@refs/tags/a@1 → path and ref, splitting at the first @ after
 * the repository as actions/attest does (tags may contain @).
 */
function splitWorkflowRef(workflowRef: string, repository: string): { path: string; ref: string } {
  const rest =
    repository && workflowRef.startsWith(`${repository}/`)
      ? workflowRef.slice(repository.length + 1)
      : workflowRef.split('/').slice(2).join('/')
  const at = rest.indexOf('@')
  return at < 0 ? { path: rest, ref: '' } : { path: rest.slice(0, at), ref: rest.slice(at + 1) }
}

/**
 * An in-toto Statement v1 with a SLSA provenance v1 predicate. On GitHub it is shaped like GitHub's
 * own build provenance (actions/attest-build-provenance); a local build says so and claims nothing
 * it does not know (no workflow, run or ref). Both carry the release (project, version, repository,
 * commit) and the pipeline's plan under internalParameters.artifactAction. Secrets are redacted
 * before anything is returned.
 */
export function buildProvenanceStatement(options: {
  subjects: Array<{ name: string; sha256: string }>
  context: BuildContext
  release: { project: string; version: string }
  plan?: unknown
  secrets?: string[]
  /** Further resolved dependencies: what the job restored from the cache. */
  dependencies?: ProvenanceStatement['predicate']['buildDefinition']['resolvedDependencies']
}): ProvenanceStatement {
  const { context } = options
  const source = context.repositoryUri
  const artifactAction = {
    release: { ...options.release, repository: source, commit: context.commit },
    ...(options.plan === undefined ? {} : { plan: options.plan })
  }
  const resolvedDependencies = [
    { uri: `git+${source}${context.ref ? `@${context.ref}` : ''}`, digest: { gitCommit: context.commit } },
    ...(options.dependencies ?? [])
  ]
  const subject = options.subjects.map(file => ({ name: file.name, digest: { sha256: file.sha256 } }))
  const predicate: ProvenanceStatement['predicate'] =
    context.builder === 'local'
      ? {
          buildDefinition: {
            buildType: LOCAL_BUILD_TYPE,
            externalParameters: { source: { repository: source, ...(context.ref ? { ref: context.ref } : {}) } },
            internalParameters: { artifactAction },
            resolvedDependencies
          },
          runDetails: { builder: { id: LOCAL_BUILDER_ID } }
        }
      : githubPredicate(context, artifactAction, resolvedDependencies)
  const statement: ProvenanceStatement = {
    _type: STATEMENT_TYPE,
    subject,
    predicateType: SLSA_PROVENANCE_V1,
    predicate
  }
  return redactSecrets(statement, options.secrets ?? [])
}

function githubPredicate(
  context: BuildContext,
  artifactAction: ProvenanceStatement['predicate']['buildDefinition']['internalParameters']['artifactAction'],
  resolvedDependencies: ProvenanceStatement['predicate']['buildDefinition']['resolvedDependencies']
): ProvenanceStatement['predicate'] {
  const repositoryUrl = context.repositoryUri
  const workflow = context.workflowRef
    ? splitWorkflowRef(context.workflowRef, context.repository)
    : { path: context.workflowPath ?? '', ref: context.ref }
  return {
    buildDefinition: {
      buildType: GITHUB_WORKFLOW_BUILD_TYPE,
      externalParameters: {
        workflow: { ref: workflow.ref || context.ref, repository: repositoryUrl, path: workflow.path }
      },
      internalParameters: {
        github: {
          event_name: context.eventName ?? '',
          repository_id: context.repositoryId ?? '',
          repository_owner_id: context.repositoryOwnerId ?? '',
          runner_environment: context.runnerEnvironment ?? ''
        },
        artifactAction
      },
      resolvedDependencies
    },
    runDetails: {
      builder: { id: builderId(context, workflow) },
      metadata: {
        invocationId: `${repositoryUrl}/actions/runs/${context.runId ?? '0'}/attempts/${context.runAttempt ?? '1'}`
      }
    }
  }
}

/** GitHub uses the (job) workflow's URL at its ref; without one, the runner kind stands in. */
function builderId(context: BuildContext, workflow: { path: string; ref: string }): string {
  if (context.workflowRef) return `${context.serverUrl}/${context.workflowRef}`
  if (workflow.path) return `${context.serverUrl}/${context.repository}/${workflow.path}@${workflow.ref || context.ref}`
  return `${context.serverUrl}/actions/runner/${context.runnerEnvironment === 'self-hosted' ? 'self-hosted' : 'github-hosted'}`
}

/**
 * What a signed statement says about its release: the release facts and the files (subjects).
 * The statement is checked as a whole; any field out of shape is an IntegrityError naming it.
 */
export function releaseFactsOf(statement: unknown): ReleaseFacts & { files: Array<{ name: string; sha256: string }> } {
  const fail = (field: string, problem: string): never => {
    throw new IntegrityError(`provenance: ${field} ${problem}; the signed statement is not an artifact-action release`)
  }
  const record = (value: unknown, field: string): Record<string, unknown> =>
    typeof value === 'object' && value !== null && !Array.isArray(value)
      ? (value as Record<string, unknown>)
      : fail(field, 'is missing or not an object')
  const text = (value: unknown, field: string): string =>
    typeof value === 'string' && value !== '' ? value : fail(field, 'is missing or empty')
  const root = record(statement, 'statement')
  if (root._type !== STATEMENT_TYPE) fail('_type', `is ${JSON.stringify(root._type)}, not ${STATEMENT_TYPE}`)
  if (root.predicateType !== SLSA_PROVENANCE_V1)
    fail('predicateType', `is ${JSON.stringify(root.predicateType)}, not ${SLSA_PROVENANCE_V1}`)
  if (!Array.isArray(root.subject) || root.subject.length === 0) fail('subject', 'is missing or empty')
  const names = new Set<string>()
  const files = (root.subject as unknown[]).map((item, index) => {
    const subject = record(item, `subject[${index}]`)
    const name = text(subject.name, `subject[${index}].name`)
    if (!isPackageName(name))
      fail(`subject[${index}].name`, `${JSON.stringify(name.slice(0, 80))} is not a package file name`)
    if (names.has(name)) fail(`subject[${index}].name`, `${name} is listed twice`)
    names.add(name)
    const sha256 = record(subject.digest, `subject[${index}].digest`).sha256
    if (typeof sha256 !== 'string' || !SHA256_HEX.test(sha256))
      fail(`subject[${index}].digest.sha256`, 'is not a sha256')
    return { name, sha256: sha256 as string }
  })
  const field = 'predicate.buildDefinition.internalParameters.artifactAction.release'
  const predicate = record(root.predicate, 'predicate')
  const internal = record(
    record(predicate.buildDefinition, 'predicate.buildDefinition').internalParameters,
    'predicate.buildDefinition.internalParameters'
  )
  const release = record(
    record(internal.artifactAction, 'predicate.buildDefinition.internalParameters.artifactAction').release,
    field
  )
  return {
    project: text(release.project, `${field}.project`),
    version: text(release.version, `${field}.version`),
    repository: text(release.repository, `${field}.repository`),
    commit: text(release.commit, `${field}.commit`),
    files
  }
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
const SECRET_ENV_NAME =
  /^[A-Z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE_KEY|ACCESS_KEY|API_KEY|CREDENTIALS?)[A-Z0-9_]*$/
/** The same names in assignments inside strings: `AWS_SECRET_ACCESS_KEY=... make`. */
const SECRET_ENV_ASSIGNMENT =
  /\b([A-Z0-9_]*(?:SECRET|TOKEN|PASSWORD|PASSWD|PRIVATE_KEY|ACCESS_KEY|API_KEY|CREDENTIALS?)[A-Z0-9_]*)=("[^"]*"|'[^']*'|[^\s"';&|]+)/g

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
      for (const [key, inner] of Object.entries(node))
        copy[redactString(key)] =
          SECRET_ENV_NAME.test(key) && (typeof inner === 'string' || typeof inner === 'number') ? REDACTED : walk(inner)
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
    for (const candidate of [
      secret,
      secret.trim(),
      escaped,
      secret.trim().replace(/\r?\n/g, '\\n'),
      ...secret.split(/\r?\n/).map(line => line.trim())
    ]) {
      if (candidate.length >= 4) needles.add(candidate)
    }
  }
  return [...needles].sort((a, b) => b.length - a.length)
}
