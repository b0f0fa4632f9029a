import * as core from '@actions/core'
import type { CacheInputs } from '../../config/step-inputs.js'
import { workspaceFromEnv } from '../../github/runner-context.js'
import { Inputs, KnownInputs, StoreInputs } from '../names.js'
import { assertKnownInputs, booleanInput, input, listInput, requiredInput, storeInput } from './read.js'
import { InputError } from '../../core/errors.js'
import { parseSize } from '../../core/cache/prune-rules.js'
import { readEntrySigning, readRestorePolicy } from './trust.js'

export type { CacheInputs }

/** actions/cache's inputs that change nothing here, with what they do here instead. */
const COMPATIBLE_INPUTS: Record<string, string> = {
  [Inputs.EnableCrossOsArchive]:
    'accepted; entries are never tied to an OS here (paths are stored relative, /-separated), ' +
    'so every entry restores on every OS',
  [Inputs.SaveAlways]:
    'accepted, but a post step cannot read it (actions/cache deprecated it for that reason); ' +
    'to save after a failure, use the save/ sub-action with `if: always()`'
}

/** One notice line for each actions/cache input given that changes nothing here. */
function noticeCompatibleInputs(): void {
  for (const [name, meaning] of Object.entries(COMPATIBLE_INPUTS)) {
    const value = input(name).trim()
    if (value && value !== 'false') core.notice(`${name}: ${meaning}.`)
  }
}

/** `upload-chunk-size`, in bytes: the size of the blocks of an upload that does not go in one request. */
function uploadChunkSizeInput(): number | undefined {
  const value = input(Inputs.UploadChunkSize).trim()
  if (!value) return undefined
  const bytes = Number(value)
  if (!Number.isSafeInteger(bytes) || bytes < 1024 * 1024 || bytes > 256 * 1024 * 1024) {
    throw new InputError(
      `${Inputs.UploadChunkSize}: "${value}" is not a size in bytes from 1 MiB to 256 MiB, e.g. 33554432`
    )
  }
  return bytes
}

/** The inputs of the cache actions (the root action, restore/ and save/). */
export function readCacheInputs(): CacheInputs {
  const env = process.env
  assertKnownInputs(KnownInputs.cache, env)
  const paths = listInput(Inputs.Path)
  const key = requiredInput(Inputs.Key, 'give the cache key, e.g. "build-${{ hashFiles(\'**/lockfile\') }}"')
  if (paths.length === 0) requiredInput(Inputs.Path, 'list the files or directories to cache, one per line')
  const restoreKeys = listInput(Inputs.RestoreKeys)
  const lookupOnly = booleanInput(Inputs.LookupOnly)
  const failOnCacheMiss = booleanInput(Inputs.FailOnCacheMiss)
  const exactMirror = booleanInput(Inputs.ExactMirror)
  const update = booleanInput(Inputs.Update)
  const maxSizeText = input(Inputs.MaxSize).trim()
  const maxSize = maxSizeText ? parseSize(maxSizeText, Inputs.MaxSize) : undefined
  noticeCompatibleInputs()
  const uploadChunkSize = uploadChunkSizeInput()
  const store = storeInput(StoreInputs.Store, env, { serviceDefault: true, partSize: uploadChunkSize })
  const policy = readRestorePolicy(env)
  const signing = readEntrySigning(env)
  return {
    paths,
    key,
    restoreKeys,
    lookupOnly,
    failOnCacheMiss,
    exactMirror,
    update,
    maxSize,
    signing,
    policy,
    uploadChunkSize,
    store,
    workspace: workspaceFromEnv(env)
  }
}
