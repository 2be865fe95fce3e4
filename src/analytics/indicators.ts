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
 * could never flag.
 *
 * One class does all of it, with every piece of state in its own fields and one ring buffer (V8
 * then keeps a tick to a few dozen loads and stores; the same operators composed from separate
 * classes measured 40% slower). How:
 *
 * - Rolling moments (prices, and log returns): each value enters as a = x − K for a shift K, into
 *   plain sums S1 = Σa and S2 = Σa², and leaves as the same two doubles subtracted. M2 = Σ(x −
 *   mean)² = S2 − S1²/n. Add/remove updates let rounding errors pile up (pandas' rolling std drifts
 *   up to 1e-4 relative on long runs, see scripts/pandas/indicators.py), so the sums are recomputed
 *   exactly from the ring, with K reset to the window's mean, at least every P = min(N, 1024)
 *   values: for N ≤ 1024 in the same backward pass as the min/max blocks below. The error of S2 is
 *   then at most ~4P·ε·S2max, S2max its largest value since the last recomputation; and whenever
 *   S2max exceeds R·M2 (R = 256: a loud stretch left the window, or the mean drifted ~16 std away
 *   from K) the sums are recomputed at once. So the relative error of M2 stays below 4P·R·ε —
 *   1e-11 at N = 100, 1.2e-10 for N ≥ 1024, in the worst case; typically ~√P times less — however
 *   long the run (test/analytics/indicators.test.ts measures it against exact values).
 * - A window whose values are all equal (tracked as the run of equal trailing values) has variance
 *   exactly 0 and mean exactly that value, as pandas does (GH#42064), so z-scores against a flat
 *   window are "undefined", never a huge number divided by rounding noise.
 * - Min/max by van Herk / Gil-Werman blocks rather than monotonic deques: the window ending at ring
 *   slot h is the current block's prefix (slots 0..h, whose min/max is kept in two numbers) and the
 *   previous block's suffix (slots h+1..N−1), whose min/max per start slot is computed in one
 *   backward pass each time the ring wraps. No data-dependent loop per value (deques' pop loops
 *   cost about 45 ns per tick in a prototype, these blocks 15-20 ns).
 * - Every piece of derived state (the suffix extrema, the run, mean and std) is a function of the
 *   ring and the saved sums, so a checkpoint stores the prices and the sums and a restore
 *   recomputes the rest: bit-identical continuation.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import { emaAlpha } from './ema.ts'

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
const STATE_VERSION = 2
const S_VERSION = 0
const S_WINDOW = 1
const S_SPAN = 2
const S_ADJUST = 3
const S_COUNT = 4
const S_EMA_A = 5
const S_EMA_B = 6
const S_PRICE_SUMS = 7 // K, S1, S2, S2max of the price window
const S_RETURN_SUMS = 11 // the same for the log-return window
const S_PRICES = 15

/** Sums are recomputed at least this often (and at every wrap of the ring when the window is smaller). */
const RECOMPUTE_PERIOD = 1024
/** Sums are recomputed at once when S2max > RECOMPUTE_RATIO · M2. */
const RECOMPUTE_RATIO = 256

// Ring slot layout: 4 numbers per slot, so a tick touches one or two cache lines.
const PRICE = 0
const RETURN = 1
const SUFFIX_MAX = 2
const SUFFIX_MIN = 3
const STRIDE = 4

/** All indicators of one symbol. Not thread-safe; one instance per symbol. */
export class SymbolIndicators {
  readonly config: IndicatorConfig
  private readonly n: number
  private readonly invN: number
  private readonly invN1: number
  private readonly zThreshold: number
  private readonly minPoints: number
  private readonly alpha: number
  private readonly decay: number
  private readonly adjust: boolean
  /** EMA: recursive form, the EMA; normalised form, its numerator (see ema.ts). */
  private emaA = 0
  /** Normalised form: the EMA's denominator (0 in the recursive form). */
  private emaB = 0
  /** Slot j: price, log return, max and min of slots j..N−1 as of the last wrap. */
  private readonly ring: Float64Array
  /** The slot the next price goes to. */
  private head = 0
  private count = 0
  /** Prices and returns in their windows (≤ N). */
  private size = 0
  private rsize = 0
  /** Whether the slots after the current block hold the previous block (a wrap happened). */
  private full = false
  // Price window: shift, sums, largest S2 since the last recomputation, trailing run of equal
  // prices (capped at N) and the last price; mean and std of the window as it stands.
  private k = 0
  private s1 = 0
  private s2 = 0
  private s2max = 0
  private run = 0
  private last = NaN
  private mean = NaN
  private std = NaN
  // Log-return window: shift, sums, largest S2.
  private kr = 0
  private r1 = 0
  private r2 = 0
  private r2max = 0
  /** ln of the last price. */
  private lastLog = 0
  /** Max / min of the current block. */
  private preMax = NaN
  private preMin = NaN
  /** The price just before the window (the last one evicted), for the saved state. */
  private beforeWindow = NaN
  /** update()'s unboxed intermediate record. */
  private readonly scratch = newIndicatorNumbers()

  constructor(config: IndicatorConfig) {
    this.config = indicatorConfig(config)
    const n = this.config.window
    this.n = n
    this.invN = 1 / n
    this.invN1 = 1 / (n - 1)
    this.zThreshold = this.config.zThreshold
    this.minPoints = this.config.minPoints
    this.alpha = emaAlpha(this.config.emaSpan)
    this.decay = 1 - this.alpha
    this.adjust = this.config.emaAdjust
    this.ring = new Float64Array(STRIDE * n)
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
    const n = this.n
    const ring = this.ring
    // The z-score uses the window as it stands before this price: std is NaN below 2 prices and 0
    // for a flat window, where the z-score is undefined.
    let zscore = NaN
    let outlier = false
    const std = this.std
    if (std > 0) {
      // x − mean from the shifted sums: accurate to the std's scale, where x − mean itself would
      // carry an error of one ulp of the mean.
      const size = this.size
      zscore = (price - this.k - this.s1 * (size === n ? this.invN : 1 / size)) / std
      outlier = this.count >= this.minPoints && Math.abs(zscore) > this.zThreshold
    }
    // ln p first: Math.log is a call, and starting it early lets its latency overlap the rest.
    const lp = Math.log(price)
    const h = this.head
    const count = this.count
    if (h === 0 && count > 0) this.wrap()
    else if (n > RECOMPUTE_PERIOD && count % RECOMPUTE_PERIOD === 0 && count > 0) this.recompute()
    const at = h * STRIDE
    // Price window.
    const evicting = this.size === n
    let a = price - this.k
    if (evicting) {
      const old = ring[at + PRICE]
      this.beforeWindow = old
      const b = old - this.k
      this.s1 += a - b
      this.s2 += a * a - b * b
    } else {
      if (this.size === 0) {
        // The first value is the shift: its terms are exactly 0.
        this.k = price
        a = 0
      }
      this.size++
      this.s1 += a
      this.s2 += a * a
    }
    if (this.s2 > this.s2max) this.s2max = this.s2
    ring[at + PRICE] = price
    // Log-return window: slot h holds the return into the price at slot h.
    if (count > 0) {
      const r = lp - this.lastLog
      let c = r - this.kr
      if (this.rsize === n) {
        const b = ring[at + RETURN] - this.kr
        this.r1 += c - b
        this.r2 += c * c - b * b
      } else {
        if (this.rsize === 0) {
          this.kr = r
          c = 0
        }
        this.rsize++
        this.r1 += c
        this.r2 += c * c
      }
      if (this.r2 > this.r2max) this.r2max = this.r2
      ring[at + RETURN] = r
    }
    this.lastLog = lp
    // Min/max: the current block's prefix, and the previous block's suffix after slot h.
    let max: number
    let min: number
    if (h === 0) {
      max = price
      min = price
    } else {
      max = this.preMax
      min = this.preMin
      if (price > max) max = price
      if (price < min) min = price
    }
    this.preMax = max
    this.preMin = min
    const next = h + 1
    if (this.full && next < n) {
      const suffixMax = ring[at + STRIDE + SUFFIX_MAX]
      const suffixMin = ring[at + STRIDE + SUFFIX_MIN]
      if (suffixMax > max) max = suffixMax
      if (suffixMin < min) min = suffixMin
    }
    this.head = next === n ? 0 : next
    if (price === this.last) {
      if (this.run < n) this.run++
    } else {
      this.run = 1
      this.last = price
    }
    this.count = count + 1
    this.settle(true)
    let volatility = NaN
    if (this.rsize === n) {
      let m2 = this.r2 - this.r1 * this.r1 * this.invN
      if (m2 * RECOMPUTE_RATIO < this.r2max) {
        this.recompute()
        m2 = this.r2 - this.r1 * this.r1 * this.invN
      }
      volatility = Math.sqrt((m2 > 0 ? m2 : 0) * this.invN1)
    }
    // The EMA exactly as ema.ts computes it (inlined: this is the hot path).
    let ema: number
    if (this.adjust) {
      this.emaA = price + this.decay * this.emaA
      this.emaB = 1 + this.decay * this.emaB
      ema = this.emaA / this.emaB
    } else {
      if (count === 0) this.emaA = price
      else if (this.emaA !== price) this.emaA = this.decay * this.emaA + this.alpha * price
      ema = this.emaA
    }
    out.count = count + 1
    out.ema = ema
    const windowFull = count + 1 >= n
    out.sma = windowFull ? this.mean : NaN
    out.priceStd = windowFull ? this.std : NaN
    out.volatility = volatility
    out.zscore = zscore
    out.outlier = outlier
    out.min = min
    out.max = max
  }

  /** Mean and std of the price window from the sums; recomputes them first when too inexact. */
  private settle(mayRecompute: boolean): void {
    const size = this.size
    if (this.run >= size) {
      this.mean = this.last
      this.std = size > 1 ? 0 : NaN
      return
    }
    // A full window multiplies by precomputed reciprocals (division is the slowest step here);
    // that costs at most an ulp, and restore runs this same code, so results stay bit-identical.
    const full = size === this.n
    const inv = full ? this.invN : 1 / size
    let m2 = this.s2 - this.s1 * this.s1 * inv
    // `!(m2·R > …)` is also true for NaN.
    if (mayRecompute && !(m2 * RECOMPUTE_RATIO >= this.s2max)) {
      this.recompute()
      m2 = this.s2 - this.s1 * this.s1 * inv
    }
    this.mean = this.k + this.s1 * inv
    this.std = Math.sqrt((m2 > 0 ? m2 : 0) * (full ? this.invN1 : 1 / (size - 1)))
  }

  /**
   * The ring just filled its last slot (a block of N prices is complete): the suffix extrema of
   * that block, and both windows' sums recomputed exactly around new shifts, in one backward pass.
   */
  private wrap(): void {
    const ring = this.ring
    const n = this.n
    const k = this.k + this.s1 * this.invN
    const rsize = this.rsize
    const kr = rsize > 0 ? this.kr + this.r1 / rsize : 0
    // Before the first wrap, slot 0 holds no return (the first price has none).
    const firstReturn = rsize === n ? 0 : 1
    let max = -Infinity
    let min = Infinity
    let s1 = 0
    let s2 = 0
    let r1 = 0
    let r2 = 0
    for (let j = n - 1; j >= 0; j--) {
      const at = j * STRIDE
      const x = ring[at + PRICE]
      if (x > max) max = x
      if (x < min) min = x
      ring[at + SUFFIX_MAX] = max
      ring[at + SUFFIX_MIN] = min
      const a = x - k
      s1 += a
      s2 += a * a
      if (j >= firstReturn) {
        const c = ring[at + RETURN] - kr
        r1 += c
        r2 += c * c
      }
    }
    this.full = true
    this.k = k
    this.s1 = s1
    this.s2 = s2
    this.s2max = s2
    this.kr = kr
    this.r1 = r1
    this.r2 = r2
    this.r2max = r2
  }

  /** Both windows' sums recomputed exactly around their current means. */
  private recompute(): void {
    const ring = this.ring
    const n = this.n
    const size = this.size
    const rsize = this.rsize
    // Window slots: every slot once the ring is full, else 0..size−1 (prices) and 1..rsize (returns).
    const k = size > 0 ? this.k + this.s1 / size : 0
    const kr = rsize > 0 ? this.kr + this.r1 / rsize : 0
    let s1 = 0
    let s2 = 0
    let r1 = 0
    let r2 = 0
    for (let j = 0; j < n; j++) {
      const at = j * STRIDE
      if (size === n || j < size) {
        const a = ring[at + PRICE] - k
        s1 += a
        s2 += a * a
      }
      if (rsize === n || (j >= 1 && j <= rsize)) {
        const c = ring[at + RETURN] - kr
        r1 += c
        r2 += c * c
      }
    }
    this.k = k
    this.s1 = s1
    this.s2 = s2
    this.s2max = s2
    this.kr = kr
    this.r1 = r1
    this.r2 = r2
    this.r2max = r2
  }

  /** Doubles in {@link saveState}'s result: 15 + min(ticks, window + 1). */
  get stateLength(): number {
    return S_PRICES + Math.min(this.count, this.n + 1)
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
   * window, EMA span, EMA form, tick count, the EMA's two accumulators, the shift, sums and largest
   * S2 of the price and log-return windows, then the last min(ticks, window+1) prices.
   */
  saveStateInto(target: Float64Array, offset: number): number {
    const len = this.stateLength
    if (offset < 0 || offset + len > target.length) throw invalid('state target too small')
    target[offset + S_VERSION] = STATE_VERSION
    target[offset + S_WINDOW] = this.n
    target[offset + S_SPAN] = this.config.emaSpan
    target[offset + S_ADJUST] = this.config.emaAdjust ? 1 : 0
    target[offset + S_COUNT] = this.count
    target[offset + S_EMA_A] = this.emaA
    target[offset + S_EMA_B] = this.emaB
    target[offset + S_PRICE_SUMS] = this.k
    target[offset + S_PRICE_SUMS + 1] = this.s1
    target[offset + S_PRICE_SUMS + 2] = this.s2
    target[offset + S_PRICE_SUMS + 3] = this.s2max
    target[offset + S_RETURN_SUMS] = this.kr
    target[offset + S_RETURN_SUMS + 1] = this.r1
    target[offset + S_RETURN_SUMS + 2] = this.r2
    target[offset + S_RETURN_SUMS + 3] = this.r2max
    let at = offset + S_PRICES
    if (this.count > this.n) target[at++] = this.beforeWindow
    // The window, oldest first: the price of tick i (from 0) is in slot i mod N.
    const size = this.size
    for (let i = this.count - size; i < this.count; i++) target[at++] = this.ring[(i % this.n) * STRIDE + PRICE]
    return len
  }

  /**
   * Rebuilds the operator saved by {@link saveState}: every later update gives bit-identical
   * output to the never-saved operator's. `config` must have the saved window, EMA span and form
   * (threshold and minPoints may differ); throws INVALID_ARGUMENT on a state that does not fit.
   */
  static restore(config: IndicatorConfig, state: Float64Array): SymbolIndicators {
    const op = new SymbolIndicators(config)
    const n = op.n
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
    if (!(state[S_PRICE_SUMS + 2] >= 0 && state[S_RETURN_SUMS + 2] >= 0)) {
      throw invalid('negative sums of squares in indicator state')
    }
    op.count = count
    op.emaA = state[S_EMA_A]
    op.emaB = state[S_EMA_B]
    op.k = state[S_PRICE_SUMS]
    op.s1 = state[S_PRICE_SUMS + 1]
    op.s2 = state[S_PRICE_SUMS + 2]
    op.s2max = state[S_PRICE_SUMS + 3]
    op.kr = state[S_RETURN_SUMS]
    op.r1 = state[S_RETURN_SUMS + 1]
    op.r2 = state[S_RETURN_SUMS + 2]
    op.r2max = state[S_RETURN_SUMS + 3]
    op.size = Math.min(count, n)
    op.rsize = Math.max(0, Math.min(count - 1, n))
    op.head = count % n
    op.full = count > n
    if (count > n) op.beforeWindow = state[S_PRICES]
    // Prices and returns back in their slots: tick i (from 0) is state[S_PRICES + i − first].
    const first = count - m
    let prevLog = m > 0 ? Math.log(state[S_PRICES]) : 0
    for (let i = first; i < count; i++) {
      const p = state[S_PRICES + i - first]
      const lp = i === first ? prevLog : Math.log(p)
      const at = (i % n) * STRIDE
      if (i >= count - op.size) op.ring[at + PRICE] = p
      // Returns exactly as update() computed them: ln pₜ − ln pₜ₋₁ from two Math.log results.
      if (i > first) op.ring[at + RETURN] = lp - prevLog
      prevLog = lp
    }
    op.lastLog = prevLog
    // The suffix extrema of the previous block, for the slots not overwritten since the wrap (the
    // only ones read before the next), and the current block's prefix extrema.
    const h = op.head
    if (op.full) {
      let max = -Infinity
      let min = Infinity
      for (let j = n - 1; j >= h; j--) {
        const x = op.ring[j * STRIDE + PRICE]
        if (x > max) max = x
        if (x < min) min = x
        op.ring[j * STRIDE + SUFFIX_MAX] = max
        op.ring[j * STRIDE + SUFFIX_MIN] = min
      }
    }
    for (let j = 0; j < h; j++) {
      const x = op.ring[j * STRIDE + PRICE]
      if (j === 0 || x > op.preMax) op.preMax = x
      if (j === 0 || x < op.preMin) op.preMin = x
    }
    // The run of equal trailing prices, and mean and std, exactly as the live operator left them.
    const size = op.size
    if (size > 0) {
      op.last = state[state.length - 1]
      let run = 0
      while (run < size && state[state.length - 1 - run] === op.last) run++
      op.run = run
      op.settle(false)
    }
    return op
  }
}
