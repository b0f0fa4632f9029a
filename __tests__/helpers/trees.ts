import { execFileSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { chmod, mkdir, mkdtemp, readdir, readFile, readlink, lstat, symlink, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import * as path from 'node:path'

export function tempDir(prefix: string): Promise<string> {
  return mkdtemp(path.join(tmpdir(), `${prefix}-`))
}

/** Deterministic pseudo-random bytes (xorshift32). */
export function seededBytes(size: number, seed: number): Buffer {
  const out = Buffer.alloc(size)
  let x = seed >>> 0 || 1
  for (let i = 0; i < size; i++) {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    out[i] = x & 0xff
  }
  return out
}

/** A build-like tree: many small files in folders, two large files, an empty dir, symlinks and modes. */
export async function makeBuildTree(
  root: string,
  options: { smallFiles?: number; largeBytes?: number } = {}
): Promise<void> {
  const smallFiles = options.smallFiles ?? 300
  const largeBytes = options.largeBytes ?? 3 * 1024 * 1024
  for (let i = 0; i < smallFiles; i++) {
    const dir = path.join(root, `pkg${i % 10}`, `mod${i % 7}`)
    await mkdir(dir, { recursive: true })
    await writeFile(
      path.join(dir, `file${i}.js`),
      `// file ${i}\n` + `export const value${i} = ${i};\n`.repeat(1 + (i % 40))
    )
  }
  await mkdir(path.join(root, 'empty', 'nested-empty'), { recursive: true })
  await writeFile(path.join(root, 'large-random.bin'), seededBytes(largeBytes, 42))
  await writeFile(
    path.join(root, 'large-text.log'),
    Buffer.from('line of a log file that compresses well\n'.repeat(Math.ceil(largeBytes / 40)))
  )
  await writeFile(path.join(root, 'tool.sh'), '#!/bin/sh\necho tool\n')
  await chmod(path.join(root, 'tool.sh'), 0o755)
  await writeFile(path.join(root, 'readonly.txt'), 'read only\n')
  await chmod(path.join(root, 'readonly.txt'), 0o444)
  await symlink('pkg0/mod0/file0.js', path.join(root, 'link-to-file'))
  await symlink('pkg1', path.join(root, 'link-to-dir'))
  await symlink('does-not-exist', path.join(root, 'dangling-link'))
}

/** Every entry below `root` as a line: type, mode, size, sha256 or link target. Compares trees byte for byte. */
export async function describeTree(root: string): Promise<string[]> {
  const lines: string[] = []
  const walk = async (dir: string, relative: string): Promise<void> => {
    for (const name of (await readdir(dir)).sort()) {
      const full = path.join(dir, name)
      const rel = relative ? `${relative}/${name}` : name
      const stats = await lstat(full)
      const mode = (stats.mode & 0o7777).toString(8)
      if (stats.isSymbolicLink()) lines.push(`${rel} link ${await readlink(full)}`)
      else if (stats.isDirectory()) {
        lines.push(`${rel} dir ${mode}`)
        await walk(full, rel)
      } else
        lines.push(
          `${rel} file ${mode} ${stats.size} ${createHash('sha256')
            .update(await readFile(full))
            .digest('hex')}`
        )
    }
  }
  await walk(root, '')
  return lines
}

export function listFiles(root: string): string[] {
  return execFileSync('find', [root, '-type', 'f'], { encoding: 'utf8' }).split('\n').filter(Boolean).sort()
}
