import { readFileSync } from 'node:fs'
import * as path from 'node:path'
import { fileURLToPath } from 'node:url'
import { loadPipeline, parsePipeline } from '../../src/core/pipeline/definition.js'

const fixtures = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'pipeline')
const projectFile = path.join(fixtures, 'project', 'pipeline.yml')

/** The message of the InputError that `parse` throws. */
function errorOf(parse: () => unknown): string {
  try {
    parse()
  } catch (error) {
    expect((error as Error).name).toBe('InputError')
    return (error as Error).message
  }
  throw new Error('expected an InputError')
}

describe('loadPipeline', () => {
  it('reads every field, with defaults, relative to the file folder', async () => {
    const pipeline = await loadPipeline(projectFile)
    expect(pipeline.origin).toBe(projectFile)
    expect(pipeline.rootDir).toBe(path.join(fixtures, 'project'))
    expect(pipeline.salt).toBe('fixture-1')
    expect(pipeline.stages.map(stage => stage.id)).toEqual(['toolchain', 'build', 'docs'])

    const [toolchain, build, docs] = pipeline.stages
    expect(toolchain).toMatchObject({
      workingDirectory: '.',
      env: {},
      secretEnv: [],
      paths: ['out/toolchain'],
      checkpoint: true,
      portable: true,
      sources: [],
      line: 4,
      index: 0
    })
    expect(build).toMatchObject({
      run: './build.sh',
      workingDirectory: 'src',
      env: { CFLAGS: '-O2', MODE: 'release' },
      secretEnv: ['SIGNING_KEY'],
      paths: ['out/bin', 'out/lib'],
      checkpoint: false,
      portable: false
    })
    expect(build.inputs).toEqual([
      { glob: 'src/**/*.c', optional: false, line: 18 },
      { glob: 'include', optional: false, line: 19 },
      { glob: 'generated/*.h', optional: true, line: 20 }
    ])
    expect(build.sources).toEqual([
      { url: 'http://127.0.0.1:1/zlib.tar.gz', sha256: '0'.repeat(64), path: 'vendor/zlib.tar.gz', line: 23 }
    ])
    // The last stage is always checkpointed, though it does not say so.
    expect(docs.checkpoint).toBe(true)
  })

  it('reads the inline form the same as the file', async () => {
    const fromFile = await loadPipeline(projectFile)
    const inline = parsePipeline(readFileSync(projectFile, 'utf8'), 'input pipeline', path.join(fixtures, 'project'))
    expect(inline).toEqual({ ...fromFile, origin: 'input pipeline' })
  })

  it('names the file when it cannot be read', async () => {
    await expect(loadPipeline(path.join(fixtures, 'missing.yml'))).rejects.toMatchObject({
      name: 'InputError',
      message: expect.stringMatching(/missing\.yml: cannot read .*ENOENT/)
    })
  })
})

