import { homedir } from 'node:os'
import * as path from 'node:path'
import { InputError } from '../errors.js'
import type { ObjectStore } from './object-store.js'
import type { S3StoreConfig } from './s3-store.js'

/** A backend that an adapter configures and opens (GitHub's cache service); the core only names and opens it. */
export interface ExternalStoreConfig {
  kind: 'external'
  location: string
  open: () => ObjectStore
}

/** Which backend holds a store, and where. Credentials, when given, come from the caller. */
export type StoreConfig = { kind: 'fs'; dir: string } | ({ kind: 's3' } & S3StoreConfig) | ExternalStoreConfig

/** This tool's folder in the user's cache folder (XDG_CACHE_HOME, else ~/.cache). */
function userCacheDir(env: NodeJS.ProcessEnv): string {
  return path.join(env.XDG_CACHE_HOME ?? path.join(homedir(), '.cache'), 'artifact-action')
}

/** The embedded default: a directory in the user's cache folder. */
export function defaultLocalStoreDir(env: NodeJS.ProcessEnv = process.env): string {
  return env.ARTIFACT_ACTION_STORE ?? path.join(userCacheDir(env), 'store')
}

/** Where restores keep the stat indexes of their targets (see stat-index.ts). */
export function defaultStatIndexDir(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(userCacheDir(env), 'stat-index')
}

/**
 * Reads a store address: `s3://bucket/prefix`, `file:///dir`, or a plain directory path.
 * `input` names the input or flag in error messages.
 */
export function parseStoreUrl(
  url: string,
  input: string,
  s3Options: Omit<Extract<StoreConfig, { kind: 's3' }>, 'kind' | 'bucket' | 'prefix'> = {}
): StoreConfig {
  if (url.startsWith('s3://')) {
    const [bucket, ...rest] = url.slice('s3://'.length).split('/')
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket))
      throw new InputError(
        `${input}: "${bucket}" is not a valid bucket name; use s3://<bucket>/<prefix> with a lowercase bucket name of 3-63 characters`
      )
    return { kind: 's3', bucket, prefix: rest.join('/').replace(/^\/+|\/+$/g, ''), ...s3Options }
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//.test(url) && !url.startsWith('file://'))
    throw new InputError(
      `${input}: "${url.split('://')[0]}://" stores are not supported; use s3://bucket/prefix or a directory`
    )
  const dir = url.startsWith('file://') ? new URL(url).pathname : url
  if (dir.trim() === '') throw new InputError(`${input}: empty; give s3://bucket/prefix or a directory`)
  return { kind: 'fs', dir: path.resolve(dir) }
}

/** A description without secrets, for logs. */
export function describeStore(config: StoreConfig): string {
  if (config.kind === 'external') return config.location
  return config.kind === 'fs'
    ? config.dir
    : `s3://${config.bucket}/${config.prefix ?? ''}${config.endpoint ? ` at ${config.endpoint}` : ''}`
}

/** True when two configurations can address the same objects: same place, and one prefix inside the other. */
export function storesOverlap(a: StoreConfig, b: StoreConfig): boolean {
  const inside = (x: string, y: string): boolean =>
    x === y || x.startsWith(`${y}/`) || y.startsWith(`${x}/`) || x === '' || y === ''
  if (a.kind === 'fs' && b.kind === 'fs') return inside(path.resolve(a.dir), path.resolve(b.dir))
  if (a.kind === 's3' && b.kind === 's3') {
    const prefix = (p?: string) => (p ?? '').replace(/^\/+|\/+$/g, '')
    return a.bucket === b.bucket && sameEndpoint(a.endpoint, b.endpoint) && inside(prefix(a.prefix), prefix(b.prefix))
  }
  return a === b
}

/**
 * Whether two endpoints reach the same service: compared as URLs (scheme, host, port, path; case and
 * a trailing slash do not count). AWS S3 is one service whatever the region, with or without an endpoint.
 */
function sameEndpoint(a: string | undefined, b: string | undefined): boolean {
  const service = (endpoint: string | undefined): string => {
    if (!endpoint) return 'aws'
    try {
      const url = new URL(endpoint)
      if (/(^|\.)amazonaws\.com$/.test(url.hostname) && /^s3[.-]/.test(url.hostname)) return 'aws'
      return `${url.protocol}//${url.host}${url.pathname.replace(/\/+$/, '')}`
    } catch {
      return endpoint.trim().toLowerCase()
    }
  }
  return service(a) === service(b)
}
