import { createHash } from 'node:crypto'
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { parsePipeline, type PinnedSource } from '../../src/core/pipeline/definition.js'
import { fetchSources } from '../../src/core/pipeline/sources.js'
import { computePlan } from '../../src/core/pipeline/stage-keys.js'

const tarball = Buffer.from('pretend this is zlib-1.3.1.tar.gz\n'.repeat(5000))
const tarballDigest = createHash('sha256').update(tarball).digest('hex')
const patch = Buffer.from('--- a\n+++ b\n')
const patchDigest = createHash('sha256').update(patch).digest('hex')

/** Requests served, by path, so tests can tell a download from a cache hit. */
const requests: string[] = []
let server: Server
let origin: string
let scratch: string

beforeAll(async () => {
  server = createServer((request, response) => {
    const url = new URL(request.url ?? '/', 'http://localhost')
    requests.push(url.pathname)
    const body = {
      '/zlib.tar.gz': tarball,
      '/mirror/zlib.tar.gz': tarball,
      '/fix.patch': patch,
      '/tampered.tar.gz': Buffer.from('not what was pinned')
    }[url.pathname]
    if (!body) {
      response.writeHead(404).end('no such file')
      return
    }
    response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  scratch = mkdtempSync(path.join(tmpdir(), 'sources-'))
})

afterAll(async () => {
  await new Promise(resolve => server.close(resolve))
  rmSync(scratch, { recursive: true, force: true })
})

let counter = 0
/** A fresh cache and working directory. */
function folders(): { cacheDir: string; workDir: string } {
  counter++
  return { cacheDir: path.join(scratch, `cache-${counter}`), workDir: path.join(scratch, `work-${counter}`) }
}

function source(url: string, sha256: string, sourcePath: string): PinnedSource {
  return { url, sha256, path: sourcePath, line: 1 }
}

/** The message of the error that `promise` rejects with, after checking it is an InputError. */
async function inputErrorOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (failure: Error) => failure
  )
  expect(error?.name).toBe('InputError')
  return error?.message ?? ''
}

describe('fetchSources', () => {
  it('downloads, verifies, caches by digest and places each source under the working directory', async () => {
    const { cacheDir, workDir } = folders()
    requests.length = 0
    const stage = {
      id: 'build',
      sources: [
        source(`${origin}/zlib.tar.gz`, tarballDigest, 'vendor/zlib.tar.gz'),
        source(`${origin}/fix.patch`, patchDigest, 'fix.patch')
      ]
    }
    const fetched = await fetchSources(stage, { cacheDir, workDir })
    expect(fetched).toEqual([
      { path: 'vendor/zlib.tar.gz', sha256: tarballDigest, downloaded: true },
      { path: 'fix.patch', sha256: patchDigest, downloaded: true }
    ])
    expect(requests).toEqual(['/zlib.tar.gz', '/fix.patch'])
    expect(readFileSync(path.join(workDir, 'vendor', 'zlib.tar.gz')).equals(tarball)).toBe(true)
    expect(readFileSync(path.join(workDir, 'fix.patch')).equals(patch)).toBe(true)
    expect(readdirSync(path.join(cacheDir, 'sha256')).sort()).toEqual([tarballDigest, patchDigest].sort())
  })

  it('does not download a digest that is already cached, whatever its URL', async () => {
    const { cacheDir, workDir } = folders()
    await fetchSources(
      { id: 'build', sources: [source(`${origin}/zlib.tar.gz`, tarballDigest, 'zlib.tar.gz')] },
      { cacheDir, workDir }
    )
    requests.length = 0
    const otherWorkDir = `${workDir}-again`
    const fetched = await fetchSources(
      { id: 'build', sources: [source(`${origin}/mirror/zlib.tar.gz`, tarballDigest, 'zlib.tar.gz')] },
      { cacheDir, workDir: otherWorkDir }
    )
    expect(requests).toEqual([])
    expect(fetched).toEqual([{ path: 'zlib.tar.gz', sha256: tarballDigest, downloaded: false }])
    expect(readFileSync(path.join(otherWorkDir, 'zlib.tar.gz')).equals(tarball)).toBe(true)
  })

  it('copies out of the cache, so a stage editing its source cannot alter the cache', async () => {
    const { cacheDir, workDir } = folders()
    await fetchSources(
      { id: 'build', sources: [source(`${origin}/fix.patch`, patchDigest, 'fix.patch')] },
      { cacheDir, workDir }
    )
    writeFileSync(path.join(workDir, 'fix.patch'), 'edited by the stage')
    expect(readFileSync(path.join(cacheDir, 'sha256', patchDigest)).equals(patch)).toBe(true)
  })

  it('refuses a download whose digest does not match, naming stage, URL and both digests, and caches nothing', async () => {
    const { cacheDir, workDir } = folders()
    const actual = createHash('sha256').update('not what was pinned').digest('hex')
    const message = await inputErrorOf(
      fetchSources(
        { id: 'deps', sources: [source(`${origin}/tampered.tar.gz`, tarballDigest, 'zlib.tar.gz')] },
        { cacheDir, workDir }
      )
    )
    expect(message).toContain('stage deps')
    expect(message).toContain(`${origin}/tampered.tar.gz`)
    expect(message).toContain(`has sha256 ${actual}, but the pipeline pins ${tarballDigest}`)
    expect(readdirSync(path.join(cacheDir, 'sha256'))).toEqual([]) // not even a temporary file
    expect(() => readdirSync(workDir)).toThrow(/ENOENT/)
  })

  it('hides credentials and query strings of URLs in messages', async () => {
    const { cacheDir, workDir } = folders()
    const url = `${origin.replace('http://', 'http://user:hunter22@')}/tampered.tar.gz?X-Amz-Signature=s3cr3t`
    const fetchWithoutCredentials: typeof fetch = (_input, init) => fetch(`${origin}/tampered.tar.gz`, init)
    const message = await inputErrorOf(
      fetchSources(
        { id: 'deps', sources: [source(url, tarballDigest, 'x')] },
        { cacheDir, workDir, fetch: fetchWithoutCredentials }
      )
    )
    expect(message).not.toContain('hunter22')
    expect(message).not.toContain('s3cr3t')
    expect(message).toContain('/tampered.tar.gz?***')
  })

  it('reports an HTTP error with the stage and URL', async () => {
    const { cacheDir, workDir } = folders()
    const message = await inputErrorOf(
      fetchSources(
        { id: 'deps', sources: [source(`${origin}/gone.tar.gz`, tarballDigest, 'x')] },
        { cacheDir, workDir }
      )
    )
    expect(message).toBe(`stage deps: could not download source ${origin}/gone.tar.gz: HTTP 404 Not Found`)
    expect(readdirSync(path.join(cacheDir, 'sha256'))).toEqual([])
  })
})

describe('sources in stage keys', () => {
  it('keys the digest and path, not the URL', async () => {
    const definition = (url: string, digest: string) =>
      `stages:\n  - id: build\n    run: make\n    sources:\n      - { url: "${url}", sha256: ${digest}, path: zlib.tar.gz }\n`
    const keyOf = async (url: string, digest: string) =>
      (
        await computePlan(parsePipeline(definition(url, digest), 'p.yml', scratch), {
          platform: { os: 'linux', arch: 'x64' }
        })
      ).stages[0].key
    const original = await keyOf(`${origin}/zlib.tar.gz`, tarballDigest)
    expect(await keyOf(`${origin}/mirror/zlib.tar.gz`, tarballDigest)).toBe(original)
    expect(await keyOf(`${origin}/zlib.tar.gz`, patchDigest)).not.toBe(original)
  })
})