describe('validation', () => {
  it('reports every error with its file, line and field', () => {
    const text = readFileSync(path.join(fixtures, 'invalid.yml'), 'utf8')
    const message = errorOf(() => parsePipeline(text, 'invalid.yml', fixtures))
    const allowed = 'id, run, working-directory, env, secret-env, inputs, paths, checkpoint, portable, sources'
    expect(message.split('\n')).toEqual([
      'invalid.yml: 13 errors',
      'invalid.yml:1: version: must be 1, got number 2',
      `invalid.yml:5: stages[0].colour: unknown field; allowed: ${allowed}`,
      'invalid.yml:6: stages[1].id: duplicate id "fetch" (first used on line 3)',
      'invalid.yml:7: stages[1].run: must be a string, got number 42',
      'invalid.yml:8: stages[1].checkpoint: must be true or false, got a string',
      'invalid.yml:9: stages[2].id: required',
      'invalid.yml:11: stages[2].env.DEBUG: must be a string, got number 1 (quote it: "1")',
      `invalid.yml:12: stages[2].paths[0]: "/etc/passwd" must be relative to the pipeline's folder, not absolute`,
      `invalid.yml:12: stages[2].paths[1]: "../outside" must not contain '..'`,
      `invalid.yml:13: stages[3].id: "bad id!" may only contain letters, digits, '.', '_' and '-' (at most 100)`,
      'invalid.yml:13: stages[3].run: required',
      'invalid.yml:16: stages[3].sources[0].sha256: must be 64 hex digits, got 6 characters',
      'invalid.yml:19: stages[3].inputs[0].optinal: unknown field; allowed: glob, optional'
    ])
  })

  it('refuses unknown top-level fields, a missing or empty stage list, and non-map stages', () => {
    expect(errorOf(() => parsePipeline('stage:\n  - id: a\n', 'p.yml', '/'))).toBe(
      'p.yml: 2 errors\np.yml:1: stage: unknown field; allowed: version, salt, stages\np.yml:1: stages: required (a list of stages)'
    )
    expect(errorOf(() => parsePipeline('stages: []\n', 'p.yml', '/'))).toBe(
      'p.yml: 1 error\np.yml:1: stages: must list at least one stage'
    )
    expect(errorOf(() => parsePipeline('', 'p.yml', '/'))).toBe(
      'p.yml: 1 error\np.yml:1: (document): must be a map with a stages list, got nothing'
    )
    expect(errorOf(() => parsePipeline('stages:\n  - build\n', 'p.yml', '/'))).toBe(
      'p.yml: 1 error\np.yml:2: stages[0]: must be a map with id and run, got a string'
    )
    expect(errorOf(() => parsePipeline('salt: 3\nstages:\n  - { id: a, run: b }\n', 'p.yml', '/'))).toBe(
      'p.yml: 1 error\np.yml:1: salt: must be a string, got number 3'
    )
  })

  it('reports YAML syntax errors and duplicate keys with their line', () => {
    expect(errorOf(() => parsePipeline('stages:\n  - id: a\n    run: b\n    run: c\n', 'p.yml', '/'))).toMatch(
      /^p\.yml: 1 error\np\.yml:4: \(yaml\): Map keys must be unique/
    )
    expect(errorOf(() => parsePipeline('stages:\n  - id: [a\n', 'p.yml', '/'))).toMatch(
      /^p\.yml: \d+ errors?\np\.yml:\d+: \(yaml\): /
    )
  })

  it('checks every relative path: working directory, outputs, inputs and source paths', () => {
    const text = [
      'stages:',
      '  - id: a',
      '    run: make',
      '    working-directory: /abs',
      '    paths: [., out/../../x, "C:\\\\out"]',
      '    inputs: ["!src/*.c", "~/x"]',
      '    sources:',
      '      - { url: "ftp://example.com/x", sha256: ' + 'a'.repeat(64) + ', path: ../x }',
      '      - { url: "https://example.com/y", sha256: ' + 'a'.repeat(64) + ' }'
    ].join('\n')
    expect(errorOf(() => parsePipeline(text, 'p.yml', '/')).split('\n')).toEqual([
      'p.yml: 9 errors',
      `p.yml:4: stages[0].working-directory: "/abs" must be relative to the pipeline's folder, not absolute`,
      `p.yml:5: stages[0].paths[0]: must name something inside the pipeline's folder, not the folder itself`,
      `p.yml:5: stages[0].paths[1]: "out/../../x" must not contain '..'`,
      `p.yml:5: stages[0].paths[2]: "C:\\out" must be relative to the pipeline's folder, not absolute`,
      'p.yml:6: stages[0].inputs[0]: exclusions (!) are not supported; narrow the glob instead',
      `p.yml:6: stages[0].inputs[1]: "~/x" must be relative to the pipeline's folder, not absolute`,
      'p.yml:8: stages[0].sources[0].url: must be an http:// or https:// URL',
      `p.yml:8: stages[0].sources[0].path: "../x" must not contain '..'`,
      'p.yml:9: stages[0].sources[1].path: required'
    ])
  })

  it('keeps secrets out of env: a workflow expression, or a name in both env and secret-env, is an error', () => {
    const text =
      'stages:\n  - id: a\n    run: make\n    env:\n      TOKEN: ${{ secrets.TOKEN }}\n      KEY: plain-value\n    secret-env: [KEY, OTHER, OTHER, "bad-name"]\n'
    const message = errorOf(() => parsePipeline(text, 'p.yml', '/'))
    expect(message.split('\n')).toEqual([
      'p.yml: 4 errors',
      'p.yml:5: stages[0].env.TOKEN: expressions are not evaluated here and env values are not secret; pass secrets by name with secret-env',
      'p.yml:7: stages[0].secret-env[0]: "KEY" is also set in env; a variable is either set in env or passed through as a secret',
      'p.yml:7: stages[0].secret-env[3]: "bad-name" is not a valid variable name',
      'p.yml:7: stages[0].secret-env: "OTHER" is listed twice'
    ])
    expect(message).not.toContain('plain-value')
  })

  it('accepts aliases, uppercase or unquoted digests and null optional fields', () => {
    const digest = 'AB'.repeat(32)
    // Unquoted, YAML reads this digest as the number 1e555… (Infinity); it must still be taken as written.
    const numberLike = '1e' + '5'.repeat(62)
    const text = `stages:\n  - id: a\n    run: &cmd make all\n    env:\n    sources:\n      - { url: "https://example.com/x", sha256: ${digest}, path: ./vendor//x }\n      - { url: "https://example.com/z", sha256: ${numberLike}, path: z }\n  - id: b\n    run: *cmd\n`
    const pipeline = parsePipeline(text, 'p.yml', '/tmp/root')
    expect(pipeline.stages[1].run).toBe('make all')
    expect(pipeline.stages[0].env).toEqual({})
    expect(pipeline.stages[0].sources[0]).toMatchObject({ sha256: digest.toLowerCase(), path: 'vendor/x' })
    expect(pipeline.stages[0].sources[1].sha256).toBe(numberLike)
    expect(pipeline.stages.map(stage => stage.checkpoint)).toEqual([false, true])
    expect(pipeline.salt).toBeUndefined()
  })
})
