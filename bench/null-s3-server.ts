/**
 * An S3 server that does no work: objects live in a Map in RAM, signatures are not checked, ETags are
 * counters. It speaks enough of the API for both clients: buckets, PUT (If-None-Match: *), GET (Range),
 * HEAD, DELETE, DeleteObjects, ListObjectsV2, and multipart (create, upload part, complete, abort).
 * Measuring against it gives the client's own ceiling on this machine. It holds every object in RAM
 * (a multipart object as its parts, never copied into one buffer): the runner keeps the trees it
 * sends here within a share of the machine's memory (servers.ts).
 * Usage: null-s3-server.ts; prints `{"port":N}` on stdout once it listens on 127.0.0.1.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'

interface StoredObject {
  /** The body, as received: one buffer, or a multipart upload's parts in order. */
  parts: Buffer[]
  size: number
  etag: string
  modified: Date
}

function storedObject(parts: Buffer[]): StoredObject {
  return { parts, size: parts.reduce((sum, part) => sum + part.length, 0), etag: nextEtag(), modified: new Date() }
}

/** Writes bytes start..end (inclusive) of an object and ends the response. */
function sendBytes(response: ServerResponse, object: StoredObject, start: number, end: number): void {
  let offset = 0
  for (const part of object.parts) {
    const partEnd = offset + part.length
    if (partEnd > start && offset <= end)
      response.write(part.subarray(Math.max(0, start - offset), Math.min(part.length, end + 1 - offset)))
    offset = partEnd
  }
  response.end()
}

const buckets = new Map<string, Map<string, StoredObject>>()
const uploads = new Map<string, { bucket: string; key: string; parts: Map<number, Buffer> }>()
let counter = 0
const LIST_PAGE = 1000

function nextEtag(): string {
  return `"${(++counter).toString(16).padStart(32, '0')}"`
}

function xmlEscape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
}

function xmlUnescape(text: string): string {
  return text
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&apos;/g, "'")
    .replace(/&amp;/g, '&')
}

function sendXml(response: ServerResponse, status: number, xml: string): void {
  const body = Buffer.from(`<?xml version="1.0" encoding="UTF-8"?>\n${xml}`)
  response.writeHead(status, { 'Content-Type': 'application/xml', 'Content-Length': body.length })
  response.end(body)
}

function sendError(response: ServerResponse, status: number, code: string, method: string): void {
  if (method === 'HEAD') {
    response.writeHead(status, { 'Content-Length': 0 })
    response.end()
    return
  }
  sendXml(response, status, `<Error><Code>${code}</Code><Message>${code}</Message></Error>`)
}

async function readBody(request: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = []
  for await (const chunk of request) chunks.push(chunk as Buffer)
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
}

function objectHeaders(object: StoredObject): Record<string, string | number> {
  return { ETag: object.etag, 'Last-Modified': object.modified.toUTCString(), 'Accept-Ranges': 'bytes' }
}

async function handleBucket(
  request: IncomingMessage,
  response: ServerResponse,
  bucket: string,
  query: URLSearchParams
): Promise<void> {
  const method = request.method!
  const objects = buckets.get(bucket)
  if (method === 'PUT') {
    await readBody(request)
    if (!objects) buckets.set(bucket, new Map())
    response.writeHead(200, { 'Content-Length': 0 }).end()
    return
  }
  if (!objects) return sendError(response, 404, 'NoSuchBucket', method)
  if (method === 'HEAD') return void response.writeHead(200, { 'Content-Length': 0 }).end()
  if (method === 'DELETE') {
    buckets.delete(bucket)
    return void response.writeHead(204).end()
  }
  if (method === 'POST' && query.has('delete')) {
    const body = (await readBody(request)).toString('utf8')
    for (const match of body.matchAll(/<Key>([^<]*)<\/Key>/g)) objects.delete(xmlUnescape(match[1]))
    return sendXml(response, 200, '<DeleteResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"></DeleteResult>')
  }
  if (method === 'GET') {
    const prefix = query.get('prefix') ?? ''
    const after = query.get('continuation-token') ?? query.get('start-after') ?? ''
    const maxKeys = Math.min(Number(query.get('max-keys') ?? LIST_PAGE), LIST_PAGE)
    const keys = [...objects.keys()].filter(key => key.startsWith(prefix) && key > after).sort()
    const page = keys.slice(0, maxKeys)
    const truncated = keys.length > page.length
    const contents = page
      .map(key => {
        const object = objects.get(key)!
        return `<Contents><Key>${xmlEscape(key)}</Key><LastModified>${object.modified.toISOString()}</LastModified><ETag>${xmlEscape(object.etag)}</ETag><Size>${object.size}</Size><StorageClass>STANDARD</StorageClass></Contents>`
      })
      .join('')
    const token = truncated ? `<NextContinuationToken>${xmlEscape(page[page.length - 1])}</NextContinuationToken>` : ''
    return sendXml(
      response,
      200,
      `<ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>${xmlEscape(bucket)}</Name><Prefix>${xmlEscape(prefix)}</Prefix><KeyCount>${page.length}</KeyCount><MaxKeys>${maxKeys}</MaxKeys><IsTruncated>${truncated}</IsTruncated>${contents}${token}</ListBucketResult>`
    )
  }
  sendError(response, 405, 'MethodNotAllowed', method)
}

