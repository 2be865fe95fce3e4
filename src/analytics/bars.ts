/**
 * Event-time OHLCV bars, as pandas computes them with
 * `df.groupby('symbol').resample(interval, label='left', closed='left', origin='epoch')`.
 *
 * A bar covers the window `[start, end)` aligned to the Unix epoch and is labelled by `start`.
 * open = the price of the earliest event time (ties: the earlier-arriving record), close = the price
 * of the latest event time (ties: the later-arriving record), high/low = max/min, volume = Σ
 * quantity, trades = count, VWAP = Σ(price·quantity) / Σ quantity. Empty windows emit nothing.
 *
 * Finality comes from the caller's watermark (see `src/stream/watermark.ts`): a window is final
 * once `end + grace <= watermark`; {@link BarAggregator.closeUpTo} then emits and forgets it, and a
 * record whose window is final is late — {@link BarAggregator.add} refuses it and the caller
 * dead-letters it. Once a window has been emitted no later call can reopen it, so each window is
 * emitted at most once even if the caller passes an older watermark afterwards.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import type { BarInterval } from './intervals.ts'

/** A finished bar; `start`/`end` are epoch ms, `interval` the interval's label (e.g. `'1m'`). */
export interface Bar {
  symbol: string
  interval: string
  start: number
  end: number
  open: number
  high: number
  low: number
  close: number
  volume: number
  vwap: number
  trades: number
}

/** The outcome of {@link BarAggregator.add}: aggregated, or refused because its window is final. */
export type BarAdd = 'ok' | 'late'

// Event times accepted: the range of a JS Date, so start + interval stays exact.
const MAX_TIME = 8.64e15

/** The start of the epoch-aligned window of length `ms` holding `tsMs` (floor, also below 0). */
export function windowStart(tsMs: number, ms: number): number {
  const r = tsMs % ms
  // `%` keeps the dividend's sign; -0 (a negative multiple) compares equal to 0 and is fine.
  return r < 0 ? tsMs - r - ms : tsMs - r
}

/** One open window of one symbol; mutated in place by every add (no allocation per record). */
class OpenBar {
  readonly symbol: string
  readonly start: number
  open: number
  openTs: number
  high: number
  low: number
  close: number
  closeTs: number
  // Neumaier-compensated sums: value + compensation, so long bars stay within an ulp or so.
  volume: number
  volumeC = 0
  pv: number
  pvC = 0
  trades = 1

  constructor(symbol: string, start: number, ts: number, price: number, quantity: number) {
    this.symbol = symbol
    this.start = start
    this.open = price
    this.openTs = ts
    this.high = price
    this.low = price
    this.close = price
    this.closeTs = ts
    this.volume = quantity
    this.pv = price * quantity
  }

  add(ts: number, price: number, quantity: number): void {
    // Strict `<` keeps the earlier arrival as open on a tie; `>=` makes the later arrival the close.
    if (ts < this.openTs) {
      this.openTs = ts
      this.open = price
    }
    if (ts >= this.closeTs) {
      this.closeTs = ts
      this.close = price
    }
    if (price > this.high) this.high = price
    if (price < this.low) this.low = price
    const v = this.volume
    const nv = v + quantity
    this.volumeC += Math.abs(v) >= Math.abs(quantity) ? v - nv + quantity : quantity - nv + v
    this.volume = nv
    const pq = price * quantity
    const s = this.pv
    const ns = s + pq
    this.pvC += Math.abs(s) >= Math.abs(pq) ? s - ns + pq : pq - ns + s
    this.pv = ns
    this.trades++
  }
}

/** Code-unit order of symbols (not locale order), so output order is the same everywhere. */
function bySymbol(a: OpenBar, b: OpenBar): number {
  return a.symbol < b.symbol ? -1 : a.symbol > b.symbol ? 1 : 0
}

function invalid(message: string): TickflowError {
  return new TickflowError(ErrorCodes.INVALID_ARGUMENT, message)
}

