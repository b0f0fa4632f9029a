import { createHash } from 'node:crypto'
// Synchronous: a case is a few dozen tiny file operations, each several times cheaper without a promise.
import {
  chmodSync as chmod,
  linkSync as link,
  lstatSync,
  mkdirSync as mkdir,
  readdirSync as readdir,
  readFileSync as readFile,
  readlinkSync as readlink,
  symlinkSync as symlink,
  utimesSync as utimes,
  writeFileSync as writeFile
} from 'node:fs'
import * as path from 'node:path'
import fc from 'fast-check'
import { manifestKey, objectKey } from '../../src/core/cache/cache-layout.js'
import { entryVersion, ENTRY_SCHEMA, writeEntry } from '../../src/core/cache/entry-refs.js'
import { encodeManifest, treeDigest } from '../../src/core/manifest/encoding.js'
import { MANIFEST_SCHEMA, type BlobLocation, type ManifestEntry } from '../../src/core/manifest/model.js'
import type { ObjectStore } from '../../src/core/store/object-store.js'

export const SCOPE = 'branch/main'

/** File contents a hostile manifest can name, each stored as raw single-blob objects. */
export const CONTENTS = [
  Buffer.alloc(0),
  Buffer.from('owned\n'),
  Buffer.from('#!/bin/sh\necho planted\n'),
  Buffer.from('0123456789abcdef'.repeat(8))
]

/** The mtime of every planted file, and of the files in the way that hold the same as one. */
export const MTIME = 1_700_000_000_123

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
 * in two halves (a chunked file, created at its size before the chunks land). Its mtime is MTIME.
 */
export function fileEntry(root: number, entryPath: string, mode: number, content: number): ManifestEntry {
  const bytes = CONTENTS[content]
  const blobs =
    bytes.length === 0
      ? []
      : content === CONTENTS.length - 1
        ? [sha256(bytes.subarray(0, 64)), sha256(bytes.subarray(64))]
        : [sha256(bytes)]
  return { root, path: entryPath, type: 'file', mode, size: bytes.length, blobs, mtime: MTIME }
}

/** Writes CONTENTS[1] as a planted 0o644 file has it (bytes, mode, mtime): a restore could take it as unchanged. */
function writeSame(at: string): void {
  writeFile(at, CONTENTS[1], { mode: 0o644 })
  chmod(at, 0o644)
  utimes(at, MTIME / 1000, MTIME / 1000)
}

/** Puts a manifest and an entry for it under `key`, as someone who can write to the bucket would. */
export async function plantEntry(
  store: ObjectStore,
  key: string,
  patterns: string[],
  roots: string[],
  entries: ManifestEntry[],
  blobs: Record<string, BlobLocation>
): Promise<void> {
  const manifest = { schema: MANIFEST_SCHEMA, roots, entries, blobs }
  const tree = treeDigest(manifest)
  await store.put(manifestKey(tree), encodeManifest(manifest))
  await writeEntry(store, {
    schema: ENTRY_SCHEMA,
    key,
    scope: SCOPE,
    version: entryVersion(patterns),
    tree,
    files: entries.length,
    size: 0,
    created: new Date().toISOString()
  })
}

/**
 * A sandbox: `workspace/` with a file beside the restore's region, and `canary/` outside it, with
 * files, folders and modes that a restore escaping its target would change.
 */
export async function makeSandbox(sandbox: string): Promise<{ workspace: string; canary: string }> {
  const workspace = path.join(sandbox, 'workspace')
  const canary = path.join(sandbox, 'canary')
  mkdir(path.join(canary, 'dir', 'sub'), { recursive: true })
  writeFile(path.join(canary, 'file.txt'), 'canary file\n')
  writeFile(path.join(canary, 'dir', 'inner.txt'), 'canary inner\n')
  writeSame(path.join(canary, 'same.txt'))
  chmod(path.join(canary, 'dir', 'sub'), 0o700)
  chmod(path.join(canary, 'dir'), 0o755)
  mkdir(workspace)
  writeFile(path.join(workspace, 'keep.txt'), 'beside the restore\n')
  return { workspace, canary }
}

/** What a workspace may already hold, in the restore's way. */
export type Obstacle =
  | 'dir'
  | 'file'
  | 'link-to-canary-dir'
  | 'link-to-canary-file'
  | 'link-up'
  | 'link-inside'
  | 'hardlink-to-canary-file'
  | 'same-file'
  | 'hardlink-to-canary-same'

