import type { Target } from './s3-target.js'

/** One measured operation, as the runner passes it to a worker (JSON in argv[2]). */
export type Operation = 'save' | 'restore'

/** Ours: saveEntry/restoreEntry of the checkpoint cache, as the action runs them. */
export interface OursJob {
  operation: Operation
  target: Target
  /** The workspace; `paths` are relative to it. */
  workspace: string
  paths: string[]
  key: string
  restoreKeys?: string[]
  /** Restores: the folder of stat indexes, as the action keeps it in the user's cache folder. */
  statIndex?: string
}

/** The baseline: one tar + zstd object per key. */
export interface BaselineJob {
  operation: Operation
  target: Target
  /** The folder archived (save) or extracted into (restore). */
  dir: string
  key: string
}
