/**
 * The exchange: one order book per instrument, in the instruments' own units outside and integer
 * ticks and lots inside, with the P&L ledger and trade statistics beside the books. It takes order
 * commands as the `orders` topic carries them (new, cancel, modify; prices and quantities as
 * decimals) and reports, per command, the trades, order events, book changes (L1 and the L2
 * levels that changed), P&L of the traders involved and the instrument's trade statistics.
 *
 * A command the exchange cannot take is rejected with a reason from {@link RejectReasons}: an
 * unknown instrument, a price off the instrument's tick, a quantity off its lot, and every reason
 * the book has. Pure and deterministic: no clock, no I/O.
 */
import { OrderBook, type BookSnapshot } from './order-book.ts'
import { PnlLedger, type CostMethod, type PnlFigures, type PositionSnapshot } from './pnl.ts'
import { TradeStats, type TradeStatsFigures, type TradeStatsSnapshot } from './trade-stats.ts'
import {
  RejectReasons,
  type BookEvents,
  type ExpireReason,
  type OrderState,
  type OrderType,
  type RejectReason,
  type SelfTradePrevention,
  type Side,
  type TimeInForce,
} from './types.ts'

/** An instrument's units: prices are multiples of `tickSize`, quantities of `lotSize`. */
export interface InstrumentSpec {
  tickSize: number
  lotSize: number
}

export interface ExchangeOptions {
  /** The instruments traded, by name. */
  instruments?: Readonly<Record<string, InstrumentSpec>>
  /** The units of any instrument not listed; absent: unlisted instruments are rejected. */
  anyInstrument?: InstrumentSpec
  selfTrade?: SelfTradePrevention
  pnl?: CostMethod
  /** Fees as a fraction of the traded value (0.0001 = 1 basis point), paid by makers and takers. */
  makerFee?: number
  takerFee?: number
  /** Trades in the moving average and VWAP of the trade statistics (default 20). */
  statsWindow?: number
}

/** A command of the `orders` topic, in the instrument's units. */
export interface OrderCommand {
  action: 'new' | 'cancel' | 'modify'
  id: number
  instrument: string
  trader: string
  side?: Side
  type?: OrderType
  tif?: TimeInForce
  postOnly?: boolean
  price?: number
  quantity?: number
  /** Epoch ms. */
  ts: number
}

export interface TradeRecord {
  seq: number
  ts: number
  instrument: string
  price: number
  quantity: number
  buyOrderId: number
  sellOrderId: number
  buyer: string
  seller: string
  aggressor: Side
}

export type OrderEventType = 'accepted' | 'rejected' | 'cancelled' | 'expired' | 'filled' | 'modified'

export interface OrderEvent {
  type: OrderEventType
  ts: number
  instrument: string
  id: number
  trader: string
  side?: Side
  price?: number
  /** Total quantity of the order. */
  quantity?: number
  open?: number
  filled?: number
  reason?: RejectReason | ExpireReason
}

/** The book of an instrument after a command changed it. */
export interface BookUpdate {
  instrument: string
  ts: number
  bid: number | null
  bidQuantity: number
  ask: number | null
  askQuantity: number
  /** The levels that changed, as [price, open quantity] (0: the level is gone). */
  bids: [number, number][]
  asks: [number, number][]
}

export interface PnlRecord extends PnlFigures {
  ts: number
}

/** What one command produced, in order. */
export interface CommandResult {
  trades: TradeRecord[]
  events: OrderEvent[]
  /** Absent when the book did not change. */
  book?: BookUpdate
  /** The P&L of the traders who traded. */
  pnl: PnlRecord[]
  /** Absent when nothing traded. */
  stats?: TradeStatsFigures
}

/** The exchange's whole state, as plain data. */
export interface ExchangeSnapshot {
  books: Record<string, BookSnapshot>
  /**
   * Each book's units. A restored book keeps them whatever the options say now: its prices, and
   * the positions of its traders, are counted in them.
   */
  specs: Record<string, InstrumentSpec>
  positions: PositionSnapshot[]
  stats: TradeStatsSnapshot[]
  /** Last trade price per instrument, in ticks. */
  lastTicks: Record<string, number>
}

