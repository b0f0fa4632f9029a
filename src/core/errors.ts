/**
 * Expected failures, matched by `name` so that the check works across separately bundled files.
 * InputError: the user gave something unusable (fails the step). StoreError: the store could not be
 * used (a warning for a cache, unless the user asked to fail). IntegrityError: stored bytes do not
 * match their digest. TrustRootError: Sigstore's trust root could not be fetched.
 */
export class InputError extends Error {
  override name = 'InputError'
}

export type StoreFailure = 'no-bucket' | 'denied' | 'unreachable' | 'other'

export class StoreError extends Error {
  override name = 'StoreError'
  constructor(
    message: string,
    readonly failure: StoreFailure = 'other'
  ) {
    super(message)
  }
}

export class IntegrityError extends Error {
  override name = 'IntegrityError'
}

/** Sigstore's trust root could not be fetched: no verdict on any signature. */
export class TrustRootError extends Error {
  override name = 'TrustRootError'
}

export function isNamedError(error: unknown, name: string): error is Error {
  return error instanceof Error && error.name === name
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