async function handleObject(
  request: IncomingMessage,
  response: ServerResponse,
  bucket: string,
  key: string,
  query: URLSearchParams
): Promise<void> {
  const method = request.method!
  const objects = buckets.get(bucket)
  if (!objects) return sendError(response, 404, 'NoSuchBucket', method)
  const uploadId = query.get('uploadId')

  if (method === 'POST' && query.has('uploads')) {
    await readBody(request)
    const id = `upload-${++counter}`
    uploads.set(id, { bucket, key, parts: new Map() })
    return sendXml(
      response,
      200,
      `<InitiateMultipartUploadResult><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><UploadId>${id}</UploadId></InitiateMultipartUploadResult>`
    )
  }
  if (uploadId !== null) {
    const upload = uploads.get(uploadId)
    if (!upload) return sendError(response, 404, 'NoSuchUpload', method)
    if (method === 'PUT') {
      upload.parts.set(Number(query.get('partNumber')), await readBody(request))
      return void response.writeHead(200, { ETag: nextEtag(), 'Content-Length': 0 }).end()
    }
    if (method === 'POST') {
      const body = (await readBody(request)).toString('utf8')
      const numbers = [...body.matchAll(/<PartNumber>(\d+)<\/PartNumber>/g)].map(match => Number(match[1]))
      const object = storedObject(numbers.map(n => upload.parts.get(n)!))
      objects.set(key, object)
      uploads.delete(uploadId)
      return sendXml(
        response,
        200,
        `<CompleteMultipartUploadResult><Bucket>${xmlEscape(bucket)}</Bucket><Key>${xmlEscape(key)}</Key><ETag>${xmlEscape(object.etag)}</ETag></CompleteMultipartUploadResult>`
      )
    }
    if (method === 'DELETE') {
      uploads.delete(uploadId)
      return void response.writeHead(204).end()
    }
  }
  if (method === 'PUT') {
    const body = await readBody(request)
    if (request.headers['if-none-match'] === '*' && objects.has(key))
      return sendError(response, 412, 'PreconditionFailed', method)
    const object = storedObject([body])
    objects.set(key, object)
    return void response.writeHead(200, { ETag: object.etag, 'Content-Length': 0 }).end()
  }
  if (method === 'DELETE') {
    objects.delete(key)
    return void response.writeHead(204).end()
  }
  const object = objects.get(key)
  if (!object) return sendError(response, 404, 'NoSuchKey', method)
  if (method === 'HEAD')
    return void response.writeHead(200, { ...objectHeaders(object), 'Content-Length': object.size }).end()
  if (method === 'GET') {
    const range = /^bytes=(\d+)-(\d*)$/.exec(request.headers.range ?? '')
    if (!range) {
      response.writeHead(200, { ...objectHeaders(object), 'Content-Length': object.size })
      return sendBytes(response, object, 0, object.size - 1)
    }
    const start = Number(range[1])
    const end = Math.min(range[2] ? Number(range[2]) : object.size - 1, object.size - 1)
    if (start > end) return sendError(response, 416, 'InvalidRange', method)
    response.writeHead(206, {
      ...objectHeaders(object),
      'Content-Length': end - start + 1,
      'Content-Range': `bytes ${start}-${end}/${object.size}`
    })
    return sendBytes(response, object, start, end)
  }
  sendError(response, 405, 'MethodNotAllowed', method)
}

const server = createServer((request, response) => {
  const url = new URL(request.url!, 'http://localhost')
  const [, bucket, ...rest] = url.pathname.split('/')
  const key = rest.map(decodeURIComponent).join('/')
  const handled =
    rest.length === 0 || key === ''
      ? handleBucket(request, response, decodeURIComponent(bucket), url.searchParams)
      : handleObject(request, response, decodeURIComponent(bucket), key, url.searchParams)
  handled.catch(error => {
    if (!response.headersSent) sendError(response, 500, 'InternalError', request.method!)
    else response.destroy(error as Error)
  })
})
server.keepAliveTimeout = 60_000
server.listen(0, '127.0.0.1', () => {
  const address = server.address()
  process.stdout.write(`${JSON.stringify({ port: typeof address === 'object' && address ? address.port : 0 })}\n`)
})
