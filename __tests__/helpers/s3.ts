import { randomBytes } from 'node:crypto'
import { CreateBucketCommand, S3Client } from '@aws-sdk/client-s3'
import type { S3StoreConfig } from '../../src/core/store/s3-store.js'

/** The S3 server that scripts/test.sh boots (scripts/s3-server.sh) describes itself in these variables. */
const VARIABLES = ['S3_TEST_ENDPOINT', 'S3_TEST_ACCESS_KEY_ID', 'S3_TEST_SECRET_ACCESS_KEY'] as const

/** Set by `npm run test:fs` (CI on macOS and Windows): suites leave out what needs the S3 server or Azurite. */
export const fsOnly = process.env.TEST_FS_ONLY === '1'

export function s3Available(): boolean {
  return VARIABLES.every(name => Boolean(process.env[name]))
}

/** Endpoint, region and credentials of the test server; add a bucket (or use createTestBucket). */
export function s3TestConfig(): Omit<S3StoreConfig, 'bucket'> {
  const missing = VARIABLES.filter(name => !process.env[name])
  if (missing.length > 0) {
    throw new Error(
      `${missing.join(', ')} not set: these tests need the S3 test server. Run them with 'npm test' (which boots it), ` +
        `or start it with 'bash scripts/s3-server.sh start' and 'eval "$(bash scripts/s3-server.sh env)"'`
    )
  }
  return {
    endpoint: process.env.S3_TEST_ENDPOINT,
    region: process.env.S3_TEST_REGION || 'us-east-1',
    forcePathStyle: true,
    credentials: {
      accessKeyId: process.env.S3_TEST_ACCESS_KEY_ID!,
      secretAccessKey: process.env.S3_TEST_SECRET_ACCESS_KEY!
    }
  }
}

/** A raw SDK client for the test server, for setting up what the code under test does not. */
export function s3TestClient(): S3Client {
  const { endpoint, region, credentials, forcePathStyle } = s3TestConfig()
  return new S3Client({
    endpoint,
    region,
    credentials,
    forcePathStyle,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED'
  })
}

/** A valid bucket name that no other test uses: `name` (lowercased, trimmed) plus a random suffix. */
export function uniqueBucketName(name = 'test'): string {
  const base =
    name
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, '-')
      .replace(/^-+|-+$/g, '')
      .slice(0, 40) || 'test'
  return `${base}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`
}

/** Creates a fresh bucket on the test server and returns a store configuration for it. */
export async function createTestBucket(name?: string, prefix?: string): Promise<S3StoreConfig> {
  const bucket = uniqueBucketName(name)
  const client = s3TestClient()
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }))
  } finally {
    client.destroy()
  }
  return { ...s3TestConfig(), bucket, prefix }
}

/** The environment of a process that reaches the test server through the AWS credential chain. */
export function s3CredentialEnv(config: S3StoreConfig): Record<string, string> {
  return {
    AWS_ACCESS_KEY_ID: config.credentials!.accessKeyId,
    AWS_SECRET_ACCESS_KEY: config.credentials!.secretAccessKey,
    AWS_REGION: config.region ?? 'us-east-1'
  }
}

/** The action inputs that reach the test server: its endpoint and credentials (add store or release-store). */
export function s3ConnectionInputs(config: S3StoreConfig): Record<string, string> {
  return {
    endpoint: config.endpoint!,
    'aws-access-key-id': config.credentials!.accessKeyId,
    'aws-secret-access-key': config.credentials!.secretAccessKey
  }
}
