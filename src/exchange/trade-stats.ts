/**
 * Per-instrument statistics over trades: the simple moving average of the last N trade prices,
 * the volume-weighted average price over the same N trades, the last price, and the session's
 * volume and trade count. Pure: no I/O.
 *
 * Prices are integer ticks and quantities integer lots, so the running sums over the ring of the
 * last N trades are exact integers: the figures depend only on the trades in the window, never on
 * the order the sums were built in — a statistics object restored from a snapshot gives, bit for
 * bit, the figures of the one that never stopped. (Exact while a window's notional, ticks × lots,
 * stays below 2^53.)
 */

/** The figures in ticks and lots (`sma` and `vwap` in fractional ticks). */
export interface TradeStatsFigures {
  instrument: string
  /** Trades counted so far. */
  trades: number
  /** Lots traded so far. */
  volume: number
  last: number
  /** Over the last `window` trades (fewer at the start). */
  sma: number
  vwap: number
  window: number
}

export class TradeStats {
  readonly instrument: string
  readonly window: number
  trades = 0
  volume = 0
  last = NaN
  private readonly prices: Float64Array
  private readonly quantities: Float64Array
  private sumPrice = 0
  private sumQuantity = 0
  private sumNotional = 0

  constructor(instrument: string, window: number) {
    if (!Number.isSafeInteger(window) || window < 1)
      throw new RangeError(`window must be a positive integer: ${window}`)
    this.instrument = instrument
    this.window = window
    this.prices = new Float64Array(window)
    this.quantities = new Float64Array(window)
  }

  /** Counts a trade of `quantity` lots at `price` ticks (both integers). */
  add(price: number, quantity: number): void {
    const i = this.trades % this.window
    if (this.trades >= this.window) {
      this.sumPrice -= this.prices[i]
      this.sumQuantity -= this.quantities[i]
      this.sumNotional -= this.prices[i] * this.quantities[i]
    }
    this.prices[i] = price
    this.quantities[i] = quantity
    this.sumPrice += price
    this.sumQuantity += quantity
    this.sumNotional += price * quantity
    this.trades++
    this.volume += quantity
    this.last = price
  }

  figures(): TradeStatsFigures {
    const n = Math.min(this.trades, this.window)
    return {
      instrument: this.instrument,
      trades: this.trades,
      volume: this.volume,
      last: this.last,
      sma: n === 0 ? NaN : this.sumPrice / n,
      vwap: this.sumQuantity === 0 ? NaN : this.sumNotional / this.sumQuantity,
      window: this.window,
    }
  }

  snapshot(): TradeStatsSnapshot {
    const n = Math.min(this.trades, this.window)
    const prices: number[] = []
    const quantities: number[] = []
    // Oldest first.
    for (let k = 0; k < n; k++) {
      const i = (this.trades - n + k) % this.window
      prices.push(this.prices[i])
      quantities.push(this.quantities[i])
    }
    return {
      instrument: this.instrument,
      window: this.window,
      trades: this.trades,
      volume: this.volume,
      prices,
      quantities,
    }
  }

  /** Statistics in the state of `s`, over `window` trades (the snapshot's by default). */
  static restore(s: TradeStatsSnapshot, window = s.window): TradeStats {
    const t = new TradeStats(s.instrument, window)
    const kept = Math.min(s.prices.length, window)
    const from = s.prices.length - kept
    // Counted as if the trades before the kept ones had been added: the ring's slots line up.
    t.trades = s.trades - kept
    for (let k = from; k < s.prices.length; k++) t.add(s.prices[k], s.quantities[k])
    t.volume = s.volume
    return t
  }
}

export interface TradeStatsSnapshot {
  instrument: string
  window: number
  trades: number
  /** Lots. */
  volume: number
  /** The last trades' prices (ticks) and quantities (lots), oldest first. */
  prices: number[]
  quantities: number[]
}
