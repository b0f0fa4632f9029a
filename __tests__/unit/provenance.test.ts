import {
  buildContextFromEnv,
  buildProvenanceStatement,
  LOCAL_BUILD_TYPE,
  LOCAL_BUILDER_ID,
  redactSecrets,
  releaseFactsOf,
  repositoryUriOfRemote,
  withSourceFacts,
  type BuildContext,
  type ProvenanceStatement
} from '../../src/core/release/provenance.js'
import { signStatementWithKey, verifyBundleWithKey } from '../../src/core/signing/bundle.js'
import { generateSigningKey } from '../../src/core/signing/keys.js'

const sha = 'c0ffee'.padEnd(40, '0')
const env = {
  GITHUB_ACTIONS: 'true',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/app',
  GITHUB_REPOSITORY_ID: '123',
  GITHUB_REPOSITORY_OWNER_ID: '456',
  GITHUB_REF: 'refs/tags/v1.2.0',
  GITHUB_SHA: sha,
  GITHUB_WORKFLOW_REF: 'acme/app/.github/workflows/release.yml@refs/tags/v1.2.0',
  GITHUB_EVENT_NAME: 'push',
  GITHUB_RUN_ID: '789',
  GITHUB_RUN_ATTEMPT: '2',
  RUNNER_ENVIRONMENT: 'github-hosted'
}
const subjects = [{ name: 'app.tgz', size: 3, sha256: 'a'.repeat(64) }]
const release = { project: 'app', version: 'v1.2.0' }

describe('build context', () => {
  it('reads the standard GITHUB_* variables from the given environment only', () => {
    expect(buildContextFromEnv(env)).toEqual<BuildContext>({
      builder: 'github-actions',
      serverUrl: 'https://github.com',
      repository: 'acme/app',
      repositoryUri: 'https://github.com/acme/app',
      repositoryId: '123',
      repositoryOwnerId: '456',
      ref: 'refs/tags/v1.2.0',
      commit: sha,
      workflowPath: '.github/workflows/release.yml',
      workflowRef: 'acme/app/.github/workflows/release.yml@refs/tags/v1.2.0',
      eventName: 'push',
      runId: '789',
      runAttempt: '2',
      runnerEnvironment: 'github-hosted'
    })
  })

  it('keeps a tag that contains @ whole, and defaults what is missing', () => {
    expect(
      buildContextFromEnv({
        ...env,
        GITHUB_WORKFLOW_REF: 'acme/app/.github/workflows/release.yml@refs/tags/@acme/app@1.0.0'
      }).workflowPath
    ).toBe('.github/workflows/release.yml')
    const bare = buildContextFromEnv({})
    expect(bare).toMatchObject({
      builder: 'local',
      serverUrl: 'https://github.com',
      repository: '',
      repositoryUri: '',
      ref: '',
      commit: '',
      workflowPath: undefined
    })
    expect(buildContextFromEnv({ GITHUB_SERVER_URL: 'https://ghe.example.com/' }).serverUrl).toBe(
      'https://ghe.example.com'
    )
  })
})

