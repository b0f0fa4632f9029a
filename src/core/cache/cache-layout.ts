import { InputError } from '../errors.js'
import { SHA256_HEX } from '../manifest/model.js'

/**
 * Where everything of a cache lives in its store, the one place that builds and parses its keys
 * (docs/store-format.md describes them):
 *
 *   objects/<aa>/<sha256>                             a chunk or pack, fanned out by its first two hex digits
 *   manifests/<tree digest>                           the manifest of one tree
 *   refs/<scope>/<version>/<key>[@<revision>]         an entry; a revision slot (ten digits, 1 and up) is an update
 *   access/<scope>/<version>/<key>[@<revision>]       when a restore last used that entry
 *   signatures/<scope>/<version>/<key>/<tree digest>  a signed entry's signature, shared by its revisions
 *   leases/prune-<uuid>                               a prune deleting a batch
 *
 * <scope> and <key> are percent-encoded; <version> is 16 hex digits. Builders trust the digests they
 * are given (computed, or validated by the caller) and check the names users choose. Parsers are
 * strict: a key is of a kind only if it is exactly what its builder writes, so a listing of an
 * untrusted bucket cannot pass off another name by an alternative spelling.
 */
export const CACHE_PREFIXES = {
  objects: 'objects/',
  manifests: 'manifests/',
  refs: 'refs/',
  access: 'access/',
  signatures: 'signatures/',
  leases: 'leases/'
} as const

/** A revision's slot in a ref name: ten digits, so names sort as numbers. */
const REVISION_DIGITS = 10
export const MAX_REVISION = 10 ** REVISION_DIGITS - 1
const LEASE_HOLDER = 'prune-'
const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}'

export interface EntryName {
  scope: string
  version: string
  key: string
  /** 0 for the first entry of a key, 1 and up for its updates. */
  revision: number
}

/** What a cache key names; kindOf gives it. */
export type CacheKeyKind =
  | { kind: 'object'; name: string }
  | { kind: 'manifest'; digest: string }
  | ({ kind: 'ref' } & EntryName)
  | ({ kind: 'access' } & EntryName)
  /** Keyed by the entry's key and tree, not its revision: the revisions of one tree share it. */
  | { kind: 'signature'; scope: string; version: string; key: string; tree: string }
  | { kind: 'lease'; id: string }

/** Percent-encoding keeps prefixes: a key's prefix encodes to a prefix of the encoded key. */
function encodeName(name: string): string {
  return encodeURIComponent(name)
}

/** A scope or key as one segment of a key: never empty, never a folder name ('.' or '..'). */
function nameSegment(name: string): string {
  const encoded = encodeName(name)
  if (encoded === '' || encoded === '.' || encoded === '..')
    throw new InputError(`key ${JSON.stringify(name)}: a cache key or scope may not be empty, "." or ".."; rename it`)
  return encoded
}

/** What follows the folder of a ref, access record or signature; '@' never appears in an encoded name. */
function entryPath(scope: string, version: string, key: string, revision: number): string {
  if (!/^[0-9a-f]{16}$/.test(version)) throw new Error(`${JSON.stringify(version)} is not an entry version`)
  if (!Number.isInteger(revision) || revision < 0 || revision > MAX_REVISION)
    throw new Error(`${revision} is not a revision (0 to ${MAX_REVISION})`)
  const slot = revision > 0 ? `@${String(revision).padStart(REVISION_DIGITS, '0')}` : ''
  return `${nameSegment(scope)}/${version}/${nameSegment(key)}${slot}`
}

/** Object names of the content store: sha256 hex, fanned out by the first two characters. */
export function objectKey(name: string): string {
  return `${CACHE_PREFIXES.objects}${name.slice(0, 2)}/${name}`
}

export function manifestKey(digest: string): string {
  return `${CACHE_PREFIXES.manifests}${digest}`
}

/** The ref of an entry; a revision above 0 is an update of it. */
export function refKey(scope: string, version: string, key: string, revision = 0): string {
  return `${CACHE_PREFIXES.refs}${entryPath(scope, version, key, revision)}`
}

/** The listing prefix of the refs whose keys start with `keyPrefix` (a restore key), revisions included. */
export function refPrefix(scope: string, version: string, keyPrefix: string): string {
  return `${CACHE_PREFIXES.refs}${encodeName(scope)}/${version}/${encodeName(keyPrefix)}`
}

/** The listing prefix of a key's revisions above 0. */
export function revisionsPrefix(scope: string, version: string, key: string): string {
  return `${refKey(scope, version, key)}@`
}

function entryNameOf(ref: string): EntryName {
  const name = kindOf(ref)
  if (name?.kind !== 'ref') throw new Error(`${ref} is not the ref of a cache entry`)
  return name
}

