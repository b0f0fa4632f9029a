import { createHash } from 'node:crypto'
import { chmod, link, lstat, mkdir, readdir, readFile, readlink, symlink, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { entryVersion, ENTRY_SCHEMA, writeEntry } from '../../src/core/cache/entry-refs.js'
import { encodeManifest, MANIFEST_SCHEMA, manifestKey, objectKey, treeDigest, type BlobLocation, type ManifestEntry } from '../../src/core/store/manifest.js'
import type { ObjectStore } from '../../src/core/store/object-store.js'

export const SCOPE = 'branch/main'

/** File contents a hostile manifest can name, each stored as raw single-blob objects. */
export const CONTENTS = [Buffer.alloc(0), Buffer.from('owned\n'), Buffer.from('#!/bin/sh\necho planted\n'), Buffer.from('0123456789abcdef'.repeat(8))]

function sha256(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex')
}

/** Stores every piece of CONTENTS (the last one also as two halves); returns the blob locations. */
export async function storeContents(store: ObjectStore): Promise<Record<string, BlobLocation>> {
  const blobs: Record<string, BlobLocation> = {}
  const last = CONTENTS[CONTENTS.length - 1]
  for (const piece of [...CONTENTS.slice(1), last.subarray(0, 64), last.subarray(64)]) {
    const digest = sha256(piece)
    await store.put(objectKey(digest), Buffer.from(piece))
    blobs[digest] = [digest, 0, piece.length, piece.length, 0]
  }
  return blobs
}

/**
 * A manifest entry's content: CONTENTS[content] in one blob, except the last one, which is stored
 * in two halves (a chunked file, created at its size before the chunks land).
 */
export function fileEntry(root: number, entryPath: string, mode: number, content: number): ManifestEntry {
  const bytes = CONTENTS[content]
  const blobs = bytes.length === 0 ? [] : content === CONTENTS.length - 1 ? [sha256(bytes.subarray(0, 64)), sha256(bytes.subarray(64))] : [sha256(bytes)]
  return { root, path: entryPath, type: 'file', mode, size: bytes.length, blobs }
}

/** Puts a manifest and an entry for it under `key`, as someone who can write to the bucket would. */
export async function plantEntry(store: ObjectStore, key: string, patterns: string[], roots: string[], entries: ManifestEntry[], blobs: Record<string, BlobLocation>): Promise<void> {
  const manifest = { schema: MANIFEST_SCHEMA, roots, entries, blobs }
  const tree = treeDigest(manifest)
  await store.put(manifestKey(tree), encodeManifest(manifest))
  await writeEntry(store, { schema: ENTRY_SCHEMA, key, scope: SCOPE, version: entryVersion(patterns), tree, files: entries.length, size: 0, created: new Date().toISOString() })
}

/**
 * A sandbox: `workspace/` with a file beside the restore's region, and `canary/` outside it, with
 * files, folders and modes that a restore escaping its target would change.
 */
export async function makeSandbox(sandbox: string): Promise<{ workspace: string; canary: string }> {
  const workspace = path.join(sandbox, 'workspace')
  const canary = path.join(sandbox, 'canary')
  await mkdir(path.join(canary, 'dir', 'sub'), { recursive: true })
  await writeFile(path.join(canary, 'file.txt'), 'canary file\n')
  await writeFile(path.join(canary, 'dir', 'inner.txt'), 'canary inner\n')
  await chmod(path.join(canary, 'dir', 'sub'), 0o700)
  await chmod(path.join(canary, 'dir'), 0o755)
  await mkdir(workspace)
  await writeFile(path.join(workspace, 'keep.txt'), 'beside the restore\n')
  return { workspace, canary }
}

/** What a workspace may already hold, in the restore's way. */
export type Obstacle = 'dir' | 'file' | 'link-to-canary-dir' | 'link-to-canary-file' | 'link-up' | 'link-inside' | 'hardlink-to-canary-file'

/** Puts an obstacle at `relative` in the workspace, making its parents; skipped where a parent is not a directory. */
export async function placeObstacle(workspace: string, canary: string, relative: string, kind: Obstacle): Promise<void> {
  const at = path.join(workspace, relative)
  try {
    await mkdir(path.dirname(at), { recursive: true })
    if (await lstat(at).catch(() => undefined)) return
    if (kind === 'dir') await mkdir(at)
    else if (kind === 'file') await writeFile(at, 'already here\n')
    else if (kind === 'link-to-canary-dir') await symlink(path.join(canary, 'dir'), at)
    else if (kind === 'link-to-canary-file') await symlink(path.join(canary, 'file.txt'), at)
    else if (kind === 'link-up') await symlink(path.relative(path.dirname(at), canary), at)
    else if (kind === 'link-inside') await symlink('.', at)
    else await link(path.join(canary, 'file.txt'), at)
  } catch {
    // A parent in the way is a file or a link: this obstacle cannot be placed, the others still are.
  }
}

/**
 * Every entry below `dir` as a line (path, type, mode, and size with sha256 or the link's text),
 * without following links and leaving out `skip` and what lies below it.
 */
export async function fingerprint(dir: string, skip: string): Promise<string[]> {
  const lines: string[] = []
  const walk = async (at: string, relative: string): Promise<void> => {
    if (at === skip) return
    const stats = await lstat(at)
    const mode = (stats.mode & 0o7777).toString(8)
    if (stats.isSymbolicLink()) lines.push(`${relative} link ${await readlink(at)}`)
    else if (stats.isFile()) lines.push(`${relative} file ${mode} ${stats.size} ${sha256(await readFile(at))}`)
    else if (stats.isDirectory()) {
      lines.push(`${relative} dir ${mode}`)
      for (const name of (await readdir(at)).sort()) await walk(path.join(at, name), `${relative}/${name}`)
    } else lines.push(`${relative} other ${mode}`)
  }
  await walk(dir, '.')
  return lines
}
