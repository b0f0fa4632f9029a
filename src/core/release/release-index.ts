import { setTimeout as sleep } from 'node:timers/promises'
import { StoreError } from '../errors.js'
import type { ObjectStore } from '../store/object-store.js'
import { INDEX_SCHEMA, releaseLayout, type ReleaseIndex } from './release-layout.js'

const ATTEMPTS = 10

/**
 * Adds a version to `<project>/index.json`. Each update claims the next sequence slot under
 * index.d/ with a create-only write (If-None-Match: *), so two releases never lose each other's
 * entry: the loser of a slot re-reads and retries. index.json is then a copy of the newest slot.
 * (If-Match on PUT would do too, but Ceph RGW does not honour it.)
 */
export async function addToIndex(
  store: ObjectStore,
  project: string,
  entry: ReleaseIndex['versions'][number]
): Promise<ReleaseIndex> {
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const current = (await readNewestSlot(store, project)) ?? {
      schema: INDEX_SCHEMA,
      project,
      sequence: 0,
      versions: []
    }
    if (current.versions.some(existing => existing.version === entry.version)) {
      await publishIndexCopy(store, project, current)
      return current
    }
    const next: ReleaseIndex = { ...current, sequence: current.sequence + 1, versions: [...current.versions, entry] }
    if (
      (await store.put(releaseLayout.indexSlot(project, next.sequence), json(next), {
        ifNoneMatch: true,
        contentType: 'application/json'
      })) === 'created'
    ) {
      await publishIndexCopy(store, project, next)
      return next
    }
    await sleep(50 + Math.random() * 200 * (attempt + 1))
  }
  throw new StoreError(`${releaseLayout.index(project)}: ${ATTEMPTS} concurrent updates in a row; re-run the release`)
}

export async function readIndex(store: ObjectStore, project: string): Promise<ReleaseIndex | undefined> {
  return readNewestSlot(store, project)
}

async function readNewestSlot(store: ObjectStore, project: string): Promise<ReleaseIndex | undefined> {
  let newest: string | undefined
  for await (const object of store.list(releaseLayout.indexSlots(project)))
    if (!newest || object.key > newest) newest = object.key
  if (!newest) return undefined
  const bytes = await store.get(newest)
  return bytes ? (JSON.parse(bytes.toString('utf8')) as ReleaseIndex) : undefined
}

/**
 * Writes index.json from `index`, and again from any newer slot that appeared meanwhile; writes
 * nothing when index.json already holds those bytes (an identical re-run changes no object).
 */
async function publishIndexCopy(store: ObjectStore, project: string, index: ReleaseIndex): Promise<void> {
  let written = index
  for (;;) {
    const bytes = json(written)
    const current = await store.get(releaseLayout.index(project))
    if (!current?.equals(bytes))
      await store.put(releaseLayout.index(project), bytes, { contentType: 'application/json' })
    const newest = await readNewestSlot(store, project)
    if (!newest || newest.sequence <= written.sequence) return
    written = newest
  }
}

function json(value: unknown): Buffer {
  return Buffer.from(`${JSON.stringify(value, null, 2)}\n`)
}
