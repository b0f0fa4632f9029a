// The tests that need no server (npm run test:fs): the unit tests and the integration tests of stores in a local
// folder (FsStore). CI runs them on macOS and Windows, where radosgw does not run; TEST_FS_ONLY=1 makes a suite
// skip its S3 and GitHub cache backends. Extra arguments go to jest.
import { spawnSync } from 'node:child_process'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.dirname(path.dirname(fileURLToPath(import.meta.url)))
const suites = [
  '__tests__/unit/',
  '__tests__/integration/(object-store|snapshot|hostile-restore|restore-progress)\\.test\\.ts'
]
const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js')
const result = spawnSync(process.execPath, ['--experimental-vm-modules', jest, ...suites, ...process.argv.slice(2)], {
  cwd: root,
  stdio: 'inherit',
  env: { ...process.env, TEST_FS_ONLY: '1' }
})
process.exit(result.status ?? 1)
