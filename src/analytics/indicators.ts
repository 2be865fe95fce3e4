/**
 * The per-symbol indicators of the `analyze` processor, updated once per tick in O(1) (amortised)
 * and without allocation, matching pandas' definitions (docs: ../../README.md, "Analytics"):
 *
 * | field      | definition (window N = `window`)                          | pandas                                           |
 * |------------|-----------------------------------------------------------|--------------------------------------------------|
 * | ema        | α = 2/(span+1), recursive or normalised form (ema.ts)     | `s.ewm(span=S, adjust=False/True).mean()`        |
 * | sma        | mean of the last N prices                                 | `s.rolling(N).mean()`                            |
 * | priceStd   | sample std (ddof = 1) of the last N prices                | `s.rolling(N).std()`                             |
 * | volatility | sample std of the last N log returns ln pₜ − ln pₜ₋₁      | `np.log(s).diff().rolling(N).std()`              |
 * | zscore     | (x − μ)/σ, μ and σ of the min(N, count−1) prices before x | `(s − m.shift(1)) / d.shift(1)`, m/d = `s.rolling(N, min_periods=2).mean()/.std()` |
 * | outlier    | abs(zscore) > zThreshold, after minPoints prices          |                                                  |
 * | min, max   | over the last N prices (fewer at the start)               | `s.rolling(N, min_periods=1).min()/.max()`       |
 *
 * The z-score excludes x from its window: with x included abs(z) ≤ (n−1)/√n, so a small window
 * could never flag. Rolling moments stay within ~1e-12 of a two-pass computation however long the
 * run (rolling.ts); pandas' own rolling std drifts far more on long runs, which
 * scripts/pandas/indicators.py reports. Min/max use van Herk / Gil-Werman blocks (min-max.ts).
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import { Ema, emaAlpha } from './ema.ts'
import { WindowExtrema } from './min-max.ts'
import { RollingMoments } from './rolling.ts'

/** Indicator parameters; build one with {@link indicatorConfig}. */
export interface IndicatorConfig {
  /** N for SMA, priceStd, volatility and the z-score window (default 100); an integer ≥ 2. */
  window: number
  /** EMA span (default: `window`); a number ≥ 1. */
  emaSpan: number
  /** false = recursive EMA (pandas adjust=False, the default); true = normalised (adjust=True). */
  emaAdjust: boolean
  /** abs(z) above this flags an outlier (default 3); > 0. */
  zThreshold: number
  /** No outlier flag before this many previous prices (default 30); an integer ≥ 0. */
  minPoints: number
}

/** The largest window accepted: each symbol keeps 32 bytes per window slot. */
export const MAX_INDICATOR_WINDOW = 1_000_000

/** The defaults: window 100, EMA span 100 (recursive form), threshold 3, 30 points. */
export const DEFAULT_INDICATOR_CONFIG: IndicatorConfig = Object.freeze({
  window: 100,
  emaSpan: 100,
  emaAdjust: false,
  zThreshold: 3,
  minPoints: 30,
})

function invalid(message: string): TickflowError {
  return new TickflowError(ErrorCodes.INVALID_ARGUMENT, message)
}

/**
 * A validated config from `partial` over the defaults; `emaSpan` defaults to the (resolved)
 * window. Undefined entries count as absent. Throws INVALID_ARGUMENT on a bad value.
 */
