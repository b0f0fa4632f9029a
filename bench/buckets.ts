import { randomBytes } from 'node:crypto'
import {
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  type S3Client
} from '@aws-sdk/client-s3'

/** A fresh bucket per method and session, so each starts from an empty store and its data can be dropped after. */
export async function createBucket(client: S3Client, label: string): Promise<string> {
  const bucket = `bench-${label}-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`.toLowerCase()
  await client.send(new CreateBucketCommand({ Bucket: bucket }))
  return bucket
}

/** Deletes the objects under a prefix ('' for all), page by page. */
export async function deleteObjects(client: S3Client, bucket: string, prefix = ''): Promise<void> {
  let token: string | undefined
  do {
    const page = await client.send(
      new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token })
    )
    const keys = (page.Contents ?? []).map(object => ({ Key: object.Key! }))
    if (keys.length > 0)
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }))
    token = page.IsTruncated ? page.NextContinuationToken : undefined
  } while (token)
}

export async function deleteBucket(client: S3Client, bucket: string): Promise<void> {
  await deleteObjects(client, bucket)
  await client.send(new DeleteBucketCommand({ Bucket: bucket }))
}
