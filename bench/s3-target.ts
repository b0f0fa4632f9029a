import { Agent as HttpAgent } from 'node:http'
import { S3Client } from '@aws-sdk/client-s3'
import { S3Store } from '../src/core/store/s3-store.js'

/** An S3 endpoint and bucket, as the runner hands it to a worker. */
export interface S3Target {
  endpoint: string
  region: string
  accessKeyId: string
  secretAccessKey: string
  bucket: string
}

/**
 * An SDK client with the settings of src/core/store/s3-store.ts (retries, timeouts, keep-alive pool
 * of 32 sockets, checksums only when required), so the baseline talks to the server as ours does.
 */
export function s3Client(target: Omit<S3Target, 'bucket'>): S3Client {
  return new S3Client({
    region: target.region,
    endpoint: target.endpoint,
    forcePathStyle: true,
    credentials: { accessKeyId: target.accessKeyId, secretAccessKey: target.secretAccessKey },
    maxAttempts: 3,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
    requestHandler: {
      connectionTimeout: 3_000,
      socketTimeout: 20_000,
      httpAgent: new HttpAgent({ keepAlive: true, maxSockets: 32 })
    }
  })
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
