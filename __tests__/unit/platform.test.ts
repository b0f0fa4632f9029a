import { IntegrityError } from '../../src/core/errors.js'
import { assertSafeRelativePath } from '../../src/core/manifest/validate.js'
import { joinManifestPath, portableLinkTarget, portableMode, unsafeOnWindows } from '../../src/core/store/platform.js'

describe('a manifest path on each OS', () => {
  it('joins below its root with the separator of the OS', () => {
    expect(joinManifestPath('/w/build', 'a/b/c.o', 'linux')).toBe('/w/build/a/b/c.o')
    expect(joinManifestPath('/', 'a/b', 'darwin')).toBe('/a/b')
    expect(joinManifestPath('C:\\w\\build', 'a/b/c.o', 'win32')).toBe('C:\\w\\build\\a\\b\\c.o')
    expect(joinManifestPath('C:\\', 'a/b', 'win32')).toBe('C:\\a\\b')
    expect(joinManifestPath('C:\\w', '', 'win32')).toBe('C:\\w')
  })

  it('refuses on Windows only the names Windows does not allow', () => {
    for (const name of ['a\\b', 'c:d', 'x<y', 'x>y', 'q"', 'p|q', 'what?', 'star*', 'bell\u0007']) {
      expect(() => assertSafeRelativePath(`dir/${name}`, 'linux')).not.toThrow()
      expect(() => assertSafeRelativePath(`dir/${name}`, 'win32')).toThrow(IntegrityError)
      expect(() => assertSafeRelativePath(`dir/${name}`, 'win32')).toThrow(/is not a valid Windows path/)
    }
    expect(() => assertSafeRelativePath('dir/file name (1).txt', 'win32')).not.toThrow()
    for (const platform of ['linux', 'win32'] as const) {
      expect(() => assertSafeRelativePath('a/../b', platform)).toThrow(/is unsafe/)
    }
  })
})

describe('what a save on Windows stores', () => {
  it("keeps a relative link's target '/'-separated, and an absolute one as it is", () => {
    expect(portableLinkTarget('..\\lib\\libfoo.so', 'win32')).toBe('../lib/libfoo.so')
    expect(portableLinkTarget('C:\\tools\\bin', 'win32')).toBe('C:\\tools\\bin')
    expect(portableLinkTarget('\\\\server\\share', 'win32')).toBe('\\\\server\\share')
    expect(portableLinkTarget('odd\\name', 'linux')).toBe('odd\\name')
  })

  it('gives the usual POSIX modes, not the 0o666 Windows reports', () => {
    expect(portableMode('file', 0o100666, 'win32')).toBe(0o644)
    expect(portableMode('file', 0o100444, 'win32')).toBe(0o444)
    expect(portableMode('dir', 0o40666, 'win32')).toBe(0o755)
    expect(portableMode('symlink', 0o120666, 'win32')).toBe(0o777)
    expect(portableMode('file', 0o104755, 'linux')).toBe(0o4755)
    expect(portableMode('dir', 0o41777, 'darwin')).toBe(0o1777)
  })
})

describe("a store's keys as file names on Windows", () => {
  it('refuses what Windows would read as a separator, drive or stream, and lets the usual keys through', () => {
    const key = (name: string) => `refs/branch%2Fmain/0123abcd/${encodeURIComponent(name)}`
    expect(unsafeOnWindows(key('npm-Linux-4f2a'))).toBe(false)
    expect(unsafeOnWindows(key("deps (v2) it's ~!"))).toBe(false)
    expect(unsafeOnWindows(`objects/ab/${'ab'.repeat(32)}`)).toBe(false)
    // encodeURIComponent leaves '*' as it is; a backslash in a raw key would leave the store's folder.
    expect(unsafeOnWindows(key('build-*'))).toBe(true)
    expect(unsafeOnWindows('refs/..\\..\\outside')).toBe(true)
    expect(unsafeOnWindows('refs/c:stream')).toBe(true)
  })
})
