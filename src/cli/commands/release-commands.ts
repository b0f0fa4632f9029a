import { parsePolicyRule } from '../../core/cache/entry-signature.js'
import { offlineVerifyOptions, verifyOffline } from './offline-verify.js'
import * as core from '@actions/core'
import { execFileSync } from 'node:child_process'
import { readFile, writeFile } from 'node:fs/promises'
import { publishInputs, verifyInputs } from '../../config/step-core.js'
import type { ReleaseInputValues, ReleaseSigning, VerifyInputValues } from '../../config/step-inputs.js'
import { InputError } from '../../core/errors.js'
import { buildContextFromEnv, withSourceFacts } from '../../core/release/provenance.js'
import { assertSeparateStores } from '../../core/release/release-job.js'
import { tagOfRef } from '../../core/git-ref.js'
import { IdentityInputs, resolveIdentityPolicy } from '../../core/signing/identity-policy.js'
import { generateSigningKey, loadSigningKey } from '../../core/signing/keys.js'
import { resolveSigstoreInstance, SigstoreInputs } from '../../core/signing/sigstore-instance.js'
import { formatBytes } from '../../core/report-format.js'
import { openStore } from '../../core/store/open-store.js'
import { describeStore } from '../../core/store/store-config.js'
import { Exit, requireValue, stringValue, type Command, type Options, type Values } from '../command.js'
import { storeConfigFrom, storeOptions } from '../store-options.js'

const print = (line: string): void => void process.stdout.write(`${line}\n`)

const releaseStoreOptions = {
  'release-store': { type: 'string', description: 's3://bucket/prefix or a directory for releases (never the cache)' },
  project: { type: 'string', description: 'project name: the top folder of its releases' },
  version: { type: 'string', description: 'version name, e.g. v1.2.3 (default: the tag in $GITHUB_REF)' }
} as const

