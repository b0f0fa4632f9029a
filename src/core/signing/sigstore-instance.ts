import { InputError } from '../errors.js'

/** Which Sigstore signs and vouches for keyless signatures. */
export type SigstoreName = 'public' | 'github' | 'custom'

/**
 * A Sigstore instance: the certificate authority (Fulcio), the transparency log (Rekor) if it has one,
 * the timestamp authority if it has one, and where its trusted root comes from.
 */
export interface SigstoreInstance {
  name: SigstoreName
  fulcioURL?: string
  /** No Rekor: signatures are not logged publicly (GitHub's instance). */
  rekorURL?: string
  tsaURL?: string
  /** A trusted root file (application/vnd.dev.sigstore.trustedroot+json); without one, public TUF is asked. */
  trustedRootPath?: string
}

/** The public-good instance: its trusted root comes from Sigstore's TUF repository. */
export const PUBLIC_SIGSTORE: Readonly<SigstoreInstance> = {
  name: 'public',
  fulcioURL: 'https://fulcio.sigstore.dev',
  rekorURL: 'https://rekor.sigstore.dev'
}

/** GitHub's instance, which actions/attest uses for private repositories: no transparency log, a TSA instead. */
export const GITHUB_SIGSTORE: Readonly<SigstoreInstance> = {
  name: 'github',
  fulcioURL: 'https://fulcio.githubapp.com',
  tsaURL: 'https://timestamp.githubapp.com'
}

/** Input names, as action.yml declares them (the CLI flags add `--`). */
export const SigstoreInputs = {
  Sigstore: 'sigstore',
  FulcioURL: 'fulcio-url',
  RekorURL: 'rekor-url',
  TimestampURL: 'timestamp-url',
  TrustedRoot: 'trusted-root'
} as const

export type SigstoreInputValues = Partial<Record<(typeof SigstoreInputs)[keyof typeof SigstoreInputs], string>>

/**
 * Resolves the instance from inputs (or flags, with prefix `--`). `sign` needs the service URLs of a custom
 * instance; verifying needs only its trusted root. URLs without `sigstore` mean custom.
 */
export function resolveSigstoreInstance(
  values: SigstoreInputValues,
  use: 'sign' | 'verify',
  prefix = ''
): SigstoreInstance {
  const name = (input: string) => `${prefix}${input}`
  const urls = { fulcioURL: values['fulcio-url'], rekorURL: values['rekor-url'], tsaURL: values['timestamp-url'] }
  const named = { 'fulcio-url': urls.fulcioURL, 'rekor-url': urls.rekorURL, 'timestamp-url': urls.tsaURL }
  const given = Object.entries(named).filter(([, url]) => url)
  const chosen = values.sigstore?.trim() || (given.length > 0 ? 'custom' : 'public')
  const trustedRootPath = values['trusted-root']?.trim() || undefined
  if (chosen !== 'public' && chosen !== 'github' && chosen !== 'custom') {
    throw new InputError(`${name('sigstore')}: "${chosen}" is not public, github or custom`)
  }
  if (chosen !== 'custom' && given.length > 0) {
    const input = name(given[0][0])
    throw new InputError(`${input}: only for sigstore custom; drop it, or set ${name('sigstore')} to custom`)
  }
  if (chosen === 'public') return { ...PUBLIC_SIGSTORE, trustedRootPath }
  if (chosen === 'github') return { ...GITHUB_SIGSTORE, trustedRootPath }
  for (const [input, url] of given) checkUrl(url!, name(input))
  if (use === 'sign' && !urls.fulcioURL) {
    throw new InputError(`${name('fulcio-url')}: required for sigstore custom; give your Fulcio's URL`)
  }
  if (use === 'sign' && !urls.rekorURL && !urls.tsaURL) {
    const hint = 'give rekor-url or timestamp-url'
    throw new InputError(`${name('rekor-url')}: sigstore custom needs a Rekor or a timestamp authority; ${hint}`)
  }
  if (use === 'verify' && !trustedRootPath) {
    throw new InputError(`${name('trusted-root')}: required for sigstore custom; give its trusted root JSON file`)
  }
  return { name: 'custom', ...urls, trustedRootPath }
}

function checkUrl(url: string, input: string): void {
  let parsed: URL
  try {
    parsed = new URL(url)
  } catch {
    throw new InputError(`${input}: "${url}" is not a URL; give e.g. https://fulcio.example.com`)
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new InputError(`${input}: "${url}" is not an http(s) URL`)
  }
}
