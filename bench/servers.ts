import { spawn, spawnSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import * as path from 'node:path'
import { createInterface } from 'node:readline'
import type { S3Target } from './s3-target.js'

export type ServerName = 'rgw' | 'null'

/** An S3 server the benchmark runs against. */
export interface BenchServer {
  name: ServerName
  description: string
  target: Omit<S3Target, 'bucket'>
  /** Bytes of objects it can hold, when known (radosgw's in-memory OSD). */
  capacityBytes?: number
  /** CPU seconds its processes have used so far (undefined when they are not ours to see). */
  cpuSeconds(): number | undefined
  /** Frees the space of deleted objects now (radosgw otherwise keeps it for hours). */
  collectGarbage(): void
  stop(): Promise<void>
}

const REPO = path.resolve(import.meta.dirname, '..')

/** CPU seconds (user + system) of a live process, from /proc/<pid>/stat. */
function processCpuSeconds(pid: number): number {
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ')
    return (Number(fields[11]) + Number(fields[12])) / 100
  } catch {
    return 0
  }
}

/**
 * The radosgw test server of scripts/s3-server.sh. With S3_TEST_ENDPOINT set that server is used as
 * it is (its state folder, for garbage collection and CPU accounting, from S3_TEST_DIR); otherwise
 * a server of the bench's own is started in `<benchDir>/s3-server` and stopped at the end.
 */
export function startRgw(benchDir: string, log: (line: string) => void): BenchServer {
  let stateDir = process.env.S3_TEST_DIR ?? path.join(REPO, '.s3-test-server')
  let owned = false
  if (!process.env.S3_TEST_ENDPOINT) {
    stateDir = path.join(benchDir, 's3-server')
    log(`starting radosgw (scripts/s3-server.sh) in ${stateDir}`)
    const started = spawnSync('bash', [path.join(REPO, 'scripts/s3-server.sh'), 'start'], { env: { ...process.env, S3_TEST_DIR: stateDir }, stdio: 'inherit' })
    if (started.status !== 0) throw new Error('scripts/s3-server.sh start failed')
    owned = true
  }
  const settings = owned ? parseEnvFile(path.join(stateDir, 'env')) : process.env
  const endpoint = settings.S3_TEST_ENDPOINT!
  // A state folder describes this server only when its env file names the same endpoint.
  const envFile = path.join(stateDir, 'env')
  const ours = existsSync(envFile) && parseEnvFile(envFile).S3_TEST_ENDPOINT === endpoint
  const conf = path.join(stateDir, 'ceph.conf')
  const pids = ours ? readPids(path.join(stateDir, 'pids')) : []
  const capacity = ours ? /memstore device bytes = (\d+)/.exec(readFileSync(conf, 'utf8'))?.[1] : undefined
  if (!ours) log(`warning: no state folder for ${endpoint} (set S3_TEST_DIR): deleted objects keep their memory until radosgw's own GC runs, and server CPU is not reported`)
  const version = spawnSync('radosgw', ['--version'], { encoding: 'utf8' }).stdout?.trim().replace(/ \(.*$/, '') ?? 'radosgw'
  return {
    name: 'rgw',
    description: `Ceph radosgw (${version}, beast frontend, one memstore OSD) on 127.0.0.1, sharing the cores with the client`,
    target: {
      endpoint,
      region: settings.S3_TEST_REGION || 'us-east-1',
      accessKeyId: settings.S3_TEST_ACCESS_KEY_ID!,
      secretAccessKey: settings.S3_TEST_SECRET_ACCESS_KEY!
    },
    capacityBytes: capacity ? Number(capacity) : undefined,
    cpuSeconds: () => (pids.length > 0 ? pids.reduce((sum, pid) => sum + processCpuSeconds(pid), 0) : undefined),
    collectGarbage() {
      if (!ours) return
      const gc = spawnSync('radosgw-admin', ['-c', conf, 'gc', 'process', '--include-all'], { stdio: ['ignore', 'ignore', 'pipe'], timeout: 300_000 })
      if (gc.status !== 0) log(`warning: radosgw-admin gc process failed: ${gc.stderr?.toString().trim()}`)
    },
    async stop() {
      if (owned) spawnSync('bash', [path.join(REPO, 'scripts/s3-server.sh'), 'stop'], { env: { ...process.env, S3_TEST_DIR: stateDir }, stdio: 'inherit' })
    }
  }
}

function parseEnvFile(file: string): Record<string, string> {
  const settings: Record<string, string> = {}
  for (const match of readFileSync(file, 'utf8').matchAll(/([A-Z0-9_]+)=(\S+)/g)) settings[match[1]] = match[2]
  return settings
}

function readPids(file: string): number[] {
  if (!existsSync(file)) return []
  return readFileSync(file, 'utf8')
    .split('\n')
    .map(line => Number(line.split(' ')[1]))
    .filter(pid => pid > 0)
}

/** The do-nothing in-RAM server (null-s3-server.ts), in a process of its own. */
export async function startNullServer(): Promise<BenchServer> {
  const child = spawn(process.execPath, ['--experimental-transform-types', '--no-warnings', path.join(import.meta.dirname, 'null-s3-server.ts')], {
    stdio: ['ignore', 'pipe', 'inherit']
  })
  const lines = createInterface({ input: child.stdout! })
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve)
    child.once('exit', code => reject(new Error(`null-s3-server exited with ${code}`)))
  })
  lines.close()
  const { port } = JSON.parse(first) as { port: number }
  return {
    name: 'null',
    description: 'in-RAM do-nothing S3 server (bench/null-s3-server.ts, one node process) on 127.0.0.1',
    target: { endpoint: `http://127.0.0.1:${port}`, region: 'us-east-1', accessKeyId: 'bench', secretAccessKey: 'bench' },
    cpuSeconds: () => processCpuSeconds(child.pid!),
    collectGarbage: () => undefined,
    async stop() {
      if (child.exitCode !== null) return
      child.kill()
      await new Promise(resolve => child.once('exit', resolve))
    }
  }
}
