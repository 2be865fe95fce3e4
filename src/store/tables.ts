/**
 * Which table a topic's records go to besides the raw archive, and how a record becomes a row:
 * a table is a list of columns, each read from one field of the record's JSON value (a dotted path
 * for nested fields) and converted to its SQL type. The typed tables (prices, volatility, bars,
 * orders, trades, pnl) are declared here; routed tables (e.g. one per asset class of the quote
 * feeds) are declared the same way in the config file and created when the archiver starts.
 *
 * A record a table cannot take — a required field missing, a value of the wrong type, a value not
 * among those allowed — yields a reason instead of a row; the archiver dead-letters it (the raw
 * archive keeps it anyway). Pure: no I/O.
 */
import { parseOrderTs, parsePriceTs } from '../bus/time.ts'
import { ErrorCodes, TickflowError } from '../errors.ts'
import { storableTime, type CopyBinary } from './copy-binary.ts'
import { quoteIdentifier } from './database.ts'

/** SQL type of a column, and how a JSON value converts to it. */
export type ColumnType = 'text' | 'double' | 'bigint' | 'integer' | 'boolean' | 'timestamp' | 'json'

export const COLUMN_TYPES: readonly ColumnType[] = [
  'text',
  'double',
  'bigint',
  'integer',
  'boolean',
  'timestamp',
  'json',
]

const SQL_TYPES: Record<ColumnType, string> = {
  text: 'text',
  double: 'double precision',
  bigint: 'bigint',
  integer: 'integer',
  boolean: 'boolean',
  timestamp: 'timestamptz',
  json: 'jsonb',
}

export interface ColumnSpec {
  /** The column's name. */
  column: string
  /** The field of the record value it comes from; `a.b` reads a nested field. */
  field: string
  type: ColumnType
  /** A record without the field (or with null) cannot go to this table. */
  required?: boolean
  /** For text columns: the only values allowed. */
  values?: readonly string[]
}

export interface TableSpec {
  /** The table's name (in the store's schema). */
  table: string
  columns: readonly ColumnSpec[]
}

/** A route of the config file: the records of `topic` (or of every topic matching `topic*`) to a table. */
export interface RouteSpec extends TableSpec {
  topic: string
}

const col = (column: string, type: ColumnType, required = false, field = column): ColumnSpec => ({
  column,
  field,
  type,
  required,
})

/** The typed tables (created by the migrations), by the kind of topic they take. */
export const TYPED_TABLES = {
  prices: {
    table: 'prices',
    columns: [
      col('ts', 'timestamp', true),
      col('symbol', 'text', true),
      col('price', 'double', true),
      col('volume', 'double'),
    ],
  },
  volatility: {
    table: 'volatility',
    columns: [
      col('ts', 'timestamp', true),
      col('symbol', 'text', true),
      col('price', 'double', true),
      col('ema', 'double'),
      col('sma', 'double'),
      col('volatility', 'double'),
      col('price_std', 'double'),
      col('zscore', 'double'),
      col('outlier', 'boolean', true),
      col('window', 'integer', true),
      col('count', 'bigint', true),
    ],
  },
  bars: {
    table: 'bars',
    columns: [
      col('symbol', 'text', true),
      col('interval', 'text', true),
      col('start_ts', 'timestamp', true, 'start'),
      col('end_ts', 'timestamp', true, 'end'),
      col('open', 'double', true),
      col('high', 'double', true),
      col('low', 'double', true),
      col('close', 'double', true),
      col('volume', 'double', true),
      col('vwap', 'double'),
      col('trades', 'bigint', true),
    ],
  },
  orders: {
    table: 'orders',
    columns: [
      col('id', 'bigint', true),
      col('instrument', 'text', true),
      { column: 'side', field: 'trxn_type', type: 'text', required: true, values: ['BUY', 'SELL'] },
      col('quantity', 'bigint', true),
      col('price', 'double'),
      col('order_ts', 'timestamp', true, 'order_timestamp'),
      col('trader', 'text'),
      { column: 'type', field: 'type', type: 'text', values: ['limit', 'market'] },
      { column: 'tif', field: 'tif', type: 'text', values: ['GTC', 'IOC', 'FOK'] },
      { column: 'action', field: 'action', type: 'text', values: ['new', 'cancel', 'modify'] },
    ],
  },
  trades: {
    table: 'trades',
    columns: [
      col('seq', 'bigint', true),
      col('ts', 'timestamp', true),
      col('instrument', 'text', true),
      col('price', 'double', true),
      col('quantity', 'bigint', true),
      col('buy_order_id', 'bigint', true),
      col('sell_order_id', 'bigint', true),
      col('buyer', 'text'),
      col('seller', 'text'),
      { column: 'aggressor', field: 'aggressor', type: 'text', required: true, values: ['BUY', 'SELL'] },
    ],
  },
  pnl: {
    table: 'pnl',
    columns: [
      col('ts', 'timestamp', true),
      col('trader', 'text', true),
      col('instrument', 'text', true),
      col('position', 'double', true),
      col('avg_price', 'double'),
      col('realized', 'double', true),
      col('unrealized', 'double', true),
      col('fees', 'double', true),
      col('last_price', 'double'),
    ],
  },
} as const satisfies Record<string, TableSpec>