/** The last-use record of the entry at a ref. */
export function accessKey(entryRefKey: string): string {
  const { scope, version, key, revision } = entryNameOf(entryRefKey)
  return `${CACHE_PREFIXES.access}${entryPath(scope, version, key, revision)}`
}

/** The ref whose last use an access record records; undefined when the key is not an access record. */
export function refOfAccess(accessRecordKey: string): string | undefined {
  const name = kindOf(accessRecordKey)
  return name?.kind === 'access' ? refKey(name.scope, name.version, name.key, name.revision) : undefined
}

/** The signature of the entry at a ref (of any of its revisions) over `tree`. */
export function signatureKey(entryRefKey: string, tree: string): string {
  const { scope, version, key } = entryNameOf(entryRefKey)
  return `${CACHE_PREFIXES.signatures}${entryPath(scope, version, key, 0)}/${tree}`
}

/** A prune's lease, named by a random UUID so that concurrent prunes hold distinct leases. */
export function leaseKey(id: string): string {
  return `${CACHE_PREFIXES.leases}${LEASE_HOLDER}${id}`
}

/**
 * The scope, version, key and revision that a ref or access object name encodes; undefined unless
 * the name is exactly what refKey writes (canonical encoding, a revision slot of ten digits above 0).
 */
export function parseEntryKey(objectKey: string): EntryName | undefined {
  const folder = folderOf(objectKey)
  if (folder !== CACHE_PREFIXES.refs && folder !== CACHE_PREFIXES.access) return undefined
  const match = ENTRY_PATH.exec(objectKey.slice(folder.length))
  if (!match || match[4] === '0'.repeat(REVISION_DIGITS)) return undefined
  return decodeEntryName(match[1], match[2], match[3], match[4] ? Number(match[4]) : 0)
}

/** The names in an entry path, if they are canonically encoded and neither is a folder name. */
function decodeEntryName(scope: string, version: string, key: string, revision: number): EntryName | undefined {
  try {
    const name = { scope: decodeURIComponent(scope), version, key: decodeURIComponent(key), revision }
    if (encodeName(name.scope) !== scope || encodeName(name.key) !== key) return undefined
    if ([scope, key].some(segment => segment === '.' || segment === '..')) return undefined
    return name
  } catch {
    return undefined
  }
}

/** What follows each folder; names are percent-encoded, so neither '/' nor '@' is in one. */
const ENTRY_PATH = /^([^/@]+)\/([0-9a-f]{16})\/([^/@]+)(?:@(\d{10}))?$/
const OBJECT_PATH = /^([0-9a-f]{2})\/([0-9a-f]{64})$/
const SIGNATURE_PATH = /^([^/@]+)\/([0-9a-f]{16})\/([^/@]+)\/([0-9a-f]{64})$/
const LEASE_PATH = new RegExp(`^${LEASE_HOLDER}(${UUID})$`)

/** A key's first segment with its '/', or '' for a key without one. */
function folderOf(key: string): string {
  return key.slice(0, key.indexOf('/') + 1)
}

/** What a key of the store is; undefined for anything that is not exactly a key of a known kind. */
export function kindOf(key: string): CacheKeyKind | undefined {
  const folder = folderOf(key)
  const rest = key.slice(folder.length)
  switch (folder) {
    case CACHE_PREFIXES.objects: {
      const match = OBJECT_PATH.exec(rest)
      return match && match[2].startsWith(match[1]) ? { kind: 'object', name: match[2] } : undefined
    }
    case CACHE_PREFIXES.manifests:
      return SHA256_HEX.test(rest) ? { kind: 'manifest', digest: rest } : undefined
    case CACHE_PREFIXES.refs:
    case CACHE_PREFIXES.access: {
      const name = parseEntryKey(key)
      return name && { kind: folder === CACHE_PREFIXES.refs ? 'ref' : 'access', ...name }
    }
    case CACHE_PREFIXES.signatures: {
      const match = SIGNATURE_PATH.exec(rest)
      const name = match && decodeEntryName(match[1], match[2], match[3], 0)
      return name
        ? { kind: 'signature', scope: name.scope, version: name.version, key: name.key, tree: match![4] }
        : undefined
    }
    case CACHE_PREFIXES.leases: {
      const match = LEASE_PATH.exec(rest)
      return match ? { kind: 'lease', id: match[1] } : undefined
    }
    default:
      return undefined
  }
}

/** Whether a key lies in one of the cache's folders, well formed or not. */
export function inCacheFolder(key: string): boolean {
  return Object.values(CACHE_PREFIXES).some(prefix => key.startsWith(prefix))
}
