import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, rmSync, statfsSync } from 'node:fs'
import * as os from 'node:os'
import * as path from 'node:path'
import { createInterface } from 'node:readline'
import { pathToFileURL } from 'node:url'
import { createBucket, deleteBucket, deleteObjects } from './buckets.js'
import { isDirTarget, s3Client, type S3Target, type Target } from './s3-target.js'

export type ServerName = 'rgw' | 'null' | 'dir'
export const SERVER_NAMES: ServerName[] = ['rgw', 'null', 'dir']

/** A store the benchmark runs against: an S3 server, or a folder on disk (dir). */
export interface BenchServer {
  name: ServerName
  description: string
  /** Bytes of objects it can hold, when known (radosgw's in-memory OSD, the null server's share of RAM, dir's free disk). */
  capacityBytes?: number
  /** CPU seconds its processes have used so far (undefined when they are not ours to see). */
  cpuSeconds(): number | undefined
  /** Frees the space of deleted objects now (radosgw otherwise keeps it for hours). */
  collectGarbage(): void
  /** A fresh, empty store (a bucket, or a folder) for one method in one session. */
  createTarget(label: string): Promise<Target>
  /** Deletes every object of a store made by createTarget. */
  emptyTarget(target: Target): Promise<void>
  deleteTarget(target: Target): Promise<void>
  /** S3 servers: the same store, reached through a proxy that throttles a share of the requests. */
  throttled?(target: Target): Target
  /** The throttling proxy's counts so far, and its CPU seconds (with throttled). */
  throttleStats?(): Promise<{ requests: number; throttled: number }>
  throttleCpuSeconds?(): number
  stop(): Promise<void>
}

interface S3ServerBase {
  name: ServerName
  description: string
  target: Omit<S3Target, 'bucket'>
  capacityBytes?: number
  cpuSeconds(): number | undefined
  collectGarbage(): void
  stop(): Promise<void>
}

