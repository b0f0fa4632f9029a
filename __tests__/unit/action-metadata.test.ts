// Every action.yml in the repository passes GitHub's own parser for action metadata, with the
// runner's schema: a runner refuses a file that this refuses (for example `${{ … }}` in a description).
import { existsSync, readdirSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import * as path from 'node:path'
import { NoOperationTraceWriter } from '@actions/workflow-parser'
import { parseAction } from '@actions/workflow-parser/actions/action-parser'

const root = path.resolve('.')

/** The root action.yml and every sub-action's, one folder down. */
const actionFiles = [
  'action.yml',
  ...readdirSync(root, { withFileTypes: true })
    .filter(
      entry =>
        entry.isDirectory() && entry.name !== 'node_modules' && existsSync(path.join(root, entry.name, 'action.yml'))
    )
    .map(entry => `${entry.name}/action.yml`)
]

test('the files checked are the root action and its sub-actions', () => {
  expect(actionFiles).toEqual(
    expect.arrayContaining([
      'action.yml',
      'restore/action.yml',
      'save/action.yml',
      'prune/action.yml',
      'run/action.yml'
    ])
  )
})

test.each(actionFiles)('%s passes @actions/workflow-parser', async file => {
  const content = await readFile(path.join(root, file), 'utf8')
  const result = parseAction({ name: file, content }, new NoOperationTraceWriter())
  expect(result.context.errors.getErrors().map(error => error.message)).toEqual([])
  expect(result.value).toBeDefined()
})

test('the parser refuses an expression in an input description, as a runner does', () => {
  const content =
    'name: x\ndescription: x\ninputs:\n  a:\n    description: e.g. ${{ github.ref }}\nruns:\n  using: node24\n  main: index.js\n'
  const result = parseAction({ name: 'action.yml', content }, new NoOperationTraceWriter())
  expect(
    result.context.errors
      .getErrors()
      .map(error => error.message)
      .join('\n')
  ).toContain("Unrecognized named-value: 'github'")
})