interface Instrument {
  name: string
  spec: InstrumentSpec
  decimals: number
  lotDecimals: number
  /** The tick and the lot as whole numbers of 10^-decimals (0.05 → 5 with decimals 2). */
  tickUnits: number
  lotUnits: number
  book: OrderBook
  stats: TradeStats
  /** The last trade's price in ticks (NaN before any). */
  lastTicks: number
}

export class Exchange {
  private readonly options: ExchangeOptions
  private readonly instruments = new Map<string, Instrument>()
  private pnlLedger: PnlLedger
  private readonly collector = new Collector()

  constructor(options: ExchangeOptions = {}) {
    for (const [name, spec] of Object.entries(options.instruments ?? {})) checkSpec(name, spec)
    if (options.anyInstrument !== undefined) checkSpec('any instrument', options.anyInstrument)
    this.options = options
    this.pnlLedger = new PnlLedger(options.pnl ?? 'fifo')
  }

  /** Traders' positions, in ticks and lots (see {@link pnl} for the instruments' units). */
  get ledger(): PnlLedger {
    return this.pnlLedger
  }

  /** A trader's P&L in an instrument, in the instrument's units (undefined before any trade). */
  pnl(trader: string, instrument: string, ts = 0): PnlRecord | undefined {
    const inst = this.instruments.get(instrument)
    if (inst === undefined || !this.pnlLedger.has(trader, instrument)) return undefined
    return pnlRecord(inst, this.pnlLedger.position(trader, instrument).figures(inst.lastTicks), ts)
  }

  /** The book of an instrument, if it has been traded or listed. */
  book(instrument: string): OrderBook | undefined {
    return this.instrument(instrument)?.book
  }

  /** Up to `levels` levels of a side of an instrument's book, best first, as [price, quantity] in its units. */
  depth(instrument: string, side: Side, levels: number): [number, number][] {
    const inst = this.instruments.get(instrument)
    if (inst === undefined) return []
    return inst.book.depth(side, levels).map(([p, q]) => [priceOf(inst, p), quantityOf(inst, q)])
  }

  /** Applies one command. */
  submit(cmd: OrderCommand): CommandResult {
    const c = this.collector
    c.begin(cmd)
    const inst = this.instrument(cmd.instrument)
    if (inst === undefined) {
      c.reject(RejectReasons.UNKNOWN_INSTRUMENT)
      return c.finish(this)
    }
    c.inst = inst
    const book = inst.book
    if (cmd.action === 'cancel') {
      book.cancel(cmd.id, cmd.trader, cmd.ts)
      return c.finish(this)
    }
    const quantity = toUnits(cmd.quantity, inst.spec.lotSize)
    const needsPrice = cmd.action === 'modify' || (cmd.type ?? 'limit') === 'limit'
    const price = needsPrice ? toUnits(cmd.price, inst.spec.tickSize) : 0
    let reason: RejectReason | undefined
    if (typeof cmd.quantity !== 'number' || !(cmd.quantity > 0)) reason = RejectReasons.NON_POSITIVE_QUANTITY
    else if (quantity === undefined) reason = RejectReasons.QUANTITY_OFF_LOT
    else if (needsPrice && (typeof cmd.price !== 'number' || !Number.isFinite(cmd.price)))
      reason = RejectReasons.MISSING_PRICE
    else if (needsPrice && !(cmd.price! > 0)) reason = RejectReasons.NON_POSITIVE_PRICE
    else if (price === undefined) reason = RejectReasons.PRICE_OFF_TICK
    if (reason !== undefined) {
      c.reject(reason)
      return c.finish(this)
    }
    if (cmd.action === 'modify') book.modify(cmd.id, cmd.trader, price!, quantity!, cmd.ts)
    else if (cmd.action === 'new') {
      book.add({
        id: cmd.id,
        trader: cmd.trader,
        side: cmd.side!,
        type: cmd.type ?? 'limit',
        tif: cmd.tif ?? 'GTC',
        postOnly: cmd.postOnly,
        price: price!,
        quantity: quantity!,
        ts: cmd.ts,
      })
    } else c.reject(RejectReasons.INVALID_ORDER)
    return c.finish(this)
  }