/** Adds bucket handling, and the throttling proxy when `throttleShare` > 0, to an S3 server. */
async function s3Server(base: S3ServerBase, throttleShare: number): Promise<BenchServer> {
  const admin = s3Client(base.target)
  const proxy =
    throttleShare > 0
      ? await startThrottleProxy(base.target.endpoint, throttleShare, `throttle ${base.name}`)
      : undefined
  const bucketOf = (target: Target): string => {
    if (isDirTarget(target)) throw new Error('an S3 server was given a folder target')
    return target.bucket
  }
  return {
    name: base.name,
    description: base.description,
    capacityBytes: base.capacityBytes,
    cpuSeconds: base.cpuSeconds,
    collectGarbage: base.collectGarbage,
    createTarget: async label => ({ ...base.target, bucket: await createBucket(admin, label) }),
    emptyTarget: target => deleteObjects(admin, bucketOf(target)),
    deleteTarget: target => deleteBucket(admin, bucketOf(target)),
    throttled: proxy ? target => ({ ...(target as S3Target), endpoint: proxy.endpoint }) : undefined,
    throttleStats: proxy?.stats,
    throttleCpuSeconds: proxy ? () => processCpuSeconds(proxy.child.pid!) : undefined,
    async stop() {
      admin.destroy()
      await proxy?.stop()
      await base.stop()
    }
  }
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
export async function startRgw(
  benchDir: string,
  log: (line: string) => void,
  throttleShare: number
): Promise<BenchServer> {
  let stateDir = process.env.S3_TEST_DIR ?? path.join(REPO, '.s3-test-server')
  let owned = false
  if (!process.env.S3_TEST_ENDPOINT) {
    stateDir = path.join(benchDir, 's3-server')
    log(`starting radosgw (scripts/s3-server.sh) in ${stateDir}`)
    const started = spawnSync('bash', [path.join(REPO, 'scripts/s3-server.sh'), 'start'], {
      env: { ...process.env, S3_TEST_DIR: stateDir },
      stdio: 'inherit'
    })
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
  if (!ours)
    log(
      `warning: no state folder for ${endpoint} (set S3_TEST_DIR): deleted objects keep their memory until radosgw's own GC runs, and server CPU is not reported`
    )
  const version =
    spawnSync('radosgw', ['--version'], { encoding: 'utf8' })
      .stdout?.trim()
      .replace(/ \(.*$/, '') ?? 'radosgw'
  return s3Server(
    {
      name: 'rgw',
      description: `Ceph radosgw (${version}, beast frontend with tcp_nodelay, one memstore OSD) on 127.0.0.1, sharing the cores with the client`,
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
        const gc = spawnSync('radosgw-admin', ['-c', conf, 'gc', 'process', '--include-all'], {
          stdio: ['ignore', 'ignore', 'pipe'],
          timeout: 300_000
        })
        if (gc.status !== 0) log(`warning: radosgw-admin gc process failed: ${gc.stderr?.toString().trim()}`)
      },
      async stop() {
        if (owned)
          spawnSync('bash', [path.join(REPO, 'scripts/s3-server.sh'), 'stop'], {
            env: { ...process.env, S3_TEST_DIR: stateDir },
            stdio: 'inherit'
          })
      }
    },
    throttleShare
  )
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

/** Starts one of the bench's TypeScript servers in a node process of its own; it prints `{"port":N}` first. */
async function startScript(
  script: string,
  args: string[]
): Promise<{ child: ChildProcess; port: number; stop(): Promise<void> }> {
  const register = pathToFileURL(path.join(REPO, 'scripts', 'ts-register.mjs')).href
  const child = spawn(
    process.execPath,
    [
      '--experimental-transform-types',
      '--no-warnings',
      '--import',
      register,
      path.join(import.meta.dirname, script),
      ...args
    ],
    {
      stdio: ['ignore', 'pipe', 'inherit']
    }
  )
  const lines = createInterface({ input: child.stdout! })
  const first = await new Promise<string>((resolve, reject) => {
    lines.once('line', resolve)
    child.once('exit', code => reject(new Error(`${script} exited with ${code}`)))
  })
  lines.close()
  const { port } = JSON.parse(first) as { port: number }
  return {
    child,
    port,
    async stop() {
      if (child.exitCode !== null) return
      child.kill()
      await new Promise(resolve => child.once('exit', resolve))
    }
  }
}

/** Share of the machine's memory the null server may fill with objects. */
const NULL_SERVER_MEMORY_SHARE = 0.45

/** The do-nothing in-RAM server (null-s3-server.ts), in a process of its own. */
export async function startNullServer(throttleShare: number): Promise<BenchServer> {
  const script = await startScript('null-s3-server.ts', [])
  return s3Server(
    {
      name: 'null',
      description: 'in-RAM do-nothing S3 server (bench/null-s3-server.ts, one node process) on 127.0.0.1',
      target: {
        endpoint: `http://127.0.0.1:${script.port}`,
        region: 'us-east-1',
        accessKeyId: 'bench',
        secretAccessKey: 'bench'
      },
      capacityBytes: Math.round(NULL_SERVER_MEMORY_SHARE * os.totalmem()),
      cpuSeconds: () => processCpuSeconds(script.child.pid!),
      collectGarbage: () => undefined,
      stop: script.stop
    },
    throttleShare
  )
}

/** The throttling proxy (throttle-proxy.ts) in front of an endpoint, in a process of its own. */
async function startThrottleProxy(upstream: string, share: number, seed: string) {
  const script = await startScript('throttle-proxy.ts', [upstream, String(share), seed])
  const endpoint = `http://127.0.0.1:${script.port}`
  return {
    endpoint,
    child: script.child,
    stats: async (): Promise<{ requests: number; throttled: number }> =>
      (await fetch(`${endpoint}/__throttle-proxy/stats`)).json() as Promise<{ requests: number; throttled: number }>,
    stop: script.stop
  }
}

/**
 * A store in a folder on disk: ours as an FsStore there, the baseline as one archive file per key.
 * For the trees that no server's memory holds; it has no process of its own (server CPU: none).
 */
export function startDirServer(benchDir: string): BenchServer {
  const root = path.join(benchDir, 'dir-store')
  rmSync(root, { recursive: true, force: true })
  mkdirSync(root, { recursive: true })
  const free = statfsSync(root)
  const folderOf = (target: Target): string => {
    if (!isDirTarget(target)) throw new Error('the dir server was given an S3 target')
    return target.dir
  }
  return {
    name: 'dir',
    description: `a folder on disk (${root}): ours an FsStore, the baseline an archive file per key`,
    capacityBytes: free.bavail * free.bsize,
    cpuSeconds: () => undefined,
    collectGarbage: () => undefined,
    async createTarget(label) {
      const dir = path.join(root, `${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`)
      mkdirSync(dir, { recursive: true })
      return { dir }
    },
    async emptyTarget(target) {
      rmSync(folderOf(target), { recursive: true, force: true })
      mkdirSync(folderOf(target), { recursive: true })
    },
    async deleteTarget(target) {
      rmSync(folderOf(target), { recursive: true, force: true })
    },
    async stop() {
      rmSync(root, { recursive: true, force: true })
    }
  }
}
