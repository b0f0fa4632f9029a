// Builds the action and CLI bundles: tsc compiles src/ to lib/, then ncc bundles each entry point
// (src/entry/<name>.ts) into dist/<name>/index.js. A worker module that an entry starts as a thread
// (`new URL('./x.worker.js', import.meta.url)`, which ncc takes for an asset and copies as it is) is
// bundled too, and its bundle written beside the entry's in place of that copy. Run by `npm run build`.
import ncc from '@vercel/ncc'
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname))
await rm(path.join(root, 'lib'), { recursive: true, force: true })
execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', path.join(root, 'tsconfig.build.json')], {
  stdio: 'inherit'
})
const entries = (await readdir(path.join(root, 'src/entry'))).filter(name => name.endsWith('.ts')).sort()
await rm(path.join(root, 'dist'), { recursive: true, force: true })

async function bundle(file, options = {}) {
  try {
    return await ncc(file, { minify: false, sourceMap: false, quiet: true, target: 'es2022', ...options })
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
for (const file of await readdir(path.join(root, 'lib'), { recursive: true })) {
  if (file.endsWith('.worker.js')) {
    const worker = path.join(root, 'lib', file)
    workers.set(await readFile(worker, 'utf8'), worker)
  }
}
const workerBundles = new Map()
/** A worker module's bundle: its code on its own (it imports only node's modules and our code). */
async function workerBundle(file) {
  if (!workerBundles.has(file)) {
    const output = await bundle(file)
    const extra = Object.keys(output.assets ?? {}).filter(asset => asset !== 'package.json')
    if (extra.length > 0) {
      throw new Error(
        `the worker bundle of ${path.relative(root, file)} needs files besides itself (${extra.join(', ')})`
      )
    }
    workerBundles.set(file, output.code)
  }
  return workerBundles.get(file)
}

for (const file of entries) {
  const name = file.replace(/\.ts$/, '')
  const output = await bundle(path.join(root, 'lib/entry', `${name}.js`), { license: 'licenses.txt' })
  const out = path.join(root, 'dist', name)
  await mkdir(out, { recursive: true })
  await writeFile(path.join(out, 'index.js'), output.code)
  const started = []
  for (const [asset, { source }] of Object.entries(output.assets ?? {})) {
    const worker = workers.get(String(source))
    if (worker) started.push(`${asset} from ${path.relative(root, worker)}`)
    await mkdir(path.dirname(path.join(out, asset)), { recursive: true })
    await writeFile(path.join(out, asset), worker ? await workerBundle(worker) : source)
  }
  console.log(`dist/${name}/index.js${started.length > 0 ? `, with ${started.join(', ')}` : ''}`)
}
