// When GitHub's cache service is there, as @actions/cache decides it (v2 only), and which scope a token writes.
import { cacheServiceFromEnv, writeScopeOf } from '../../src/github/cache-service.js'

const runner = {
  GITHUB_ACTIONS: 'true',
  ACTIONS_CACHE_SERVICE_V2: 'True',
  ACTIONS_RESULTS_URL: 'https://results-receiver.actions.githubusercontent.com/',
  ACTIONS_RUNTIME_TOKEN: 'header.payload.signature'
}

test('a GitHub.com or GHE.com runner with the v2 service has it', () => {
  expect(cacheServiceFromEnv(runner)).toEqual({
    resultsUrl: runner.ACTIONS_RESULTS_URL,
    token: runner.ACTIONS_RUNTIME_TOKEN
  })
  expect(cacheServiceFromEnv({ ...runner, GITHUB_SERVER_URL: 'https://octo.ghe.com' })).toBeDefined()
})

test.each([
  ['outside GitHub Actions', { GITHUB_ACTIONS: '' }],
  ['without ACTIONS_CACHE_SERVICE_V2 (the v1 service)', { ACTIONS_CACHE_SERVICE_V2: '' }],
  ['without ACTIONS_RESULTS_URL', { ACTIONS_RESULTS_URL: '' }],
  ['without a runtime token', { ACTIONS_RUNTIME_TOKEN: '' }],
  ['on GitHub Enterprise Server, which has only the v1 service', { GITHUB_SERVER_URL: 'https://github.example.com' }]
])('no service %s', (_case, change) => {
  expect(cacheServiceFromEnv({ ...runner, ...change })).toBeUndefined()
})

test("the write scope is the first scope in the token's ac claim with the write bit", () => {
  const claim = (ac: unknown) => `x.${Buffer.from(JSON.stringify({ ac: JSON.stringify(ac) })).toString('base64url')}.y`
  const pr = claim([
    { Scope: 'refs/heads/main', Permission: 1 },
    { Scope: 'refs/pull/7/merge', Permission: 3 }
  ])
  expect(writeScopeOf(pr)).toBe('refs/pull/7/merge')
  expect(writeScopeOf(claim([{ Scope: 'refs/heads/main', Permission: 1 }]))).toBe('')
  expect(writeScopeOf('not a token')).toBe('')
})