describe('provenance statement', () => {
  it('is an in-toto statement shaped like GitHub build provenance, with the plan on top', () => {
    const plan = {
      schema: 'artifact-action/plan@1',
      stages: [{ id: 'build', key: 'k'.repeat(64), inputs: ['src/**'] }]
    }
    const statement = buildProvenanceStatement({ subjects, context: buildContextFromEnv(env), release, plan })
    expect(statement).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'app.tgz', digest: { sha256: 'a'.repeat(64) } }],
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: {
        buildDefinition: {
          buildType: 'https://actions.github.io/buildtypes/workflow/v1',
          externalParameters: {
            workflow: {
              ref: 'refs/tags/v1.2.0',
              repository: 'https://github.com/acme/app',
              path: '.github/workflows/release.yml'
            }
          },
          internalParameters: {
            github: {
              event_name: 'push',
              repository_id: '123',
              repository_owner_id: '456',
              runner_environment: 'github-hosted'
            },
            artifactAction: { release: { ...release, repository: 'https://github.com/acme/app', commit: sha }, plan }
          },
          resolvedDependencies: [
            { uri: 'git+https://github.com/acme/app@refs/tags/v1.2.0', digest: { gitCommit: sha } }
          ]
        },
        runDetails: {
          builder: { id: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.0' },
          metadata: { invocationId: 'https://github.com/acme/app/actions/runs/789/attempts/2' }
        }
      }
    })
  })

  it('leaves the plan out when there is none, and names a runner as builder outside a workflow', () => {
    const context: BuildContext = {
      builder: 'github-actions',
      serverUrl: 'https://github.com',
      repository: 'acme/app',
      repositoryUri: 'https://github.com/acme/app',
      ref: 'refs/tags/v1',
      commit: sha,
      runnerEnvironment: 'self-hosted'
    }
    const { predicate } = buildProvenanceStatement({ subjects, context, release })
    expect(predicate.buildDefinition.internalParameters.artifactAction).not.toHaveProperty('plan')
    expect(predicate.runDetails.builder.id).toBe('https://github.com/actions/runner/self-hosted')
    expect(predicate.runDetails.metadata?.invocationId).toBe('https://github.com/acme/app/actions/runs/0/attempts/1')
  })

  it('survives signing and verification unchanged', () => {
    const { key } = generateSigningKey()
    const statement = buildProvenanceStatement({
      subjects,
      context: buildContextFromEnv(env),
      release,
      plan: { stages: [] }
    })
    expect(verifyBundleWithKey(signStatementWithKey(statement, key), key.publicKeyPem)).toEqual(statement)
  })
})

describe('local provenance', () => {
  const head = 'd'.repeat(40)
  const localEnv = { HOME: '/home/dev' }

  it.each([
    ['git@github.com:acme/app.git', 'https://github.com/acme/app'],
    ['git@GitLab.example.com:group/sub/app', 'https://gitlab.example.com/group/sub/app'],
    ['ssh://git@github.com/acme/app.git', 'https://github.com/acme/app'],
    ['ssh://git@github.com:22/acme/app.git', 'https://github.com/acme/app'],
    ['git+ssh://git@github.com/acme/app.git', 'https://github.com/acme/app'],
    ['ssh://git@git.example.com:2222/acme/app.git', 'ssh://git.example.com:2222/acme/app'],
    ['https://x-access-token:ghs_secret@github.com/acme/app.git', 'https://github.com/acme/app'],
    ['https://github.com/acme/app/', 'https://github.com/acme/app'],
    ['git://git.kernel.org/pub/scm/git/git.git', 'git://git.kernel.org/pub/scm/git/git'],
    ['/srv/git/app.git', undefined],
    ['../app', undefined],
    ['file:///srv/git/app.git', undefined]
  ])('names the remote %s as %s', (remote, uri) => {
    expect(repositoryUriOfRemote(remote)).toBe(uri)
  })

  it('names a local build as such, with no workflow, run or made-up ref', () => {
    const context = withSourceFacts(buildContextFromEnv(localEnv), {
      git: { remote: 'git@github.com:acme/app.git', head }
    })
    expect(context).toMatchObject({
      builder: 'local',
      repositoryUri: 'https://github.com/acme/app',
      commit: head,
      ref: ''
    })
    const statement = buildProvenanceStatement({ subjects, context, release })
    expect(statement.predicate).toEqual({
      buildDefinition: {
        buildType: LOCAL_BUILD_TYPE,
        externalParameters: { source: { repository: 'https://github.com/acme/app' } },
        internalParameters: {
          artifactAction: { release: { ...release, repository: 'https://github.com/acme/app', commit: head } }
        },
        resolvedDependencies: [{ uri: 'git+https://github.com/acme/app', digest: { gitCommit: head } }]
      },
      runDetails: { builder: { id: LOCAL_BUILDER_ID } }
    })
    expect(JSON.stringify(statement)).not.toMatch(/actions\/runner|github-hosted|refs\/tags|invocationId/)
  })

  it('keeps the branch HEAD is on, only for the commit HEAD is at', () => {
    const git = { remote: 'ssh://git@git.example.com:2222/acme/app.git', head, headRef: 'refs/heads/main' }
    const onBranch = withSourceFacts(buildContextFromEnv(localEnv), { git })
    expect(onBranch).toMatchObject({ ref: 'refs/heads/main', repositoryUri: 'ssh://git.example.com:2222/acme/app' })
    expect(
      buildProvenanceStatement({ subjects, context: onBranch, release }).predicate.buildDefinition.resolvedDependencies
    ).toEqual([{ uri: 'git+ssh://git.example.com:2222/acme/app@refs/heads/main', digest: { gitCommit: head } }])
    expect(withSourceFacts(buildContextFromEnv(localEnv), { git, commit: 'e'.repeat(40) }).ref).toBe('')
    const onGitHub = withSourceFacts(buildContextFromEnv(env), { commit: 'e'.repeat(40) })
    expect(onGitHub).toMatchObject({ builder: 'github-actions', commit: 'e'.repeat(40), ref: '' })
  })

  it('takes --repository as owner/name or a URL, and refuses what it cannot name', () => {
    const base = buildContextFromEnv(localEnv)
    expect(withSourceFacts(base, { repository: 'acme/app', commit: head }).repositoryUri).toBe(
      'https://github.com/acme/app'
    )
    expect(withSourceFacts(base, { repository: 'git@host.example:acme/app', commit: head }).repositoryUri).toBe(
      'https://host.example/acme/app'
    )
    expect(() => withSourceFacts(base, { repository: '/srv/app.git', commit: head })).toThrow(
      /^repository: "\/srv\/app.git" is neither owner\/name nor a repository URL; give --repository$/
    )
    expect(() => withSourceFacts(base, { git: { head } })).toThrow(/^repository: unknown \(no git remote "origin"\)/)
    expect(() => withSourceFacts(base, { repository: 'acme/app' })).toThrow(
      /^commit: "" is not a full git commit id; run in the git checkout, or give --commit$/
    )
  })
})

