import { readFile } from 'node:fs/promises'
import * as path from 'node:path'
import type { Readable } from 'node:stream'
import { TrustedRoot } from '@sigstore/protobuf-specs'
import { InputError, IntegrityError } from '../errors.js'
import { keyIdOf, loadPublicKey } from '../signing/keys.js'
import { sha256Hex } from '../store/codec.js'
import { FsStore } from '../store/fs-store.js'
import type { ObjectStore } from '../store/object-store.js'
import { GITHUB_ACTIONS_ISSUER } from '../signing/identity-policy.js'
import { releaseLayout, type ReleaseFile } from './release-layout.js'

/**
 * The offline verification kit a release carries beside its provenance: the public key (key signing) or the
 * trusted root that was in force (keyless), and VERIFY.md with the exact commands. None of it is signed, and anyone
 * who can edit the release can edit it, so a verifier pins what it trusts (a key fingerprint, a trusted root's
 * digest or its own copy, a signer identity) and uses the kit only when it matches.
 */
export const KIT = {
  publicKey: 'public-key.pem',
  trustedRoot: 'trusted_root.json',
  readme: 'VERIFY.md'
} as const

export const kitKey = (project: string, version: string, name: string): string =>
  `${releaseLayout.version(project, version)}${name}`

export function isKitKey(project: string, version: string, key: string): boolean {
  return Object.values(KIT).some(name => kitKey(project, version, name) === key)
}

/** The trusted root as JSON text (the Sigstore trusted root format), from what loadTrustedRoot returns. */
export function trustedRootJson(root: TrustedRoot): string {
  return `${JSON.stringify(TrustedRoot.toJSON(root), null, 2)}\n`
}

