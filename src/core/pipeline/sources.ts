import { createHash, randomUUID } from 'node:crypto'
import { constants, createWriteStream } from 'node:fs'
import { copyFile, mkdir, rename, rm, stat } from 'node:fs/promises'
import * as path from 'node:path'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import type { ReadableStream as WebReadableStream } from 'node:stream/web'
import { InputError } from '../errors.js'
import type { PipelineStage } from './definition.js'

export interface FetchSourcesOptions {
  /** Downloads are kept at `<cacheDir>/sha256/<digest>`, shared by every stage and run. */
  cacheDir: string
  /** The stage's working directory (absolute); each source is placed at `<workDir>/<path>`. */
  workDir: string
  /** Defaults to the global fetch. */
  fetch?: typeof globalThis.fetch
}

export interface FetchedSource {
  path: string
  sha256: string
  /** False when the digest was already in the cache. */
  downloaded: boolean
}

/**
 * Places every pinned source of a stage in its working directory. A digest already in the cache is
 * used as is; otherwise the URL is downloaded to a temporary file while hashing, and moved into the
 * cache only if its sha256 matches the pin, so the cache only ever holds verified files. The cached file
 * is copied (a reflink where supported) so that a stage editing it cannot alter the cache.
 */
export async function fetchSources(
  stage: Pick<PipelineStage, 'id' | 'sources'>,
  options: FetchSourcesOptions
): Promise<FetchedSource[]> {
  const digestDir = path.join(options.cacheDir, 'sha256')
  const fetched: FetchedSource[] = []
  for (const source of stage.sources) {
    const cached = path.join(digestDir, source.sha256)
    const present = await stat(cached).then(
      info => info.isFile(),
      () => false
    )
    if (!present) await download(stage.id, source.url, source.sha256, cached, options.fetch ?? globalThis.fetch)
    const destination = path.resolve(options.workDir, source.path)
    await mkdir(path.dirname(destination), { recursive: true })
    await copyFile(cached, destination, constants.COPYFILE_FICLONE)
    fetched.push({ path: source.path, sha256: source.sha256, downloaded: !present })
  }
  return fetched
}

async function download(
  stageId: string,
  url: string,
  expected: string,
  cached: string,
  fetchUrl: typeof globalThis.fetch
): Promise<void> {
  await mkdir(path.dirname(cached), { recursive: true })
  // In the cache's own folder, so that the rename is atomic; a dotfile, so it is never taken for a digest.
  const temporary = path.join(path.dirname(cached), `.download-${randomUUID()}`)
  const shown = displayUrl(url)
  try {
    let response: Response
    try {
      response = await fetchUrl(url)
    } catch (error) {
      throw new Error(`stage ${stageId}: could not download source ${shown}: ${(error as Error).message}`, {
        cause: error
      })
    }
    if (!response.ok || !response.body) {
      await response.body?.cancel()
      throw new InputError(
        `stage ${stageId}: could not download source ${shown}: HTTP ${response.status} ${response.statusText}`.trimEnd()
      )
    }
    const hash = createHash('sha256')
    await pipeline(
      Readable.fromWeb(response.body as WebReadableStream<Uint8Array>),
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk)
          yield chunk
        }
      },
      createWriteStream(temporary, { flags: 'wx' })
    )
    const actual = hash.digest('hex')
    if (actual !== expected) {
      throw new InputError(
        `stage ${stageId}: source ${shown} has sha256 ${actual}, but the pipeline pins ${expected}; nothing was cached. Fix the URL, or the pin if the file is known to have changed`
      )
    }
    await rename(temporary, cached)
  } finally {
    await rm(temporary, { force: true })
  }
}

/** The URL for messages: credentials and query (which may hold a signature) are hidden. */
function displayUrl(url: string): string {
  try {
    const parsed = new URL(url)
    if (parsed.username || parsed.password) {
      parsed.username = '***'
      parsed.password = ''
    }
    if (parsed.search) parsed.search = '?***'
    return parsed.toString()
  } catch {
    return '(invalid URL)'
  }
}