describe('release facts of a signed statement', () => {
  const statement = (): ProvenanceStatement =>
    structuredClone(buildProvenanceStatement({ subjects, context: buildContextFromEnv(env), release }))

  it('reads the release and the files', () => {
    expect(releaseFactsOf(statement())).toEqual({
      ...release,
      repository: 'https://github.com/acme/app',
      commit: sha,
      files: [{ name: 'app.tgz', sha256: 'a'.repeat(64) }]
    })
  })

  it.each([
    [
      'a subject outside packages/',
      (s: ProvenanceStatement) => (s.subject[0].name = '../app.tgz'),
      /^provenance: subject\[0\]\.name "\.\.\/app\.tgz" is not a package file name/
    ],
    [
      'a subject twice',
      (s: ProvenanceStatement) => s.subject.push(s.subject[0]),
      /^provenance: subject\[1\]\.name app\.tgz is listed twice/
    ],
    [
      'a digest that is not sha256',
      (s: ProvenanceStatement) => (s.subject[0].digest = { sha1: 'x' } as never),
      /^provenance: subject\[0\]\.digest\.sha256 is not a sha256/
    ],
    [
      'no release',
      (s: ProvenanceStatement) =>
        delete (s.predicate.buildDefinition.internalParameters as { artifactAction?: unknown }).artifactAction,
      /^provenance: predicate\.buildDefinition\.internalParameters\.artifactAction is missing/
    ],
    [
      'no commit',
      (s: ProvenanceStatement) => (s.predicate.buildDefinition.internalParameters.artifactAction.release.commit = ''),
      /^provenance: .*release\.commit is missing or empty/
    ],
    ['another statement type', (s: ProvenanceStatement) => (s._type = 'x' as never), /^provenance: _type is "x"/]
  ])('refuses %s, naming the field', (_what, edit, reason) => {
    const value = statement()
    edit(value)
    expect(() => releaseFactsOf(value)).toThrow(reason)
  })
})

