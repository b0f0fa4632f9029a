interface OpenFs {
  openSync(path: string, flags: number, mode: number): number
  unlinkSync(path: string): void
}

/**
 * Opens a file for writing in place of whatever non-directory is there. With O_NOFOLLOW in `flags`
 * a symlink in the way fails (ELOOP) instead of being followed; it is replaced, as are a busy
 * executable, a FIFO and a read-only file. The writer threads and the restore's main thread use it.
 */
export function openReplacing(fs: OpenFs, file: string, flags: number, mode: number): number {
  try {
    return fs.openSync(file, flags, mode)
  } catch (error) {
    const code = (error as { code?: string }).code
    if (code !== 'ELOOP' && code !== 'ETXTBSY' && code !== 'ENXIO' && code !== 'EACCES') throw error
    fs.unlinkSync(file)
    return fs.openSync(file, flags, mode)
  }
}
