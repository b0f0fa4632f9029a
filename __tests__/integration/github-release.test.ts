import { createServer, type IncomingMessage, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { publishGitHubRelease } from '../../src/github/github-release.js'

interface FakeRelease {
  id: number
  tag_name: string
  body: string
  assets: Array<{ id: number; name: string; size: number }>
}

/** A stand-in for the GitHub REST API: just the release endpoints, with a switch to deny the token. */
class FakeGitHub {
  releases: FakeRelease[] = []
  requests: string[] = []
  deny = false
  private nextId = 1
  private server?: Server
  url = ''

  async start(): Promise<void> {
    this.server = createServer((request, response) => void this.handle(request, response))
    await new Promise<void>(resolve => this.server!.listen(0, '127.0.0.1', resolve))
    this.url = `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}`
  }

  stop(): void {
    this.server?.close()
  }

  private async handle(request: IncomingMessage, response: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    const body = Buffer.concat(chunks)
    const url = new URL(request.url!, this.url)
    this.requests.push(`${request.method} ${url.pathname}`)
    const send = (status: number, value?: unknown): void => {
      response.writeHead(status, { 'content-type': 'application/json' })
      response.end(value === undefined ? '' : JSON.stringify(value))
    }
    if (request.headers.authorization !== 'token test-token') return send(401, { message: 'Bad credentials' })
    if (this.deny) return send(403, { message: 'Resource not accessible by integration' })
    const view = (release: FakeRelease) => ({
      ...release,
      html_url: `${this.url}/o/r/releases/tag/${release.tag_name}`,
      upload_url: `${this.url}/uploads/repos/o/r/releases/${release.id}/assets{?name,label}`
    })
    let match: RegExpExecArray | null
    if ((match = /^\/repos\/o\/r\/releases\/tags\/(.+)$/.exec(url.pathname)) && request.method === 'GET') {
      const release = this.releases.find(candidate => candidate.tag_name === match![1])
      return release ? send(200, view(release)) : send(404, { message: 'Not Found' })
    }
    if (url.pathname === '/repos/o/r/releases' && request.method === 'POST') {
      const input = JSON.parse(body.toString()) as { tag_name: string; body: string }
      const release = { id: this.nextId++, tag_name: input.tag_name, body: input.body, assets: [] }
      this.releases.push(release)
      return send(201, view(release))
    }
    if ((match = /^\/repos\/o\/r\/releases\/(\d+)$/.exec(url.pathname)) && request.method === 'PATCH') {
      const release = this.releases.find(candidate => candidate.id === Number(match![1]))!
      release.body = (JSON.parse(body.toString()) as { body: string }).body
      return send(200, view(release))
    }
    if ((match = /^\/repos\/o\/r\/releases\/(\d+)\/assets$/.exec(url.pathname)) && request.method === 'GET') {
      return send(200, this.releases.find(candidate => candidate.id === Number(match![1]))!.assets)
    }
    if ((match = /^\/repos\/o\/r\/releases\/assets\/(\d+)$/.exec(url.pathname)) && request.method === 'DELETE') {
      for (const release of this.releases)
        release.assets = release.assets.filter(asset => asset.id !== Number(match![1]))
      return send(204)
    }
    if ((match = /^\/uploads\/repos\/o\/r\/releases\/(\d+)\/assets$/.exec(url.pathname)) && request.method === 'POST') {
      const asset = { id: this.nextId++, name: url.searchParams.get('name')!, size: body.length }
      this.releases.find(candidate => candidate.id === Number(match![1]))!.assets.push(asset)
      return send(201, asset)
    }
    send(404, { message: `no route ${request.method} ${url.pathname}` })
  }
}

describe('GitHub Release through Octokit (against a local stand-in for the API)', () => {
  const github = new FakeGitHub()
  beforeAll(() => github.start())
  afterAll(() => github.stop())

  const request = (body: string, bundle: string) => ({
    token: 'test-token',
    repository: 'o/r',
    tag: 'v1.0.0',
    body,
    apiUrl: github.url,
    assets: [{ name: 'provenance.sigstore.json', data: Buffer.from(bundle), contentType: 'application/json' }]
  })

  it('creates the release with notes and the provenance asset, then updates it in place on a re-run', async () => {
    const first = await publishGitHubRelease(request('notes one', '{"bundle":1}'))
    expect(first.created).toBe(true)
    expect(github.releases).toHaveLength(1)
    expect(github.releases[0]).toMatchObject({
      tag_name: 'v1.0.0',
      body: 'notes one',
      assets: [{ name: 'provenance.sigstore.json', size: 12 }]
    })

    const second = await publishGitHubRelease(request('notes two', '{"bundle":22}'))
    expect(second).toMatchObject({ created: false, id: first.id })
    expect(github.releases).toHaveLength(1)
    expect(github.releases[0].body).toBe('notes two')
    expect(github.releases[0].assets).toEqual([expect.objectContaining({ name: 'provenance.sigstore.json', size: 13 })])
    expect(github.requests).toContain(`DELETE /repos/o/r/releases/assets/${2}`)
  })

  it('says which permission is missing when the token may not write releases', async () => {
    github.deny = true
    try {
      await expect(publishGitHubRelease(request('x', '{}'))).rejects.toThrow(
        /^github-token: cannot create or update the release of v1.0.0 in o\/r \(HTTP 403\); give the job `permissions: contents: write`/
      )
    } finally {
      github.deny = false
    }
  })
})
