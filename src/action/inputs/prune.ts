import type { PruneInputValues } from '../../config/step-inputs.js'
import { parsePruneRules } from '../../core/cache/prune-rules.js'
import { refContextFromEnv } from '../../github/runner-context.js'
import { KnownInputs, PruneInputs, StoreInputs } from '../names.js'
import { assertKnownInputs, booleanInput, input, multilineInput, storeInput } from './read.js'

export type { PruneInputValues }

/** The inputs of prune/: its rules (an empty input leaves its rule out) and the store. */
export function readPruneInputs(): PruneInputValues {
  const env = process.env
  assertKnownInputs(KnownInputs.prune, env)
  const text = (name: string): string | undefined => input(name).trim() || undefined
  const rules = parsePruneRules(
    {
      maxAge: text(PruneInputs.MaxAge),
      maxSize: text(PruneInputs.MaxSize),
      maxEntriesPerScope: text(PruneInputs.MaxEntriesPerScope),
      deleteScopes: multilineInput(PruneInputs.DeleteScopes),
      grace: text(PruneInputs.GracePeriod),
      keepVersions: text(PruneInputs.KeepVersions),
      // The repository's default branch from the event, unless given.
      defaultBranch: text(PruneInputs.DefaultBranch) ?? refContextFromEnv(env).defaultBranch,
      protectDefaultBranch: text(PruneInputs.ProtectDefaultBranch),
      evictOrder: text(PruneInputs.EvictOrder)
    },
    {
      maxAge: PruneInputs.MaxAge,
      maxSize: PruneInputs.MaxSize,
      maxEntriesPerScope: PruneInputs.MaxEntriesPerScope,
      deleteScopes: PruneInputs.DeleteScopes,
      grace: PruneInputs.GracePeriod,
      keepVersions: PruneInputs.KeepVersions,
      defaultBranch: PruneInputs.DefaultBranch,
      protectDefaultBranch: PruneInputs.ProtectDefaultBranch,
      evictOrder: PruneInputs.EvictOrder
    }
  )
  return { rules: { ...rules, dryRun: booleanInput(PruneInputs.DryRun) }, store: storeInput(StoreInputs.Store, env) }
}
