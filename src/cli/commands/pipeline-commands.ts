import { readFile, writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { runInputs } from '../../config/step-core.js'
import type { RunInputValues } from '../../config/step-inputs.js'
import { InputError } from '../../core/errors.js'
import { loadPipeline } from '../../core/pipeline/definition.js'
import type { PipelineLog } from '../../core/pipeline/runner.js'
import { computePlan, diffPlans, formatPlan, type Plan } from '../../core/pipeline/stage-keys.js'
import { TIMELINE_HEADER, timelineRows } from '../../core/report-format.js'
import { defaultLocalStoreDir } from '../../core/store/store-config.js'
import { Exit, stringValue, type Command } from '../command.js'
import { scopeOptions, scopesFrom, storeConfigFrom, storeOptions } from '../store-options.js'
import { entrySigningFrom, entrySigningOptions, restorePolicyFrom, restorePolicyOptions } from '../trust-options.js'

const print = (line: string): void => void process.stdout.write(`${line}\n`)
const printErr = (line: string): void => void process.stderr.write(`${line}\n`)

function pipelineFile(positionals: string[]): string {
  if (!positionals[0]) throw new InputError('pipeline: give the pipeline file, e.g. artifact-action run pipeline.yml')
  return path.resolve(positionals[0])
}

const cliLog: PipelineLog = {
  info: line => printErr(line),
  warning: line => printErr(`warning: ${line}`),
  output: line => printErr(`  | ${line}`),
  async group(title, body) {
    printErr(`== ${title}`)
    return body()
  }
}

export const runCommand: Command = {
  name: 'run',
  summary:
    'Run a pipeline: restore the newest checkpoint, run the stages after it, checkpoint each one that succeeds. Exit 0 when built or up to date.',
  usage: 'run PIPELINE.yml [--plan-out FILE]',
  options: {
    ...storeOptions,
    ...scopeOptions,
    ...restorePolicyOptions,
    ...entrySigningOptions,
    'plan-out': { type: 'string', description: 'write the plan JSON here' },
    'no-final-tree': { type: 'boolean', description: 'when the final checkpoint exists, do not download it' },
    'sources-dir': { type: 'string', description: 'where verified sources are kept (default: next to the local store)' }
  },
  async run(values, positionals) {
    const inputs: RunInputValues = {
      pipeline: await loadPipeline(pipelineFile(positionals)),
      store: storeConfigFrom(values),
      restoreFinalTree: values['no-final-tree'] !== true,
      policy: restorePolicyFrom(values),
      signing: entrySigningFrom(values),
      workspace: process.cwd()
    }
    const { plan, result } = await runInputs(inputs, {
      readScopes: scopesFrom(values),
      log: cliLog,
      sourcesDir: stringValue(values, 'sources-dir') ?? path.join(path.dirname(defaultLocalStoreDir()), 'sources')
    })
    const planOut = stringValue(values, 'plan-out')
    if (planOut) await writeFile(planOut, formatPlan(plan))
    print(TIMELINE_HEADER.map(name => name.toUpperCase()).join('\t'))
    for (const row of timelineRows(result.stages)) print(row.join('\t'))
    print(result.status === 'up-to-date' ? 'up to date: the final checkpoint exists, no stage ran' : 'built')
    return Exit.Ok
  }
}

export const planCommand: Command = {
  name: 'plan',
  summary:
    'Print the stage keys and every input that went into each, as JSON; with --diff, explain why keys differ from an earlier plan.',
  usage: 'plan PIPELINE.yml [--diff OLD-PLAN.json]',
  options: { diff: { type: 'string', description: 'an earlier plan JSON to compare with' } },
  exitCodes:
    '0 printed, or with --diff no key differs; 1 with --diff a key differs (as diff does), or failed; ' +
    '2 bad input.',
  async run(values, positionals) {
    const plan = await computePlan(await loadPipeline(pipelineFile(positionals)))
    const against = stringValue(values, 'diff')
    if (!against) {
      process.stdout.write(formatPlan(plan))
      return Exit.Ok
    }
    const before = JSON.parse(await readFile(against, 'utf8')) as Plan
    const lines = diffPlans(before, plan)
    for (const line of lines) print(line)
    return lines.length === 0 ? Exit.Ok : Exit.Failure
  }
}
