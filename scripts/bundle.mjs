// Builds the action and CLI bundles: tsc compiles src/ to lib/, then ncc bundles each entry point
// (src/entry/<name>.ts) into dist/<name>/index.js. Run by `npm run build`.
import ncc from '@vercel/ncc'
import { execFileSync } from 'node:child_process'
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname))
await rm(path.join(root, 'lib'), { recursive: true, force: true })
execFileSync(path.join(root, 'node_modules/.bin/tsc'), ['-p', path.join(root, 'tsconfig.build.json')], { stdio: 'inherit' })
const entries = (await readdir(path.join(root, 'src/entry'))).filter(name => name.endsWith('.ts')).sort()
await rm(path.join(root, 'dist'), { recursive: true, force: true })
for (const file of entries) {
  const name = file.replace(/\.ts$/, '')
  let output
  try {
    output = await ncc(path.join(root, 'lib/entry', `${name}.js`), { minify: false, sourceMap: false, license: 'licenses.txt', quiet: true, target: 'es2022' })
  } catch (error) {
    console.error(`bundling ${file} failed: ${String(error.message ?? error).split('\n').slice(0, 5).join('\n')}`)
    process.exit(1)
  }
  const out = path.join(root, 'dist', name)
  await mkdir(out, { recursive: true })
  await writeFile(path.join(out, 'index.js'), output.code)
  for (const [asset, { source }] of Object.entries(output.assets ?? {})) {
    await mkdir(path.dirname(path.join(out, asset)), { recursive: true })
    await writeFile(path.join(out, asset), source)
  }
  console.log(`dist/${name}/index.js`)
}