export type TypedKind = keyof typeof TYPED_TABLES

/** The typed table of a topic by its name: `prices`, `volatility`, `bars.<interval>`, `orders`, `trades`, `pnl`. */
export function typedKindOf(topic: string): TypedKind | undefined {
  if (topic.startsWith('bars.') && topic.length > 5) return 'bars'
  return Object.hasOwn(TYPED_TABLES, topic) && topic !== 'bars' ? (topic as TypedKind) : undefined
}

/**
 * The quote topics of the live feeds, each to a table of its own: what `tickflow archive` does
 * when the config file declares no routes.
 */
export const DEFAULT_ROUTES: readonly RouteSpec[] = [
  ['tickers.stocks', 'quotes_stocks'],
  ['tickers.crypto', 'quotes_crypto'],
  ['tickers.currency', 'quotes_currency'],
].map(([topic, table]) => ({
  topic,
  table,
  columns: [
    col('symbol', 'text', true),
    col('price', 'double', true),
    col('change', 'double'),
    col('change_percent', 'double'),
    col('exchange', 'text'),
    col('quote_type', 'text'),
    col('ticker_ts', 'timestamp'),
    col('ingested_at', 'timestamp'),
    col('event_id', 'text'),
  ],
}))

/** Whether `route` takes `topic`: an exact name, or a prefix ending in `*`. */
export function routeMatches(route: RouteSpec, topic: string): boolean {
  return route.topic.endsWith('*') ? topic.startsWith(route.topic.slice(0, -1)) : topic === route.topic
}

/** The first route taking `topic`. */
export function routeOf(routes: readonly RouteSpec[], topic: string): RouteSpec | undefined {
  return routes.find((r) => routeMatches(r, topic))
}

const RESERVED = new Set(['topic', 'partition', 'offset'])

function invalidConfig(message: string): TickflowError {
  return new TickflowError(ErrorCodes.INVALID_CONFIG, message)
}

/**
 * Routes from the config file's `archive.routes`: `[{ "topic": "tickers.stocks", "table":
 * "quotes_stocks", "columns": [{ "column": "symbol", "field": "symbol", "type": "text",
 * "required": true }, …] }]` (`field` defaults to the column's name, `type` to text).
 * @throws TICKFLOW_ERR_INVALID_CONFIG naming the first thing wrong
 */
