import { S3Client } from '@aws-sdk/client-s3'
import { FsStore } from '../src/core/store/fs-store.js'
import type { ObjectStore } from '../src/core/store/object-store.js'
import { s3ClientConfig, S3Store } from '../src/core/store/s3-store.js'

/** An S3 endpoint and bucket, as the runner hands it to a worker. */
export interface S3Target {
  endpoint: string
  region: string
  accessKeyId: string
  secretAccessKey: string
  bucket: string
}

/** A store in a local folder (the `dir` server): ours uses an FsStore there, the baseline a file per key. */
export interface DirTarget {
  dir: string
}

export type Target = S3Target | DirTarget

export function isDirTarget(target: Target): target is DirTarget {
  return 'dir' in target
}

/** An SDK client with the settings of S3Store's, so the baseline talks to the server as ours does. */
export function s3Client(target: Omit<S3Target, 'bucket'>): S3Client {
  return new S3Client(
    s3ClientConfig({
      endpoint: target.endpoint,
      region: target.region,
      forcePathStyle: true,
      credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey }
    })
  )
}

export function s3Store(target: S3Target): S3Store {
  return new S3Store({
    bucket: target.bucket,
    endpoint: target.endpoint,
    region: target.region,
    forcePathStyle: true,
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey }
  })
}

/** Ours on the target: an S3Store, or an FsStore in the folder. */
export function storeFor(target: Target): ObjectStore & { destroy?(): void } {
  return isDirTarget(target) ? new FsStore(target.dir) : s3Store(target)
}