/** VERIFY.md: one page, the exact commands for this release. */
export function verifyReadme(release: {
  project: string
  version: string
  repository: string
  files: ReleaseFile[]
  keyId?: string
  trustedRoot?: boolean
}): string {
  const { project, version, repository, files, keyId } = release
  const file = files[0]?.name ?? 'PACKAGE'
  const repo = repository.replace(/^https:\/\/github\.com\//, '')
  const lines = [
    `# Verifying ${project} ${version}`,
    '',
    'Run these in this folder (a copy of the release: `packages/`, `SHA256SUMS`, `provenance.sigstore.json`,',
    '`release.json` and this kit). Nothing here needs the network. Nothing in this folder vouches for itself:',
    'pin what you trust from a source other than this folder (the project site, an earlier release, your own copy).',
    ''
  ]
  if (keyId) {
    lines.push(
      `Signed with a key. Its fingerprint (sha256 of the public key's DER) is \`${keyId}\`: check it against the one`,
      'the project publishes elsewhere.',
      '',
      '```sh',
      `npx artifact-action verify --offline . --public-key-fingerprint ${keyId}`,
      '',
      `openssl pkey -pubin -in ${KIT.publicKey} -outform DER | sha256sum          # must print the fingerprint`,
      '(cd packages && sha256sum -c ../SHA256SUMS)',
      'jq -r .dsseEnvelope.payload provenance.sigstore.json | base64 -d > payload.json',
      'type=$(jq -r .dsseEnvelope.payloadType provenance.sigstore.json)',
      `{ printf 'DSSEv1 %d %s %d ' "\${#type}" "$type" "$(stat -c %s payload.json)"; cat payload.json; } > pae.bin`,
      "jq -r '.dsseEnvelope.signatures[0].sig' provenance.sigstore.json | base64 -d > sig.bin",
      `openssl dgst -sha256 -verify ${KIT.publicKey} -signature sig.bin pae.bin   # Ed25519: openssl pkeyutl -verify -pubin -inkey ${KIT.publicKey} -rawin -in pae.bin -sigfile sig.bin`,
      `jq -r '.subject[] | "\\(.digest.sha256)  \\(.name)"' payload.json | sort | diff - <(sort SHA256SUMS)`,
      '',
      `cosign verify-blob-attestation --new-bundle-format --bundle provenance.sigstore.json --key ${KIT.publicKey} \\`,
      `  --insecure-ignore-tlog=true packages/${file}`,
      '```'
    )
  } else {
    const root = release.trustedRoot
      ? `\`${KIT.trustedRoot}\` is the Sigstore trusted root that was in force when it was signed; trust it only if its sha256 matches one you got elsewhere, or use your own copy (\`gh attestation trusted-root\`).`
      : 'This release carries no trusted root: use your own copy of the Sigstore trusted root.'
    lines.push(
      `Signed keylessly by a GitHub Actions workflow of ${repository}. ${root}`,
      '',
      '```sh',
      `sha256sum ${KIT.trustedRoot}`,
      `npx artifact-action verify --offline . --trusted-root-sha256 <pinned sha256> --source-repository ${repo}`,
      `npx artifact-action verify --offline . --trusted-root <your trusted_root.json> --source-repository ${repo}`,
      '',
      `gh attestation verify packages/${file} --bundle provenance.sigstore.json --repo ${repo} \\`,
      `  --custom-trusted-root ${KIT.trustedRoot}`,
      '',
      `cosign verify-blob-attestation --new-bundle-format --bundle provenance.sigstore.json \\`,
      `  --trusted-root ${KIT.trustedRoot} --certificate-oidc-issuer ${GITHUB_ACTIONS_ISSUER} \\`,
      `  --certificate-identity-regexp '^${repository.replace(/[.]/g, '\\.')}/' packages/${file}`,
      '(cd packages && sha256sum -c ../SHA256SUMS)',
      '```'
    )
  }
  return `${lines.join('\n')}\n`
}

/**
 * A folder holding one release (a copy of `<project>/releases/<version>/`) as a read-only release store, so the
 * same verifier runs on it. Project and version come from its release.json, which the signature must then confirm.
 */
export async function openReleaseFolder(
  dir: string,
  input = '--offline'
): Promise<{ store: ObjectStore; project: string; version: string }> {
  let record: { project?: unknown; version?: unknown }
  try {
    record = JSON.parse(await readFile(path.join(dir, 'release.json'), 'utf8'))
  } catch {
    throw new InputError(`${input}: ${dir} holds no readable release.json; give the folder of one copied release`)
  }
  if (typeof record.project !== 'string' || typeof record.version !== 'string') {
    throw new IntegrityError('release.json: project or version is missing or malformed')
  }
  const prefix = releaseLayout.version(record.project, record.version)
  const folder = new FsStore(dir)
  const inside = (key: string) => (key.startsWith(prefix) ? key.slice(prefix.length) : undefined)
  const readOnly = (): never => {
    throw new InputError(`${input}: a copied release is read-only`)
  }
  const store: ObjectStore = {
    location: folder.location,
    identity: folder.identity,
    put: async () => readOnly(),
    delete: async () => readOnly(),
    check: async () => folder.check(),
    get: async (key, range) => (inside(key) === undefined ? undefined : folder.get(inside(key)!, range)),
    getStream: async (key): Promise<Readable | undefined> =>
      inside(key) === undefined ? undefined : folder.getStream(inside(key)!),
    head: async key => (inside(key) === undefined ? undefined : folder.head(inside(key)!)),
    async *list(listPrefix) {
      const rest = inside(listPrefix)
      if (rest === undefined) return
      for await (const object of folder.list(rest)) yield { ...object, key: `${prefix}${object.key}` }
    }
  }
  return { store, project: record.project, version: record.version }
}

/** The public key a copied release carries, if its fingerprint is the pinned one. */
export async function pinnedCarriedKey(dir: string, fingerprint: string, input: string): Promise<string> {
  const pin = fingerprint
    .trim()
    .toLowerCase()
    .replace(/^sha256:/, '')
  if (!/^[0-9a-f]{64}$/.test(pin))
    throw new InputError(`${input}: "${fingerprint}" is not a sha256 fingerprint (64 hex digits)`)
  const pem = await readFile(path.join(dir, KIT.publicKey), 'utf8').catch(() => undefined)
  if (!pem)
    throw new IntegrityError(`${KIT.publicKey}: missing from the release; give the public key with --public-key`)
  const keyId = keyIdOf(loadPublicKey(pem, KIT.publicKey))
  if (keyId !== pin)
    throw new IntegrityError(`${KIT.publicKey}: fingerprint ${keyId}, not the pinned ${pin}; the key was replaced`)
  return pem
}

/** The trusted root file a copied release carries, if its sha256 is the pinned one. */
export async function pinnedCarriedRoot(dir: string, sha256: string, input: string): Promise<string> {
  const pin = sha256.trim().toLowerCase()
  if (!/^[0-9a-f]{64}$/.test(pin)) throw new InputError(`${input}: "${sha256}" is not a sha256 (64 hex digits)`)
  const file = path.join(dir, KIT.trustedRoot)
  const bytes = await readFile(file).catch(() => undefined)
  if (!bytes)
    throw new IntegrityError(`${KIT.trustedRoot}: missing from the release; give your own with --trusted-root`)
  if (sha256Hex(bytes) !== pin)
    throw new IntegrityError(
      `${KIT.trustedRoot}: sha256 ${sha256Hex(bytes)}, not the pinned ${pin}; the trusted root was replaced`
    )
  return file
}
