import * as core from '@actions/core'
import { errorMessage } from '../core/errors.js'

/** Runs a step's body; an error fails the step with its one-line message, after `onFailure` sets its outputs. */
export async function runStep(body: () => Promise<void>, onFailure?: () => void): Promise<void> {
  try {
    await body()
  } catch (error) {
    onFailure?.()
    core.setFailed(errorMessage(error))
  }
}
