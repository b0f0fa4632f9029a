// No module of src/ reaches itself through its imports, type-only imports included: a cycle ties
// together modules that should stand alone (as the manifest model and its columns codec once were).
import { readdirSync, readFileSync } from 'node:fs'
import * as path from 'node:path'
import ts from 'typescript'

const src = path.resolve('src')

/** Each module of src/ and the modules of src/ it imports (relative specifiers, `.js` naming the `.ts`). */
function importGraph(): Map<string, string[]> {
  const files = readdirSync(src, { recursive: true, encoding: 'utf8' }).filter(file => file.endsWith('.ts'))
  const graph = new Map<string, string[]>()
  for (const file of files) {
    const { importedFiles } = ts.preProcessFile(readFileSync(path.join(src, file), 'utf8'), true, true)
    const imports = importedFiles
      .map(imported => imported.fileName)
      .filter(specifier => specifier.startsWith('.'))
      .map(specifier => path.relative(src, path.resolve(src, path.dirname(file), specifier.replace(/\.js$/, '.ts'))))
    graph.set(file, imports)
  }
  return graph
}

/** Every cycle a depth-first walk closes, each as its modules from the first back to it. */
function cyclesOf(graph: Map<string, string[]>): string[][] {
  const cycles: string[][] = []
  const done = new Set<string>()
  const walking: string[] = []
  const visit = (module: string): void => {
    walking.push(module)
    for (const next of graph.get(module) ?? []) {
      const at = walking.indexOf(next)
      if (at >= 0) cycles.push([...walking.slice(at), next])
      else if (!done.has(next) && graph.has(next)) visit(next)
    }
    walking.pop()
    done.add(module)
  }
  for (const module of graph.keys()) if (!done.has(module)) visit(module)
  return cycles
}

test('the walk finds a cycle, and the modules along it', () => {
  const graph = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts', 'd.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', []]
  ])
  expect(cyclesOf(graph)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']])
})

test('src/ has no import cycle', () => {
  const graph = importGraph()
  expect(graph.get(path.join('core', 'manifest', 'encoding.ts'))).toContain(path.join('core', 'manifest', 'columns.ts'))
  expect(cyclesOf(graph).map(cycle => cycle.join(' -> '))).toEqual([])
})
