/**
 * The `tickflow` command line: `tickflow <command> [options]`. Failures print one line
 * (`tickflow: ...`) and exit non-zero; stack traces only for bugs, with TICKFLOW_DEBUG=1.
 */
import { readFileSync } from 'node:fs'
import { isTickflowError, ErrorCodes } from '../errors.ts'
import { helpText, parseCommandArgs, type CommandIO } from './command.ts'
import { commands } from './commands/index.ts'

function version(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return pkg.version
}

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.name.length))
  return [
    'Usage: tickflow <command> [options]',
    '',
    'A real-time market-data streaming platform with an embedded Kafka-protocol broker.',
    '',
    'Commands:',
    ...commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    '',
    'Run `tickflow <command> --help` for the options of a command.',
    'Options: -h, --help  Show this help;  -v, --version  Print the version',
  ].join('\n')
}

function stopSignal(): Promise<string> {
  return new Promise((resolve) => {
    const on = (sig: string): void => {
      process.off('SIGINT', on)
      process.off('SIGTERM', on)
      resolve(sig)
    }
    process.on('SIGINT', on)
    process.on('SIGTERM', on)
  })
}

/** Redraws one status line on stderr when it is a terminal (progress of long commands). */
function terminalStatus(): ((line: string) => void) | undefined {
  if (process.stderr.isTTY !== true) return undefined
  return (line) => process.stderr.write(`\r\x1b[K${line.slice(0, Math.max(10, (process.stderr.columns ?? 80) - 1))}`)
}

/** Runs the CLI with `argv` (without node and script); returns the exit code. */
export async function main(argv: string[], io?: Partial<CommandIO>): Promise<number> {
  const out = io?.out ?? ((l: string) => process.stdout.write(`${l}\n`))
  const err = io?.err ?? ((l: string) => process.stderr.write(`${l}\n`))
  const [name, ...rest] = argv
  if (name === undefined || name === '-h' || name === '--help' || name === 'help') {
    out(mainHelp())
    return name === undefined ? 1 : 0
  }
  if (name === '-v' || name === '--version') {
    out(version())
    return 0
  }
  const command = commands.find((c) => c.name === name)
  if (command === undefined) {
    err(`tickflow: unknown command "${name}" (run tickflow --help)`)
    return 2
  }
  try {
    const { values, positionals } = parseCommandArgs(command, rest)
    if (values.help === true) {
      out(helpText(command))
      return 0
    }
    const status = io === undefined ? terminalStatus() : io.status
    return await command.run(values, positionals, { out, err, stopSignal: io?.stopSignal ?? stopSignal(), status })
  } catch (e) {
    if (isTickflowError(e)) {
      err(`tickflow ${name}: ${e.message}`)
      return e.code === ErrorCodes.INVALID_ARGUMENT ? 2 : 1
    }
    err(`tickflow ${name}: unexpected error: ${(e as Error)?.message ?? String(e)}`)
    if (process.env.TICKFLOW_DEBUG === '1') err((e as Error)?.stack ?? '')
    return 1
  }
}
