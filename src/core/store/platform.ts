/**
 * What differs between operating systems when a tree is saved on one and restored on another. A manifest holds
 * POSIX-style entries ('/'-separated relative paths, POSIX modes, '/'-separated link targets); these functions
 * convert between them and the running OS. Each takes the platform as a parameter so tests run every case here.
 */
import { constants } from 'node:fs'
import * as path from 'node:path'

export const isWindows = process.platform === 'win32'

/** Windows has no O_NOFOLLOW or O_NONBLOCK: an open there follows a link (O_EXCL still refuses anything in the way). */
export const O_NOFOLLOW = constants.O_NOFOLLOW ?? 0
export const O_NONBLOCK = constants.O_NONBLOCK ?? 0

/**
 * Characters Windows does not allow in a name: a backslash or a colon would be read as a separator or a drive or
 * stream, the others are refused.
 */
// eslint-disable-next-line no-control-regex
const WINDOWS_UNSAFE = /[\\:<>"|?*\x01-\x1f]/

/** Whether `name` (a path or a name) holds a character Windows does not allow in a name. */
export function unsafeOnWindows(name: string): boolean {
  return WINDOWS_UNSAFE.test(name)
}

/** A manifest path (relative, '/'-separated) below `root`, with the separator of `platform`. */
export function joinManifestPath(root: string, relative: string, platform: NodeJS.Platform = process.platform): string {
  if (relative === '') return root
  const sep = platform === 'win32' ? '\\' : '/'
  const native = sep === '/' ? relative : relative.split('/').join(sep)
  return root.endsWith(sep) || (platform === 'win32' && root.endsWith('/')) ? root + native : root + sep + native
}

/**
 * A link target as a manifest holds it: on Windows a relative target's backslashes become '/', so the link
 * restores elsewhere; an absolute Windows target (`C:\…`, `\\server\…`) is kept as it is.
 */
export function portableLinkTarget(target: string, platform: NodeJS.Platform = process.platform): string {
  if (platform !== 'win32' || path.win32.isAbsolute(target)) return target
  return target.split('\\').join('/')
}

/**
 * A mode as a manifest holds it. Windows has only a read-only flag, and node reports 0o666 or 0o444 for every
 * file and 0o777-like modes for folders: a tree saved there gets the usual POSIX modes (0o644, 0o444 when read-only,
 * 0o755 for folders, 0o777 for links), not world-writable ones.
 */
export function portableMode(type: 'file' | 'dir' | 'symlink', mode: number, platform = process.platform): number {
  if (platform !== 'win32') return mode & 0o7777
  if (type === 'dir') return 0o755
  if (type === 'symlink') return 0o777
  return mode & 0o200 ? 0o644 : 0o444
}
