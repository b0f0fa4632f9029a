export type StageOutcome = 'restored' | 'ran' | 'failed' | 'skipped' | 'cached'

/** What became of one stage in a run, as the timeline shows it. */
export interface StageReport {
  id: string
  key: string
  outcome: StageOutcome
  seconds: number
  /** Bytes uploaded for a checkpoint, or downloaded for a restore. */
  bytes: number
}