// Tuple layout of one open bar in the saved state.
type SavedBar = [
  symbol: string,
  start: number,
  open: number,
  openTs: number,
  high: number,
  low: number,
  close: number,
  closeTs: number,
  volume: number,
  volumeC: number,
  pv: number,
  pvC: number,
  trades: number,
]

interface BarAggregatorState {
  v: 1
  ms: number
  /** The largest watermark closed up to; null = −Infinity. */
  closed: number | null | 'Infinity'
  bars: SavedBar[]
}

/**
 * All open bars of one partition for one interval, for every symbol.
 *
 * Cost: an add is a map lookup, a short scan of the symbol's open windows (newest first; usually
 * one or two) and a few comparisons, without allocation unless it opens a window. Open windows are
 * also grouped by start, so {@link BarAggregator.closeUpTo} costs one comparison when nothing can
 * close and otherwise touches only the windows it closes.
 */
export class BarAggregator {
  readonly #interval: BarInterval
  readonly #ms: number
  readonly #grace: number
  // Per symbol, its open windows ordered by start. Windows close in start order, so the one closing
  // is always the first.
  readonly #bySymbol = new Map<string, OpenBar[]>()
  // Per window start, the open bars of every symbol; #starts lists those starts, ascending.
  readonly #byStart = new Map<number, OpenBar[]>()
  readonly #starts: number[] = []
  #openCount = 0
  // The largest watermark passed to closeUpTo: windows final under it stay final.
  #closedUpTo = -Infinity

  /**
   * @param interval the bar interval (see `parseInterval`)
   * @param graceMs how long past a window's end, in watermark time, the window stays open (≥ 0)
   * @throws TICKFLOW_ERR_INVALID_ARGUMENT on an invalid interval or grace
   */
  constructor(interval: BarInterval, graceMs: number) {
    if (!(Number.isSafeInteger(interval.ms) && interval.ms >= 1)) {
      throw invalid(`bar interval must be a whole number of ms ≥ 1 (got ${interval.ms})`)
    }
    if (!(Number.isFinite(graceMs) && graceMs >= 0)) {
      throw invalid(`grace must be a finite number of ms ≥ 0 (got ${graceMs})`)
    }
    this.#interval = interval
    this.#ms = interval.ms
    this.#grace = graceMs
  }

  /** The interval of these bars. */
  get interval(): BarInterval {
    return this.#interval
  }

  /** The grace period in ms. */
  get graceMs(): number {
    return this.#grace
  }

  /** Number of open bars, over all symbols and windows. */
  get openCount(): number {
    return this.#openCount
  }

  /** The watermark at which the next bar closes (`end + grace` of the oldest open window), or +Infinity. */
  get nextCloseAt(): number {
    return this.#starts.length === 0 ? Infinity : this.#starts[0] + this.#ms + this.#grace
  }

