import { errorMessage, isNamedError } from '../core/errors.js'
import { describeStore, type StoreConfig } from '../core/store/store-config.js'
import { Inputs } from './names.js'

/**
 * The one-line warning for a store that failed a save or restore (`verb`: "save to", "restore from").
 * Denied access names the credential inputs and reads the same whichever request met it.
 */
export function storeWarning(verb: string, config: StoreConfig, error: unknown): string {
  const where = `Failed to ${verb} ${describeStore(config)}`
  if (config.kind === 's3' && isNamedError(error, 'StoreError') && error.failure === 'denied') {
    const inputs = `${Inputs.AccessKeyId}, ${Inputs.SecretAccessKey} and ${Inputs.SessionToken}`
    return (
      `${where}: access denied; check the ${inputs} inputs (without them, the job's AWS credentials) ` +
      `and that they may read and write bucket "${config.bucket}"`
    )
  }
  return `${where}: ${errorMessage(error)}`
}