  /** Everything, as plain data. */
  snapshot(): ExchangeSnapshot {
    const books: Record<string, BookSnapshot> = {}
    const specs: Record<string, InstrumentSpec> = {}
    const lastTicks: Record<string, number> = {}
    const stats: TradeStatsSnapshot[] = []
    for (const inst of this.instruments.values()) {
      books[inst.name] = inst.book.snapshot()
      specs[inst.name] = { ...inst.spec }
      if (Number.isFinite(inst.lastTicks)) lastTicks[inst.name] = inst.lastTicks
      stats.push(inst.stats.snapshot())
    }
    return { books, specs, positions: this.ledger.snapshot(), stats, lastTicks }
  }

  /** An exchange in the state of `snapshot`, with `options` (which need not be the same as before). */
  static restore(snapshot: ExchangeSnapshot, options: ExchangeOptions = {}): Exchange {
    const ex = new Exchange(options)
    for (const [name, book] of Object.entries(snapshot.books)) {
      const spec = snapshot.specs[name]
      checkSpec(name, spec)
      const inst = ex.create(name, spec, book)
      inst.lastTicks = snapshot.lastTicks[name] ?? NaN
    }
    for (const s of snapshot.stats) {
      const inst = ex.instruments.get(s.instrument)
      if (inst !== undefined) inst.stats = TradeStats.restore(s, options.statsWindow ?? 20)
    }
    ex.pnlLedger = PnlLedger.restore(options.pnl ?? 'fifo', snapshot.positions)
    return ex
  }

  private instrument(name: string): Instrument | undefined {
    const inst = this.instruments.get(name)
    if (inst !== undefined) return inst
    if (typeof name !== 'string' || name === '') return undefined
    const spec = Object.hasOwn(this.options.instruments ?? {}, name)
      ? this.options.instruments![name]
      : this.options.anyInstrument
    if (spec === undefined) return undefined
    return this.create(name, spec)
  }

  private create(name: string, spec: InstrumentSpec, restoring?: BookSnapshot): Instrument {
    const bookOptions = { selfTrade: this.options.selfTrade }
    const book =
      restoring === undefined
        ? new OrderBook(this.collector, bookOptions)
        : OrderBook.restore(restoring, this.collector, bookOptions)
    const decimals = decimalsOf(spec.tickSize)
    const lotDecimals = decimalsOf(spec.lotSize)
    const inst: Instrument = {
      name,
      spec,
      decimals,
      lotDecimals,
      tickUnits: Math.round(spec.tickSize * 10 ** decimals),
      lotUnits: Math.round(spec.lotSize * 10 ** lotDecimals),
      book,
      stats: new TradeStats(name, this.options.statsWindow ?? 20),
      lastTicks: NaN,
    }
    this.instruments.set(name, inst)
    return inst
  }

  /** Books a trade (in ticks and lots) to its traders' positions, fees and the statistics. */
  settle(inst: Instrument, t: RawTrade, ts: number, out: PnlRecord[]): void {
    const value = t.price * inst.spec.tickSize * t.quantity * inst.spec.lotSize
    const makerFee = value * (this.options.makerFee ?? 0)
    const takerFee = value * (this.options.takerFee ?? 0)
    inst.lastTicks = t.price
    inst.stats.add(t.price, t.quantity)
    const buyer = this.pnlLedger.position(t.buyer, inst.name)
    buyer.fill('BUY', t.quantity, t.price, t.aggressor === 'BUY' ? takerFee : makerFee)
    const seller = this.pnlLedger.position(t.seller, inst.name)
    seller.fill('SELL', t.quantity, t.price, t.aggressor === 'SELL' ? takerFee : makerFee)
    upsertPnl(out, pnlRecord(inst, buyer.figures(t.price), ts))
    upsertPnl(out, pnlRecord(inst, seller.figures(t.price), ts))
  }
}

