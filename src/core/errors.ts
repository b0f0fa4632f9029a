import type { StageReport } from './pipeline/stage-report.js'

/**
 * Expected failures, matched by `name` (isNamedError) so that the check works across separately bundled
 * files. InputError: the user gave something unusable (fails the step). StoreError: the store could not
 * be used (a warning for a cache, unless the user asked to fail). IntegrityError: stored bytes do not
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

/** The prune stops before deleting anything when its view of the store looks incomplete or wrong. */
export class PruneRefusedError extends Error {
  override name = 'PruneRefusedError'
}

/** A stage's command failed; `reports` is every stage's outcome in the run, this one's 'failed'. */
export class StageFailedError extends Error {
  override name = 'StageFailedError'
  constructor(
    message: string,
    readonly reports: StageReport[]
  ) {
    super(message)
  }
}

/** A job's failure as the worker thread reported it. */
export class ThreadJobError extends Error {
  override name = 'ThreadJobError'
  constructor(
    message: string,
    readonly code?: string,
    readonly file?: string
  ) {
    super(message)
  }
}

/** An S3 body that broke off or came short: the rest is asked for again. */
export class BodyCutError extends Error {
  override name = 'BodyCutError'
}

/** An S3 body longer than asked for or announced: a server that does this will do it again. */
export class BodyTooLongError extends Error {
  override name = 'BodyTooLongError'
}

/** The S3 store gave up on its endpoint: every call fails at once with the failure that decided it. */
export class EndpointGoneError extends Error {
  override name = 'EndpointGoneError'
  constructor(readonly failure: unknown) {
    super('the endpoint does not answer')
  }
}

interface NamedErrors {
  InputError: InputError
  StoreError: StoreError
  IntegrityError: IntegrityError
  TrustRootError: TrustRootError
  PruneRefusedError: PruneRefusedError
  StageFailedError: StageFailedError
  ThreadJobError: ThreadJobError
  BodyCutError: BodyCutError
  BodyTooLongError: BodyTooLongError
  EndpointGoneError: EndpointGoneError
}

/** Whether `error` is one of ours of that name, from this bundle or another. */
export function isNamedError<Name extends keyof NamedErrors>(error: unknown, name: Name): error is NamedErrors[Name] {
  return error instanceof Error && error.name === name
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
