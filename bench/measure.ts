import { subscribe } from 'node:diagnostics_channel'
import { readFileSync } from 'node:fs'
import type { Socket } from 'node:net'

/**
 * What one benchmarked operation cost, measured inside the worker process that ran it: wall time of
 * the operation itself (not Node's start-up), CPU of the worker and of the children it waited for,
 * the worker's peak RSS, and the bytes its TCP sockets sent and received (HTTP headers included).
 */
export interface Measurement {
  seconds: number
  cpuSeconds: number
  cpuSelfSeconds: number
  cpuChildrenSeconds: number
  peakRssBytes: number
  /** Sum of each child process's peak RSS (tar, zstd); 0 when there are none. */
  childPeakRssBytes: number
  bytesUp: number
  bytesDown: number
}

/** What a worker prints, on one stdout line after this prefix. */
export const RESULT_PREFIX = 'BENCH_RESULT '

export interface WorkerResult {
  measurement: Measurement
  /** The method's own account (for ours: the store's stats). */
  detail: unknown
}

const sockets = new Set<Socket>()
// Every client socket the process opens (the SDK's keep-alive pool included) is counted.
subscribe('net.client.socket', message => sockets.add((message as { socket: Socket }).socket))

function socketBytes(): { up: number; down: number } {
  let up = 0
  let down = 0
  for (const socket of sockets) {
    up += socket.bytesWritten
    down += socket.bytesRead
  }
  return { up, down }
}

const CLOCK_TICKS_PER_SECOND = 100

/** CPU seconds of the children this process has waited for (cutime + cstime in /proc/self/stat). */
function childrenCpuSeconds(): number {
  const fields = readFileSync('/proc/self/stat', 'utf8').split(') ')[1].split(' ')
  return (Number(fields[13]) + Number(fields[14])) / CLOCK_TICKS_PER_SECOND
}

export function startMeasurement(): { finish(childPeakRssBytes?: number): Measurement } {
  const started = performance.now()
  const cpu = process.cpuUsage()
  const childrenCpu = childrenCpuSeconds()
  const bytes = socketBytes()
  return {
    finish(childPeakRssBytes = 0) {
      const seconds = (performance.now() - started) / 1000
      const self = process.cpuUsage(cpu)
      const cpuSelfSeconds = (self.user + self.system) / 1e6
      const cpuChildrenSeconds = childrenCpuSeconds() - childrenCpu
      const now = socketBytes()
      return {
        seconds,
        cpuSeconds: cpuSelfSeconds + cpuChildrenSeconds,
        cpuSelfSeconds,
        cpuChildrenSeconds,
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
        childPeakRssBytes,
        bytesUp: now.up - bytes.up,
        bytesDown: now.down - bytes.down
      }
    }
  }
}

/** Follows a child's peak RSS (VmHWM) until it exits; read `peak` after it has. */
export function watchPeakRss(pid: number): { readonly peak: number; stop(): void } {
  let peak = 0
  const sample = (): void => {
    try {
      const match = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
      if (match) peak = Math.max(peak, Number(match[1]) * 1024)
    } catch {
      // exited
    }
  }
  sample()
  const timer = setInterval(sample, 50).unref()
  return {
    get peak() {
      return peak
    },
    stop() {
      sample()
      clearInterval(timer)
    }
  }
}

/** Prints the result line that the bench runner reads. */
export function reportResult(result: WorkerResult): void {
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`)
}
