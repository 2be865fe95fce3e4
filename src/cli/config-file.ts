/**
 * The config file: `--config FILE`, else TICKFLOW_CONFIG, else `tickflow.json` in the working
 * directory when there is one. JSON, one section per component; today `archive` and `exchange`:
 *
 *   { "archive": { "routes": [ { "topic": "tickers.stocks", "table": "quotes_stocks",
 *       "columns": [ { "column": "symbol", "type": "text", "required": true }, … ] } ] },
 *     "exchange": { "instruments": { "TCS": { "tickSize": 0.05, "lotSize": 1 }, … } } }
 *
 * An explicitly named file must exist; a file that is not valid JSON or has unknown sections is an
 * error naming the file (TICKFLOW_ERR_INVALID_CONFIG).
 */
import fs from 'node:fs'
import { ErrorCodes, TickflowError } from '../errors.ts'
import type { InstrumentSpec } from '../exchange/exchange.ts'
import { parseRoutes, type RouteSpec } from '../store/tables.ts'
import type { OptionSpec } from './command.ts'

export const CONFIG_OPTION: Record<string, OptionSpec> = {
  config: {
    type: 'string',
    value: 'FILE',
    description: 'Config file (default: TICKFLOW_CONFIG, else ./tickflow.json when present)',
  },
}

export interface TickflowConfig {
  /** Where it was read from; undefined when there is no config file. */
  source: string | undefined
  archive: {
    /** Undefined when the file declares none (the archiver then uses its default routes). */
    routes: RouteSpec[] | undefined
  }
  exchange: {
    /** Tick and lot sizes by instrument; undefined when the file declares none. */
    instruments: Record<string, InstrumentSpec> | undefined
  }
}

const SECTIONS = new Set(['archive', 'exchange'])
const ARCHIVE_KEYS = new Set(['routes'])

/** Reads the config file the options and environment name, if any. */
export function loadConfig(explicit: string | undefined, env: NodeJS.ProcessEnv = process.env): TickflowConfig {
  const named = explicit ?? (env.TICKFLOW_CONFIG === '' ? undefined : env.TICKFLOW_CONFIG)
  const file = named ?? (fs.existsSync('tickflow.json') ? 'tickflow.json' : undefined)
  if (file === undefined) {
    return { source: undefined, archive: { routes: undefined }, exchange: { instruments: undefined } }
  }
  let text: string
  try {
    text = fs.readFileSync(file, 'utf8')
  } catch (err) {
    throw new TickflowError(ErrorCodes.INVALID_CONFIG, `cannot read config file ${file}: ${(err as Error).message}`, {
      cause: err,
    })
  }
  return parseConfig(text, file)
}

/** Parses config file text; `source` names it in errors. */
export function parseConfig(text: string, source: string): TickflowConfig {
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (err) {
    throw new TickflowError(ErrorCodes.INVALID_CONFIG, `${source} is not valid JSON: ${(err as Error).message}`)
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new TickflowError(ErrorCodes.INVALID_CONFIG, `${source} must hold a JSON object`)
  }
  for (const key of Object.keys(value)) {
    if (!SECTIONS.has(key))
      throw new TickflowError(ErrorCodes.INVALID_CONFIG, `${source}: unknown section ${JSON.stringify(key)}`)
  }
  const archive = (value as Record<string, unknown>).archive
  let routes: RouteSpec[] | undefined
  if (archive !== undefined) {
    if (typeof archive !== 'object' || archive === null || Array.isArray(archive)) {
      throw new TickflowError(ErrorCodes.INVALID_CONFIG, `${source}: archive must be an object`)
    }
    for (const key of Object.keys(archive)) {
      if (!ARCHIVE_KEYS.has(key)) {
        throw new TickflowError(ErrorCodes.INVALID_CONFIG, `${source}: unknown key archive.${key}`)
      }
    }
    const r = (archive as Record<string, unknown>).routes
    if (r !== undefined) {
      try {
        routes = parseRoutes(r)
      } catch (err) {
        throw new TickflowError(ErrorCodes.INVALID_CONFIG, `${source}: ${(err as Error).message}`)
      }
    }
  }
  return { source, archive: { routes }, exchange: { instruments: parseInstruments(value, source) } }
}

// The exchange section: { "instruments": { NAME: { "tickSize": T, "lotSize": L } } }.
function parseInstruments(value: object, source: string): Record<string, InstrumentSpec> | undefined {
  const exchange = (value as Record<string, unknown>).exchange
  if (exchange === undefined) return undefined
  const fail: (message: string) => never = (message) => {
    throw new TickflowError(ErrorCodes.INVALID_CONFIG, `${source}: ${message}`)
  }
  if (typeof exchange !== 'object' || exchange === null || Array.isArray(exchange)) fail('exchange must be an object')
  for (const key of Object.keys(exchange)) if (key !== 'instruments') fail(`unknown key exchange.${key}`)
  const instruments = (exchange as Record<string, unknown>).instruments
  if (instruments === undefined) return undefined
  if (typeof instruments !== 'object' || instruments === null || Array.isArray(instruments)) {
    fail('exchange.instruments must be an object of instrument names')
  }
  const out: Record<string, InstrumentSpec> = {}
  for (const [name, spec] of Object.entries(instruments as Record<string, unknown>)) {
    const at = `exchange.instruments.${name}`
    if (name === '') fail('exchange.instruments: an empty instrument name')
    if (typeof spec !== 'object' || spec === null || Array.isArray(spec)) fail(`${at} must be an object`)
    const s = spec as Record<string, unknown>
    for (const key of Object.keys(s)) if (key !== 'tickSize' && key !== 'lotSize') fail(`unknown key ${at}.${key}`)
    const size = (key: 'tickSize' | 'lotSize'): number => {
      const v = s[key] ?? (key === 'lotSize' ? 1 : undefined)
      if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) fail(`${at}.${key} must be a positive number`)
      return v as number
    }
    out[name] = { tickSize: size('tickSize'), lotSize: size('lotSize') }
  }
  return out
}
