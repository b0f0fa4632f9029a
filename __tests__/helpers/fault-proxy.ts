// A fault-injecting HTTP proxy on loopback, in front of the real S3 server: it forwards requests as
// they are (the signature covers the Host header, which it keeps) and breaks the ones it is told to.
import * as http from 'node:http'
import * as net from 'node:net'
import type { AddressInfo, Socket } from 'node:net'

export type Fault =
  /** 503 SlowDown, as S3 throttles; the request is not forwarded. */
  | 'slow-down'
  /** 500 InternalError; the request is not forwarded. */
  | 'server-error'
  /** Forwarded; the connection is reset half-way through the response body. */
  | 'reset-mid-body'
  /** Forwarded; a complete response whose Content-Length and body are cut to half. */
  | 'short-body'
  /** Forwarded; 100 bytes more body than the server sent, with Content-Length to match. */
  | 'long-body'
  /** Forwarded and done by the server; the connection is reset instead of answering. */
  | 'lost-response'
  /** Never answered; the connection stays open. */
  | 'silent'

export interface ProxiedRequest {
  method: string
  /** Path without the query, e.g. /bucket/prefix/objects/ab… */
  path: string
  query: string
  range?: string
}

export interface LoggedRequest extends ProxiedRequest {
  fault?: Fault
  status?: number
}

const BODY_FAULTS = new Set<Fault>(['reset-mid-body', 'short-body', 'long-body'])
const HOP_BY_HOP = ['connection', 'keep-alive', 'expect', 'transfer-encoding']

function errorXml(code: string, message: string): string {
  const fields = `<Code>${code}</Code><Message>${message}</Message><RequestId>fault-proxy</RequestId>`
  return `<?xml version="1.0" encoding="UTF-8"?><Error>${fields}</Error>`
}

export class FaultProxy {
  /** Every request seen, in order of arrival. */
  readonly log: LoggedRequest[] = []
  /** Chooses the fault for each request; none by default. */
  decide: (request: ProxiedRequest) => Fault | undefined = () => undefined
  private readonly sockets = new Set<Socket>()
  private readonly agent = new http.Agent({ keepAlive: true, maxSockets: 64 })

  private constructor(
    private readonly server: http.Server,
    private readonly upstream: URL
  ) {}

  static async start(upstream: string): Promise<FaultProxy> {
    const server = http.createServer()
    const proxy = new FaultProxy(server, new URL(upstream))
    server.on('request', (req, res) => proxy.handle(req, res))
    server.on('connection', socket => {
      proxy.sockets.add(socket)
      socket.on('close', () => proxy.sockets.delete(socket))
    })
    await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
    return proxy
  }

  get endpoint(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  /** Requests that met a fault. */
  get faults(): LoggedRequest[] {
    return this.log.filter(request => request.fault)
  }

  async close(): Promise<void> {
    this.sockets.forEach(socket => socket.destroy())
    this.agent.destroy()
    await new Promise(resolve => this.server.close(resolve))
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://proxy')
    const request: ProxiedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.search,
      range: req.headers.range
    }
    const fault = this.decide(request)
    const entry: LoggedRequest = { ...request, fault }
    this.log.push(entry)
    if (fault === 'silent') {
      req.resume()
      return
    }
    if (fault === 'slow-down' || fault === 'server-error') {
      req.resume()
      req.on('end', () => {
        entry.status = fault === 'slow-down' ? 503 : 500
        const body =
          fault === 'slow-down'
            ? errorXml('SlowDown', 'Please reduce your request rate.')
            : errorXml('InternalError', 'We encountered an internal error.')
        res.writeHead(entry.status, { 'content-type': 'application/xml', 'content-length': Buffer.byteLength(body) })
        res.end(body)
      })
      return
    }
    const headers = { ...req.headers }
    for (const name of HOP_BY_HOP) delete headers[name]
    const forwarded = http.request(
      {
        host: this.upstream.hostname,
        port: this.upstream.port,
        method: req.method,
        path: req.url,
        headers,
        agent: this.agent
      },
      upstream => {
        entry.status = upstream.statusCode
        const length = Number(upstream.headers['content-length'] ?? 0)
        if (fault === 'lost-response') {
          upstream.resume()
          upstream.on('end', () => req.socket.resetAndDestroy())
          return
        }
        const outHeaders = { ...upstream.headers }
        for (const name of HOP_BY_HOP) delete outHeaders[name]
        if (!fault || !BODY_FAULTS.has(fault) || req.method !== 'GET' || length < 2) {
          if (fault) entry.fault = undefined // a body fault needs a body to break
          res.writeHead(upstream.statusCode ?? 502, outHeaders)
          upstream.pipe(res)
          return
        }
        const half = Math.floor(length / 2)
        if (fault === 'long-body') outHeaders['content-length'] = String(length + 100)
        if (fault === 'short-body') outHeaders['content-length'] = String(half)
        res.writeHead(upstream.statusCode ?? 502, outHeaders)
        let sent = 0
        upstream.on('data', (chunk: Buffer) => {
          if (fault === 'long-body') {
            res.write(chunk)
            return
          }
          const part = chunk.subarray(0, Math.max(0, half - sent))
          sent += chunk.length
          if (part.length > 0) res.write(part)
        })
        upstream.on('end', () => {
          if (fault === 'long-body') res.end(Buffer.alloc(100, 0x41))
          else if (fault === 'short-body') res.end()
          // Flushed first, so the client sees part of the body before the reset.
          else res.write(Buffer.alloc(0), () => setTimeout(() => req.socket.resetAndDestroy(), 20))
        })
      }
    )
    forwarded.on('error', () => res.destroy())
    req.pipe(forwarded)
  }
}

/** A seeded choice (mulberry32): the same faults on every run. */
export function seededRandom(seed: number): () => number {
  let state = seed >>> 0
  return () => {
    state = (state + 0x6d2b79f5) >>> 0
    let t = state
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** A server that accepts connections and never answers: a dead endpoint. */
export async function silentServer(): Promise<{
  endpoint: string
  connections: () => number
  close: () => Promise<void>
}> {
  const sockets = new Set<Socket>()
  const server = net.createServer(socket => sockets.add(socket)) // reads nothing, says nothing
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    connections: () => sockets.size,
    close: async () => {
      sockets.forEach(socket => socket.destroy())
      await new Promise(resolve => server.close(resolve))
    }
  }
}