/** Puts an obstacle at `relative` in the workspace, making its parents; skipped where a parent is not a directory. */
export async function placeObstacle(
  workspace: string,
  canary: string,
  relative: string,
  kind: Obstacle
): Promise<void> {
  const at = path.join(workspace, relative)
  try {
    mkdir(path.dirname(at), { recursive: true })
    if (lstatSync(at, { throwIfNoEntry: false })) return
    if (kind === 'dir') mkdir(at)
    else if (kind === 'file') writeFile(at, 'already here\n')
    else if (kind === 'link-to-canary-dir') symlink(path.join(canary, 'dir'), at)
    else if (kind === 'link-to-canary-file') symlink(path.join(canary, 'file.txt'), at)
    else if (kind === 'link-up') symlink(path.relative(path.dirname(at), canary), at)
    else if (kind === 'link-inside') symlink('.', at)
    else if (kind === 'same-file') writeSame(at)
    else if (kind === 'hardlink-to-canary-same') link(path.join(canary, 'same.txt'), at)
    else link(path.join(canary, 'file.txt'), at)
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
  const walk = (at: string, relative: string): void => {
    if (at === skip) return
    const stats = lstatSync(at)
    const mode = (stats.mode & 0o7777).toString(8)
    if (stats.isSymbolicLink()) lines.push(`${relative} link ${readlink(at)}`)
    else if (stats.isFile()) lines.push(`${relative} file ${mode} ${stats.size} ${sha256(readFile(at))}`)
    else if (stats.isDirectory()) {
      lines.push(`${relative} dir ${mode}`)
      for (const name of readdir(at).sort()) walk(path.join(at, name), `${relative}/${name}`)
    } else lines.push(`${relative} other ${mode}`)
  }
  walk(dir, '.')
  return lines
}

/** Every pattern below names `out`: the region a restore may change is workspace/out. */
const PATTERN_SETS = [['out'], ['out/*']]
/** Names that collide, nest and look alike; then a few that are unsafe or too long. */
const NAMES = [
  'a',
  'b',
  'A',
  'sub',
  'out',
  'canary',
  'keep.txt',
  'é',
  'e\u0301',
  'ｏｕｔ',
  'a\u200b',
  '.hidden',
  'a\\b',
  'link'
]
const ODD_NAMES = ['.', '..', '', 'x'.repeat(255), 'y'.repeat(256)]
const MODES = [0o755, 0o644, 0o777, 0o700, 0o555, 0o444, 0o000, 0o1777, 0o4755, 0o2755]
const OBSTACLE_PATHS = ['out', 'out/a', 'out/A', 'out/sub', 'out/a/b', 'out/sub/a', 'out/a/sub/b', 'out/link']
const OBSTACLES: Obstacle[] = [
  'dir',
  'file',
  'link-to-canary-dir',
  'link-to-canary-file',
  'link-up',
  'link-inside',
  'hardlink-to-canary-file',
  'same-file',
  'hardlink-to-canary-same'
]

export interface HostileCase {
  patterns: string[]
  roots: string[]
  entries: Array<{
    root: number
    path: string
    type: 'dir' | 'file' | 'symlink'
    mode: number
    content: number
    target: string
  }>
  obstacles: Array<{ at: string; kind: Obstacle }>
  /** Restore as an exact mirror. */
  mirror: boolean
}

/** Roots: valid ones, overlapping, duplicated, escaping, absolute, and the canary itself ('@' is the sandbox). */
const rootSets = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom<string[]>(['out'], ['out/a'], ['out/a', 'out/b'], ['out/sub/link']) },
  {
    weight: 1,
    arbitrary: fc.constantFrom<string[]>(
      ['out', 'out/a'],
      ['out/a', 'out/a'],
      ['out/a', 'out/a/b'],
      ['.'],
      ['out', '../canary'],
      ['out/../canary'],
      ['@/canary'],
      ['@/canary/dir'],
      ['keep.txt']
    )
  }
)
const segment = fc.oneof(
  { weight: 30, arbitrary: fc.constantFrom(...NAMES) },
  { weight: 1, arbitrary: fc.constantFrom(...ODD_NAMES) }
)
const relativePath = fc.array(segment, { minLength: 0, maxLength: 4 }).map(parts => parts.join('/'))
const entryPath = fc.oneof(
  { weight: 30, arbitrary: relativePath },
  { weight: 1, arbitrary: fc.constantFrom('/abs', '@/canary/file.txt', '../canary', 'a/../../canary', '/') }
)
const linkTarget = fc.constantFrom(
  '@/canary',
  '@/canary/dir',
  '@/canary/file.txt',
  '../canary',
  '../../canary',
  '../../../canary/dir',
  '..',
  '.',
  'a',
  'a/b',
  'sub',
  'link',
  '../a',
  '/'
)
const entry = fc.record({
  root: fc.nat({ max: 1 }),
  path: entryPath,
  type: fc.constantFrom<'dir' | 'file' | 'symlink'>('dir', 'file', 'symlink'),
  mode: fc.oneof({ weight: 30, arbitrary: fc.constantFrom(...MODES) }, { weight: 1, arbitrary: fc.constant(0o100644) }),
  content: fc.nat({ max: CONTENTS.length - 1 }),
  target: linkTarget
})
/** Mostly short, ordered trees whose names come from a small set, so that paths collide and nest. */
export const hostileCase: fc.Arbitrary<HostileCase> = fc.record({
  patterns: fc.constantFrom(...PATTERN_SETS),
  roots: rootSets,
  entries: fc.array(entry, { minLength: 1, maxLength: 6 }),
  obstacles: fc.array(fc.record({ at: fc.constantFrom(...OBSTACLE_PATHS), kind: fc.constantFrom(...OBSTACLES) }), {
    maxLength: 4
  }),
  mirror: fc.boolean()
})

