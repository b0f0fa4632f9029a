// Builds the action and CLI bundles: tsc compiles src/ to lib/, then ncc bundles each entry point
// (src/entry/<name>.ts) into dist/<name>/index.js. A worker module that an entry starts as a thread
// (`new URL('./x.worker.js', import.meta.url)`, which ncc takes for an asset and copies as it is) is
// bundled too, and its bundle written beside the entry's in place of that copy. dist/<name>/licenses.txt
// lists every package whose code the entry's bundle, its chunks or its workers' bundles contain.
// Run by `npm run build`; `--out DIR` builds into DIR/lib and DIR/dist instead, without ncc's cache (which is
// kept per entry path, so a one-off folder would only fill it), and `--source-maps` adds maps.
import ncc from '@vercel/ncc'
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { bundledPackageDirs, licensesText } from './bundle-licenses.mjs'

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname))
const { values } = parseArgs({ options: { out: { type: 'string' }, 'source-maps': { type: 'boolean' } } })
const outRoot = values.out ? path.resolve(values.out) : root
const sourceMap = values['source-maps'] === true
const lib = path.join(outRoot, 'lib')
const dist = path.join(outRoot, 'dist')

await rm(lib, { recursive: true, force: true })
execFileSync(
  path.join(root, 'node_modules/.bin/tsc'),
  ['-p', path.join(root, 'tsconfig.build.json'), '--outDir', lib],
  { stdio: 'inherit' }
)
const entries = (await readdir(path.join(root, 'src/entry'))).filter(name => name.endsWith('.ts')).sort()
await rm(dist, { recursive: true, force: true })

async function bundle(file) {
  try {
    const output = await ncc(file, {
      minify: false,
      sourceMap,
      sourceMapRegister: false,
      ...(values.out ? { cache: false } : {}),
      quiet: true,
      target: 'es2022'
    })
    return { ...output, packages: bundledPackageDirs(output.stats) }
  } catch (error) {
    const message = String(error.message ?? error)
      .split('\n')
      .slice(0, 5)
      .join('\n')
    console.error(`bundling ${path.relative(root, file)} failed: ${message}`)
    process.exit(1)
  }
}

/**
 * The worker modules in lib/, by their code: ncc copies one as an asset under its own name or a
 * hash of it, depending on how the URL is written, so an asset is known as a worker by its code.
 */
const workers = new Map()
for (const file of await readdir(lib, { recursive: true })) {
  if (file.endsWith('.worker.js')) {
    const worker = path.join(lib, file)
    workers.set(await readFile(worker, 'utf8'), worker)
  }
}
const workerBundles = new Map()
/** A worker module's bundle: its code on its own (it imports only node's modules and our code). */
async function workerBundle(file) {
  if (!workerBundles.has(file)) {
    const output = await bundle(file)
    const extra = Object.keys(output.assets ?? {}).filter(asset => asset !== 'package.json' && !asset.endsWith('.map'))
    if (extra.length > 0) {
      throw new Error(
        `the worker bundle of ${path.relative(root, file)} needs files besides itself (${extra.join(', ')})`
      )
    }
    workerBundles.set(file, output)
  }
  return workerBundles.get(file)
}

for (const file of entries) {
  const name = file.replace(/\.ts$/, '')
  const output = await bundle(path.join(lib, 'entry', `${name}.js`))
  const out = path.join(dist, name)
  const packages = new Set(output.packages)
  const files = new Map([['index.js', output.code]])
  if (output.map) files.set('index.js.map', output.map)
  const started = []
  for (const [asset, { source }] of Object.entries(output.assets ?? {})) {
    const worker = workers.get(String(source))
    if (!worker) {
      files.set(asset, source)
      continue
    }
    started.push(`${asset} from ${path.relative(outRoot, worker)}`)
    const built = await workerBundle(worker)
    files.set(asset, built.code)
    if (built.map) files.set(`${asset}.map`, built.map)
    for (const dir of built.packages) packages.add(dir)
  }
  files.set('licenses.txt', await licensesText(packages))
  for (const [asset, content] of files) {
    await mkdir(path.dirname(path.join(out, asset)), { recursive: true })
    await writeFile(path.join(out, asset), content)
  }
  console.log(`${path.relative(outRoot, out)}/index.js${started.length > 0 ? `, with ${started.join(', ')}` : ''}`)
}