function gitValue(args: string[]): string | undefined {
  try {
    return execFileSync('git', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim() || undefined
  } catch {
    return undefined
  }
}

const sigstoreOptions = {
  sigstore: { type: 'string', description: 'keyless: public (default), github, or custom' },
  'fulcio-url': { type: 'string', description: 'keyless, sigstore custom: the Fulcio URL' },
  'rekor-url': { type: 'string', description: 'keyless, sigstore custom: the Rekor URL (none: no transparency log)' },
  'timestamp-url': { type: 'string', description: 'keyless, sigstore custom: the RFC 3161 timestamp authority URL' }
} satisfies Options

/** release: the trusted root the release carries in its offline kit (default: the instance's, when it has one). */
const kitRootOption = {
  'kit-trusted-root': {
    type: 'string',
    description: 'keyless: trusted root JSON to carry in the release (offline kit)'
  }
} satisfies Options

const keylessVerifyOptions = {
  'trusted-root': { type: 'string', description: 'keyless: trusted root JSON of the instance (offline; default: TUF)' },
  'certificate-identity': { type: 'string', description: 'keyless: the exact workflow identity URI to require' },
  'certificate-identity-regexp': { type: 'string', description: 'keyless: a regular expression for the identity' },
  'certificate-oidc-issuer': { type: 'string', description: 'keyless: the OIDC issuer (default: GitHub Actions)' },
  'source-repository': { type: 'string', description: 'keyless: owner/name the release must come from' }
} satisfies Options

function valuesOf<Name extends string>(values: Values, names: readonly Name[]): Partial<Record<Name, string>> {
  return Object.fromEntries(names.map(name => [name, stringValue(values, name)])) as Partial<Record<Name, string>>
}

/** Keyless: the OIDC token from $SIGSTORE_ID_TOKEN, else from GitHub Actions (id-token: write). */
async function identityToken(): Promise<string | undefined> {
  if (process.env.SIGSTORE_ID_TOKEN) return process.env.SIGSTORE_ID_TOKEN
  if (!process.env.ACTIONS_ID_TOKEN_REQUEST_URL) return undefined
  return core.getIDToken('sigstore').catch(() => undefined)
}

/** The signing the flags name, and the secrets it holds (to keep out of the provenance). */
async function signingFrom(values: Values): Promise<{ signing: ReleaseSigning; secrets: string[] }> {
  const method = stringValue(values, 'signing') ?? 'key'
  const { Sigstore, FulcioURL, RekorURL, TimestampURL } = SigstoreInputs
  const sigstore = valuesOf(values, [Sigstore, FulcioURL, RekorURL, TimestampURL])
  if (method === 'keyless') {
    const instance = resolveSigstoreInstance(sigstore, 'sign', '--')
    const kitRoot = stringValue(values, 'kit-trusted-root')
    return {
      signing: { method, instance: kitRoot ? { ...instance, trustedRootPath: kitRoot } : instance },
      secrets: []
    }
  }
  if (method !== 'key') throw new InputError(`--signing: "${method}" is not key or keyless`)
  const stray = Object.entries(sigstore).find(([, value]) => value)
  if (stray) throw new InputError(`--${stray[0]}: only for keyless signing; drop it, or give --signing keyless`)
  const keyFile = stringValue(values, 'signing-key-file')
  const pem = keyFile ? await readFile(keyFile, 'utf8').catch(() => '') : process.env.ARTIFACT_ACTION_SIGNING_KEY
  return {
    signing: { method, key: loadSigningKey(pem, keyFile ? '--signing-key-file' : 'signing-key') },
    secrets: pem ? [pem] : []
  }
}

function versionFrom(values: Record<string, unknown>): string {
  const version = stringValue(values as never, 'version') ?? tagOfRef(process.env.GITHUB_REF)
  if (!version)
    throw new InputError('--version: required when not building a tag; give the version to release, e.g. v1.2.3')
  return version
}

export const releaseCommand: Command = {
  name: 'release',
  summary:
    'Publish packages and signed provenance to the release store: immutable, release.json written last. Exit 0 when published or already identical.',
  usage: 'release --project P --version V --release-store URL (--signing-key-file KEY | --signing keyless) GLOB...',
  options: {
    ...releaseStoreOptions,
    ...storeOptions,
    signing: { type: 'string', description: 'key (default) or keyless (Sigstore; $SIGSTORE_ID_TOKEN or GitHub OIDC)' },
    'signing-key-file': {
      type: 'string',
      description: 'PEM private key for offline signing (or $ARTIFACT_ACTION_SIGNING_KEY)'
    },
    ...sigstoreOptions,
    ...kitRootOption,
    plan: { type: 'string', description: "the pipeline's plan JSON, carried in the provenance" },
    repository: { type: 'string', description: 'source repository (default: $GITHUB_REPOSITORY or the git remote)' },
    commit: { type: 'string', description: 'source commit (default: $GITHUB_SHA or git HEAD)' }
  },
  async run(values, positionals) {
    const project = requireValue(values, 'project', 'give the project name')
    const version = versionFrom(values)
    const releaseStore = storeConfigFrom(values, 'release-store')
    if (!stringValue(values, 'release-store'))
      throw new InputError('--release-store: required; give s3://bucket/prefix or a directory that is not the cache')
    assertSeparateStores(releaseStore, storeConfigFrom(values))
    const { signing, secrets } = await signingFrom(values)
    const planFile = stringValue(values, 'plan')
    const plan: unknown = planFile ? JSON.parse(await readFile(planFile, 'utf8')) : undefined
    const inputs: ReleaseInputValues = {
      project,
      version,
      packages: positionals,
      plan,
      releaseStore,
      signing,
      secrets,
      workspace: process.cwd()
    }
    const base = buildContextFromEnv(process.env)
    const git =
      base.builder === 'local'
        ? {
            remote: gitValue(['config', '--get', 'remote.origin.url']),
            head: gitValue(['rev-parse', 'HEAD']),
            headRef: gitValue(['symbolic-ref', '-q', 'HEAD'])
          }
        : undefined
    const repository = stringValue(values, 'repository')
    const context = withSourceFacts(base, { repository, commit: stringValue(values, 'commit'), git })
    const result = await publishInputs(inputs, { store: openStore(releaseStore), context, identityToken })
    print(
      `${result.status === 'published' ? 'published' : 'already published with identical bytes:'} ${project} ${version} in ${describeStore(releaseStore)}`
    )
    for (const file of result.record.files) print(`  ${file.sha256}  ${file.name} (${formatBytes(file.size)})`)
    return Exit.Ok
  }
}

export const verifyCommand: Command = {
  name: 'verify',
  summary:
    'Verify a release: signature, SHA256SUMS, every package byte, and a complete release.json. Exit 0 when all hold, 1 with the reason otherwise.',
  usage: 'verify --project P --version V --release-store URL [--public-key KEY.pub | --trusted-root FILE ...]',
  options: {
    ...releaseStoreOptions,
    ...storeOptions,
    'public-key': {
      type: 'string',
      description: 'PEM public key to require (default: the key published beside the release)'
    },
    sigstore: { type: 'string', description: 'keyless: the Sigstore that signed: public (default), github, or custom' },
    ...keylessVerifyOptions,
    'require-cache-from': {
      type: 'string',
      description: 'refuse a release built from caches this rule refuses: signed, default-branch, or refs'
    },
    'default-branch': { type: 'string', description: 'the default branch, for --require-cache-from default-branch' },
    ...offlineVerifyOptions
  },
  async run(values) {
    if (stringValue(values, 'offline')) return verifyOffline(values)
    const project = requireValue(values, 'project', 'give the project name')
    const version = versionFrom(values)
    if (!stringValue(values, 'release-store'))
      throw new InputError('--release-store: required; give the release store to verify from')
    const keyFile = stringValue(values, 'public-key')
    const requireCacheFrom = parsePolicyRule(
      stringValue(values, 'require-cache-from'),
      '--require-cache-from',
      stringValue(values, 'default-branch')
    )
    const inputs: VerifyInputValues = {
      requireCacheFrom,
      releaseStore: storeConfigFrom(values, 'release-store'),
      project,
      version,
      publicKeyPem: keyFile ? await readFile(keyFile, 'utf8') : undefined,
      keyless: {
        instance: resolveSigstoreInstance(valuesOf(values, Object.values(SigstoreInputs)), 'verify', '--'),
        policy: resolveIdentityPolicy(valuesOf(values, Object.values(IdentityInputs)), '--'),
        trustedRootInput: '--trusted-root'
      }
    }
    const verified = await verifyInputs(inputs)
    for (const line of verified.checked) print(`ok: ${line}`)
    if (verified.keySource === 'store')
      print('note: checked against the public key published in the release store; pin it with --public-key')
    const pinned = Object.values(IdentityInputs).some(
      name => name !== IdentityInputs.Issuer && stringValue(values, name)
    )
    if (verified.keySource === 'keyless' && !pinned) {
      print(
        `note: signed by a workflow of ${verified.release.repository}, the repository the release names; pin it with --source-repository`
      )
    }
    print(`verified ${project} ${version} (${verified.release.repository}@${verified.release.commit.slice(0, 12)})`)
    return Exit.Ok
  }
}

export const keygenCommand: Command = {
  name: 'keygen',
  summary: 'Write a new signing key pair (ECDSA P-256 by default) for offline release signing.',
  usage: 'keygen --out NAME [--type ecdsa-p256|ed25519]',
  options: {
    out: { type: 'string', description: 'writes NAME.key (private, mode 600) and NAME.pub' },
    type: { type: 'string', description: 'ecdsa-p256 (default) or ed25519' }
  },
  async run(values) {
    const out = requireValue(values, 'out', 'give the file name to write, e.g. --out release-signing')
    const type = stringValue(values, 'type') ?? 'ecdsa-p256'
    if (type !== 'ecdsa-p256' && type !== 'ed25519')
      throw new InputError(`--type: "${type}" is not ecdsa-p256 or ed25519`)
    const { key, privateKeyPem } = generateSigningKey(type)
    await writeFile(`${out}.key`, privateKeyPem, { mode: 0o600, flag: 'wx' })
    await writeFile(`${out}.pub`, key.publicKeyPem, { flag: 'wx' })
    print(`wrote ${out}.key and ${out}.pub (key id ${key.keyId})`)
    // A mode is only a read-only flag on Windows: the folder's access list is what protects the key there.
    if (process.platform === 'win32') print(`${out}.key is protected only by its folder's permissions on Windows`)
    return Exit.Ok
  }
}