/**
 * Sets a case up in `sandbox`: the canary, the workspace with its obstacles, and the case's
 * manifest planted under `key`. `outside()` fingerprints all but workspace/out, the region the
 * restore may change; `before` is that fingerprint now.
 */
export async function plantCase(
  sandbox: string,
  hostile: HostileCase,
  store: ObjectStore,
  key: string,
  blobs: Record<string, BlobLocation>
) {
  mkdir(sandbox)
  const { workspace, canary } = await makeSandbox(sandbox)
  const at = (text: string) => text.replace(/^@/, sandbox)
  for (const obstacle of hostile.obstacles) await placeObstacle(workspace, canary, obstacle.at, obstacle.kind)
  const roots = hostile.roots.map(at)
  const entries: ManifestEntry[] = hostile.entries.map(({ root, path: entryPath, type, mode, content, target }) => {
    const within = Math.min(root, roots.length - 1)
    if (type === 'file') return fileEntry(within, at(entryPath), mode, content)
    if (type === 'symlink') return { root: within, path: at(entryPath), type, mode: 0o777, target: at(target) }
    return { root: within, path: at(entryPath), type, mode }
  })
  await plantEntry(store, key, hostile.patterns, roots, entries, blobs)
  const outside = () => fingerprint(sandbox, path.join(workspace, 'out'))
  return { sandbox, workspace, canary, before: await outside(), outside }
}

/** Entries of the known escapes: a file with content 1, a directory (0o777 unless given), a symbolic link. */
type HostileEntry = HostileCase['entries'][number]
const fileAt = (path: string): HostileEntry => ({ root: 0, path, type: 'file', mode: 0o644, content: 1, target: '.' })
const dirAt = (path: string, mode = 0o777, root = 0): HostileEntry => ({
  root,
  path,
  type: 'dir',
  mode,
  content: 0,
  target: '.'
})
const linkAt = (path: string, target: string): HostileEntry => ({
  root: 0,
  path,
  type: 'symlink',
  mode: 0o777,
  content: 0,
  target
})

/** A case that restores workspace/out, not as a mirror: the shape of every known escape. */
function knownEscape(
  roots: string[],
  entries: HostileCase['entries'],
  obstacles: HostileCase['obstacles'] = []
): HostileCase {
  return { patterns: ['out'], roots, entries, obstacles, mirror: false }
}

/**
 * Shapes that escaped before the restore was made safe by construction (each changed or removed
 * something in the canary): run first, whatever the seed.
 */
export const KNOWN_ESCAPES: HostileCase[] = [
  // A root reached through a link that the workspace already holds.
  knownEscape(['out/sub/link'], [fileAt('a/b')], [{ at: 'out', kind: 'link-to-canary-dir' }]),
  // A root that is a symlink, with a directory below it: the directory's mode went to the canary.
  knownEscape(['out'], [linkAt('', '@/canary/dir'), dirAt('sub')]),
  // A directory that becomes a symlink.
  knownEscape(['out'], [dirAt('d'), linkAt('d', '@/canary/dir/sub')]),
  // Overlapping roots: one root's link leads the other's directory mode.
  knownEscape(['out', 'out/b'], [linkAt('b', '@/canary/dir/sub'), dirAt('', 0o777, 1)]),
  // A hard link to a file outside, where a file goes: it was truncated and written.
  knownEscape(['out'], [fileAt('f')], [{ at: 'out/f', kind: 'hardlink-to-canary-file' }]),
  // A root symlink made after its directory was checked: a later link removed a canary directory recursively.
  knownEscape(['out'], [dirAt('x', 0o755), linkAt('', '@/canary'), linkAt('dir', 'y')])
]
