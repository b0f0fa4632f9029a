import type { ObjectStore } from '../../src/core/store/object-store.js'

/** A store that behaves as `inner` except for the methods given. */
export function wrapStore(inner: ObjectStore, overrides: Partial<ObjectStore>): ObjectStore {
  return {
    location: inner.location,
    identity: inner.identity,
    put: (key, body, options) => inner.put(key, body, options),
    get: (key, range) => inner.get(key, range),
    getStream: key => inner.getStream(key),
    head: key => inner.head(key),
    list: prefix => inner.list(prefix),
    delete: keys => inner.delete(keys),
    check: () => inner.check(),
    ...overrides
  }
}
