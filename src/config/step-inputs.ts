import type { EntrySigning, PolicyRule, RestorePolicy } from '../core/cache/entry-signature.js'
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
  /** Save a new revision when the key exists with another tree. */
  update: boolean
  /** max-size: after a save on the default branch, prune the store to this many bytes. */
  maxSize?: number
  /** How a save signs the entry; none without. */
  signing?: EntrySigning
  /** Which entries a restore accepts; any without. */
  policy?: RestorePolicy
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
  /** require-cache-from: the rule every cache the release names must meet. */
  requireCacheFrom?: PolicyRule
}
