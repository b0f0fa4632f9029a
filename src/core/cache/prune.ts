import { systemClock, type Clock } from '../clock.js'
import type { ObjectStore } from '../store/object-store.js'
import { executePrune } from './prune-execute.js'
import { planPrune, type PruneReport } from './prune-plan.js'
import type { PruneRules } from './prune-rules.js'

/**
 * Pruning a cache store: evicts entries by rules (scope deleted, unused for too long, too many in a
 * scope, over a size budget, least recently used first), then collects by mark and sweep the
 * manifests, objects and signatures that no remaining entry references.
 *
 * Mark: the manifests and objects of the kept entries, and the signatures of their keys' trees;
 * every manifest younger than the grace period, and the objects it names (a save writes its
 * manifest before its entry). Sweep: unmarked manifests, objects and signatures older than the
 * grace period (a save uploads objects before its manifest, its signature before its ref). Before
 * each batch of deletions, refs, manifests and signatures are listed again and whatever appeared or
 * changed since is marked too. Release stores are never pruned.
 *
 * In three parts, as restic has it: the rules (prune-rules.ts), a plan with its report
 * (prune-plan.ts) and its execution (prune-execute.ts).
 */

export interface PruneOptions extends PruneRules {
  store: ObjectStore
  /** Unreferenced manifests, objects and signatures younger than this are kept: a save may be about to name them. Default 1 hour. */
  graceMs?: number
  /** Report what would go; delete nothing. */
  dryRun?: boolean
  /** What ages are measured against; the system's clock unless a test sets one. */
  clock?: Clock
  log?: (line: string) => void
}

/** Prunes a cache store: plans, then carries out the plan unless this is a dry run. */
export async function pruneStore(options: PruneOptions): Promise<PruneReport> {
  const log = options.log ?? (() => undefined)
  const plan = await planPrune({ ...options, clock: options.clock ?? systemClock, log })
  return options.dryRun ? plan.report : executePrune(plan, log)
}