describe('secret redaction', () => {
  const secret = 'hunter2-super-secret'
  const ghs = `ghs_${'x'.repeat(36)}`
  const pat = `github_pat_11ABCDEFG0${'y'.repeat(70)}`
  const awsSecret = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY'

  it('never lets a given secret, a token, an AWS key or a private key into the signed statement', () => {
    const { key, privateKeyPem } = generateSigningKey()
    const plan = {
      stages: [
        {
          id: 'build',
          run: `curl -H "Authorization: token ${ghs}" https://x-access-token:${secret}@github.com/acme/app.git && AWS_SECRET_ACCESS_KEY=${awsSecret} make`,
          env: {
            AWS_ACCESS_KEY_ID: 'AKIAABCDEFGHIJKLMNOP',
            AWS_SECRET_ACCESS_KEY: awsSecret,
            NPM_TOKEN: pat,
            MODE: 'release'
          },
          note: `uses ${secret} and ${pat}`,
          signingKey: privateKeyPem.replace(/\n/g, '\\n'),
          [secret]: 'a key that is a secret'
        }
      ]
    }
    const statement = buildProvenanceStatement({
      subjects,
      context: buildContextFromEnv(env),
      release,
      plan,
      secrets: [secret, privateKeyPem]
    })
    const signed = Buffer.from(signStatementWithKey(statement, key).dsseEnvelope.payload, 'base64').toString('utf8')
    for (const leaked of [
      secret,
      ghs,
      pat,
      awsSecret,
      'AKIAABCDEFGHIJKLMNOP',
      'PRIVATE KEY',
      privateKeyPem.split('\n')[1]
    ])
      expect(signed).not.toContain(leaked)

    const stage = (statement.predicate.buildDefinition.internalParameters.artifactAction?.plan as typeof plan).stages[0]
    expect(stage.run).toBe(
      'curl -H "Authorization: token ***" https://x-access-token:***@github.com/acme/app.git && AWS_SECRET_ACCESS_KEY=*** make'
    )
    expect(stage.env).toEqual({
      AWS_ACCESS_KEY_ID: '***',
      AWS_SECRET_ACCESS_KEY: '***',
      NPM_TOKEN: '***',
      MODE: 'release'
    })
    expect(stage.note).toBe('uses *** and ***')
    expect(stage.signingKey).toBe('***')
    expect(stage).toHaveProperty(['***'], 'a key that is a secret')
  })

  it('keeps what is not secret: digests, refs, URLs without passwords, short given values', () => {
    const value = {
      commit: sha,
      key: 'f'.repeat(64),
      uri: 'git+https://github.com/acme/app@refs/tags/v1.2.0',
      url: 'https://user@example.com/x',
      token_count: 3,
      ghost: 'ghs_short',
      list: ['abc']
    }
    expect(redactSecrets(value, ['abc', ''])).toEqual(value)
  })

  it('redacts secrets that need JSON escaping, inside escapes, and with their lines', () => {
    expect(redactSecrets({ a: 'quote"d secret', b: 'x\nabcd\ny' }, ['quote"d secret', 'nabcd'])).toEqual({
      a: '***',
      b: 'x\nabcd\ny'
    })
    expect(redactSecrets({ a: 'prefix line-one-secret suffix' }, ['line-one-secret\nline-two-secret'])).toEqual({
      a: 'prefix *** suffix'
    })
    expect(redactSecrets({ a: 'ab-secret-cd' }, ['secret', 'ab-secret-cd'])).toEqual({ a: '***' })
  })

  it('returns a copy and leaves the input untouched', () => {
    const input = { note: `token ${'ghp_' + 'z'.repeat(36)}`, nested: [{ n: 1, ok: true, none: null }] }
    const before = JSON.parse(JSON.stringify(input))
    const output = redactSecrets(input, [])
    expect(output).toEqual({ note: 'token ***', nested: [{ n: 1, ok: true, none: null }] })
    expect(input).toEqual(before)
  })
})