/** A trade in ticks and lots, as the book reported it. */
interface RawTrade {
  price: number
  quantity: number
  buyer: string
  seller: string
  aggressor: Side
}

// Ledger figures (ticks, lots; fees already in money) in the instrument's units.
function pnlRecord(inst: Instrument, f: PnlFigures, ts: number): PnlRecord {
  const { tickSize, lotSize } = inst.spec
  const money = (x: number) => round(x * tickSize * lotSize, inst.decimals + inst.lotDecimals + 6)
  const realized = money(f.realized)
  const fees = round(f.fees, 12)
  return {
    trader: f.trader,
    instrument: f.instrument,
    position: quantityOf(inst, f.position),
    avgPrice: Number.isNaN(f.avgPrice) ? NaN : round(f.avgPrice * tickSize, inst.decimals + 6),
    realized,
    fees,
    net: round(realized - fees, 12),
    unrealized: money(f.unrealized),
    lastPrice: Number.isFinite(f.lastPrice) ? priceOf(inst, f.lastPrice) : NaN,
    ts,
  }
}

// One P&L record per trader and instrument per command: the latest figures.
function upsertPnl(out: PnlRecord[], record: PnlRecord): void {
  const i = out.findIndex((p) => p.trader === record.trader && p.instrument === record.instrument)
  if (i >= 0) out[i] = record
  else out.push(record)
}

/** Collects a command's book events into its result, in the instrument's units. */
class Collector implements BookEvents {
  cmd!: OrderCommand
  inst: Instrument | undefined
  private result!: CommandResult
  private raw: RawTrade[] = []
  private bidChanges = new Map<number, number>()
  private askChanges = new Map<number, number>()

  begin(cmd: OrderCommand): void {
    this.cmd = cmd
    this.inst = undefined
    this.result = { trades: [], events: [], pnl: [] }
    this.raw = []
    this.bidChanges.clear()
    this.askChanges.clear()
  }

  reject(reason: RejectReason): void {
    const cmd = this.cmd
    this.result.events.push({
      type: 'rejected',
      ts: cmd.ts,
      instrument: cmd.instrument,
      id: cmd.id,
      trader: cmd.trader,
      reason,
    })
  }

  finish(exchange: Exchange): CommandResult {
    const r = this.result
    const inst = this.inst
    if (inst !== undefined) {
      for (const t of this.raw) exchange.settle(inst, t, this.cmd.ts, r.pnl)
      if (r.trades.length > 0) r.stats = statsOf(inst)
      if (this.bidChanges.size > 0 || this.askChanges.size > 0) {
        const book = inst.book
        const bid = book.bids.best()
        const ask = book.asks.best()
        r.book = {
          instrument: inst.name,
          ts: this.cmd.ts,
          bid: bid === undefined ? null : this.price(bid.price),
          bidQuantity: bid === undefined ? 0 : this.quantity(bid.open),
          ask: ask === undefined ? null : this.price(ask.price),
          askQuantity: ask === undefined ? 0 : this.quantity(ask.open),
          bids: [...this.bidChanges].map(([p, q]) => [this.price(p), this.quantity(q)]),
          asks: [...this.askChanges].map(([p, q]) => [this.price(p), this.quantity(q)]),
        }
      }
    }
    return r
  }

  accepted(o: OrderState): void {
    this.orderEvent('accepted', o)
  }

  rejected(id: number, trader: string, reason: RejectReason, ts: number): void {
    this.result.events.push({ type: 'rejected', ts, instrument: this.cmd.instrument, id, trader, reason })
  }

  trade(seq: number, maker: OrderState, taker: OrderState, price: number, quantity: number, ts: number): void {
    const buy = taker.side === 'BUY' ? taker : maker
    const sell = taker.side === 'BUY' ? maker : taker
    this.result.trades.push({
      seq,
      ts,
      instrument: this.inst!.name,
      price: this.price(price),
      quantity: this.quantity(quantity),
      buyOrderId: buy.id,
      sellOrderId: sell.id,
      buyer: buy.trader,
      seller: sell.trader,
      aggressor: taker.side,
    })
    this.raw.push({ price, quantity, buyer: buy.trader, seller: sell.trader, aggressor: taker.side })
  }

