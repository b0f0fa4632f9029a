// What a restore reports as it goes: its progress ends at the tree's real total, and a body of the wrong
// length is named for what it is.
import { writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { restoreEntry, saveEntry } from '../../src/core/cache/checkpoint-cache.js'
import { IntegrityError } from '../../src/core/errors.js'
import { FsStore } from '../../src/core/store/fs-store.js'
import type { ByteRange, ObjectStore } from '../../src/core/store/object-store.js'
import type { TransferProgress } from '../../src/core/store/snapshot.js'
import { makeBuildTree, seededBytes, tempDir } from '../helpers/trees.js'

const MAIN = ['branch/main']

/** A tree whose restore runs many ranged reads at once: a dozen large files, each in objects of its own. */
async function savedTree(): Promise<{ store: FsStore; treeBytes: number }> {
  const workspace = await tempDir('progress-ws')
  await makeBuildTree(path.join(workspace, 'build'), { smallFiles: 400, largeBytes: 2 * 1024 * 1024 })
  for (let i = 0; i < 12; i++)
    await writeFile(path.join(workspace, 'build', `large-${i}.bin`), seededBytes(600_000 + i * 1000, 7 + i))
  const store = new FsStore(await tempDir('progress-store'))
  const result = await saveEntry({ store, key: 'progress', paths: ['build'], workspace, readScopes: MAIN })
  if (result.status !== 'saved') throw new Error(`expected a save, got ${result.status}`)
  return { store, treeBytes: result.stats.treeBytes }
}

test("a restore's progress ends at the real total, however its reads interleave", async () => {
  const { store, treeBytes } = await savedTree()
  for (let round = 0; round < 3; round++) {
    const reports: TransferProgress[] = []
    const target = await tempDir('progress-restore')
    const restored = await restoreEntry({
      store,
      key: 'progress',
      paths: ['build'],
      workspace: target,
      readScopes: MAIN,
      onProgress: progress => reports.push(progress)
    })
    expect(restored.status).toBe('found')
    expect(reports.at(-1)).toMatchObject({ bytesDone: treeBytes, bytesTotal: treeBytes })
  }
})

test('a body longer than the manifest says is reported as longer', async () => {
  const { store } = await savedTree()
  // A store that sends 100 bytes more than each ranged read asked for.
  const lengthening: ObjectStore = Object.assign(Object.create(store) as ObjectStore, {
    get: async (key: string, range?: ByteRange) => {
      const bytes = await store.get(key, range)
      return bytes && range ? Buffer.concat([bytes, Buffer.alloc(100)]) : bytes
    }
  })
  const target = await tempDir('progress-long')
  const failure = restoreEntry({
    store: lengthening,
    key: 'progress',
    paths: ['build'],
    workspace: target,
    readScopes: MAIN
  })
  await expect(failure).rejects.toBeInstanceOf(IntegrityError)
  await expect(failure).rejects.toThrow(/is longer than the manifest says/)
})
