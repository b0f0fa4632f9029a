import { createHash } from 'node:crypto'
import { closeSync, lstatSync, openSync, readdirSync, readlinkSync, readSync } from 'node:fs'
import * as path from 'node:path'

export interface TreeSummary {
  /** sha256 over every entry's path, type, mode, size and content (or link text). */
  digest: string
  files: number
  dirs: number
  symlinks: number
  bytes: number
}

const READ_BLOCK = 4 * 1024 * 1024

/** Summarizes a directory tree without following symlinks, to check that a restore reproduced it. */
export function summarizeTree(root: string): TreeSummary {
  const summary: TreeSummary = { digest: '', files: 0, dirs: 0, symlinks: 0, bytes: 0 }
  const listing = createHash('sha256')
  const buffer = Buffer.allocUnsafe(READ_BLOCK)
  const visit = (absolute: string, relative: string): void => {
    const stats = lstatSync(absolute)
    const mode = (stats.mode & 0o7777).toString(8)
    if (stats.isSymbolicLink()) {
      summary.symlinks++
      listing.update(`l ${mode} ${relative} ${readlinkSync(absolute)}\n`)
    } else if (stats.isFile()) {
      summary.files++
      summary.bytes += stats.size
      listing.update(`f ${mode} ${relative} ${stats.size} ${fileSha256(absolute, buffer)}\n`)
    } else if (stats.isDirectory()) {
      summary.dirs++
      // The root's own mode is left out: a restore creates it with the destination's defaults.
      listing.update(`d ${relative === '' ? '' : mode} ${relative}\n`)
      for (const name of readdirSync(absolute).sort())
        visit(path.join(absolute, name), relative === '' ? name : `${relative}/${name}`)
    }
  }
  visit(root, '')
  summary.digest = listing.digest('hex')
  return summary
}

function fileSha256(file: string, buffer: Buffer): string {
  const hash = createHash('sha256')
  const fd = openSync(file, 'r')
  try {
    for (;;) {
      const read = readSync(fd, buffer, 0, buffer.length, null)
      if (read === 0) break
      hash.update(buffer.subarray(0, read))
    }
  } finally {
    closeSync(fd)
  }
  return hash.digest('hex')
}