  filled(o: OrderState): void {
    this.orderEvent('filled', o)
  }

  cancelled(o: OrderState): void {
    this.orderEvent('cancelled', o)
  }

  expired(o: OrderState, reason: ExpireReason): void {
    this.orderEvent('expired', o, reason)
  }

  modified(o: OrderState): void {
    this.orderEvent('modified', o)
  }

  level(side: Side, price: number, open: number): void {
    ;(side === 'BUY' ? this.bidChanges : this.askChanges).set(price, open)
  }

  private orderEvent(type: OrderEventType, o: OrderState, reason?: ExpireReason): void {
    const e: OrderEvent = {
      type,
      ts: this.cmd.ts,
      instrument: this.inst!.name,
      id: o.id,
      trader: o.trader,
      side: o.side,
      price: o.type === 'market' ? undefined : this.price(o.price),
      quantity: this.quantity(o.quantity),
      open: this.quantity(o.open),
      filled: this.quantity(o.filled),
    }
    if (reason !== undefined) e.reason = reason
    this.result.events.push(e)
  }

  private price(ticks: number): number {
    return priceOf(this.inst!, ticks)
  }

  private quantity(lots: number): number {
    return quantityOf(this.inst!, lots)
  }
}

/** Ticks as a price in the instrument's units. */
function priceOf(inst: Instrument, ticks: number): number {
  return scaled(ticks, inst.tickUnits, inst.decimals)
}

/**
 * The instrument's trade statistics in its units. The averages are ratios, not on the tick: they
 * keep six decimals more than the tick has.
 */
function statsOf(inst: Instrument): TradeStatsFigures {
  const f = inst.stats.figures()
  const average = (ticks: number): number =>
    Number.isNaN(ticks) ? NaN : round(ticks * inst.spec.tickSize, Math.min(inst.decimals + 6, 15))
  return {
    ...f,
    volume: quantityOf(inst, f.volume),
    last: Number.isNaN(f.last) ? NaN : priceOf(inst, f.last),
    sma: average(f.sma),
    vwap: average(f.vwap),
  }
}

/** Lots as a quantity in the instrument's units. */
function quantityOf(inst: Instrument, lots: number): number {
  return scaled(lots, inst.lotUnits, inst.lotDecimals)
}

/**
 * `n` × `units` × 10^-decimals as the double nearest the exact decimal (what parsing its decimal
 * text gives): an exact integer product divided by an exact power of ten is rounded once. Only a
 * product beyond 2^53 goes through decimal text.
 */
function scaled(n: number, units: number, decimals: number): number {
  const product = n * units
  return Number.isSafeInteger(product) ? product / 10 ** decimals : round(product * 10 ** -decimals, decimals)
}

function checkSpec(name: string, spec: InstrumentSpec): void {
  for (const k of ['tickSize', 'lotSize'] as const) {
    const v = spec?.[k]
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0) {
      throw new RangeError(`${name}: ${k} must be a positive number, not ${String(v)}`)
    }
  }
}

/** `value` as a whole number of `unit`s, or undefined when it is not one (to 1e-9 of a unit). */
export function toUnits(value: number | undefined, unit: number): number | undefined {
  if (typeof value !== 'number' || !Number.isFinite(value)) return undefined
  const n = Math.round(value / unit)
  // Within a millionth of a unit: decimal inputs such as 15.05 are not exact multiples in binary.
  if (!Number.isSafeInteger(n) || Math.abs(n * unit - value) > unit * 1e-6) return undefined
  return n
}

/** Decimal places of a unit such as 0.01 or 0.5 (at most 12). */
export function decimalsOf(unit: number): number {
  for (let d = 0; d <= 12; d++) if (Math.abs(Math.round(unit * 10 ** d) - unit * 10 ** d) < 1e-9) return d
  return 12
}

function round(x: number, decimals: number): number {
  return Number(x.toFixed(decimals))
}
