import * as core from '@actions/core'
import { State } from './names.js'

export type StateName = (typeof State)[keyof typeof State]

/**
 * Where the cache actions keep what a save needs from the restore: the key, and the entry it matched
 * (actions/cache's state provider). The root action hands it to its post step; the restore/ and save/
 * sub-actions have no post step, and their outputs carry the key and the match instead.
 */
export interface StateProvider {
  set(name: StateName, value: string): void
  get(name: StateName): string
}

/** The root action: the main step's values reach its post step through the runner. */
export const postStepState: StateProvider = {
  set: (name, value) => core.saveState(name, value),
  get: name => core.getState(name)
}

/** The sub-actions: nothing is kept, and a save reads nothing. */
export const noState: StateProvider = {
  set: () => undefined,
  get: () => ''
}

/** State kept in memory, for a restore and a save run in one process (tests). */
export function memoryState(): StateProvider & { values: Map<StateName, string> } {
  const values = new Map<StateName, string>()
  return { values, set: (name, value) => void values.set(name, value), get: name => values.get(name) ?? '' }
}
