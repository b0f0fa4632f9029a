import { spawn } from 'node:child_process'

export interface StageProcessResult {
  exitCode: number
  /** The last lines of output, secrets redacted, for error messages. */
  tail: string[]
}

const TAIL_LINES = 30

/** Replaces every secret value in a line with ***. */
export function redact(line: string, secrets: string[]): string {
  let out = line
  for (const secret of secrets) if (secret.length >= 3) out = out.split(secret).join('***')
  return out
}

/**
 * Runs a stage's shell command with bash (-e -o pipefail), streaming each output line, with every
 * secret value redacted, to `print`.
 */
export function runStageCommand(
  command: string,
  options: { cwd: string; env: NodeJS.ProcessEnv; secrets: string[]; print: (line: string) => void }
): Promise<StageProcessResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('bash', ['--noprofile', '--norc', '-eo', 'pipefail', '-c', command], {
      cwd: options.cwd,
      env: options.env,
      stdio: ['ignore', 'pipe', 'pipe']
    })
    const tail: string[] = []
    const partial = { stdout: '', stderr: '' }
    const emit = (line: string): void => {
      const clean = redact(line, options.secrets)
      options.print(clean)
      tail.push(clean)
      if (tail.length > TAIL_LINES) tail.shift()
    }
    for (const stream of ['stdout', 'stderr'] as const) {
      child[stream].setEncoding('utf8')
      child[stream].on('data', (text: string) => {
        const lines = (partial[stream] + text).split('\n')
        partial[stream] = lines.pop() ?? ''
        lines.forEach(emit)
      })
    }
    child.on('error', reject)
    child.on('close', code => {
      for (const rest of Object.values(partial)) if (rest) emit(rest)
      resolve({ exitCode: code ?? 1, tail })
    })
  })
}
