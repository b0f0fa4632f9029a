import { createHash } from 'node:crypto'
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadPipeline, parsePipeline, type Pipeline } from '../../src/core/pipeline/definition.js'
import {
  canonicalJson,
  computePlan,
  diffPlans,
  formatPlan,
  stageKey,
  type Plan
} from '../../src/core/pipeline/stage-keys.js'

const fixture = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'pipeline', 'project')
const linux = { os: 'linux', arch: 'x64' }
const temporaryDirs: string[] = []

/** A copy of the fixture project in a fresh temporary folder, `depth` folders down. */
function copyProject(depth = 0): string {
  const base = mkdtempSync(path.join(tmpdir(), 'stage-keys-'))
  temporaryDirs.push(base)
  const dir = path.join(base, ...Array.from({ length: depth }, (_, index) => `level${index}`), 'checkout')
  cpSync(fixture, dir, { recursive: true })
  return dir
}

async function planOf(dir: string, platform = linux): Promise<Plan> {
  return computePlan(await loadPipeline(path.join(dir, 'pipeline.yml')), { platform })
}

/** Rewrites the project's pipeline.yml with `edit` applied to its text. */
function editDefinition(dir: string, edit: (text: string) => string): void {
  const file = path.join(dir, 'pipeline.yml')
  writeFileSync(file, edit(readFileSync(file, 'utf8')))
}

afterAll(() => {
  for (const dir of temporaryDirs) rmSync(dir, { recursive: true, force: true })
})

