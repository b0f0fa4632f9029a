import { execFile } from 'node:child_process'
import { mkdir, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { promisify } from 'node:util'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')

/**
 * The packages whose files a bundle folder holds, as name@version, from the source maps of every
 * file in it (entry, split chunks, worker bundles): the bundler's own record of what it put there.
 */
async function bundledPackages(dir: string): Promise<Set<string>> {
  const packages = new Set<string>()
  for (const file of (await readdir(dir)).filter(name => name.endsWith('.js.map'))) {
    const { sources } = JSON.parse(await readFile(path.join(dir, file), 'utf8')) as { sources: string[] }
    for (const source of sources) {
      // The innermost package: node_modules/a/node_modules/b/x.js is in b.
      const chain = source.replaceAll('\\', '/').match(/node_modules\/(?:@[^/]+\/)?[^/]+(?=\/)/g)
      if (!chain) continue
      const manifest = JSON.parse(await readFile(path.join(root, ...chain, 'package.json'), 'utf8'))
      packages.add(`${manifest.name}@${manifest.version}`)
    }
  }
  return packages
}

/** The packages a licenses.txt lists with a licence: a name@version line, a License line, then text. */
function licensed(text: string): Set<string> {
  const lines = text.split('\n')
  const listed = new Set<string>()
  lines.forEach((line, index) => {
    if (/^\S+@\S+$/.test(line) && lines[index + 1]?.startsWith('License: ') && lines[index + 2]?.trim())
      listed.add(line)
  })
  return listed
}

describe('the bundles', () => {
  let out: string
  beforeAll(async () => {
    // Inside the repository, so that the bundler resolves packages from its node_modules.
    await mkdir(path.join(root, '.scratch'), { recursive: true })
    out = await mkdtemp(path.join(root, '.scratch', 'bundle-'))
    await promisify(execFile)(
      process.execPath,
      [path.join(root, 'scripts/bundle.mjs'), '--out', out, '--source-maps'],
      {
        cwd: root
      }
    )
  }, 600_000)
  afterAll(async () => {
    await rm(out, { recursive: true, force: true })
  })

  it('list in licenses.txt every package whose code they contain, with its licence', async () => {
    const dist = path.join(out, 'dist')
    const bundles = (await readdir(dist)).sort()
    expect(bundles).toEqual((await readdir(path.join(root, 'src/entry'))).map(file => file.replace(/\.ts$/, '')).sort())
    const contents = new Map<string, Set<string>>()
    for (const bundle of bundles) {
      const packages = await bundledPackages(path.join(dist, bundle))
      contents.set(bundle, packages)
      const listed = licensed(await readFile(path.join(dist, bundle, 'licenses.txt'), 'utf8'))
      expect({ bundle, unlisted: [...packages].filter(name => !listed.has(name)) }).toEqual({ bundle, unlisted: [] })
    }
    // The maps name packages at all: every bundle talks to S3, and only the release bundle to GitHub's API.
    for (const [bundle, packages] of contents) {
      expect({ bundle, s3: [...packages].some(name => name.startsWith('@aws-sdk/client-s3@')) }).toEqual({
        bundle,
        s3: true
      })
    }
    const octokit = [...contents].filter(([, packages]) => [...packages].some(name => name.startsWith('@octokit/')))
    expect(octokit.map(([bundle]) => bundle)).toEqual(['release'])
  })
})
