/**
 * Trading signals per symbol, derived tick by tick from the price and its indicators:
 * - EMA crossover: a fast and a slow recursive EMA (spans 12 and 26 by default, MACD's); when
 *   fast − slow changes sign, a BUY (fast crosses above) or SELL (below). Only once both EMAs have
 *   seen `slowSpan` prices, so the start-up transient fires nothing.
 * - outlier: the tick's z-score flag (see indicators), an ALERT.
 * - volatility breakout: the log-return volatility rises above `breakoutRatio` × its baseline, an
 *   EMA (span `baselineSpan`) of the previous volatility values; fires when it crosses above, not on
 *   every tick while above, and only after `minPoints` volatility values.
 * Pure and O(1) per tick; the state is a few numbers.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'

export interface SignalConfig {
  fastSpan: number
  slowSpan: number
  breakoutRatio: number
  baselineSpan: number
  minPoints: number
}

export const DEFAULT_SIGNAL_CONFIG: SignalConfig = {
  fastSpan: 12,
  slowSpan: 26,
  breakoutRatio: 2,
  baselineSpan: 100,
  minPoints: 30,
}

/** Bits of {@link SymbolSignals.update}'s result. */
export const SignalBits = {
  CROSS_UP: 1,
  CROSS_DOWN: 2,
  OUTLIER: 4,
  BREAKOUT: 8,
} as const

/** Checks a signal configuration. @throws TICKFLOW_ERR_INVALID_ARGUMENT */
export function signalConfig(partial: Partial<SignalConfig> = {}): SignalConfig {
  const c = { ...DEFAULT_SIGNAL_CONFIG, ...partial }
  if (!Number.isInteger(c.fastSpan) || c.fastSpan < 1 || !Number.isInteger(c.slowSpan) || c.slowSpan <= c.fastSpan) {
    throw new TickflowError(
      ErrorCodes.INVALID_ARGUMENT,
      `EMA crossover spans must be integers with 1 <= fast < slow (got ${c.fastSpan}, ${c.slowSpan})`,
    )
  }
  if (!(c.breakoutRatio > 1) || !Number.isInteger(c.baselineSpan) || c.baselineSpan < 1 || c.minPoints < 0) {
    throw new TickflowError(
      ErrorCodes.INVALID_ARGUMENT,
      `volatility breakout needs a ratio > 1 and a baseline span >= 1 (got ${c.breakoutRatio}, ${c.baselineSpan})`,
    )
  }
  return c
}

const STATE_SIZE = 8

export class SymbolSignals {
  /** The fast and slow EMAs after the last update. */
  fast = 0
  slow = 0
  /** The volatility baseline before the last update's volatility was folded in. */
  baseline = 0
  private readonly alphaFast: number
  private readonly alphaSlow: number
  private readonly alphaBase: number
  private readonly config: SignalConfig
  private count = 0
  private sign = 0
  private volCount = 0
  private above = 0

  constructor(config: SignalConfig) {
    this.config = config
    this.alphaFast = 2 / (config.fastSpan + 1)
    this.alphaSlow = 2 / (config.slowSpan + 1)
    this.alphaBase = 2 / (config.baselineSpan + 1)
  }

  /** Folds in one tick; returns the {@link SignalBits} that fire on it. */
  update(price: number, volatility: number | null, outlier: boolean): number {
    let bits = outlier ? SignalBits.OUTLIER : 0
    if (this.count === 0) this.fast = this.slow = price
    else {
      this.fast += this.alphaFast * (price - this.fast)
      this.slow += this.alphaSlow * (price - this.slow)
    }
    this.count++
    if (this.count >= this.config.slowSpan) {
      const diff = this.fast - this.slow
      const sign = diff > 0 ? 1 : diff < 0 ? -1 : 0
      if (sign !== 0) {
        if (this.sign !== 0 && sign !== this.sign) bits |= sign > 0 ? SignalBits.CROSS_UP : SignalBits.CROSS_DOWN
        this.sign = sign
      }
    }
    if (volatility !== null) {
      if (this.volCount === 0) this.baseline = volatility
      const threshold = this.config.breakoutRatio * this.baseline
      const isAbove = this.volCount >= this.config.minPoints && this.baseline > 0 && volatility > threshold ? 1 : 0
      if (isAbove === 1 && this.above === 0) bits |= SignalBits.BREAKOUT
      this.above = isAbove
      // The baseline the next tick compares with includes this value.
      this.previousBaseline = this.baseline
      if (this.volCount > 0) this.baseline += this.alphaBase * (volatility - this.baseline)
      this.volCount++
    }
    return bits
  }

  /** The baseline the last update compared against (for the breakout signal's fields). */
  previousBaseline = 0

  /** The state as numbers (bit-exact restore). */
  saveState(): Float64Array {
    return Float64Array.of(
      this.fast,
      this.slow,
      this.baseline,
      this.count,
      this.sign,
      this.volCount,
      this.above,
      this.previousBaseline,
    )
  }

  /** @throws TICKFLOW_ERR_INVALID_ARGUMENT for a state of the wrong size */
  static restore(config: SignalConfig, state: Float64Array): SymbolSignals {
    if (state.length !== STATE_SIZE) {
      throw new TickflowError(
        ErrorCodes.INVALID_ARGUMENT,
        `signal state has ${state.length} numbers, expected ${STATE_SIZE}`,
      )
    }
    const s = new SymbolSignals(config)
    s.fast = state[0]
    s.slow = state[1]
    s.baseline = state[2]
    s.count = state[3]
    s.sign = state[4]
    s.volCount = state[5]
    s.above = state[6]
    s.previousBaseline = state[7]
    return s
  }
}
