import * as path from 'node:path'
import { homedir } from 'node:os'
import { parseEntryKey, refKey } from '../../src/core/cache/cache-layout.js'
import { entryVersion, keyFamily, validateKey } from '../../src/core/cache/entry-refs.js'
import { readScopes, scopeOfRef } from '../../src/core/cache/scope.js'
import { restoreTargets } from '../../src/core/cache/tree-paths.js'

describe('keys', () => {
  it('refuses keys that actions/cache refuses, naming the input', () => {
    expect(() => validateKey('a'.repeat(513))).toThrow(/^key: .*at most 512/)
    expect(() => validateKey('a,b', 'restore-keys')).toThrow(/^restore-keys: .*comma/)
    expect(() => validateKey('')).toThrow(/^key:/)
    expect(() => validateKey('a'.repeat(512))).not.toThrow()
  })

  it('encodes keys so that a prefix of a key is a prefix of its object name', () => {
    const full = refKey('branch/main', entryVersion(['dist']), 'deps-linux-a/b c')
    const prefix = refKey('branch/main', entryVersion(['dist']), 'deps-linux-')
    expect(full.startsWith(prefix)).toBe(true)
    expect(parseEntryKey(full)).toEqual({
      scope: 'branch/main',
      version: entryVersion(['dist']),
      key: 'deps-linux-a/b c',
      revision: 0
    })
  })

  it('names revisions beside their key, so listing the key as a prefix still finds them, and parses only what it writes', () => {
    const version = entryVersion(['dist'])
    const revision = refKey('branch/main', version, 'deps@x', 12)
    expect(revision).toBe(`refs/branch%2Fmain/${version}/deps%40x@0000000012`)
    expect(revision.startsWith(refKey('branch/main', version, 'dep'))).toBe(true)
    expect(parseEntryKey(revision)).toEqual({ scope: 'branch/main', version, key: 'deps@x', revision: 12 })
    expect(parseEntryKey(`access/${revision.slice('refs/'.length)}`)?.revision).toBe(12)
    const base = `refs/branch%2Fmain/${version}/deps`
    for (const malformed of [
      `${base}@0000000000`,
      `${base}@12`,
      `${base}@00000000012`,
      `${base}@abcdefghij`,
      `${base}@1@0000000001`,
      `refs/branch%2Fmain/${version}/de%70s`,
      `refs/branch%2Fmain/${version}/%E0%A4%A`
    ])
      expect(parseEntryKey(malformed)).toBeUndefined()
  })

  it('puts a key in the family of the restore key that its last dash ends', () => {
    expect(keyFamily('deps-linux-3f2a')).toBe('deps-linux-')
    expect(keyFamily('deps-')).toBe('deps-')
    expect(keyFamily('build')).toBe('build')
  })

  it('gives different paths different versions', () => {
    expect(entryVersion(['a'])).not.toBe(entryVersion(['b']))
  })
})

describe('scopes', () => {
  it('names the scope of each kind of ref', () => {
    expect(scopeOfRef('refs/heads/main')).toBe('branch/main')
    expect(scopeOfRef('refs/pull/12/merge')).toBe('pr/12')
    expect(scopeOfRef('refs/tags/v1.0.0')).toBe('tag/v1.0.0')
    expect(scopeOfRef(undefined)).toBe('local')
  })

  it('reads its own scope, then the base branch, then the default branch', () => {
    expect(readScopes({ ref: 'refs/pull/7/merge', baseRef: 'release', defaultBranch: 'main' })).toEqual([
      'pr/7',
      'branch/release',
      'branch/main'
    ])
    expect(readScopes({ ref: 'refs/heads/main', defaultBranch: 'main' })).toEqual(['branch/main'])
  })
})

describe('restore targets', () => {
  const workspace = '/work/repo'
  const destinations = (roots: string[], patterns: string[]) =>
    restoreTargets(roots, patterns, workspace).map(target => target.destination)

  it('keeps relative roots inside the workspace, reached from it', () => {
    expect(restoreTargets(['dist', 'node_modules'], ['dist', 'node_modules'], workspace)).toEqual([
      { destination: '/work/repo/dist', base: workspace },
      { destination: '/work/repo/node_modules', base: workspace }
    ])
  })

  it('allows a root outside the workspace only where a requested path names it, reached from it or its parent', () => {
    const npm = path.join(homedir(), '.npm')
    expect(restoreTargets(['~/.npm'], ['~/.npm'], workspace)).toEqual([{ destination: npm, base: homedir() }])
    expect(restoreTargets(['~/.cache/pip'], ['~/.cache'], workspace)[0].base).toBe(path.join(homedir(), '.cache'))
    expect(() => destinations(['/etc'], ['dist'])).toThrow(/outside the workspace/)
    expect(() => destinations(['../other'], ['dist'])).toThrow(/outside the workspace/)
    expect(() => destinations(['~/.ssh'], ['~/.npm'])).toThrow(/outside the workspace/)
  })

  it('refuses a root in the workspace that the patterns could not have saved', () => {
    const refused = /"\.github\/workflows" lies outside the requested paths/
    expect(() => destinations(['.github/workflows'], ['node_modules'])).toThrow(refused)
    expect(() => destinations(['.'], ['node_modules'])).toThrow(/outside the requested paths/)
    expect(() => destinations(['node_modules_evil'], ['node_modules'])).toThrow(/outside the requested paths/)
    expect(destinations(['node_modules/.cache'], ['node_modules'])).toEqual(['/work/repo/node_modules/.cache'])
  })

  it("takes a glob root below the glob's fixed folders only, and never an excluded one", () => {
    expect(destinations(['packages/a/dist', 'packages/b/dist'], ['packages/*/dist'])).toEqual([
      '/work/repo/packages/a/dist',
      '/work/repo/packages/b/dist'
    ])
    expect(() => destinations(['packages'], ['packages/*/dist'])).toThrow(/outside the requested paths/)
    expect(() => destinations(['src/index.ts'], ['packages/*/dist'])).toThrow(/outside the requested paths/)
    expect(() => destinations(['.'], ['*.log'])).toThrow(/outside the requested paths/)
    const excluded = ['packages/*/dist', '!packages/secret/dist']
    expect(() => destinations(['packages/secret/dist'], excluded)).toThrow(/outside the requested paths/)
  })
})
