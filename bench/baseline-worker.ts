/**
 * The method of actions/cache and its S3 forks (runs-on/cache), one measured operation per process:
 * - save: `tar --posix -cf - -C dir .` | `zstd -T0 -3`, streamed into one multipart upload of
 *   32 MiB parts, 4 at a time;
 * - restore: HEAD for the size, then 16 MiB ranged GETs, 8 at a time, written in order into
 *   `zstd -d` | `tar -xf - -C dir`.
 * Both stream (actions/cache itself writes a temporary archive first), which only makes the baseline faster.
 * On the dir server the archive is a file in the store's folder: zstd writes it and reads it directly.
 * Usage: baseline-worker.ts '<BaselineJob JSON>'; prints one result line (see measure.ts).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { once } from 'node:events'
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs'
import * as path from 'node:path'
import type { Readable, Writable } from 'node:stream'
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  UploadPartCommand,
  type S3Client
} from '@aws-sdk/client-s3'
import type { BaselineJob } from './jobs.js'
import { reportResult, startMeasurement, watchPeakRss } from './measure.js'
import { isDirTarget, s3Client, type DirTarget, type S3Target } from './s3-target.js'

const PART_SIZE = 32 * 1024 * 1024
const UPLOAD_CONCURRENCY = 4
const RANGE_SIZE = 16 * 1024 * 1024
const DOWNLOAD_CONCURRENCY = 8

/** Resolves when the child exits with status 0. */
function succeeded(child: ChildProcess, name: string): Promise<void> {
  return new Promise((resolve, reject) => {
    child.on('error', reject)
    child.on('close', code => (code === 0 ? resolve() : reject(new Error(`${name} exited with ${code}`))))
  })
}

async function save(
  client: S3Client,
  job: BaselineJob & { target: S3Target }
): Promise<{ archiveBytes: number; parts: number; childPeakRss: number }> {
  // zstd first, so tar writes straight into zstd's stdin; the parent closes its copy of that pipe.
  const zstd = spawn('zstd', ['-T0', '-3', '-q', '-c'], { stdio: ['pipe', 'pipe', 'inherit'] })
  const tar = spawn('tar', ['--posix', '-cf', '-', '-C', job.dir, '.'], { stdio: ['ignore', zstd.stdin!, 'inherit'] })
  zstd.stdin!.destroy()
  const rss = [watchPeakRss(zstd.pid!), watchPeakRss(tar.pid!)]
  const processes = Promise.all([succeeded(tar, 'tar'), succeeded(zstd, 'zstd')])
  processes.catch(() => undefined)

  const { Bucket, Key } = { Bucket: job.target.bucket, Key: job.key }
  const { UploadId } = await client.send(new CreateMultipartUploadCommand({ Bucket, Key }))
  const etags: string[] = []
  const inFlight = new Set<Promise<void>>()
  let archiveBytes = 0
  const uploadPart = (partNumber: number, body: Buffer): void => {
    const upload = client
      .send(
        new UploadPartCommand({ Bucket, Key, UploadId, PartNumber: partNumber, Body: body, ContentLength: body.length })
      )
      .then(result => {
        etags[partNumber - 1] = result.ETag!
      })
      .finally(() => inFlight.delete(upload))
    inFlight.add(upload)
  }
  try {
    let part = Buffer.allocUnsafe(PART_SIZE)
    let filled = 0
    let partNumber = 0
    for await (const chunk of zstd.stdout as Readable) {
      let offset = 0
      while (offset < chunk.length) {
        const copied = (chunk as Buffer).copy(part, filled, offset)
        filled += copied
        offset += copied
        if (filled < PART_SIZE) continue
        // At most 4 parts in flight: reading zstd's output waits, and zstd and tar with it.
        while (inFlight.size >= UPLOAD_CONCURRENCY) await Promise.race(inFlight)
        uploadPart(++partNumber, part)
        archiveBytes += filled
        part = Buffer.allocUnsafe(PART_SIZE)
        filled = 0
      }
    }
    if (filled > 0 || partNumber === 0) {
      uploadPart(++partNumber, part.subarray(0, filled))
      archiveBytes += filled
    }
    await processes
    while (inFlight.size > 0) await Promise.all(inFlight)
    await client.send(
      new CompleteMultipartUploadCommand({
        Bucket,
        Key,
        UploadId,
        MultipartUpload: { Parts: etags.map((ETag, i) => ({ ETag, PartNumber: i + 1 })) }
      })
    )
    return { archiveBytes, parts: partNumber, childPeakRss: stopAll(rss) }
  } catch (error) {
    tar.kill()
    zstd.kill()
    await client.send(new AbortMultipartUploadCommand({ Bucket, Key, UploadId })).catch(() => undefined)
    throw error
  }
}

