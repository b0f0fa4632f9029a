// Unit tests need nothing outside the repository; integration tests need the S3 server
// that scripts/test.sh boots (scripts/s3-server.sh).
import { availableParallelism } from 'node:os'

const shared = {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: { '^.+\\.ts$': ['ts-jest', { useESM: true, tsconfig: 'tsconfig.json' }] }
}

export default {
  testTimeout: 120000,
  // At least two test files at once, even on two cores: most of a file's time is spent waiting on radosgw,
  // child processes and the network stand-ins, not on this process's CPU.
  maxWorkers: Math.max(2, availableParallelism() - 1),
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
