import { buildContextFromEnv, buildProvenanceStatement, redactSecrets, type BuildContext } from '../../src/core/release/provenance.js'
import { signStatementWithKey, verifyBundleWithKey } from '../../src/core/signing/bundle.js'
import { generateSigningKey } from '../../src/core/signing/keys.js'

const sha = 'c0ffee'.padEnd(40, '0')
const env = {
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

describe('build context', () => {
  it('reads the standard GITHUB_* variables from the given environment only', () => {
    expect(buildContextFromEnv(env)).toEqual<BuildContext>({
      serverUrl: 'https://github.com',
      repository: 'acme/app',
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
    expect(buildContextFromEnv({ ...env, GITHUB_WORKFLOW_REF: 'acme/app/.github/workflows/release.yml@refs/tags/@acme/app@1.0.0' }).workflowPath).toBe('.github/workflows/release.yml')
    const bare = buildContextFromEnv({})
    expect(bare).toMatchObject({ serverUrl: 'https://github.com', repository: '', ref: '', commit: '', workflowPath: undefined })
    expect(buildContextFromEnv({ GITHUB_SERVER_URL: 'https://ghe.example.com/' }).serverUrl).toBe('https://ghe.example.com')
  })
})

describe('provenance statement', () => {
  it('is an in-toto statement shaped like GitHub build provenance, with the plan on top', () => {
    const plan = { schema: 'artifact-action/plan@1', stages: [{ id: 'build', key: 'k'.repeat(64), inputs: ['src/**'] }] }
    const statement = buildProvenanceStatement({ subjects, context: buildContextFromEnv(env), plan })
    expect(statement).toEqual({
      _type: 'https://in-toto.io/Statement/v1',
      subject: [{ name: 'app.tgz', digest: { sha256: 'a'.repeat(64) } }],
      predicateType: 'https://slsa.dev/provenance/v1',
      predicate: {
        buildDefinition: {
          buildType: 'https://actions.github.io/buildtypes/workflow/v1',
          externalParameters: { workflow: { ref: 'refs/tags/v1.2.0', repository: 'https://github.com/acme/app', path: '.github/workflows/release.yml' } },
          internalParameters: {
            github: { event_name: 'push', repository_id: '123', repository_owner_id: '456', runner_environment: 'github-hosted' },
            artifactAction: { plan }
          },
          resolvedDependencies: [{ uri: 'git+https://github.com/acme/app@refs/tags/v1.2.0', digest: { gitCommit: sha } }]
        },
        runDetails: {
          builder: { id: 'https://github.com/acme/app/.github/workflows/release.yml@refs/tags/v1.2.0' },
          metadata: { invocationId: 'https://github.com/acme/app/actions/runs/789/attempts/2' }
        }
      }
    })
  })

  it('leaves the plan out when there is none, and names a runner as builder outside a workflow', () => {
    const context: BuildContext = { serverUrl: 'https://github.com', repository: 'acme/app', ref: 'refs/tags/v1', commit: sha, runnerEnvironment: 'self-hosted' }
    const { predicate } = buildProvenanceStatement({ subjects, context })
    expect(predicate.buildDefinition.internalParameters).not.toHaveProperty('artifactAction')
    expect(predicate.runDetails.builder.id).toBe('https://github.com/actions/runner/self-hosted')
    expect(predicate.runDetails.metadata.invocationId).toBe('https://github.com/acme/app/actions/runs/0/attempts/1')
  })

  it('survives signing and verification unchanged', () => {
    const { key } = generateSigningKey()
    const statement = buildProvenanceStatement({ subjects, context: buildContextFromEnv(env), plan: { stages: [] } })
    expect(verifyBundleWithKey(signStatementWithKey(statement, key), key.publicKeyPem)).toEqual(statement)
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
          env: { AWS_ACCESS_KEY_ID: 'AKIAABCDEFGHIJKLMNOP', AWS_SECRET_ACCESS_KEY: awsSecret, NPM_TOKEN: pat, MODE: 'release' },
          note: `uses ${secret} and ${pat}`,
          signingKey: privateKeyPem.replace(/\n/g, '\\n'),
          [secret]: 'a key that is a secret'
        }
      ]
    }
    const statement = buildProvenanceStatement({ subjects, context: buildContextFromEnv(env), plan, secrets: [secret, privateKeyPem] })
    const signed = Buffer.from(signStatementWithKey(statement, key).dsseEnvelope.payload, 'base64').toString('utf8')
    for (const leaked of [secret, ghs, pat, awsSecret, 'AKIAABCDEFGHIJKLMNOP', 'PRIVATE KEY', privateKeyPem.split('\n')[1]]) expect(signed).not.toContain(leaked)

    const stage = (statement.predicate.buildDefinition.internalParameters.artifactAction?.plan as typeof plan).stages[0]
    expect(stage.run).toBe('curl -H "Authorization: token ***" https://x-access-token:***@github.com/acme/app.git && AWS_SECRET_ACCESS_KEY=*** make')
    expect(stage.env).toEqual({ AWS_ACCESS_KEY_ID: '***', AWS_SECRET_ACCESS_KEY: '***', NPM_TOKEN: '***', MODE: 'release' })
    expect(stage.note).toBe('uses *** and ***')
    expect(stage.signingKey).toBe('***')
    expect(stage).toHaveProperty(['***'], 'a key that is a secret')
  })

  it('keeps what is not secret: digests, refs, URLs without passwords, short given values', () => {
    const value = { commit: sha, key: 'f'.repeat(64), uri: 'git+https://github.com/acme/app@refs/tags/v1.2.0', url: 'https://user@example.com/x', token_count: 3, ghost: 'ghs_short', list: ['abc'] }
    expect(redactSecrets(value, ['abc', ''])).toEqual(value)
  })

  it('redacts secrets that need JSON escaping, inside escapes, and with their lines', () => {
    expect(redactSecrets({ a: 'quote"d secret', b: 'x\nabcd\ny' }, ['quote"d secret', 'nabcd'])).toEqual({ a: '***', b: 'x\nabcd\ny' })
    expect(redactSecrets({ a: 'prefix line-one-secret suffix' }, ['line-one-secret\nline-two-secret'])).toEqual({ a: 'prefix *** suffix' })
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
