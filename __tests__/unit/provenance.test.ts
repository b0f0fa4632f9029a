import { buildContextFromEnv, buildProvenanceStatement, redactSecrets } from '../../src/core/release/provenance.js'

const env = {
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_REPOSITORY: 'acme/app',
  GITHUB_REPOSITORY_ID: '123',
  GITHUB_REPOSITORY_OWNER_ID: '456',
  GITHUB_REF: 'refs/tags/v1.2.0',
  GITHUB_SHA: 'c0ffee'.padEnd(40, '0'),
  GITHUB_WORKFLOW_REF: 'acme/app/.github/workflows/release.yml@refs/tags/v1.2.0',
  GITHUB_EVENT_NAME: 'push',
  GITHUB_RUN_ID: '789',
  GITHUB_RUN_ATTEMPT: '2',
  RUNNER_ENVIRONMENT: 'github-hosted'
}

describe('provenance', () => {
  it('is an in-toto statement shaped like GitHub build provenance, with the plan on top', () => {
    const plan = { schema: 'artifact-action/plan@1', stages: [{ id: 'build', key: 'k'.repeat(64) }] }
    const statement = buildProvenanceStatement({ subjects: [{ name: 'app.tgz', size: 3, sha256: 'a'.repeat(64) }], context: buildContextFromEnv(env), plan }) as any
    expect(statement._type).toBe('https://in-toto.io/Statement/v1')
    expect(statement.predicateType).toBe('https://slsa.dev/provenance/v1')
    expect(statement.subject).toEqual([{ name: 'app.tgz', digest: { sha256: 'a'.repeat(64) } }])
    const { buildDefinition, runDetails } = statement.predicate
    expect(buildDefinition.buildType).toBe('https://actions.github.io/buildtypes/workflow/v1')
    expect(buildDefinition.externalParameters.workflow).toEqual({ ref: 'refs/tags/v1.2.0', repository: 'https://github.com/acme/app', path: '.github/workflows/release.yml' })
    expect(buildDefinition.internalParameters.github).toEqual({ event_name: 'push', repository_id: '123', repository_owner_id: '456', runner_environment: 'github-hosted' })
    expect(buildDefinition.internalParameters.artifactAction.plan).toEqual(plan)
    expect(buildDefinition.resolvedDependencies).toEqual([{ uri: 'git+https://github.com/acme/app@refs/tags/v1.2.0', digest: { gitCommit: env.GITHUB_SHA } }])
    expect(runDetails.builder.id).toBe('https://github.com/actions/runner/github-hosted')
    expect(runDetails.metadata.invocationId).toBe('https://github.com/acme/app/actions/runs/789/attempts/2')
  })

  it('never carries a secret value or a token', () => {
    const secret = 'hunter2-super-secret'
    const token = `ghs_${'x'.repeat(36)}`
    const plan = { stages: [{ note: `uses ${secret} and ${token} and AKIAABCDEFGHIJKLMNOP` }] }
    const text = JSON.stringify(buildProvenanceStatement({ subjects: [], context: buildContextFromEnv(env), plan, secrets: [secret] }))
    expect(text).not.toContain(secret)
    expect(text).not.toContain(token)
    expect(text).not.toContain('AKIAABCDEFGHIJKLMNOP')
    expect(text).toContain('uses *** and *** and ***')
    expect(redactSecrets({ a: 'quote"d secret' }, ['quote"d secret'])).toEqual({ a: '***' })
  })
})
