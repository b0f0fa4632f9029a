import { randomBytes } from 'node:crypto'
import { constants } from 'node:fs'
import { access, copyFile, link, mkdir, open, readdir, rename, stat, unlink, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import { isNamedError, StoreError } from '../errors.js'
import type { ByteRange, ObjectInfo, ObjectStore, PutBody, PutOptions } from './object-store.js'
import { isWindows, unsafeOnWindows } from './platform.js'

/** Names of files being written; never listed, and cannot collide with a key's file. */
const TEMP_NAME = /\.tmp-[0-9a-f]{16}$/
const DELETE_CONCURRENCY = 64

/** Told apart by shape, not instanceof: a Buffer from another realm (jest's VM modules) is no Uint8Array there. */
function isFileBody(body: PutBody): body is { path: string; size: number } {
  return typeof (body as { path?: unknown }).path === 'string'
}

function errorCode(error: unknown): string | undefined {
  return (error as NodeJS.ErrnoException | undefined)?.code
}

/** ENOTDIR: a key's parent is a file, so the key cannot exist either. */
function isMissing(error: unknown): boolean {
  const code = errorCode(error)
  return code === 'ENOENT' || code === 'ENOTDIR'
}

// Dates are made here, from mtimeMs, rather than taken from fs.Stats: a Stats Date comes from Node's
// own realm, which is not `instanceof Date` under jest's VM modules.

/** Orders as S3 does: by the keys' UTF-8 bytes. */
function byKeyBytes(a: { bytes: Buffer }, b: { bytes: Buffer }): number {
  return Buffer.compare(a.bytes, b.bytes)
}

/**
 * An ObjectStore in a local directory: one file per key. A write goes to a temporary file beside
 * its target and then appears at once, by rename() (overwrite) or link() (create only: fails when
 * the key exists), so a reader never sees a partly written object.
 */
export class FsStore implements ObjectStore {
  readonly location: string
  readonly identity: string
  private readonly root: string

  constructor(dir: string) {
    this.root = path.resolve(dir)
    this.location = this.root
    this.identity = `file://${this.root}`
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<'created' | 'exists'> {
    const file = this.pathOf(key)
    const temp = `${file}.tmp-${randomBytes(8).toString('hex')}`
    try {
      await mkdir(path.dirname(file), { recursive: true })
      if (isFileBody(body)) {
        await copyFile(body.path, temp, constants.COPYFILE_EXCL)
        const { size } = await stat(temp)
        if (size !== body.size)
          throw new StoreError(`put ${key} in ${this.root}: ${body.path} has ${size} bytes, expected ${body.size}`)
      } else {
        await writeFile(temp, body, { flag: 'wx' })
      }
      if (!options.ifNoneMatch) {
        await rename(temp, file)
        return 'created'
      }
      try {
        await link(temp, file)
        return 'created'
      } catch (error) {
        if (errorCode(error) === 'EEXIST') return 'exists'
        throw error
      }
    } catch (error) {
      throw this.storeError(error, 'put', key)
    } finally {
      // Gone after a rename; still there after a link or a failure.
      await unlink(temp).catch(() => undefined)
    }
  }

  async get(key: string, range?: ByteRange): Promise<Buffer | undefined> {
    const file = this.pathOf(key)
    let handle
    try {
      handle = await open(file, 'r')
    } catch (error) {
      if (isMissing(error)) return undefined
      throw this.storeError(error, 'get', key)
    }
    try {
      const info = await handle.stat()
      if (!info.isFile()) return undefined
      if (!range) return await handle.readFile()
      // As HTTP does: the end is clipped to the object; a start past it is an error.
      if (range.start < 0 || range.end < range.start || range.start >= info.size) {
        throw new StoreError(
          `get ${key} in ${this.root}: range ${range.start}-${range.end} is outside the object's ${info.size} bytes`
        )
      }
      const buffer = Buffer.alloc(Math.min(range.end, info.size - 1) - range.start + 1)
      let filled = 0
      while (filled < buffer.length) {
        const { bytesRead } = await handle.read(buffer, filled, buffer.length - filled, range.start + filled)
        if (bytesRead === 0) break
        filled += bytesRead
      }
      return buffer.subarray(0, filled)
    } catch (error) {
      throw this.storeError(error, 'get', key)
    } finally {
      await handle.close()
    }
  }

  async getStream(key: string): Promise<Readable | undefined> {
    let handle
    try {
      handle = await open(this.pathOf(key), 'r')
      if (!(await handle.stat()).isFile()) {
        await handle.close()
        return undefined
      }
    } catch (error) {
      await handle?.close()
      if (isMissing(error)) return undefined
      throw this.storeError(error, 'get', key)
    }
    return handle.createReadStream() // closes the handle when done
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const info = await stat(this.pathOf(key))
      return info.isFile() ? { key, size: info.size, lastModified: new Date(info.mtimeMs) } : undefined
    } catch (error) {
      if (isMissing(error)) return undefined
      throw this.storeError(error, 'head', key)
    }
  }

  async *list(prefix: string): AsyncIterable<ObjectInfo> {
    // Start in the deepest folder the prefix names; the rest of it filters names.
    const folder = prefix.slice(0, prefix.lastIndexOf('/') + 1)
    if (folder) this.pathOf(folder.slice(0, -1)) // refuses '..' and empty segments
    yield* this.walk(folder, prefix)
  }

  /**
   * Yields the files under `folder` (a key prefix ending in '/', or '') in key order. A folder
   * sorts as its name plus '/', which puts its whole subtree where its keys belong.
   */
  private async *walk(folder: string, prefix: string): AsyncGenerator<ObjectInfo> {
    let entries
    try {
      entries = await readdir(path.join(this.root, folder), { withFileTypes: true })
    } catch (error) {
      if (isMissing(error)) return
      throw this.storeError(error, 'list', prefix)
    }
    const named = entries
      .filter(entry => (entry.isFile() || entry.isDirectory()) && !TEMP_NAME.test(entry.name))
      .map(entry => {
        const key = folder + entry.name + (entry.isDirectory() ? '/' : '')
        return { entry, key, bytes: Buffer.from(key) }
      })
      .sort(byKeyBytes)
    for (const { entry, key } of named) {
      if (entry.isDirectory()) {
        if (key.startsWith(prefix) || prefix.startsWith(key)) yield* this.walk(key, prefix)
        continue
      }
      if (!key.startsWith(prefix)) continue
      let info
      try {
        info = await stat(path.join(this.root, key))
      } catch (error) {
        if (isMissing(error)) continue // deleted since readdir
        throw this.storeError(error, 'list', prefix)
      }
      yield { key, size: info.size, lastModified: new Date(info.mtimeMs) }
    }
  }

  async delete(keys: string[]): Promise<void> {
    const files = keys.map(key => ({ key, file: this.pathOf(key) }))
    for (let start = 0; start < files.length; start += DELETE_CONCURRENCY) {
      await Promise.all(
        files.slice(start, start + DELETE_CONCURRENCY).map(async ({ key, file }) => {
          try {
            await unlink(file)
          } catch (error) {
            if (!isMissing(error)) throw this.storeError(error, 'delete', key)
          }
        })
      )
    }
  }

  /** Creates the directory when needed and fails when it cannot be read and written. */
  async check(): Promise<void> {
    try {
      await mkdir(this.root, { recursive: true })
      await access(this.root, constants.R_OK | constants.W_OK)
    } catch (error) {
      throw this.storeError(error, 'check', '')
    }
  }

  /** The file of a key; refuses keys that would leave the directory or name a folder. */
  private pathOf(key: string): string {
    const relative = key.replace(/^\/+/, '')
    const segments = relative.split('/')
    if (segments.some(segment => segment === '' || segment === '.' || segment === '..')) {
      throw new StoreError(`key "${key}" in ${this.root}: empty, "." and ".." path segments are not allowed`)
    }
    // On Windows a backslash would be a separator (and could leave the directory), a colon a drive or stream.
    if (isWindows && unsafeOnWindows(relative)) {
      throw new StoreError(`key "${key}" in ${this.root}: holds a character Windows does not allow in a file name`)
    }
    return path.join(this.root, ...segments)
  }

  private storeError(error: unknown, operation: string, key: string): StoreError {
    if (isNamedError(error, 'StoreError')) return error
    const code = errorCode(error)
    const what = `${operation}${key ? ` ${key}` : ''} in ${this.root}`
    const message = error instanceof Error ? error.message : String(error)
    if (code === 'EACCES' || code === 'EPERM' || code === 'EROFS') {
      return new StoreError(
        `${what}: permission denied (${message}); make the directory writable or choose another store`,
        'denied'
      )
    }
    return new StoreError(`${what}: ${message}`)
  }
}
