import { readFile } from 'node:fs/promises'
import { TrustedRoot } from '@sigstore/protobuf-specs'
import type { VerifierOptions } from '@sigstore/verify'
import { errorMessage, InputError, TrustRootError } from '../errors.js'
import type { SigstoreInstance } from './sigstore-instance.js'

export const TRUSTED_ROOT_MEDIA_TYPE = 'application/vnd.dev.sigstore.trustedroot+json'

/** Where the public-good instance publishes its trusted root (through TUF). */
const PUBLIC_TUF_MIRROR = 'https://tuf-repo-cdn.sigstore.dev'

/**
 * The trusted root of an instance: from its file when given, else (public instance only) from Sigstore's TUF
 * repository. A fetch that fails is a TrustRootError; a bad file is an InputError naming `input`.
 */
export async function loadTrustedRoot(instance: SigstoreInstance, input = 'trusted-root'): Promise<TrustedRoot> {
  if (instance.trustedRootPath) return readTrustedRoot(instance.trustedRootPath, input)
  if (instance.name === 'github') {
    const command = '`gh attestation trusted-root > trusted_root.jsonl`'
    throw new InputError(`${input}: required for GitHub's Sigstore instance; write it with ${command}`)
  }
  if (instance.name !== 'public') {
    throw new InputError(`${input}: required for sigstore ${instance.name}; give its trusted root JSON file`)
  }
  // Loaded on demand: the TUF client is large and needs the network.
  const { getTrustedRoot } = await import('@sigstore/tuf')
  try {
    return await getTrustedRoot({ retry: { retries: 1 }, timeout: 5000 })
  } catch (error) {
    throw new TrustRootError(
      `cannot fetch the Sigstore trust root from ${PUBLIC_TUF_MIRROR} (${reasonOf(error)}); ` +
        `to verify offline, pass ${input} with a trusted root JSON file`
    )
  }
}

/** The error and its causes on one line, e.g. "error refreshing TUF metadata: connect ECONNREFUSED …". */
function reasonOf(error: unknown): string {
  const reasons: string[] = []
  for (let cause = error; cause && reasons.length < 3; cause = (cause as { cause?: unknown }).cause) {
    reasons.push(errorMessage(cause).split('\n')[0])
  }
  return reasons.join(': ')
}

/**
 * What a bundle must carry besides a valid certificate: an entry in the transparency log and a signed certificate
 * timestamp where the instance keeps logs, and always at least one timestamp (log entry or TSA).
 */
export function thresholdsFor(instance: SigstoreInstance, root: TrustedRoot): VerifierOptions {
  if (instance.name === 'public') return { tlogThreshold: 1, ctlogThreshold: 1, timestampThreshold: 1 }
  if (instance.name === 'github') return { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 1 }
  const required = (list: unknown[]) => (list.length > 0 ? 1 : 0)
  return { tlogThreshold: required(root.tlogs), ctlogThreshold: required(root.ctlogs), timestampThreshold: 1 }
}

/**
 * Reads a trusted root file: one JSON document, or JSON lines with one trusted root each (as `gh attestation
 * trusted-root` prints them), which are all trusted.
 */
async function readTrustedRoot(file: string, input: string): Promise<TrustedRoot> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    const reason = (error as NodeJS.ErrnoException).code ?? errorMessage(error)
    throw new InputError(`${input}: cannot read ${file} (${reason})`)
  }
  const documents = documentsOf(text, file, input)
  if (documents.length === 0) throw new InputError(`${input}: ${file} is empty; give a Sigstore trusted root JSON file`)
  const roots = documents.map(document => {
    const mediaType = (document as { mediaType?: unknown })?.mediaType
    if (typeof mediaType !== 'string' || !mediaType.startsWith(TRUSTED_ROOT_MEDIA_TYPE)) {
      const found = `mediaType ${String(mediaType)}, not ${TRUSTED_ROOT_MEDIA_TYPE}`
      throw new InputError(`${input}: ${file} is not a Sigstore trusted root (${found})`)
    }
    try {
      return TrustedRoot.fromJSON(document)
    } catch (error) {
      throw new InputError(`${input}: ${file} is not a valid trusted root (${errorMessage(error)})`)
    }
  })
  return roots.reduce((all, root) => ({
    ...all,
    tlogs: [...all.tlogs, ...root.tlogs],
    certificateAuthorities: [...all.certificateAuthorities, ...root.certificateAuthorities],
    ctlogs: [...all.ctlogs, ...root.ctlogs],
    timestampAuthorities: [...all.timestampAuthorities, ...root.timestampAuthorities]
  }))
}

function documentsOf(text: string, file: string, input: string): unknown[] {
  try {
    return [JSON.parse(text)]
  } catch {
    // Not one document: JSON lines.
  }
  return text
    .split('\n')
    .filter(line => line.trim())
    .map((line, index) => {
      try {
        return JSON.parse(line)
      } catch {
        throw new InputError(`${input}: ${file} is not JSON (line ${index + 1}); give a Sigstore trusted root file`)
      }
    })
}