describe('computePlan', () => {
  it('is byte-identical from two checkout paths of the same content', async () => {
    const first = copyProject(0)
    const second = copyProject(3)
    const [a, b] = [formatPlan(await planOf(first)), formatPlan(await planOf(second))]
    expect(a).toBe(b)
    expect(a).not.toContain(first)
    expect(a).not.toContain(tmpdir())
  })

  it('records what went into each key: sorted relative files, keyed definition, sources, parent, platform', async () => {
    const plan = await planOf(copyProject())
    expect(plan.schema).toBe('artifact-action/plan@1')
    expect(plan.salt).toBe('fixture-1')
    expect(plan.platform).toEqual(linux)
    expect(plan.stages.map(stage => [stage.id, stage.checkpoint])).toEqual([
      ['toolchain', true],
      ['build', false],
      ['docs', true]
    ])
    const [toolchain, build, docs] = plan.stages
    expect(toolchain.inputs.parent).toBeNull()
    expect(toolchain.inputs.platform).toBeNull() // portable
    expect(build.inputs.parent).toBe(toolchain.key)
    expect(docs.inputs.parent).toBe(build.key)
    expect(build.inputs.platform).toEqual(linux)
    expect(build.inputs.definition).toEqual({
      id: 'build',
      run: './build.sh',
      'working-directory': 'src',
      env: { CFLAGS: '-O2', MODE: 'release' },
      'secret-env': ['SIGNING_KEY'],
      paths: ['out/bin', 'out/lib']
    })
    // The '**' glob skips src/README.md (not .c); the named directory brings its dotfile; the optional glob matches nothing.
    const sha256 = (text: string) => createHash('sha256').update(text).digest('hex')
    expect(build.inputs.files).toEqual({
      'include/.clang-format': sha256('hidden but inside a named directory\n'),
      'include/helper.h': sha256('int helper(void);\n'),
      'src/util/helper.c': sha256('int helper(void) { return 0; }\n'),
      'src/main.c': sha256('int main(void) { return helper(); }\n')
    })
    expect(Object.keys(build.inputs.files)).toEqual(Object.keys(build.inputs.files).sort())
    expect(build.inputs.sources).toEqual([{ path: 'vendor/zlib.tar.gz', sha256: '0'.repeat(64) }])
    expect(JSON.stringify(plan)).not.toContain('127.0.0.1') // source URLs are not keyed
  })

  it('derives every key from the plan alone, so a plan explains its keys', async () => {
    const plan = await planOf(copyProject())
    for (const stage of plan.stages) expect(stageKey(stage.inputs, plan.salt)).toBe(stage.key)
    expect(new Set(plan.stages.map(stage => stage.key)).size).toBe(3)
    for (const stage of plan.stages) expect(stage.key).toMatch(/^[0-9a-f]{64}$/)
  })

  it('changes the key of the stage whose input changed and of every later stage, not earlier ones', async () => {
    const dir = copyProject()
    const before = await planOf(dir)
    writeFileSync(path.join(dir, 'src', 'util', 'helper.c'), 'int helper(void) { return 1; }\n')
    const after = await planOf(dir)
    expect(after.stages.map((stage, index) => stage.key === before.stages[index].key)).toEqual([true, false, false])
    expect(diffPlans(before, after)).toEqual([
      `first stage whose key changed: build (stages[1]), ${before.stages[1].key.slice(0, 12)} → ${after.stages[1].key.slice(0, 12)}`,
      '  file src/util/helper.c changed',
      "1 later stage change key too, since each key includes its parent's"
    ])
  })

  it('reports added and removed files, env names (not values) and later stages with their own changes', async () => {
    const dir = copyProject()
    const before = await planOf(dir)
    writeFileSync(path.join(dir, 'src', 'extra.c'), 'int extra;\n')
    rmSync(path.join(dir, 'include', '.clang-format'))
    writeFileSync(path.join(dir, 'docs', 'guide.md'), '# Guide, revised\n')
    editDefinition(dir, text => text.replace('CFLAGS: "-O2"', 'CFLAGS: "-O3"').replace('MODE: release', 'VERBOSE: "1"'))
    const lines = diffPlans(before, await planOf(dir))
    expect(lines.slice(1)).toEqual([
      '  definition.env.VERBOSE added',
      '  definition.env.MODE removed',
      '  definition.env.CFLAGS changed',
      '  file src/extra.c added',
      '  file include/.clang-format removed',
      'stage docs (stages[2]) also changed:',
      '  file docs/guide.md changed',
      "1 later stage change key too, since each key includes its parent's"
    ])
    expect(lines.join('\n')).not.toMatch(/-O3|-O2/)
  })

  it('keys the platform unless the stage is portable', async () => {
    const dir = copyProject()
    const onLinux = await planOf(dir)
    const onMac = await planOf(dir, { os: 'darwin', arch: 'arm64' })
    expect(onMac.stages[0].key).toBe(onLinux.stages[0].key)
    expect(onMac.stages[1].key).not.toBe(onLinux.stages[1].key)
    expect(diffPlans(onLinux, onMac).slice(1, 2)).toEqual(['  platform changed: linux/x64 → darwin/arm64'])
  })

  it('keys the salt, the run command and the working directory, but not checkpoint, glob spelling or secret values', async () => {
    const dir = copyProject()
    const base = await planOf(dir)
    const keysAfter = async (edit: (text: string) => string): Promise<string[]> => {
      const copy = copyProject()
      editDefinition(copy, edit)
      return (await planOf(copy)).stages.map(stage => stage.key)
    }
    const baseKeys = base.stages.map(stage => stage.key)
    const saltedKeys = await keysAfter(text => text.replace('salt: fixture-1', 'salt: fixture-2'))
    saltedKeys.forEach((key, index) => expect(key).not.toBe(baseKeys[index]))
    expect((await keysAfter(text => text.replace('./build.sh', './build.sh --fast')))[1]).not.toBe(baseKeys[1])
    expect((await keysAfter(text => text.replace('working-directory: src/', 'working-directory: .')))[1]).not.toBe(
      baseKeys[1]
    )
    // Not keyed: whether a stage is checkpointed, and how a glob is spelled when it matches the same files.
    expect(await keysAfter(text => text.replace('checkpoint: true', 'checkpoint: false'))).toEqual(baseKeys)
    expect(await keysAfter(text => text.replace('"src/**/*.c"', '"src/{main.c,util/*.c}"'))).toEqual(baseKeys)

    const previous = process.env.SIGNING_KEY
    try {
      process.env.SIGNING_KEY = 'first-secret-value'
      const withFirst = formatPlan(await planOf(dir))
      process.env.SIGNING_KEY = 'second-secret-value'
      const withSecond = formatPlan(await planOf(dir))
      expect(withFirst).toBe(withSecond)
      expect(withFirst).not.toContain('secret-value')
      expect(withFirst).toBe(formatPlan(base))
    } finally {
      if (previous === undefined) delete process.env.SIGNING_KEY
      else process.env.SIGNING_KEY = previous
    }
  })

  it('hashes symbolic links to files by content and rejects broken ones', async () => {
    const dir = copyProject()
    const before = await planOf(dir)
    symlinkSync('main.c', path.join(dir, 'src', 'alias.c'))
    const after = await planOf(dir)
    expect(after.stages[1].inputs.files['src/alias.c']).toBe(after.stages[1].inputs.files['src/main.c'])
    expect(diffPlans(before, after)[1]).toBe('  file src/alias.c added')
    symlinkSync('nowhere.c', path.join(dir, 'src', 'broken.c'))
    await expect(planOf(dir)).rejects.toThrow(
      /:18: stages\[1\]\.inputs: src\/broken\.c \(from "src\/\*\*\/\*\.c", stage build\) is a broken symbolic link/
    )
  })

  it('names the stage and glob of every required input that matched nothing, and its line', async () => {
    const dir = copyProject()
    rmSync(path.join(dir, 'docs'), { recursive: true })
    rmSync(path.join(dir, 'include'), { recursive: true })
    const pipeline = await loadPipeline(path.join(dir, 'pipeline.yml'))
    const error = await computePlan(pipeline, { platform: linux }).then(
      () => undefined,
      (failure: Error) => failure
    )
    expect(error?.name).toBe('InputError')
    expect(error?.message.split('\n')).toEqual([
      `${pipeline.origin}: 2 errors`,
      `${pipeline.origin}:19: stages[1].inputs: "include" matched no files (stage build); fix it, or write { glob: "include", optional: true } if that is expected`,
      `${pipeline.origin}:28: stages[2].inputs: "docs/guide.md" matched no files (stage docs); fix it, or write { glob: "docs/guide.md", optional: true } if that is expected`
    ])
  })

  it('works for an inline pipeline rooted at a given folder', async () => {
    const dir = copyProject()
    const inline: Pipeline = parsePipeline(
      'stages:\n  - id: only\n    run: make\n    inputs: [toolchain.lock, "src/*.c"]\n    paths: [out]\n',
      'input pipeline',
      dir
    )
    const plan = await computePlan(inline, { platform: linux })
    expect(Object.keys(plan.stages[0].inputs.files)).toEqual(['src/main.c', 'toolchain.lock'])
    expect(plan.salt).toBeUndefined()
    expect('salt' in plan).toBe(false)
  })
})

