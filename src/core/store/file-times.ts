/**
 * The seconds futimes takes for a whole-millisecond mtime. libuv cuts seconds to the nanosecond
 * and a file system to its step (1 ns, 100 ns, 1 µs), and `ms / 1000` is often a hair below the
 * millisecond; half a microsecond more makes the file's mtimeMs that millisecond exactly, which is
 * what a save compares. The writer threads and the restore's main thread use it.
 */
export function futimesSeconds(mtimeMs: number): number {
  return mtimeMs / 1000 + 5e-7
}
