import {
  checkSignerIdentity,
  GITHUB_ACTIONS_ISSUER,
  resolveIdentityPolicy
} from '../../src/core/signing/identity-policy.js'
import { GITHUB_SIGSTORE, PUBLIC_SIGSTORE, resolveSigstoreInstance } from '../../src/core/signing/sigstore-instance.js'
import { loadTrustedRoot } from '../../src/core/signing/trust-root.js'
import { writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { tempDir } from '../helpers/trees.js'

describe('Sigstore instance inputs', () => {
  it("defaults to the public instance, and knows GitHub's (no Rekor, a TSA)", () => {
    expect(resolveSigstoreInstance({}, 'sign')).toEqual({ ...PUBLIC_SIGSTORE, trustedRootPath: undefined })
    expect(resolveSigstoreInstance({ sigstore: 'github' }, 'sign')).toEqual({
      ...GITHUB_SIGSTORE,
      trustedRootPath: undefined
    })
    expect(GITHUB_SIGSTORE).toEqual({
      name: 'github',
      fulcioURL: 'https://fulcio.githubapp.com',
      tsaURL: 'https://timestamp.githubapp.com'
    })
  })

  it('takes custom URLs, and URLs alone mean custom', () => {
    const urls = { 'fulcio-url': 'http://127.0.0.1:1', 'timestamp-url': 'http://127.0.0.1:2' }
    expect(resolveSigstoreInstance(urls, 'sign')).toEqual({
      name: 'custom',
      fulcioURL: 'http://127.0.0.1:1',
      rekorURL: undefined,
      tsaURL: 'http://127.0.0.1:2',
      trustedRootPath: undefined
    })
  })

  it.each([
    [{ sigstore: 'private' }, 'sign', '', /^sigstore: "private" is not public, github or custom$/],
    [{ sigstore: 'public', 'rekor-url': 'https://rekor.example' }, 'sign', '', /^rekor-url: only for sigstore custom/],
    [
      { sigstore: 'custom', 'rekor-url': 'https://rekor.example' },
      'sign',
      '--',
      /^--fulcio-url: required for sigstore custom/
    ],
    [
      { 'fulcio-url': 'https://fulcio.example' },
      'sign',
      '',
      /^rekor-url: sigstore custom needs a Rekor or a timestamp authority/
    ],
    [
      { 'fulcio-url': 'fulcio.example', 'rekor-url': 'https://r' },
      'sign',
      '',
      /^fulcio-url: "fulcio.example" is not a URL/
    ],
    [{ sigstore: 'custom' }, 'verify', '--', /^--trusted-root: required for sigstore custom/]
  ] as const)('refuses %j (%s) with one line naming the input', (values, use, prefix, message) => {
    expect(() => resolveSigstoreInstance(values, use, prefix)).toThrow(
      expect.objectContaining({ name: 'InputError', message: expect.stringMatching(message) })
    )
  })
})

describe('identity policy inputs', () => {
  it('defaults to the workflows of the source repository, on GitHub Actions', () => {
    expect(resolveIdentityPolicy({})).toEqual({
      issuer: GITHUB_ACTIONS_ISSUER,
      identity: { kind: 'repository-workflows' },
      sourceRepository: undefined
    })
    expect(resolveIdentityPolicy({ 'source-repository': 'acme/app' }).sourceRepository).toBe(
      'https://github.com/acme/app'
    )
    expect(resolveIdentityPolicy({ 'source-repository': 'https://ghe.example/acme/app/' }).sourceRepository).toBe(
      'https://ghe.example/acme/app'
    )
  })

  it.each([
    [
      { 'certificate-identity': 'https://x', 'certificate-identity-regexp': 'x' },
      /^--certificate-identity: give it or --certificate-identity-regexp, not both$/
    ],
    [{ 'certificate-identity-regexp': '(' }, /^--certificate-identity-regexp: not a valid regular expression/],
    [{ 'source-repository': 'acme' }, /^--source-repository: "acme" is not owner\/name or a repository URL/]
  ])('refuses %j with one line naming the input', (values, message) => {
    expect(() => resolveIdentityPolicy(values, '--')).toThrow(
      expect.objectContaining({ name: 'InputError', message: expect.stringMatching(message) })
    )
  })
})

describe('trusted root files', () => {
  it('refuses a file that is not a trusted root, naming the input', async () => {
    const dir = await tempDir('trusted-root')
    const bundle = path.join(dir, 'bundle.json')
    await writeFile(bundle, JSON.stringify({ mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json' }))
    const custom = (file: string) => ({ name: 'custom' as const, trustedRootPath: file })
    await expect(loadTrustedRoot(custom(bundle))).rejects.toMatchObject({
      name: 'InputError',
      message: expect.stringMatching(/^trusted-root: .*bundle.json is not a Sigstore trusted root/)
    })
    await expect(loadTrustedRoot(custom(path.join(dir, 'missing.json')), '--trusted-root')).rejects.toMatchObject({
      name: 'InputError',
      message: expect.stringMatching(/^--trusted-root: cannot read .*missing.json \(ENOENT\)$/)
    })
  })

  it('reads JSON lines (as gh attestation trusted-root prints them) and trusts every root', async () => {
    const dir = await tempDir('trusted-root')
    const root = (uri: string) => ({
      mediaType: 'application/vnd.dev.sigstore.trustedroot+json;version=0.1',
      tlogs: [],
      ctlogs: [],
      timestampAuthorities: [],
      certificateAuthorities: [
        {
          uri,
          subject: { organization: 'o', commonName: 'c' },
          certChain: { certificates: [] },
          validFor: { start: '2024-01-01T00:00:00Z' }
        }
      ]
    })
    const file = path.join(dir, 'trusted_root.jsonl')
    await writeFile(
      file,
      `${JSON.stringify(root('https://fulcio.one'))}\n${JSON.stringify(root('https://fulcio.two'))}\n`
    )
    const loaded = await loadTrustedRoot({ name: 'github', trustedRootPath: file })
    expect(loaded.certificateAuthorities.map(ca => ca.uri)).toEqual(['https://fulcio.one', 'https://fulcio.two'])
  })
})

describe('identity policy checks on a verified certificate', () => {
  const repo = 'https://github.com/acme/app'
  const utf8 = (text: string) => Buffer.concat([Buffer.from([0x0c, Buffer.byteLength(text)]), Buffer.from(text)])
  const signer = (san: string | undefined, source: string | undefined, issuer = GITHUB_ACTIONS_ISSUER) => ({
    subjectAlternativeName: san,
    extensions: { issuer },
    oids: source ? [{ oid: { id: [1, 3, 6, 1, 4, 1, 57264, 1, 12] }, value: utf8(source) }] : []
  })
  const workflow = `${repo}/.github/workflows/release.yml@refs/tags/v1.0.0`

  it('accepts a workflow of the repository the statement names, run in it (any case of the names)', () => {
    expect(() => checkSignerIdentity(signer(workflow, repo), resolveIdentityPolicy({}), repo)).not.toThrow()
    expect(() =>
      checkSignerIdentity(signer(workflow, repo), resolveIdentityPolicy({}), `${repo.toUpperCase()}/`)
    ).not.toThrow()
  })

  it.each([
    ['no source repository in the certificate', signer(workflow, undefined), /run in \(no source repository\), not in/],
    [
      'a look-alike repository prefix',
      signer('https://github.com/acme/app-fork/.github/workflows/r.yml@v1', repo),
      /not by a workflow of/
    ],
    ['another issuer', signer(workflow, repo, 'https://gitlab.com'), /is for OIDC issuer https:\/\/gitlab.com/],
    ['no SAN', signer(undefined, repo), /names no signer identity/]
  ])('refuses %s under the default policy', (_what, identity, reason) => {
    expect(() => checkSignerIdentity(identity, resolveIdentityPolicy({}), repo)).toThrow(reason)
  })

  it('refuses a statement that names no repository unless the signer is pinned', () => {
    expect(() => checkSignerIdentity(signer(workflow, repo), resolveIdentityPolicy({}), undefined)).toThrow(
      /names no source repository; give certificate-identity/
    )
    const pinned = resolveIdentityPolicy({ 'certificate-identity': workflow })
    expect(() => checkSignerIdentity(signer(workflow, repo), pinned, undefined)).not.toThrow()
  })
})
