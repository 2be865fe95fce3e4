/**
 * What a subcommand is: its name, one-line summary, options (node:util parseArgs configs with a
 * description each) and a run function. Help text is generated from the same table.
 */
import { parseArgs } from 'node:util'
import { ErrorCodes, TickflowError } from '../errors.ts'

export interface OptionSpec {
  type: 'string' | 'boolean'
  short?: string
  default?: string | boolean
  /** Placeholder shown in help, e.g. HOST:PORT. */
  value?: string
  description: string
}

export interface CommandIO {
  out: (line: string) => void
  err: (line: string) => void
  /** Resolves when the process is asked to stop (SIGINT/SIGTERM). */
  stopSignal: Promise<string>
  /** Progress lines that redraw in place; absent when stderr is not a terminal. */
  status?: (line: string) => void
}

export interface Command {
  name: string
  summary: string
  usage: string
  options: Record<string, OptionSpec>
  /** Returns the exit code. */
  run(values: Record<string, string | boolean | undefined>, positionals: string[], io: CommandIO): Promise<number>
}

export function defineCommand(c: Command): Command {
  return c
}

export function helpText(c: Command): string {
  const lines = [`Usage: ${c.usage}`, '', c.summary, '', 'Options:']
  const rows = Object.entries(c.options).map(([name, o]) => {
    const flag = `${o.short ? `-${o.short}, ` : ''}--${name}${o.type === 'string' ? ` ${o.value ?? 'VALUE'}` : ''}`
    const def = o.default !== undefined && o.default !== false ? ` (default: ${o.default})` : ''
    return [flag, `${o.description}${def}`]
  })
  rows.push(['-h, --help', 'Show this help'])
  const width = Math.max(...rows.map((r) => r[0].length))
  for (const [flag, text] of rows) lines.push(`  ${flag.padEnd(width)}  ${text}`)
  return lines.join('\n')
}

/** Parses argv for a command; unknown options and bad values become TICKFLOW_ERR_INVALID_ARGUMENT. */
export function parseCommandArgs(
  c: Command,
  argv: string[],
): { values: Record<string, string | boolean | undefined>; positionals: string[] } {
  const options: Record<string, { type: 'string' | 'boolean'; short?: string; default?: string | boolean }> = {
    help: { type: 'boolean', short: 'h' },
  }
  for (const [name, o] of Object.entries(c.options)) {
    options[name] = {
      type: o.type,
      ...(o.short ? { short: o.short } : {}),
      ...(o.default !== undefined ? { default: o.default } : {}),
    }
  }
  try {
    const { values, positionals } = parseArgs({ args: argv, options, allowPositionals: true, strict: true })
    return { values: values as Record<string, string | boolean | undefined>, positionals }
  } catch (err) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, (err as Error).message.split('\n')[0], { cause: err })
  }
}

/** Parses a non-negative integer option or throws TICKFLOW_ERR_INVALID_ARGUMENT. */
export function intOption(name: string, value: string | boolean | undefined, min = 0): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (typeof value !== 'string' || !/^-?\d+$/.test(value) || n < min || !Number.isSafeInteger(n)) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--${name} must be an integer >= ${min}, got ${String(value)}`)
  }
  return n
}

/** Parses HOST:PORT (the host may be omitted: ":9092"). */
export function hostPortOption(name: string, value: string): { host: string | undefined; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:]*)):(\d+)$/.exec(value)
  const port = m === null ? NaN : Number(m[3])
  if (m === null || port > 65535) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--${name} must be HOST:PORT, got ${value}`)
  }
  const host = m[1] ?? m[2]
  return { host: host === '' ? undefined : host, port }
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }

/**
 * Parses a duration option: `250ms`, `1s`, `5m`, `1h`, or a plain number of milliseconds.
 * @throws TICKFLOW_ERR_INVALID_ARGUMENT for anything else or a negative value
 */
export function durationOption(name: string, value: string | boolean | undefined): number | undefined {
  if (value === undefined) return undefined
  const m = typeof value === 'string' ? /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(value.trim()) : null
  if (m === null) {
    throw new TickflowError(
      ErrorCodes.INVALID_ARGUMENT,
      `--${name} must be a duration such as 500ms, 2s, 5m or a number of milliseconds, got ${String(value)}`,
    )
  }
  return Math.round(Number(m[1]) * DURATION_UNITS[m[2] ?? 'ms'])
}
