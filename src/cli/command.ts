import { parseArgs, type ParseArgsOptionDescriptor } from 'node:util'
import type { Clock } from '../core/clock.js'
import { InputError } from '../core/errors.js'

/** Exit codes of the CLI. */
export const Exit = {
  Ok: 0,
  Failure: 1,
  Usage: 2,
  Miss: 3
} as const

export type Options = Record<string, ParseArgsOptionDescriptor & { description?: string }>
export type Values = Record<string, string | boolean | string[] | undefined>

/** What a command gets besides its arguments: the time its prune measures ages against. */
export interface CommandContext {
  clock: Clock
}

export interface Command {
  name: string
  summary: string
  usage: string
  options: Options
  /** The exit codes this command gives, when they mean more than the CLI's usual ones. */
  exitCodes?: string
  run(values: Values, positionals: string[], context: CommandContext): Promise<number>
}

export function parseCommandArgs(command: Command, args: string[]): { values: Values; positionals: string[] } {
  try {
    const options = Object.fromEntries(
      Object.entries(command.options).map(([name, { description: _description, ...option }]) => [name, option])
    )
    const { values, positionals } = parseArgs({
      args,
      options: { ...options, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
      strict: true
    })
    return { values: values as Values, positionals }
  } catch (error) {
    throw new InputError(
      `${command.name}: ${(error as Error).message.split('\n')[0]}; see 'artifact-action ${command.name} --help'`
    )
  }
}

export function helpText(command: Command): string {
  const lines = [`usage: artifact-action ${command.usage}`, '', command.summary, '', 'options:']
  for (const [name, option] of Object.entries(command.options)) {
    const description = option.description ?? ''
    lines.push(
      `  --${name}${option.type === 'string' ? ' <value>' : ''}${option.short ? `, -${option.short}` : ''}`.padEnd(34) +
        description
    )
  }
  lines.push('  --help, -h'.padEnd(34) + 'show this help')
  if (command.exitCodes) lines.push('', `exit codes: ${command.exitCodes}`)
  return lines.join('\n')
}

export function stringValue(values: Values, name: string): string | undefined {
  const value = values[name]
  return typeof value === 'string' ? value : undefined
}

export function listValue(values: Values, name: string): string[] {
  const value = values[name]
  return Array.isArray(value) ? value : typeof value === 'string' ? [value] : []
}

export function requireValue(values: Values, name: string, hint: string): string {
  const value = stringValue(values, name)
  if (!value) throw new InputError(`--${name}: required; ${hint}`)
  return value
}