async function restore(
  client: S3Client,
  job: BaselineJob & { target: S3Target }
): Promise<{ archiveBytes: number; ranges: number; childPeakRss: number }> {
  const { Bucket, Key } = { Bucket: job.target.bucket, Key: job.key }
  const head = await client.send(new HeadObjectCommand({ Bucket, Key }))
  const size = head.ContentLength!
  mkdirSync(job.dir, { recursive: true })
  const tar = spawn('tar', ['-xf', '-', '-C', job.dir], { stdio: ['pipe', 'ignore', 'inherit'] })
  const zstd = spawn('zstd', ['-d', '-q', '-c'], { stdio: ['pipe', tar.stdin!, 'inherit'] })
  tar.stdin!.destroy()
  const rss = [watchPeakRss(zstd.pid!), watchPeakRss(tar.pid!)]
  const processes = Promise.all([succeeded(tar, 'tar'), succeeded(zstd, 'zstd')])
  processes.catch(() => undefined)

  const ranges = Math.ceil(size / RANGE_SIZE)
  const fetchRange = async (index: number): Promise<Uint8Array> => {
    const start = index * RANGE_SIZE
    const end = Math.min(size, start + RANGE_SIZE) - 1
    const result = await client.send(new GetObjectCommand({ Bucket, Key, Range: `bytes=${start}-${end}` }))
    return result.Body!.transformToByteArray()
  }
  const pending: Array<Promise<Uint8Array>> = []
  let next = 0
  const fill = (): void => {
    while (next < ranges && pending.length < DOWNLOAD_CONCURRENCY) {
      const range = fetchRange(next++)
      range.catch(() => undefined)
      pending.push(range)
    }
  }
  try {
    const stdin = zstd.stdin as Writable
    fill()
    while (pending.length > 0) {
      const bytes = await pending.shift()!
      fill()
      if (!stdin.write(bytes)) await once(stdin, 'drain')
    }
    stdin.end()
    await processes
    return { archiveBytes: size, ranges, childPeakRss: stopAll(rss) }
  } catch (error) {
    tar.kill()
    zstd.kill()
    throw error
  }
}

/** The archive's file in a dir target. */
function archiveFile(target: DirTarget, key: string): string {
  return path.join(target.dir, `${key}.tar.zst`)
}

/** Dir target: `tar | zstd -T0 -3 > <dir>/<key>.tar.zst`. */
async function saveToDir(
  job: BaselineJob & { target: DirTarget }
): Promise<{ archiveBytes: number; childPeakRss: number }> {
  const file = archiveFile(job.target, job.key)
  mkdirSync(path.dirname(file), { recursive: true })
  const out = openSync(file, 'w')
  const zstd = spawn('zstd', ['-T0', '-3', '-q', '-c'], { stdio: ['pipe', out, 'inherit'] })
  const tar = spawn('tar', ['--posix', '-cf', '-', '-C', job.dir, '.'], { stdio: ['ignore', zstd.stdin!, 'inherit'] })
  zstd.stdin!.destroy()
  closeSync(out)
  const rss = [watchPeakRss(zstd.pid!), watchPeakRss(tar.pid!)]
  await Promise.all([succeeded(tar, 'tar'), succeeded(zstd, 'zstd')])
  return { archiveBytes: statSync(file).size, childPeakRss: stopAll(rss) }
}

/** Dir target: `zstd -d < <dir>/<key>.tar.zst | tar -x`. */
async function restoreFromDir(
  job: BaselineJob & { target: DirTarget }
): Promise<{ archiveBytes: number; childPeakRss: number }> {
  const file = archiveFile(job.target, job.key)
  const size = statSync(file).size
  mkdirSync(job.dir, { recursive: true })
  const tar = spawn('tar', ['-xf', '-', '-C', job.dir], { stdio: ['pipe', 'ignore', 'inherit'] })
  const zstd = spawn('zstd', ['-d', '-q', '-c', file], { stdio: ['ignore', tar.stdin!, 'inherit'] })
  tar.stdin!.destroy()
  const rss = [watchPeakRss(zstd.pid!), watchPeakRss(tar.pid!)]
  await Promise.all([succeeded(tar, 'tar'), succeeded(zstd, 'zstd')])
  return { archiveBytes: size, childPeakRss: stopAll(rss) }
}

function stopAll(watchers: Array<ReturnType<typeof watchPeakRss>>): number {
  return watchers.reduce((sum, watcher) => {
    watcher.stop()
    return sum + watcher.peak
  }, 0)
}

const job = JSON.parse(process.argv[2]) as BaselineJob
const { target } = job
if (isDirTarget(target)) {
  const dirJob = { ...job, target }
  const measurement = startMeasurement()
  const detail = job.operation === 'save' ? await saveToDir(dirJob) : await restoreFromDir(dirJob)
  const measured = measurement.finish(detail.childPeakRss)
  // No sockets: the bytes are the archive's, written or read.
  if (job.operation === 'save') measured.bytesUp = detail.archiveBytes
  else measured.bytesDown = detail.archiveBytes
  reportResult({ measurement: measured, detail })
} else {
  const s3Job = { ...job, target }
  const client = s3Client(target)
  const measurement = startMeasurement()
  const detail = job.operation === 'save' ? await save(client, s3Job) : await restore(client, s3Job)
  const measured = measurement.finish(detail.childPeakRss)
  client.destroy()
  reportResult({ measurement: measured, detail })
}
