import type { PruneOptions } from '../core/cache/prune.js'
import type { IdentityPolicy } from '../core/signing/identity-policy.js'
import type { SigstoreInstance } from '../core/signing/sigstore-instance.js'
import type { StoreConfig } from '../core/store/store-config.js'

/** The typed inputs that the action's readers (src/action/inputs/) and the CLI's flags both build. */

/** A cache save or restore. */
export interface CacheInputs {
  paths: string[]
  key: string
  restoreKeys: string[]
  lookupOnly: boolean
  failOnCacheMiss: boolean
  /** Remove what the restored directories hold besides the entry's files. */
  exactMirror: boolean
  /** upload-chunk-size, in bytes. */
  uploadChunkSize?: number
  store: StoreConfig
  workspace: string
}

/** A prune: its rules and the store. */
export interface PruneInputValues {
  rules: Omit<PruneOptions, 'store'>
  store: StoreConfig
}

/** A release verification. */
export interface VerifyInputValues {
  project: string
  version: string
  releaseStore: StoreConfig
  publicKeyPem?: string
  keyless: { instance: SigstoreInstance; policy: IdentityPolicy }
}
