import { systemClock } from '../core/clock.js'
import { errorMessage, isNamedError } from '../core/errors.js'
import { Exit, helpText, parseCommandArgs, type Command, type CommandContext } from './command.js'
import { lsCommand, restoreCommand, saveCommand } from './commands/cache-commands.js'
import { planCommand, runCommand } from './commands/pipeline-commands.js'
import { pruneCommand } from './commands/prune-command.js'
import { keygenCommand, releaseCommand, verifyCommand } from './commands/release-commands.js'

export const commands: Command[] = [
  saveCommand,
  restoreCommand,
  lsCommand,
  pruneCommand,
  runCommand,
  planCommand,
  releaseCommand,
  verifyCommand,
  keygenCommand
]

function usage(): string {
  const width = Math.max(...commands.map(command => command.name.length)) + 2
  return [
    'usage: artifact-action <command> [options]',
    '',
    'commands:',
    ...commands.map(command => `  ${command.name.padEnd(width)}${command.summary.split('. ')[0]}`),
    '',
    "Run 'artifact-action <command> --help' for a command's options.",
    'Exit codes: 0 done, 1 failed, 2 bad input, 3 cache miss.'
  ].join('\n')
}

/** Runs one CLI invocation and returns its exit code; errors are printed as one line. */
export async function main(argv: string[], context: CommandContext = { clock: systemClock }): Promise<number> {
  const [name, ...args] = argv
  if (!name || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${usage()}\n`)
    return name ? Exit.Ok : Exit.Usage
  }
  const command = commands.find(candidate => candidate.name === name)
  if (!command) {
    process.stderr.write(`artifact-action: unknown command "${name}"\n${usage()}\n`)
    return Exit.Usage
  }
  try {
    const { values, positionals } = parseCommandArgs(command, args)
    if (values.help === true) {
      process.stdout.write(`${helpText(command)}\n`)
      return Exit.Ok
    }
    return await command.run(values, positionals, context)
  } catch (error) {
    process.stderr.write(`artifact-action ${name}: ${errorMessage(error)}\n`)
    return isNamedError(error, 'InputError') ? Exit.Usage : Exit.Failure
  }
}

/**
 * Runs one CLI invocation and ends the process with its exit code once stdout and stderr have handed on
 * everything written to them: output piped into a slower reader (`plan | jq`) is written asynchronously, and
 * process.exit() would drop what is still queued. A reader that stops early (`| head`) ends the wait quietly.
 */
export async function runCli(argv: string[]): Promise<never> {
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {})
  const code = await main(argv)
  const flushed = (stream: NodeJS.WriteStream) => new Promise<void>(resolve => stream.write('', () => resolve()))
  await Promise.all([flushed(process.stdout), flushed(process.stderr)])
  process.exit(code)
}