  /**
   * True when a record at event time `tsMs` would be late under `watermark`: its window is final
   * (`end + grace <= watermark`) or was already closed by {@link BarAggregator.closeUpTo}.
   */
  isLate(tsMs: number, watermark: number): boolean {
    const w = watermark > this.#closedUpTo ? watermark : this.#closedUpTo
    return windowStart(tsMs, this.#ms) + this.#ms + this.#grace <= w
  }

  /**
   * Adds a trade or tick of `symbol` at event time `tsMs`. Returns `'late'`, changing nothing, when
   * its window is already final under `watermark` (the partition's current watermark) or was
   * closed before.
   * @param quantity traded quantity (≥ 0; ticks without one count 1)
   * @throws TICKFLOW_ERR_INVALID_ARGUMENT when `tsMs`, `price` or `watermark` is not a number in
   *   range or `quantity` is negative or not finite; the caller should dead-letter such records first
   */
  add(symbol: string, tsMs: number, price: number, quantity: number, watermark: number): BarAdd {
    if (!(tsMs >= -MAX_TIME && tsMs <= MAX_TIME)) throw invalid(`event time out of range: ${tsMs}`)
    if (!Number.isFinite(price)) throw invalid(`price must be finite (got ${price})`)
    if (!(quantity >= 0 && quantity < Infinity)) throw invalid(`quantity must be finite and ≥ 0 (got ${quantity})`)
    if (Number.isNaN(watermark)) throw invalid('watermark must be a number (got NaN)')
    const ms = this.#ms
    const start = windowStart(tsMs, ms)
    const w = watermark > this.#closedUpTo ? watermark : this.#closedUpTo
    if (start + ms + this.#grace <= w) return 'late'

    let bars = this.#bySymbol.get(symbol)
    if (bars === undefined) {
      bars = []
      this.#bySymbol.set(symbol, bars)
    }
    // Newest first: in-order records hit the last window at once.
    let i = bars.length - 1
    while (i >= 0 && bars[i].start > start) i--
    if (i >= 0 && bars[i].start === start) {
      bars[i].add(tsMs, price, quantity)
      return 'ok'
    }
    const bar = new OpenBar(symbol, start, tsMs, price, quantity)
    bars.splice(i + 1, 0, bar)
    this.#addToStart(bar)
    this.#openCount++
    return 'ok'
  }

  #addToStart(bar: OpenBar): void {
    const group = this.#byStart.get(bar.start)
    if (group !== undefined) {
      group.push(bar)
      return
    }
    this.#byStart.set(bar.start, [bar])
    const starts = this.#starts
    let j = starts.length
    while (j > 0 && starts[j - 1] > bar.start) j--
    starts.splice(j, 0, bar.start)
  }

  /**
   * Removes and returns every bar whose `end + grace <= watermark`, ordered by start, then symbol
   * (code-unit order). Because every bar returned ends before any bar still open, the bars of
   * successive calls concatenate in that order too. `+Infinity` flushes everything.
   * @throws TICKFLOW_ERR_INVALID_ARGUMENT when `watermark` is NaN
   */
  closeUpTo(watermark: number): Bar[] {
    if (Number.isNaN(watermark)) throw invalid('watermark must be a number (got NaN)')
    if (watermark > this.#closedUpTo) this.#closedUpTo = watermark
    const out: Bar[] = []
    const ms = this.#ms
    const starts = this.#starts
    const label = this.#interval.label
    while (starts.length > 0 && starts[0] + ms + this.#grace <= watermark) {
      const start = starts.shift() as number
      const group = this.#byStart.get(start) as OpenBar[]
      this.#byStart.delete(start)
      group.sort(bySymbol)
      for (const b of group) {
        const symbolBars = this.#bySymbol.get(b.symbol) as OpenBar[]
        symbolBars.shift()
        // Forget silent symbols, so a stream of ever-new symbols does not grow the map forever.
        if (symbolBars.length === 0) this.#bySymbol.delete(b.symbol)
        out.push(finish(b, label, ms))
      }
      this.#openCount -= group.length
    }
    return out
  }

  /** Compact JSON-serialisable state: the open bars as tuples, and how far bars were closed. */
  saveState(): unknown {
    const bars: SavedBar[] = []
    for (const start of this.#starts) {
      for (const b of this.#byStart.get(start) as OpenBar[]) {
        bars.push([
          b.symbol,
          b.start,
          b.open,
          b.openTs,
          b.high,
          b.low,
          b.close,
          b.closeTs,
          b.volume,
          b.volumeC,
          b.pv,
          b.pvC,
          b.trades,
        ])
      }
    }
    const c = this.#closedUpTo
    const state: BarAggregatorState = {
      v: 1,
      ms: this.#ms,
      closed: c === -Infinity ? null : c === Infinity ? 'Infinity' : c,
      bars,
    }
    return state
  }

  /**
   * Rebuilds an aggregator from {@link BarAggregator.saveState}; it continues bit for bit as the
   * saved one would have. The grace may differ from the saved one; the interval may not.
   * @throws TICKFLOW_ERR_INVALID_ARGUMENT when `state` is malformed or saved for another interval
   */
  static restore(interval: BarInterval, graceMs: number, state: unknown): BarAggregator {
    const agg = new BarAggregator(interval, graceMs)
    if (typeof state !== 'object' || state === null) throw invalid('bar state must be an object')
    const { v, ms, closed, bars } = state as Record<string, unknown>
    if (v !== 1) throw invalid(`unsupported bar state version ${JSON.stringify(v)}`)
    if (ms !== interval.ms) {
      throw invalid(`bar state was saved for ${String(ms)} ms bars, not ${interval.label} (${interval.ms} ms)`)
    }
    if (closed === null) agg.#closedUpTo = -Infinity
    else if (closed === 'Infinity') agg.#closedUpTo = Infinity
    else if (typeof closed === 'number' && Number.isFinite(closed)) agg.#closedUpTo = closed
    else throw invalid('bar state: closed must be a finite number, null or "Infinity"')
    if (!Array.isArray(bars)) throw invalid('bar state: bars must be an array')
    for (const item of bars as unknown[]) {
      const bar = toOpenBar(item, interval.ms)
      const symbolBars = agg.#bySymbol.get(bar.symbol) ?? []
      if (symbolBars.some((b) => b.start === bar.start)) {
        throw invalid(`bar state: two bars of ${JSON.stringify(bar.symbol)} start at ${bar.start}`)
      }
      symbolBars.push(bar)
      symbolBars.sort((a, b) => a.start - b.start)
      agg.#bySymbol.set(bar.symbol, symbolBars)
      agg.#addToStart(bar)
      agg.#openCount++
    }
    return agg
  }
}

function finish(b: OpenBar, label: string, ms: number): Bar {
  const volume = b.volume + b.volumeC
  let vwap = (b.pv + b.pvC) / volume
  // Rounding can put Σpq/Σq an ulp outside [low, high] (e.g. every price equal); a VWAP outside its
  // bar's range would surprise consumers more than the ulp matters. NaN (zero volume) stays NaN.
  if (vwap < b.low) vwap = b.low
  else if (vwap > b.high) vwap = b.high
  return {
    symbol: b.symbol,
    interval: label,
    start: b.start,
    end: b.start + ms,
    open: b.open,
    high: b.high,
    low: b.low,
    close: b.close,
    volume,
    vwap,
    trades: b.trades,
  }
}

function isFiniteNumber(x: unknown): x is number {
  return typeof x === 'number' && Number.isFinite(x)
}

/** Validates one saved tuple; every invariant an add maintains must hold. */
function toOpenBar(item: unknown, ms: number): OpenBar {
  if (!Array.isArray(item) || item.length !== 13) throw invalid('bar state: each bar must be a 13-item array')
  const [symbol, start, open, openTs, high, low, close, closeTs, volume, volumeC, pv, pvC, trades] = item as unknown[]
  if (typeof symbol !== 'string') throw invalid('bar state: symbol must be a string')
  const nums = [start, open, openTs, high, low, close, closeTs, volume, volumeC, pv, pvC, trades]
  if (!nums.every(isFiniteNumber)) throw invalid(`bar state: bar of ${JSON.stringify(symbol)} has a non-number`)
  const [s, o, ots, h, l, c, cts, vol, volC, pvS, pvCS, n] = nums as number[]
  const ok =
    Math.abs(s) <= MAX_TIME &&
    windowStart(s, ms) === s &&
    ots >= s &&
    ots <= cts &&
    cts < s + ms &&
    l <= o &&
    o <= h &&
    l <= c &&
    c <= h &&
    vol + volC >= 0 &&
    Number.isSafeInteger(n) &&
    n >= 1
  if (!ok) throw invalid(`bar state: bar of ${JSON.stringify(symbol)} at ${s} is inconsistent`)
  const bar = new OpenBar(symbol, s, ots, o, 0)
  bar.high = h
  bar.low = l
  bar.close = c
  bar.closeTs = cts
  bar.volume = vol
  bar.volumeC = volC
  bar.pv = pvS
  bar.pvC = pvCS
  bar.trades = n
  return bar
}
