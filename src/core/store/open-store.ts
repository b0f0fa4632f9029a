import { FsStore } from './fs-store.js'
import type { ObjectStore } from './object-store.js'
import { S3Store } from './s3-store.js'
import type { StoreConfig } from './store-config.js'

export function openStore(config: StoreConfig): ObjectStore {
  if (config.kind === 'fs') return new FsStore(config.dir)
  if (config.kind === 'external') return config.open()
  const { kind: _kind, ...s3 } = config
  return new S3Store(s3)
}
