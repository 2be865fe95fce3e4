/**
 * Traders' profit and loss per instrument, from their fills: the position (signed: long above
 * zero), the average entry price of the open position, realized P&L (gross), fees, and unrealized
 * P&L at a mark price (the instrument's last trade price).
 *
 * Realized P&L counts closed quantity against its entry price, first in first out (`fifo`: the
 * oldest open lots close first) or at the average cost of the open position (`average`). Either
 * way realized + unrealized is the same at any mark. A fill larger than the open position closes
 * it and opens the rest the other way at the fill's price.
 *
 * Units are the caller's: with integer prices (ticks) and quantities (lots) every FIFO figure is
 * exact; fees are added as given. Pure: no I/O.
 */

export type CostMethod = 'fifo' | 'average'

export const COST_METHODS: readonly CostMethod[] = ['fifo', 'average']

/** A trader's P&L in one instrument. */
export interface PnlFigures {
  trader: string
  instrument: string
  /** Signed: bought minus sold. */
  position: number
  /** Average entry price of the open position (NaN when flat). */
  avgPrice: number
  realized: number
  fees: number
  /** Realized minus fees. */
  net: number
  /** At `lastPrice` (0 when flat or before any trade). */
  unrealized: number
  lastPrice: number
}

/** One trader's position in one instrument. */
export class Position {
  readonly trader: string
  readonly instrument: string
  readonly method: CostMethod
  /** Signed quantity. */
  position = 0
  /** Entry value of the open position: the sum of |quantity| × entry price over open lots. */
  cost = 0
  realized = 0
  fees = 0
  // FIFO: the open lots as [quantity, price] pairs, oldest first from `head`.
  private lots: number[] = []
  private head = 0

  constructor(trader: string, instrument: string, method: CostMethod) {
    this.trader = trader
    this.instrument = instrument
    this.method = method
  }

  /** Applies a fill: `quantity` > 0 bought or sold at `price`, paying `fee`. */
  fill(side: 'BUY' | 'SELL', quantity: number, price: number, fee = 0): void {
    this.fees += fee
    const signed = side === 'BUY' ? quantity : -quantity
    if (this.position === 0 || Math.sign(this.position) === Math.sign(signed)) {
      this.open(quantity, price)
      this.position += signed
      return
    }
    const direction = Math.sign(this.position)
    const closing = Math.min(quantity, Math.abs(this.position))
    if (this.method === 'fifo') {
      let left = closing
      while (left > 0) {
        const lotQty = this.lots[this.head]
        const lotPrice = this.lots[this.head + 1]
        const take = Math.min(lotQty, left)
        this.realized += direction * take * (price - lotPrice)
        this.cost -= take * lotPrice
        left -= take
        if (take === lotQty) this.head += 2
        else this.lots[this.head] = lotQty - take
      }
      if (this.head > 64 && this.head * 2 > this.lots.length) {
        this.lots = this.lots.slice(this.head)
        this.head = 0
      }
    } else {
      const avg = this.cost / Math.abs(this.position)
      this.realized += direction * closing * (price - avg)
      this.cost -= closing * avg
    }
    this.position += signed
    if (this.position === 0) {
      this.cost = 0
      this.lots.length = 0
      this.head = 0
    }
    const rest = quantity - closing
    if (rest > 0) this.open(rest, price)
  }

  /** Average entry price of the open position (NaN when flat). */
  get avgPrice(): number {
    return this.position === 0 ? NaN : this.cost / Math.abs(this.position)
  }

  /** Unrealized P&L at `mark`. */
  unrealized(mark: number): number {
    if (this.position === 0 || !Number.isFinite(mark)) return 0
    return Math.sign(this.position) * (Math.abs(this.position) * mark - this.cost)
  }

  figures(mark: number): PnlFigures {
    return {
      trader: this.trader,
      instrument: this.instrument,
      position: this.position,
      avgPrice: this.avgPrice,
      realized: this.realized,
      fees: this.fees,
      net: this.realized - this.fees,
      unrealized: this.unrealized(mark),
      lastPrice: mark,
    }
  }

  /** The state as plain data. */
  snapshot(): PositionSnapshot {
    return {
      trader: this.trader,
      instrument: this.instrument,
      method: this.method,
      position: this.position,
      cost: this.cost,
      realized: this.realized,
      fees: this.fees,
      lots: this.lots.slice(this.head),
    }
  }

  static restore(s: PositionSnapshot): Position {
    const p = new Position(s.trader, s.instrument, s.method)
    p.position = s.position
    p.cost = s.cost
    p.realized = s.realized
    p.fees = s.fees
    p.lots = [...s.lots]
    return p
  }

  private open(quantity: number, price: number): void {
    this.cost += quantity * price
    if (this.method === 'fifo') this.lots.push(quantity, price)
  }
}

export interface PositionSnapshot {
  trader: string
  instrument: string
  method: CostMethod
  position: number
  cost: number
  realized: number
  fees: number
  /** FIFO open lots as [quantity, price] pairs, oldest first. */
  lots: number[]
}

/** Every trader's positions, by trader then instrument. */
export class PnlLedger {
  readonly method: CostMethod
  private readonly positions = new Map<string, Map<string, Position>>()

  constructor(method: CostMethod = 'fifo') {
    this.method = method
  }

  /** The position of `trader` in `instrument`, created flat when new. */
  position(trader: string, instrument: string): Position {
    let byInstrument = this.positions.get(trader)
    if (byInstrument === undefined) this.positions.set(trader, (byInstrument = new Map()))
    let p = byInstrument.get(instrument)
    if (p === undefined) byInstrument.set(instrument, (p = new Position(trader, instrument, this.method)))
    return p
  }

  /** Whether the trader has a position (open or closed) in the instrument. */
  has(trader: string, instrument: string): boolean {
    return this.positions.get(trader)?.has(instrument) === true
  }

  /** Every position, by trader and instrument in the order they appeared. */
  *all(): IterableIterator<Position> {
    for (const byInstrument of this.positions.values()) yield* byInstrument.values()
  }

  snapshot(): PositionSnapshot[] {
    return [...this.all()].map((p) => p.snapshot())
  }

  /** A ledger of `positions`; each keeps the cost method it was opened with. */
  static restore(method: CostMethod, positions: readonly PositionSnapshot[]): PnlLedger {
    const ledger = new PnlLedger(method)
    for (const s of positions) {
      let byInstrument = ledger.positions.get(s.trader)
      if (byInstrument === undefined) ledger.positions.set(s.trader, (byInstrument = new Map()))
      byInstrument.set(s.instrument, Position.restore(s))
    }
    return ledger
  }
}
