interface OpenFs {
  openSync(path: string, flags: number, mode: number): number
  unlinkSync(path: string): void
  lstatSync(path: string, options: { throwIfNoEntry: false }): { isDirectory(): boolean } | undefined
}

/** Errors of an open that something in the way causes. */
const IN_THE_WAY = ['EEXIST', 'ELOOP', 'ETXTBSY', 'ENXIO', 'EACCES']

/**
 * Opens a file for writing in place of whatever non-directory is there. With O_EXCL in `flags`
 * anything in the way fails (EEXIST) and is replaced by a new file; with O_NOFOLLOW a symlink in
 * the way fails (ELOOP) instead of being followed; it is replaced, as are a busy executable, a
 * FIFO and a read-only file. `inTheWay`: something may be there, so it is looked for first (a
 * failed open costs far more than a look). The writer threads and the restore's main thread use it.
 */
export function openReplacing(fs: OpenFs, file: string, flags: number, mode: number, inTheWay = true): number {
  if (inTheWay && fs.lstatSync(file, { throwIfNoEntry: false })?.isDirectory() === false) fs.unlinkSync(file)
  try {
    return fs.openSync(file, flags, mode)
  } catch (error) {
    const code = (error as { code?: string }).code
    if (!IN_THE_WAY.includes(code ?? '')) throw error
    fs.unlinkSync(file)
    return fs.openSync(file, flags, mode)
  }
}
