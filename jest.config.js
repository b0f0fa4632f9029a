// Unit tests need nothing outside the repository; integration tests need the S3 server
// that scripts/test.sh boots (scripts/s3-server.sh).
const shared = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] }
}

export default {
  testTimeout: 120000,
  reporters: ['default', '<rootDir>/scripts/summary-reporter.cjs'],
  // For `npm run coverage`: the sources the tests run in this process (a worker thread's runs
  // outside jest; the tests call its handle directly), summarized in the log.
  collectCoverageFrom: ['<rootDir>/src/**/*.ts'],
  coverageReporters: ['text-summary'],
  projects: [
    { ...shared, displayName: 'unit', testMatch: ['<rootDir>/__tests__/unit/**/*.test.ts'] },
    { ...shared, displayName: 'integration', testMatch: ['<rootDir>/__tests__/integration/**/*.test.ts'] }
  ]
}