describe('diffPlans', () => {
  it('is empty for plans with the same keys', async () => {
    const plan = await planOf(copyProject())
    expect(diffPlans(plan, structuredClone(plan))).toEqual([])
  })

  it('names the salt, added and removed stages', async () => {
    const dir = copyProject()
    const before = await planOf(dir)
    editDefinition(dir, text =>
      text.replace('salt: fixture-1', 'salt: fixture-2').replace(/ {2}- id: docs[\s\S]*$/, '')
    )
    const lines = diffPlans(before, await planOf(dir))
    expect(lines[0]).toMatch(/^first stage whose key changed: toolchain \(stages\[0\]\)/)
    expect(lines[1]).toBe('  salt changed: "fixture-1" → "fixture-2"')
    expect(lines.slice(2)).toEqual([
      'stage docs (stages[2]) was removed',
      "2 later stages change key too, since each key includes its parent's"
    ])
  })

  it('lists at most 20 files of each kind', async () => {
    const dir = copyProject()
    const before = await planOf(dir)
    mkdirSync(path.join(dir, 'src', 'many'))
    for (let index = 0; index < 25; index++)
      writeFileSync(path.join(dir, 'src', 'many', `f${String(index).padStart(2, '0')}.c`), `int f${index};\n`)
    const lines = diffPlans(before, await planOf(dir))
    expect(lines.filter(line => /^ {2}file .* added$/.test(line))).toHaveLength(20)
    expect(lines).toContain('  … and 5 more added')
  })
})

describe('canonicalJson', () => {
  it('sorts keys at every level, keeps array order and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [2, 1], c: null }, e: undefined })).toBe('{"a":{"c":null,"d":[2,1]},"b":1}')
  })
})
