import { glob, stat } from 'node:fs/promises'
import * as path from 'node:path'
import type { PolicyRule } from '../cache/entry-signature.js'
import { InputError, IntegrityError } from '../errors.js'
import {
  signStatementKeyless,
  signStatementWithKey,
  verifyBundleKeyless,
  verifyBundleWithKey
} from '../signing/bundle.js'
import type { KeylessVerification } from '../signing/bundle.js'
import type { SigningKey } from '../signing/keys.js'
import { PUBLIC_SIGSTORE, type SigstoreInstance } from '../signing/sigstore-instance.js'
import { loadTrustedRoot } from '../signing/trust-root.js'
import { trustedRootJson } from './offline-kit.js'
import type { ObjectStore } from '../store/object-store.js'
import { describeStore, storesOverlap, type StoreConfig } from '../store/store-config.js'
import type { StatementSigner } from './publish-release.js'
import { readRecord } from './publish-release.js'
import { releaseLayout } from './release-layout.js'
import { verifyRelease, type InTotoStatement, type VerifiedRelease } from './verify-release.js'

/** Refuses a release store that shares objects with the cache: a cache is pruned, releases never are. */
export function assertSeparateStores(release: StoreConfig, cache: StoreConfig | undefined): void {
  if (cache && storesOverlap(release, cache))
    throw new InputError(
      `release-store: ${describeStore(release)} overlaps the cache store ${describeStore(cache)}; releases are never pruned, so give them their own bucket or prefix`
    )
}

/** The files the package globs match (relative to the workspace), named by their base names. */
export async function resolvePackages(
  patterns: string[],
  workspace: string
): Promise<Array<{ name: string; path: string }>> {
  const files = new Set<string>()
  for (const pattern of patterns) {
    for await (const match of glob(path.resolve(workspace, pattern))) {
      const info = await stat(match)
      if (info.isFile()) files.add(path.resolve(match))
      else if (info.isDirectory())
        for await (const inner of glob(path.join(match, '**/*')))
          if ((await stat(inner)).isFile()) files.add(path.resolve(inner))
    }
  }
  if (files.size === 0)
    throw new InputError(
      `packages: no file matches ${patterns.join(', ') || '(nothing given)'}; build the packages first, or fix the globs`
    )
  return [...files].sort().map(file => ({ name: path.basename(file), path: file }))
}

export function keySigner(key: SigningKey): StatementSigner {
  return {
    method: 'key',
    keyId: key.keyId,
    publicKeyPem: key.publicKeyPem,
    sign: async statement => signStatementWithKey(statement, key)
  }
}

export function keylessSigner(
  identityToken: () => Promise<string | undefined>,
  instance?: SigstoreInstance
): StatementSigner {
  return {
    method: 'keyless',
    sign: async statement => signStatementKeyless(statement, { identityToken: await identityToken(), instance }),
    trustedRoot: async () => {
      try {
        return trustedRootJson(await loadTrustedRoot(instance ?? PUBLIC_SIGSTORE))
      } catch {
        return undefined
      }
    }
  }
}

export interface VerifyOptions {
  store: ObjectStore
  project: string
  version: string
  /** Pins the signer; without it a key-signed release is checked against the key published beside it. */
  publicKeyPem?: string
  /** For keyless releases: the Sigstore instance and the identity policy. */
  keyless?: KeylessVerification
  requireCacheFrom?: PolicyRule
}

/** Verifies a release with the method its release.json names. */
export async function verifyPublishedRelease(
  options: VerifyOptions
): Promise<VerifiedRelease & { keySource: 'given' | 'store' | 'keyless' }> {
  const record = await readRecord(options.store, options.project, options.version)
  let keySource: 'given' | 'store' | 'keyless' = 'keyless'
  let publicKeyPem = options.publicKeyPem
  if (record?.signing.method === 'key' && !publicKeyPem) {
    const published = record.signing.keyId
      ? await options.store.get(releaseLayout.key(options.project, record.signing.keyId))
      : undefined
    if (!published)
      throw new IntegrityError(
        `the public key ${record.signing.keyId?.slice(0, 12)} is not in the release store; pass the public key to verify with`
      )
    publicKeyPem = published.toString('utf8')
    keySource = 'store'
  } else if (record?.signing.method === 'key') {
    keySource = 'given'
  }
  const verified = await verifyRelease({
    store: options.store,
    project: options.project,
    version: options.version,
    requireCacheFrom: options.requireCacheFrom,
    verifyBundle: async bundle =>
      (publicKeyPem
        ? verifyBundleWithKey(bundle, publicKeyPem)
        : await verifyBundleKeyless(bundle, options.keyless ?? {})) as InTotoStatement
  })
  return { ...verified, keySource }
}