export function parseRoutes(value: unknown): RouteSpec[] {
  if (!Array.isArray(value)) throw invalidConfig('archive.routes must be an array')
  const tables = new Set<string>(Object.values(TYPED_TABLES).map((t) => t.table))
  tables.add('archive')
  tables.add('consumer_offsets')
  tables.add('schema_migrations')
  return value.map((raw, i) => {
    const where = `archive.routes[${i}]`
    if (typeof raw !== 'object' || raw === null) throw invalidConfig(`${where} must be an object`)
    const r = raw as Record<string, unknown>
    if (typeof r.topic !== 'string' || r.topic === '' || r.topic === '*') {
      throw invalidConfig(`${where}.topic must be a topic name, or a prefix ending in *`)
    }
    if (typeof r.table !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(r.table)) {
      throw invalidConfig(
        `${where}.table must be a lower-case SQL name ([a-z_][a-z0-9_]*), got ${JSON.stringify(r.table)}`,
      )
    }
    if (tables.has(r.table))
      throw invalidConfig(`${where}.table ${r.table} is taken (a tickflow table or another route)`)
    tables.add(r.table)
    if (!Array.isArray(r.columns) || r.columns.length === 0)
      throw invalidConfig(`${where}.columns must be a non-empty array`)
    const names = new Set<string>()
    const columns = r.columns.map((c, j): ColumnSpec => {
      const at = `${where}.columns[${j}]`
      if (typeof c !== 'object' || c === null) throw invalidConfig(`${at} must be an object`)
      const x = c as Record<string, unknown>
      if (typeof x.column !== 'string' || !/^[a-z_][a-z0-9_]{0,62}$/.test(x.column)) {
        throw invalidConfig(`${at}.column must be a lower-case SQL name, got ${JSON.stringify(x.column)}`)
      }
      if (RESERVED.has(x.column) || names.has(x.column)) throw invalidConfig(`${at}.column ${x.column} is taken`)
      names.add(x.column)
      const field = x.field ?? x.column
      if (typeof field !== 'string' || field === '') throw invalidConfig(`${at}.field must be a field name`)
      const type = x.type ?? 'text'
      if (!COLUMN_TYPES.includes(type as ColumnType)) {
        throw invalidConfig(`${at}.type must be one of ${COLUMN_TYPES.join(', ')}, got ${JSON.stringify(type)}`)
      }
      if (x.required !== undefined && typeof x.required !== 'boolean')
        throw invalidConfig(`${at}.required must be true or false`)
      if (x.values !== undefined && !(Array.isArray(x.values) && x.values.every((v) => typeof v === 'string'))) {
        throw invalidConfig(`${at}.values must be an array of strings`)
      }
      return {
        column: x.column,
        field,
        type: type as ColumnType,
        required: x.required === true,
        ...(x.values !== undefined ? { values: x.values as string[] } : {}),
      }
    })
    return { topic: r.topic, table: r.table, columns }
  })
}

/** `CREATE TABLE IF NOT EXISTS` of a routed table: the record's position, then the columns. */
export function createTableSql(schema: string, spec: TableSpec): string {
  const columns = spec.columns.map(
    (c) => `${quoteIdentifier(c.column)} ${SQL_TYPES[c.type]}${c.required === true ? ' NOT NULL' : ''}`,
  )
  return (
    `CREATE TABLE IF NOT EXISTS ${schema}.${quoteIdentifier(spec.table)} (topic text NOT NULL, partition integer NOT NULL, ` +
    `"offset" bigint NOT NULL, ${columns.join(', ')}, PRIMARY KEY (topic, partition, "offset"))`
  )
}

/** The COPY target of a table: `schema.table (topic, partition, "offset", col, …)`. */
export function copyTarget(schema: string, spec: TableSpec): string {
  return `${schema}.${quoteIdentifier(spec.table)} (topic, partition, "offset", ${spec.columns.map((c) => quoteIdentifier(c.column)).join(', ')})`
}

/**
 * Appends the row of one record (its parsed JSON value) to `out`, or returns why the table cannot
 * take it (nothing is appended then).
 */
