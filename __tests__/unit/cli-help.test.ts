import { writeFile } from 'node:fs/promises'
import * as path from 'node:path'
import { helpText } from '../../src/cli/command.js'
import { planCommand } from '../../src/cli/commands/pipeline-commands.js'
import { computePlan } from '../../src/core/pipeline/stage-keys.js'
import { loadPipeline } from '../../src/core/pipeline/definition.js'
import { tempDir } from '../helpers/trees.js'

describe('plan --help', () => {
  it("states --diff's exit codes, and plan --diff exits with them", async () => {
    const help = helpText(planCommand)
    expect(help).toContain('\nexit codes: 0 printed, or with --diff no key differs; ')
    expect(help).toContain('1 with --diff a key differs (as diff does), or failed; 2 bad input.')
    const dir = await tempDir('plan')
    const pipelineFile = path.join(dir, 'pipeline.yml')
    await writeFile(path.join(dir, 'input.txt'), 'one')
    const stage = '  - id: build\n    run: cat input.txt > out.txt\n    inputs: [input.txt]\n    paths: [out.txt]\n'
    await writeFile(pipelineFile, `stages:\n${stage}`)
    const planFile = path.join(dir, 'plan.json')
    await writeFile(planFile, JSON.stringify(await computePlan(await loadPipeline(pipelineFile))))
    const clock = { now: () => Date.now() }
    const write = process.stdout.write
    process.stdout.write = () => true
    try {
      expect(await planCommand.run({ diff: planFile }, [pipelineFile], { clock })).toBe(0)
      await writeFile(path.join(dir, 'input.txt'), 'two')
      expect(await planCommand.run({ diff: planFile }, [pipelineFile], { clock })).toBe(1)
    } finally {
      process.stdout.write = write
    }
  })
})