export function indicatorConfig(partial: Partial<IndicatorConfig> = {}): IndicatorConfig {
  const window = partial.window ?? DEFAULT_INDICATOR_CONFIG.window
  if (!Number.isInteger(window) || window < 2 || window > MAX_INDICATOR_WINDOW) {
    throw invalid(`indicator window must be an integer in [2, ${MAX_INDICATOR_WINDOW}], got ${window}`)
  }
  const emaSpan = partial.emaSpan ?? window
  emaAlpha(emaSpan) // validates
  const emaAdjust = partial.emaAdjust ?? DEFAULT_INDICATOR_CONFIG.emaAdjust
  if (typeof emaAdjust !== 'boolean') throw invalid(`emaAdjust must be a boolean, got ${String(emaAdjust)}`)
  const zThreshold = partial.zThreshold ?? DEFAULT_INDICATOR_CONFIG.zThreshold
  if (typeof zThreshold !== 'number' || !Number.isFinite(zThreshold) || zThreshold <= 0) {
    throw invalid(`zThreshold must be a finite number > 0, got ${zThreshold}`)
  }
  const minPoints = partial.minPoints ?? DEFAULT_INDICATOR_CONFIG.minPoints
  if (!Number.isSafeInteger(minPoints) || minPoints < 0) {
    throw invalid(`minPoints must be an integer >= 0, got ${minPoints}`)
  }
  return { window, emaSpan, emaAdjust, zThreshold, minPoints }
}

/** The indicators after one tick; null = not defined yet (or, for zscore, a zero std). */
export interface IndicatorValues {
  /** Ticks seen for this symbol, including this one. */
  count: number
  ema: number
  /** null until `window` prices. */
  sma: number | null
  /** Sample std of the last `window` prices; null until `window` prices. */
  priceStd: number | null
  /** Sample std of the last `window` log returns; null until window+1 prices. */
  volatility: number | null
  /** Of this price against the previous min(window, count−1) prices; null with < 2 of them or std 0. */
  zscore: number | null
  /** abs(zscore) > zThreshold and at least minPoints previous prices. */
  outlier: boolean
  /** Over the last `window` prices (or fewer at the start). */
  min: number
  max: number
}

/** A fresh output record, to be reused across update() calls. */
export function newIndicatorValues(): IndicatorValues {
  // One literal, same keys in the same order, so every record shares one hidden class.
  return {
    count: 0,
    ema: NaN,
    sma: null,
    priceStd: null,
    volatility: null,
    zscore: null,
    outlier: false,
    min: NaN,
    max: NaN,
  }
}

/**
 * {@link IndicatorValues} with NaN where those have null. All fields are numbers (and one boolean),
 * so V8 stores them unboxed and {@link SymbolIndicators.updateNumbers} allocates nothing.
 */
export interface IndicatorNumbers {
  count: number
  ema: number
  sma: number
  priceStd: number
  volatility: number
  zscore: number
  outlier: boolean
  min: number
  max: number
}

/** A fresh record for {@link SymbolIndicators.updateNumbers}. */
export function newIndicatorNumbers(): IndicatorNumbers {
  return {
    count: 0,
    ema: NaN,
    sma: NaN,
    priceStd: NaN,
    volatility: NaN,
    zscore: NaN,
    outlier: false,
    min: NaN,
    max: NaN,
  }
}

// Saved-state layout (Float64Array): a header, then the last min(count, window+1) prices, oldest
// first. Log returns are not stored: Math.log is deterministic, so ln pₜ − ln pₜ₋₁ recomputed from
// the prices is the very double the live operator pushed.
const STATE_VERSION = 1
const S_VERSION = 0
const S_WINDOW = 1
const S_SPAN = 2
const S_ADJUST = 3
const S_COUNT = 4
const S_EMA_A = 5
const S_EMA_B = 6
const S_PRICE_SUMS = 7 // shift, S1, c1, S2, c2 of the price window
const S_RETURN_SUMS = 12 // the same for the log-return window
const S_PRICES = 17

/** All indicators of one symbol. Not thread-safe; one instance per symbol. */
export class SymbolIndicators {
  readonly config: IndicatorConfig
  private readonly window: number
  private readonly zThreshold: number
  private readonly minPoints: number
  private readonly ema: Ema
  private readonly prices: RollingMoments
  private readonly returns: RollingMoments
  private readonly extrema: WindowExtrema
  private count = 0
  /** ln of the last price. */
  private lastLog = 0
  /** The price just before the window (the last one evicted), for the saved state. */
  private beforeWindow = NaN
  /** update()'s unboxed intermediate record. */
  private readonly scratch = newIndicatorNumbers()

