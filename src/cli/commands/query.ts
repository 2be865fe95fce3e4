/**
 * `tickflow query latest|bars|trades|pnl`: what the archive holds, as a table or as JSON — the
 * latest price per symbol, bars of a symbol over a time range, trades, and P&L per trader.
 */
import { formatPriceTs, parsePriceTs } from '../../bus/time.ts'
import { ErrorCodes, TickflowError } from '../../errors.ts'
import { bars, latestPrices, pnl, trades } from '../../store/queries.ts'
import { defineCommand, intOption } from '../command.ts'
import { DATABASE_OPTIONS, openStoreFromOptions } from '../database.ts'
import { formatTable } from '../table.ts'

const WHAT = ['latest', 'bars', 'trades', 'pnl'] as const

export default defineCommand({
  name: 'query',
  summary: 'Query the archive: latest prices, bars over a time range, trades, P&L per trader.',
  usage:
    'tickflow query latest [--symbols A,B] | bars SYMBOL [--interval 1m] [--from T] [--to T] | trades [--trader T] [--instrument I] | pnl [--trader T]  [--json]',
  options: {
    symbols: { type: 'string', value: 'LIST', description: 'latest: only these symbols' },
    interval: { type: 'string', value: 'LABEL', default: '1m', description: 'bars: the bar interval' },
    from: {
      type: 'string',
      value: 'TIME',
      description:
        'bars, trades: from this time: yyyy-mm-dd[ hh:mm[:ss[.fff]]] in UTC (or T and a zone, ISO 8601), or epoch ms',
    },
    to: { type: 'string', value: 'TIME', description: 'bars, trades: before this time' },
    trader: { type: 'string', value: 'T', description: 'trades, pnl: of this trader' },
    instrument: { type: 'string', value: 'I', description: 'trades: of this instrument' },
    limit: {
      type: 'string',
      value: 'N',
      description: 'bars: the last N (default 1000); trades: the latest N (default 100)',
    },
    json: { type: 'boolean', description: 'One JSON document instead of a table' },
    'data-dir': {
      type: 'string',
      value: 'DIR',
      description: 'Data dir of the embedded database (default: TICKFLOW_DATA_DIR, else ./data)',
    },
    ...DATABASE_OPTIONS,
  },
  async run(values, positionals, io) {
    const [what, ...rest] = positionals
    if (what === undefined || !(WHAT as readonly string[]).includes(what)) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `query what? one of ${WHAT.join(', ')}`)
    }
    const symbol = rest[0]
    if (what === 'bars' ? rest.length !== 1 : rest.length > 0) {
      throw new TickflowError(
        ErrorCodes.INVALID_ARGUMENT,
        what === 'bars' ? 'query bars takes one SYMBOL' : `unexpected argument ${rest[0]}`,
      )
    }
    const time = (name: 'from' | 'to'): number | undefined => {
      const v = values[name] as string | undefined
      if (v === undefined) return undefined
      const ms = parseQueryTime(v)
      if (ms === undefined) throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--${name}: not a time: ${v}`)
      return ms
    }
    const limit = intOption('limit', values.limit, 1)
    const from = time('from')
    const to = time('to')
    const store = await openStoreFromOptions(values, io.err, false, true)
    try {
      const db = store.db
      const migrated = await db.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [
        `${db.schema}.schema_migrations`,
      ])
      if (migrated.rows[0].t === null) {
        throw new TickflowError(
          ErrorCodes.NOTHING_ARCHIVED,
          `nothing is archived in ${db.description}, schema ${db.schema}: run tickflow archive or tickflow up first`,
        )
      }
      const json = values.json === true
      const ts = (ms: number): string => formatPriceTs(ms)
      const num = (x: number | null): string => (x === null ? '' : String(x))
      if (what === 'latest') {
        const symbols = (values.symbols as string | undefined)?.split(',').filter((x) => x !== '')
        const rows = await latestPrices(db, symbols)
        if (json) io.out(JSON.stringify(rows.map((r) => ({ ...r, ts: ts(r.ts) }))))
        else
          print(
            io.out,
            ['symbol', 'ts', 'price'],
            rows.map((r) => [r.symbol, ts(r.ts), num(r.price)]),
            [false, false, true],
          )
      } else if (what === 'bars') {
        const interval = values.interval as string
        const rows = await bars(db, { symbol: symbol!, interval, from, to, limit })
        if (json) io.out(JSON.stringify(rows.map((r) => ({ ...r, start: ts(r.start), end: ts(r.end) }))))
        else
          print(
            io.out,
            ['start', 'open', 'high', 'low', 'close', 'volume', 'vwap', 'trades'],
            rows.map((r) => [
              ts(r.start),
              num(r.open),
              num(r.high),
              num(r.low),
              num(r.close),
              num(r.volume),
              num(r.vwap),
              num(r.trades),
            ]),
            [false, true, true, true, true, true, true, true],
          )
      } else if (what === 'trades') {
        const rows = await trades(db, {
          trader: values.trader as string | undefined,
          instrument: values.instrument as string | undefined,
          from,
          to,
          limit,
        })
        if (json) io.out(JSON.stringify(rows.map((r) => ({ ...r, ts: ts(r.ts) }))))
        else
          print(
            io.out,
            ['ts', 'seq', 'instrument', 'price', 'qty', 'buyer', 'seller', 'aggressor'],
            rows.map((r) => [
              ts(r.ts),
              num(r.seq),
              r.instrument,
              num(r.price),
              num(r.quantity),
              r.buyer ?? '',
              r.seller ?? '',
              r.aggressor,
            ]),
            [false, true, false, true, true, false, false, false],
          )
      } else {
        const rows = await pnl(db, values.trader as string | undefined)
        if (json) io.out(JSON.stringify(rows.map((r) => ({ ...r, ts: ts(r.ts) }))))
        else
          print(
            io.out,
            ['trader', 'instrument', 'position', 'avg price', 'realized', 'unrealized', 'fees', 'last', 'as of'],
            rows.map((r) => [
              r.trader,
              r.instrument,
              num(r.position),
              num(r.avgPrice),
              num(r.realized),
              num(r.unrealized),
              num(r.fees),
              num(r.lastPrice),
              ts(r.ts),
            ]),
            [false, false, true, true, true, true, true, true, false],
          )
      }
    } finally {
      await store.close()
    }
    return 0
  },
})

function print(out: (line: string) => void, header: string[], rows: string[][], right: boolean[]): void {
  if (rows.length === 0) {
    out('(no rows)')
    return
  }
  for (const line of formatTable(header, rows, right)) out(line)
}

const QUERY_TIME = /^(\d{4}-\d{2}-\d{2})(?:[ T](\d{2}:\d{2})(?::(\d{2})(?:\.(\d{1,3}))?)?)?(Z|[+-]\d{2}:?\d{2})?$/

/**
 * A time on the command line, as epoch ms: a date, with hours and minutes, seconds and
 * milliseconds if wanted, in UTC unless a zone follows (`Z`, `+05:30`); or epoch milliseconds.
 */
export function parseQueryTime(v: string): number | undefined {
  if (/^\d{1,16}$/.test(v)) return Number(v)
  const m = QUERY_TIME.exec(v)
  if (m === null) return undefined
  const [, date, hm = '00:00', sec = '00', frac = '', zone] = m
  const utc = parsePriceTs(`${date} ${hm}:${sec}.${frac.padEnd(3, '0')}`)
  if (utc === undefined || zone === undefined || zone === 'Z') return utc
  const z = /^([+-])(\d{2}):?(\d{2})$/.exec(zone)!
  const minutes = Number(z[2]) * 60 + Number(z[3])
  if (Number(z[2]) > 23 || Number(z[3]) > 59) return undefined
  return utc - (z[1] === '+' ? 1 : -1) * minutes * 60_000
}
