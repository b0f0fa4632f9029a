/**
 * A fault-injecting HTTP proxy on loopback, in front of an S3 server: a share of the requests (chosen
 * by a seeded generator) get `503 SlowDown`, as S3 answers when throttling; the rest are passed through
 * unchanged (headers included, so signatures still match). A throttled request's body is read to its
 * end first, as a server would receive it, so the connection stays usable; a client that waits for
 * `100 Continue` gets the 503 before it sends the body.
 * `GET /__throttle-proxy/stats` answers `{"requests":N,"throttled":M}` (not counted itself).
 * Usage: throttle-proxy.ts <upstream endpoint> <share, e.g. 0.2> [seed]; prints `{"port":N}` on
 * stdout once it listens on 127.0.0.1.
 */
import { Agent, createServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { Random } from './content.js'

const [upstream, shareArgument, seed = 'throttle'] = process.argv.slice(2)
const share = Number(shareArgument)
if (!upstream || !(share >= 0 && share <= 1)) {
  process.stderr.write('usage: throttle-proxy.ts <upstream endpoint> <share 0..1> [seed]\n')
  process.exit(2)
}
const target = new URL(upstream)
const agent = new Agent({ keepAlive: true, maxSockets: 256 })
const random = new Random(seed)
const counts = { requests: 0, throttled: 0 }

const SLOW_DOWN = Buffer.from(
  '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>SlowDown</Code><Message>Please reduce your request rate.</Message></Error>'
)

/**
 * One request. A throttled one is answered 503 after its body has arrived, or, when the client
 * waits for `100 Continue` before sending the body, at once (as S3 does), closing the connection.
 */
function handle(request: IncomingMessage, response: ServerResponse, waitsForContinue: boolean): void {
  if (request.url === '/__throttle-proxy/stats') {
    response.writeHead(200, { 'Content-Type': 'application/json' })
    response.end(JSON.stringify(counts))
    return
  }
  counts.requests++
  if (random.chance(share)) {
    counts.throttled++
    const headers = {
      'Content-Type': 'application/xml',
      'Content-Length': request.method === 'HEAD' ? 0 : SLOW_DOWN.length
    }
    const answer = (): void =>
      void response
        .writeHead(503, waitsForContinue ? { ...headers, Connection: 'close' } : headers)
        .end(request.method === 'HEAD' ? undefined : SLOW_DOWN)
    if (waitsForContinue) return answer()
    request.resume()
    request.once('end', answer)
    return
  }
  if (waitsForContinue) response.writeContinue()
  const forwarded = httpRequest(
    {
      host: target.hostname,
      port: target.port,
      method: request.method,
      path: request.url,
      headers: request.headers,
      agent
    },
    upstreamResponse => {
      response.writeHead(upstreamResponse.statusCode ?? 502, upstreamResponse.headers)
      upstreamResponse.pipe(response)
      upstreamResponse.once('error', error => response.destroy(error))
    }
  )
  forwarded.once('error', error => {
    if (!response.headersSent) response.writeHead(502, { 'Content-Length': 0 }).end()
    else response.destroy(error)
  })
  request.pipe(forwarded)
  // A client that gives up (a timeout, an abort) takes its upstream request with it.
  response.once('close', () => {
    if (!response.writableFinished) forwarded.destroy()
  })
}

const server = createServer((request, response) => handle(request, response, false))
server.on('checkContinue', (request: IncomingMessage, response: ServerResponse) => handle(request, response, true))
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`)
})
