import { createHash } from 'node:crypto'
import { appendFileSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { FILE_CHANGED, FileReadAhead } from '../../src/core/store/file-readers.js'

const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex')

describe('file reader threads', () => {
  let dir: string
  let readAhead: FileReadAhead | undefined
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'readers-'))
  })
  afterEach(() => readAhead?.close())

  /** Files of varied sizes, some empty, more than one batch's worth by count and by bytes. */
  function makeFiles(count: number): Array<{ source: string; size: number; data: Buffer }> {
    return Array.from({ length: count }, (_, i) => {
      const data = Buffer.alloc((i * 7919) % 6000, `${i};`)
      const source = path.join(dir, `f${i}`)
      writeFileSync(source, data)
      return { source, size: data.length, data }
    })
  }

  it('returns each file, in order, with its sha256, across many batches', async () => {
    const files = makeFiles(1500)
    readAhead = new FileReadAhead(files)
    for (const file of files) {
      const { bytes, digest } = await readAhead.next()
      expect(Buffer.from(bytes).equals(file.data)).toBe(true)
      expect(digest).toBe(sha256(file.data))
    }
  })

  it('fails on a file that grew or shrank since the walk, and names a missing one', async () => {
    const [grown, shrunk] = makeFiles(2)
    appendFileSync(grown.source, 'more')
    readAhead = new FileReadAhead([grown])
    await expect(readAhead.next()).rejects.toMatchObject({ code: FILE_CHANGED, message: `${grown.source} changed while it was being saved` })
    await readAhead.close()
    writeFileSync(shrunk.source, '')
    readAhead = new FileReadAhead([{ source: shrunk.source, size: shrunk.size }])
    await expect(readAhead.next()).rejects.toMatchObject({ code: FILE_CHANGED })
    await readAhead.close()
    readAhead = new FileReadAhead([{ source: path.join(dir, 'gone'), size: 3 }])
    await expect(readAhead.next()).rejects.toMatchObject({ code: 'ENOENT', file: path.join(dir, 'gone') })
  })
})
