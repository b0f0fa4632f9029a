// The licences of the third-party packages in a bundle, from webpack's own list of the modules it
// bundled (ncc's stats), so code in split chunks and worker bundles is counted as well.
import { readdir, readFile } from 'node:fs/promises'
import path from 'node:path'

/** The package folder (…/node_modules/name or …/node_modules/@scope/name) a file lies in, if any. */
export function packageDirOf(file) {
  const match = /^(.*[\\/]node_modules[\\/](?:@[^\\/]+[\\/])?[^\\/]+)[\\/]/.exec(file)
  return match?.[1]
}

/** Folders of the packages whose files a compilation includes, inner modules of concatenated ones too. */
export function bundledPackageDirs(stats) {
  const dirs = new Set()
  const visit = modules => {
    for (const module of modules ?? []) {
      const dir = module.nameForCondition && packageDirOf(module.nameForCondition)
      if (dir) dirs.add(dir)
      visit(module.modules)
    }
  }
  visit(stats.toJson({ all: false, modules: true, nestedModules: true }).modules)
  return dirs
}

const LICENCE_FILE = /^(?:licen[cs]e|copying|unlicense)(?:[.\-_].*)?$/i

/** The package's licence files (LICENSE, LICENCE, COPYING, with any suffix), else its package.json field and a note. */
async function licenceText(dir, field) {
  const files = (await readdir(dir, { withFileTypes: true }))
    .filter(entry => entry.isFile() && LICENCE_FILE.test(entry.name))
    .map(entry => entry.name)
    .sort()
  const texts = await Promise.all(files.map(async file => (await readFile(path.join(dir, file), 'utf8')).trim()))
  if (texts.length > 0) return texts.join('\n\n')
  return `The package has no licence file; its package.json gives its licence as ${field}.`
}

function licenceField(manifest) {
  const field = manifest.license ?? manifest.licenses
  if (typeof field === 'string') return field
  const list = (Array.isArray(field) ? field : [field]).map(item => item?.type).filter(Boolean)
  return list.length > 0 ? list.join(' OR ') : 'UNKNOWN'
}

/**
 * licenses.txt of a bundle: one section per package (name@version, its licence field, then its
 * licence text), in name order. A package bundled from several folders at one version is listed once.
 */
export async function licensesText(packageDirs) {
  const sections = new Map()
  for (const dir of packageDirs) {
    const manifest = JSON.parse(await readFile(path.join(dir, 'package.json'), 'utf8'))
    const id = `${manifest.name}@${manifest.version}`
    if (sections.has(id)) continue
    const field = licenceField(manifest)
    sections.set(id, `${id}\nLicense: ${field}\n${await licenceText(dir, field)}\n`)
  }
  return [...sections.keys()]
    .sort()
    .map(id => sections.get(id))
    .join('\n')
}
