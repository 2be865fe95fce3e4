/**
 * The `exchange` processor: `orders` → `trades`, `order-events`, `book`, `pnl` and
 * `trade-stats`, on the stream runtime (exactly once, restored from checkpoints).
 *
 * Orders are keyed by instrument, so each instrument's book lives in exactly one input partition;
 * each partition holds an {@link Exchange} over its instruments, and its checkpoint is the whole
 * exchange state (books, positions, statistics) — a restart restores it, never replays history.
 *
 * A record that is not an order (not JSON, a field missing or of the wrong type) goes to
 * `dlq.orders` with the reason. An order the exchange refuses (unknown instrument, price off the
 * tick, unknown order id on cancel, …) is an `order-events` record of type `rejected` with the
 * reason: the message was well formed, the request was not acceptable.
 *
 * Output records (JSON; ts as `yyyy-mm-dd hh:mm:ss.fff` UTC from the order's own timestamp):
 * - trades, key instrument: {seq, ts, instrument, price, quantity, buy_order_id, sell_order_id,
 *   buyer, seller, aggressor}
 * - order-events, key instrument: {ts, type, instrument, id, trader, side, price, quantity, open,
 *   filled, reason}
 * - book, key instrument: {ts, instrument, bid, bid_quantity, ask, ask_quantity, changes:
 *   {bids, asks} as [price, quantity] (0: gone), depth: {bids, asks} the top levels}
 * - pnl, key trader: {ts, trader, instrument, position, avg_price, realized, unrealized, fees, net,
 *   last_price}
 * - trade-stats, key instrument: {ts, instrument, trades, volume, last, sma, vwap, window}
 */
import { Exchange, type ExchangeOptions, type OrderCommand } from '../exchange/exchange.ts'
import { ordersTopic } from '../bus/topics/orders.ts'
import { formatPriceTs, parseOrderTs } from '../bus/time.ts'
import { ErrorCodes, TickflowError } from '../errors.ts'
import type { Emitter, InputRecord, PartitionProcessor, ProcessorDefinition } from './processor.ts'

export interface ExchangeConfig {
  input: string
  topics: { trades: string; events: string; book: string; pnl: string; stats: string }
  exchange: ExchangeOptions
  /** Levels per side in each book record's `depth`. */
  depthLevels: number
}

export const DEFAULT_EXCHANGE_CONFIG: ExchangeConfig = {
  input: 'orders',
  topics: { trades: 'trades', events: 'order-events', book: 'book', pnl: 'pnl', stats: 'trade-stats' },
  exchange: { anyInstrument: { tickSize: 0.01, lotSize: 1 }, selfTrade: 'expire-taker', pnl: 'fifo', statsWindow: 20 },
  depthLevels: 10,
}

/** The processor definition of `exchange` with `config`. */
export function exchangeProcessor(config: ExchangeConfig = DEFAULT_EXCHANGE_CONFIG): ProcessorDefinition {
  const t = config.topics
  return {
    name: 'exchange',
    input: config.input,
    outputs: [t.trades, t.events, t.book, t.pnl, t.stats],
    create: (_partition, snapshot) => ExchangePartition.create(config, snapshot),
  }
}

const SNAPSHOT_VERSION = 1

export class ExchangePartition implements PartitionProcessor {
  private readonly config: ExchangeConfig
  private exchange: Exchange
  private latest: number | undefined

  private constructor(config: ExchangeConfig, exchange: Exchange) {
    this.config = config
    this.exchange = exchange
  }

  static create(config: ExchangeConfig, snapshot: Buffer | undefined): ExchangePartition {
    if (snapshot === undefined) return new ExchangePartition(config, new Exchange(config.exchange))
    let parsed: { version?: unknown; exchange?: unknown; latest?: unknown }
    try {
      parsed = JSON.parse(snapshot.toString('utf8')) as typeof parsed
    } catch (err) {
      throw new TickflowError(ErrorCodes.CHECKPOINT, `the exchange checkpoint is not JSON: ${(err as Error).message}`)
    }
    if (parsed.version !== SNAPSHOT_VERSION || typeof parsed.exchange !== 'object' || parsed.exchange === null) {
      throw new TickflowError(ErrorCodes.CHECKPOINT, `the exchange checkpoint is of version ${String(parsed.version)}`)
    }
    const p = new ExchangePartition(
      config,
      Exchange.restore(parsed.exchange as Parameters<typeof Exchange.restore>[0], config.exchange),
    )
    if (typeof parsed.latest === 'number') p.latest = parsed.latest
    return p
  }