export function appendRow(
  out: CopyBinary,
  spec: TableSpec,
  topic: string,
  partition: number,
  offset: number,
  value: unknown,
): string | undefined {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    return `not a JSON object, so not a row of ${spec.table}`
  }
  // Converted first, written after: a record is a row entirely or not at all.
  const fields: (Field | null)[] = []
  for (const c of spec.columns) {
    const v = fieldOf(value as Record<string, unknown>, c.field)
    if (v === undefined || v === null) {
      if (c.required === true) return `${c.field} is missing (needed by ${spec.table}.${c.column})`
      fields.push(null)
      continue
    }
    const converted = convert(c, v)
    if (typeof converted === 'object') return `${c.field}: ${converted.reason} (${spec.table}.${c.column} is ${c.type})`
    fields.push(converted)
  }
  out.text(topic).int4(partition).int8(offset)
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]
    if (f === null) {
      out.null()
      continue
    }
    switch (spec.columns[i].type) {
      case 'text':
        out.text(f as string)
        break
      case 'json':
        out.jsonb(f as string)
        break
      case 'double':
        out.float8(f as number)
        break
      case 'bigint':
        out.int8(f as number)
        break
      case 'integer':
        out.int4(f as number)
        break
      case 'boolean':
        out.bool(f as boolean)
        break
      case 'timestamp':
        out.timestamptz(f as number)
        break
    }
  }
  out.end()
  return undefined
}

function fieldOf(value: Record<string, unknown>, path: string): unknown {
  if (!path.includes('.')) return Object.hasOwn(value, path) ? value[path] : undefined
  let at: unknown = value
  for (const part of path.split('.')) {
    if (typeof at !== 'object' || at === null || !Object.hasOwn(at, part)) return undefined
    at = (at as Record<string, unknown>)[part]
  }
  return at
}

/**
 * A field converted to its column's type: text and JSON text as strings, numbers, booleans,
 * timestamps as epoch ms.
 */
type Field = string | number | boolean

const MIN_INT = -(2 ** 31)
const MAX_INT = 2 ** 31 - 1

/** Why a field cannot go to its column. */
interface Refusal {
  reason: string
}

const refuse = (reason: string): Refusal => ({ reason })

// The field as its column takes it, or why it cannot be.
function convert(c: ColumnSpec, v: unknown): Field | Refusal {
  switch (c.type) {
    case 'text': {
      if (typeof v !== 'string') return refuse(`expected a string, got ${describe(v)}`)
      if (v.includes('\0')) return refuse('a string with a NUL character')
      if (c.values !== undefined && !c.values.includes(v)) {
        return refuse(`${JSON.stringify(v)} is not one of ${c.values.join(', ')}`)
      }
      return v
    }
    case 'double':
      if (typeof v !== 'number' || !Number.isFinite(v)) return refuse(`expected a finite number, got ${describe(v)}`)
      return v
    case 'bigint':
    case 'integer': {
      if (typeof v !== 'number' || !Number.isSafeInteger(v)) return refuse(`expected an integer, got ${describe(v)}`)
      if (c.type === 'integer' && (v < MIN_INT || v > MAX_INT)) return refuse(`${v} is beyond 32 bits`)
      return v
    }
    case 'boolean':
      if (typeof v !== 'boolean') return refuse(`expected true or false, got ${describe(v)}`)
      return v
    case 'timestamp': {
      const ms = timestampOf(v)
      if (!storableTime(ms)) return refuse(`not a timestamp in years 1-9999: ${describe(v)}`)
      return ms
    }
    case 'json': {
      const text = JSON.stringify(v)
      if (/\\u0000|\\u[dD][89a-fA-F]/.test(text))
        return refuse('JSON PostgreSQL cannot store (NUL or a lone surrogate)')
      return text
    }
  }
}

/**
 * Epoch ms of a timestamp field: `yyyy-mm-dd hh:mm:ss.fff` (prices), `yyyy/mm/dd, hh:mm:ss`
 * (orders), ISO 8601 with a zone, or epoch milliseconds as a number.
 */
export function timestampOf(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) && Math.abs(v) <= 8.64e15 ? v : undefined
  if (typeof v !== 'string') return undefined
  const price = parsePriceTs(v)
  if (price !== undefined) return price
  const order = parseOrderTs(v)
  if (order !== undefined) return order
  // ISO 8601 with an explicit zone only: a bare local time would depend on the machine.
  if (!/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/.test(v)) return undefined
  const ms = Date.parse(v)
  return Number.isNaN(ms) ? undefined : ms
}

function describe(v: unknown): string {
  if (typeof v === 'string') return `"${v.length > 20 ? `${v.slice(0, 17)}...` : v}"`
  if (Array.isArray(v)) return 'an array'
  if (typeof v === 'object') return 'an object'
  return String(v)
}
