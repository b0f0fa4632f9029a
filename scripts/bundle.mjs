// Bundles each action entry point into dist/<name>/index.js with ncc. Run by `npm run build`.
import ncc from '@vercel/ncc'
import { mkdir, readdir, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'

const root = path.dirname(path.dirname(new URL(import.meta.url).pathname))
const entries = (await readdir(path.join(root, 'src/entry'))).filter(name => name.endsWith('.ts')).sort()
await rm(path.join(root, 'dist'), { recursive: true, force: true })
for (const file of entries) {
  const name = file.replace(/\.ts$/, '')
  const { code, assets } = await ncc(path.join(root, 'src/entry', file), { minify: false, sourceMap: false, license: 'licenses.txt', quiet: true, target: 'es2022' })
  const out = path.join(root, 'dist', name)
  await mkdir(out, { recursive: true })
  await writeFile(path.join(out, 'index.js'), code)
  for (const [asset, { source }] of Object.entries(assets ?? {})) {
    await mkdir(path.dirname(path.join(out, asset)), { recursive: true })
    await writeFile(path.join(out, asset), source)
  }
  console.log(`dist/${name}/index.js`)
}
