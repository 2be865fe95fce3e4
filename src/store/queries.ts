/**
 * Queries over the archived tables, for the server, the dashboard and `tickflow query`: the latest
 * price per symbol, bars over a time range, trades, and P&L per trader. Times are epoch ms in and
 * out; numbers are JavaScript numbers.
 */
import type { Database } from './database.ts'

export interface LatestPrice {
  symbol: string
  /** Event time, epoch ms. */
  ts: number
  price: number
}

/** The latest price (by event time) of each symbol, or of the given ones; ordered by symbol. */
export async function latestPrices(db: Database, symbols?: readonly string[]): Promise<LatestPrice[]> {
  const filter = symbols !== undefined && symbols.length > 0
  const r = await db.query<{ symbol: string; ms: number; price: number }>(
    `SELECT DISTINCT ON (symbol) symbol, ${ms('ts')} AS ms, price FROM ${db.schema}.prices ` +
      (filter ? 'WHERE symbol = ANY($1::text[]) ' : '') +
      `ORDER BY symbol, ts DESC, topic DESC, partition DESC, "offset" DESC`,
    filter ? [symbols] : [],
  )
  return r.rows.map((x) => ({ symbol: x.symbol, ts: Number(x.ms), price: Number(x.price) }))
}

export interface BarRow {
  symbol: string
  interval: string
  start: number
  end: number
  open: number
  high: number
  low: number
  close: number
  volume: number
  vwap: number | null
  trades: number
}

export interface BarQuery {
  symbol: string
  /** The bar interval label, e.g. `1m`. */
  interval: string
  /** Bars starting at or after this time (epoch ms). */
  from?: number
  /** Bars starting before this time. */
  to?: number
  /** The last `limit` bars of the range (default 1000). */
  limit?: number
}

/** Bars of one symbol and interval over a range, oldest first. */
export async function bars(db: Database, q: BarQuery): Promise<BarRow[]> {
  const params: unknown[] = [q.symbol, q.interval]
  let range = ''
  if (q.from !== undefined) {
    params.push(q.from)
    range += ` AND start_ts >= to_timestamp($${params.length} / 1000.0)`
  }
  if (q.to !== undefined) {
    params.push(q.to)
    range += ` AND start_ts < to_timestamp($${params.length} / 1000.0)`
  }
  params.push(q.limit ?? 1000)
  // A bar written twice (by a re-run of analyze) counts once: the latest write of each start.
  const r = await db.query<Record<string, unknown>>(
    `SELECT * FROM (SELECT DISTINCT ON (start_ts) symbol, "interval", ${ms('start_ts')} AS start, ${ms('end_ts')} AS "end", ` +
      `open, high, low, close, volume, vwap, trades::float8 AS trades, start_ts FROM ${db.schema}.bars ` +
      `WHERE symbol = $1 AND "interval" = $2${range} ` +
      `ORDER BY start_ts DESC, "offset" DESC LIMIT $${params.length}) b ORDER BY start_ts`,
    params,
  )
  return r.rows.map((x) => ({
    symbol: String(x.symbol),
    interval: String(x.interval),
    start: Number(x.start),
    end: Number(x.end),
    open: Number(x.open),
    high: Number(x.high),
    low: Number(x.low),
    close: Number(x.close),
    volume: Number(x.volume),
    vwap: x.vwap === null ? null : Number(x.vwap),
    trades: Number(x.trades),
  }))
}

export interface TradeRow {
  seq: number
  ts: number
  instrument: string
  price: number
  quantity: number
  buyOrderId: number
  sellOrderId: number
  buyer: string | null
  seller: string | null
  aggressor: string
}

export interface TradeQuery {
  /** Trades where this trader bought or sold. */
  trader?: string
  instrument?: string
  from?: number
  to?: number
  /** The latest `limit` trades (default 100). */
  limit?: number
}

/** Trades, newest first. */
export async function trades(db: Database, q: TradeQuery = {}): Promise<TradeRow[]> {
  const where: string[] = []
  const params: unknown[] = []
  if (q.trader !== undefined) {
    params.push(q.trader)
    where.push(`(buyer = $${params.length} OR seller = $${params.length})`)
  }
  if (q.instrument !== undefined) {
    params.push(q.instrument)
    where.push(`instrument = $${params.length}`)
  }
  if (q.from !== undefined) {
    params.push(q.from)
    where.push(`ts >= to_timestamp($${params.length} / 1000.0)`)
  }
  if (q.to !== undefined) {
    params.push(q.to)
    where.push(`ts < to_timestamp($${params.length} / 1000.0)`)
  }
  params.push(q.limit ?? 100)
  const r = await db.query<Record<string, unknown>>(
    `SELECT seq::float8 AS seq, ${ms('ts')} AS ms, instrument, price, quantity::float8 AS quantity, ` +
      `buy_order_id::float8 AS buy, sell_order_id::float8 AS sell, buyer, seller, aggressor FROM ${db.schema}.trades ` +
      (where.length > 0 ? `WHERE ${where.join(' AND ')} ` : '') +
      `ORDER BY ts DESC, seq DESC LIMIT $${params.length}`,
    params,
  )
  return r.rows.map((x) => ({
    seq: Number(x.seq),
    ts: Number(x.ms),
    instrument: String(x.instrument),
    price: Number(x.price),
    quantity: Number(x.quantity),
    buyOrderId: Number(x.buy),
    sellOrderId: Number(x.sell),
    buyer: (x.buyer as string | null) ?? null,
    seller: (x.seller as string | null) ?? null,
    aggressor: String(x.aggressor),
  }))
}

export interface PnlRow {
  trader: string
  instrument: string
  ts: number
  position: number
  avgPrice: number | null
  realized: number
  unrealized: number
  fees: number
  lastPrice: number | null
}

/** The latest P&L of each (trader, instrument), of one trader or of all; ordered by trader, instrument. */
export async function pnl(db: Database, trader?: string): Promise<PnlRow[]> {
  const r = await db.query<Record<string, unknown>>(
    `SELECT DISTINCT ON (trader, instrument) trader, instrument, ${ms('ts')} AS ms, position, avg_price, realized, ` +
      `unrealized, fees, last_price FROM ${db.schema}.pnl ` +
      (trader !== undefined ? 'WHERE trader = $1 ' : '') +
      `ORDER BY trader, instrument, ts DESC, "offset" DESC`,
    trader !== undefined ? [trader] : [],
  )
  return r.rows.map((x) => ({
    trader: String(x.trader),
    instrument: String(x.instrument),
    ts: Number(x.ms),
    position: Number(x.position),
    avgPrice: x.avg_price === null ? null : Number(x.avg_price),
    realized: Number(x.realized),
    unrealized: Number(x.unrealized),
    fees: Number(x.fees),
    lastPrice: x.last_price === null ? null : Number(x.last_price),
  }))
}

// A timestamptz column as epoch ms (float8: exact for ms).
function ms(column: string): string {
  return `(extract(epoch from ${column}) * 1000)::float8`
}