  constructor(config: IndicatorConfig) {
    this.config = indicatorConfig(config)
    this.window = this.config.window
    this.zThreshold = this.config.zThreshold
    this.minPoints = this.config.minPoints
    this.ema = new Ema(this.config.emaSpan, this.config.emaAdjust)
    // One buffer, 4 numbers per ring slot: price, log return, suffix max, suffix min. A tick reads
    // and writes one slot of each, so with many symbols it touches one or two cache lines, not four.
    const n = this.window
    const buf = new Float64Array(4 * n)
    this.prices = new RollingMoments(n, buf, 0, 4)
    this.returns = new RollingMoments(n, buf, 1, 4)
    this.extrema = new WindowExtrema({ buf, cap: n, stride: 4, value: 0, max: 2, min: 3 })
  }

  /** Ticks seen. */
  get ticks(): number {
    return this.count
  }

  /**
   * Adds one price (finite, > 0; else INVALID_ARGUMENT and no change) and writes every indicator
   * into `out`. Our code allocates nothing; V8 itself boxes each non-null number stored into a
   * field that can also hold null (16 bytes each, freed by the young-generation GC):
   * {@link updateNumbers} avoids that.
   */
  update(price: number, out: IndicatorValues): void {
    const v = this.scratch
    this.updateNumbers(price, v)
    out.count = v.count
    out.ema = v.ema
    // Every defined value is finite (prices are), so NaN means "not defined yet".
    const sma = v.sma
    const priceStd = v.priceStd
    const volatility = v.volatility
    const zscore = v.zscore
    out.sma = sma === sma ? sma : null
    out.priceStd = priceStd === priceStd ? priceStd : null
    out.volatility = volatility === volatility ? volatility : null
    out.zscore = zscore === zscore ? zscore : null
    out.outlier = v.outlier
    out.min = v.min
    out.max = v.max
  }

  /** As {@link update}, with NaN where update writes null: allocation-free, the fastest form. */
  updateNumbers(price: number, out: IndicatorNumbers): void {
    if (!(price > 0 && price < Infinity)) throw invalid(`price must be a finite number > 0, got ${price}`)
    const p = this.prices
    const n = this.window
    // The z-score uses the window as it stands before this price: std is NaN below 2 prices and 0
    // for a flat window, where the z-score is undefined.
    let zscore = NaN
    let outlier = false
    const std = p.std
    if (std > 0) {
      zscore = p.deviation(price) / std
      outlier = this.count >= this.minPoints && Math.abs(zscore) > this.zThreshold
    }
    const evicting = p.size === n
    const slot = p.head
    if (evicting) this.beforeWindow = p.valueAt(slot)
    p.push(price)
    this.extrema.push(slot, evicting)
    const lp = Math.log(price)
    const r = this.returns
    if (this.count > 0) r.push(lp - this.lastLog)
    this.lastLog = lp
    const count = ++this.count
    out.count = count
    out.ema = this.ema.update(price)
    const full = count >= n
    out.sma = full ? p.mean : NaN
    out.priceStd = full ? p.std : NaN
    out.volatility = r.size === n ? r.std : NaN
    out.zscore = zscore
    out.outlier = outlier
    out.min = this.extrema.min
    out.max = this.extrema.max
  }

  /** Doubles in {@link saveState}'s result: 17 + min(ticks, window + 1). */
  get stateLength(): number {
    return S_PRICES + Math.min(this.count, this.window + 1)
  }

  /**
   * The whole state as numbers (see {@link saveStateInto}), so a checkpoint can store it and
   * {@link SymbolIndicators.restore} rebuilds an identical operator.
   */
  saveState(): Float64Array {
    const out = new Float64Array(this.stateLength)
    this.saveStateInto(out, 0)
    return out
  }

