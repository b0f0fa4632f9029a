import type { EntrySigning, PolicyRule, RestorePolicy } from '../core/cache/entry-signature.js'
import type { PruneOptions } from '../core/cache/prune.js'
import type { Pipeline } from '../core/pipeline/definition.js'
import type { KeylessVerification } from '../core/signing/bundle.js'
import type { SigningKey } from '../core/signing/keys.js'
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
  /** Restore setuid, setgid and sticky bits as saved (the CLI's --keep-special-modes). */
  keepSpecialModes?: boolean
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

/** A pipeline run. */
export interface RunInputValues {
  pipeline: Pipeline
  /** When the final checkpoint exists, download it all the same. */
  restoreFinalTree: boolean
  store: StoreConfig
  /** Which checkpoints a restore accepts. */
  policy: RestorePolicy
  /** How checkpoints are signed; none without. */
  signing?: EntrySigning
  workspace: string
}

/** How a release is signed: with a key, or keyless with an OIDC token through a Sigstore instance. */
export type ReleaseSigning = { method: 'key'; key: SigningKey } | { method: 'keyless'; instance: SigstoreInstance }

/** A release to publish. */
export interface ReleaseInputValues {
  project: string
  version: string
  /** Globs of the package files, relative to the workspace. */
  packages: string[]
  /** The plan of the run that built the packages (the plan-file input), parsed. */
  plan?: unknown
  releaseStore: StoreConfig
  signing: ReleaseSigning
  retentionDays?: number
  /** With github-release: the token to create it with. */
  githubRelease?: { token: string }
  /** Values that must not appear in the release (keys, tokens). */
  secrets: string[]
  workspace: string
}

/** A release verification. */
export interface VerifyInputValues {
  project: string
  version: string
  releaseStore: StoreConfig
  publicKeyPem?: string
  /** The Sigstore instance and identity policy of a keyless release; none where only a key may have signed. */
  keyless?: KeylessVerification
  /** require-cache-from: the rule every cache the release names must meet. */
  requireCacheFrom?: PolicyRule
}
