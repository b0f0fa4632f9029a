import * as path from 'node:path'
import { homedir } from 'node:os'
import { entryVersion, parseEntryKey, refKey, validateKey } from '../../src/core/cache/entry-refs.js'
import { readScopes, scopeOfRef } from '../../src/core/cache/scope.js'
import { restoreDestinations } from '../../src/core/cache/tree-paths.js'

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
    expect(parseEntryKey(full)).toEqual({ scope: 'branch/main', version: entryVersion(['dist']), key: 'deps-linux-a/b c' })
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
    expect(readScopes({ ref: 'refs/pull/7/merge', baseRef: 'release', defaultBranch: 'main' })).toEqual(['pr/7', 'branch/release', 'branch/main'])
    expect(readScopes({ ref: 'refs/heads/main', defaultBranch: 'main' })).toEqual(['branch/main'])
  })
})

describe('restore destinations', () => {
  const workspace = '/work/repo'
  it('keeps relative roots inside the workspace', () => {
    expect(restoreDestinations(['dist', 'node_modules'], ['dist', 'node_modules'], workspace)).toEqual(['/work/repo/dist', '/work/repo/node_modules'])
  })

  it('allows a root outside the workspace only where a requested path names it', () => {
    expect(restoreDestinations(['~/.npm'], ['~/.npm'], workspace)).toEqual([path.join(homedir(), '.npm')])
    expect(() => restoreDestinations(['/etc'], ['dist'], workspace)).toThrow(/outside the workspace/)
    expect(() => restoreDestinations(['../other'], ['dist'], workspace)).toThrow(/outside the workspace/)
    expect(() => restoreDestinations(['~/.ssh'], ['~/.npm'], workspace)).toThrow(/outside the workspace/)
  })
})