  /**
   * Writes the state at `target[offset..offset + stateLength)` and returns stateLength: version,
   * window, EMA span, EMA form, tick count, the EMA's two accumulators, the shift and compensated
   * sums of the price and log-return windows, then the last min(ticks, window+1) prices.
   */
  saveStateInto(target: Float64Array, offset: number): number {
    const len = this.stateLength
    if (offset < 0 || offset + len > target.length) throw invalid('state target too small')
    target[offset + S_VERSION] = STATE_VERSION
    target[offset + S_WINDOW] = this.window
    target[offset + S_SPAN] = this.config.emaSpan
    target[offset + S_ADJUST] = this.config.emaAdjust ? 1 : 0
    target[offset + S_COUNT] = this.count
    target[offset + S_EMA_A] = this.ema.a
    target[offset + S_EMA_B] = this.ema.b
    this.prices.saveSums(target, offset + S_PRICE_SUMS)
    this.returns.saveSums(target, offset + S_RETURN_SUMS)
    let at = offset + S_PRICES
    if (this.count > this.window) target[at++] = this.beforeWindow
    this.prices.copyValues(target, at)
    return len
  }

  /**
   * Rebuilds the operator saved by {@link saveState}: every later update gives bit-identical
   * output to the never-saved operator's. `config` must have the saved window, EMA span and form
   * (threshold and minPoints may differ); throws INVALID_ARGUMENT on a state that does not fit.
   */
  static restore(config: IndicatorConfig, state: Float64Array): SymbolIndicators {
    const op = new SymbolIndicators(config)
    const n = op.window
    if (!(state instanceof Float64Array) || state.length < S_PRICES) throw invalid('indicator state too short')
    if (state[S_VERSION] !== STATE_VERSION) throw invalid(`unknown indicator state version ${state[S_VERSION]}`)
    if (state[S_WINDOW] !== n || state[S_SPAN] !== op.config.emaSpan) {
      throw invalid(`indicator state is for window ${state[S_WINDOW]}, span ${state[S_SPAN]}`)
    }
    if (state[S_ADJUST] !== (op.config.emaAdjust ? 1 : 0)) throw invalid('indicator state has the other EMA form')
    const count = state[S_COUNT]
    if (!Number.isSafeInteger(count) || count < 0) throw invalid(`bad tick count ${count} in indicator state`)
    const m = Math.min(count, n + 1)
    if (state.length !== S_PRICES + m)
      throw invalid(`indicator state has ${state.length} numbers, expected ${S_PRICES + m}`)
    for (let i = S_EMA_A; i < state.length; i++) {
      if (!Number.isFinite(state[i])) throw invalid(`non-finite number at ${i} in indicator state`)
    }
    for (let i = S_PRICES; i < state.length; i++) {
      if (!(state[i] > 0)) throw invalid(`non-positive price at ${i} in indicator state`)
    }
    if (count > 0 && (op.config.emaAdjust ? !(state[S_EMA_B] >= 1) : state[S_EMA_B] !== 0)) {
      throw invalid('bad EMA accumulators in indicator state')
    }
    const end = S_PRICES + m
    op.count = count
    op.ema.setState(count, state[S_EMA_A], state[S_EMA_B])
    op.prices.load(state, end - Math.min(count, n), end, state[S_PRICE_SUMS], state, S_PRICE_SUMS + 1)
    op.extrema.rebuild(op.prices.size)
    if (count > n) op.beforeWindow = state[S_PRICES]
    // Returns exactly as update() computed them: ln pₜ − ln pₜ₋₁ from two Math.log results.
    const returns = new Float64Array(Math.max(0, m - 1))
    let prevLog = m > 0 ? Math.log(state[S_PRICES]) : 0
    for (let i = 1; i < m; i++) {
      const lp = Math.log(state[S_PRICES + i])
      returns[i - 1] = lp - prevLog
      prevLog = lp
    }
    op.returns.load(returns, 0, returns.length, state[S_RETURN_SUMS], state, S_RETURN_SUMS + 1)
    op.lastLog = prevLog
    return op
  }
}