  get maxEventTime(): number | undefined {
    return this.latest
  }

  process(record: InputRecord, out: Emitter): void {
    const decoded = ordersTopic.decode(record.value)
    if (!decoded.ok) {
      out.deadLetter(decoded.reason, 'invalid')
      return
    }
    // `post_only` is not a field of the orders schema; it passes through it as an extra field.
    const o = decoded.value as typeof decoded.value & { post_only?: unknown }
    if (o.post_only !== undefined && typeof o.post_only !== 'boolean') {
      out.deadLetter('post_only must be true or false', 'invalid')
      return
    }
    const ts = parseOrderTs(o.order_timestamp)!
    if (this.latest === undefined || ts > this.latest) this.latest = ts
    const type = o.type ?? (o.price === undefined || o.price === 0 ? 'market' : 'limit')
    const cmd: OrderCommand = {
      action: o.action ?? 'new',
      id: o.id,
      instrument: o.instrument,
      trader: o.trader ?? '',
      side: o.trxn_type,
      type,
      tif: o.tif ?? (type === 'market' ? 'IOC' : 'GTC'),
      postOnly: o.post_only === true,
      price: type === 'market' && o.action !== 'modify' ? undefined : o.price,
      quantity: o.quantity,
      ts,
    }
    const r = this.exchange.submit(cmd)
    const t = this.config.topics
    const when = formatPriceTs(ts)
    for (const e of r.events) {
      out.emit(
        t.events,
        e.instrument,
        JSON.stringify({
          ts: when,
          type: e.type,
          instrument: e.instrument,
          id: e.id,
          trader: e.trader === '' ? null : e.trader,
          side: e.side ?? cmd.side,
          price: e.price ?? null,
          quantity: e.quantity ?? cmd.quantity,
          open: e.open ?? null,
          filled: e.filled ?? null,
          reason: e.reason ?? null,
        }),
      )
    }
    for (const x of r.trades) {
      out.emit(
        t.trades,
        x.instrument,
        JSON.stringify({
          seq: x.seq,
          ts: when,
          instrument: x.instrument,
          price: x.price,
          quantity: x.quantity,
          buy_order_id: x.buyOrderId,
          sell_order_id: x.sellOrderId,
          buyer: x.buyer === '' ? null : x.buyer,
          seller: x.seller === '' ? null : x.seller,
          aggressor: x.aggressor,
        }),
      )
    }
    if (r.book !== undefined) {
      const b = r.book
      const levels = (side: 'BUY' | 'SELL') => this.exchange.depth(b.instrument, side, this.config.depthLevels)
      out.emit(
        t.book,
        b.instrument,
        JSON.stringify({
          ts: when,
          instrument: b.instrument,
          bid: b.bid,
          bid_quantity: b.bidQuantity,
          ask: b.ask,
          ask_quantity: b.askQuantity,
          changes: { bids: b.bids, asks: b.asks },
          depth: { bids: levels('BUY'), asks: levels('SELL') },
        }),
      )
    }
    for (const p of r.pnl) {
      // Orders without a trader are nobody's: no P&L to report.
      if (p.trader === '') continue
      out.emit(
        t.pnl,
        p.trader,
        JSON.stringify({
          ts: when,
          trader: p.trader,
          instrument: p.instrument,
          position: p.position,
          avg_price: Number.isNaN(p.avgPrice) ? null : p.avgPrice,
          realized: p.realized,
          unrealized: p.unrealized,
          fees: p.fees,
          net: p.net,
          last_price: Number.isNaN(p.lastPrice) ? null : p.lastPrice,
        }),
      )
    }
    if (r.stats !== undefined) {
      const s = r.stats
      out.emit(
        t.stats,
        s.instrument,
        JSON.stringify({
          ts: when,
          instrument: s.instrument,
          trades: s.trades,
          volume: s.volume,
          last: s.last,
          sma: s.sma,
          vwap: s.vwap,
          window: s.window,
        }),
      )
    }
  }

  snapshot(): Buffer {
    return Buffer.from(
      JSON.stringify({ version: SNAPSHOT_VERSION, latest: this.latest ?? null, exchange: this.exchange.snapshot() }),
    )
  }
}
