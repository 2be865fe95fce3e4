/**
 * Synthetic ticks for the `prices` topic, deterministic from the seed, options and clock readings.
 * Each tick draws a symbol uniformly, then a price: model `normal` (default) N(mean, sd) per tick;
 * model `gbm` p ← p·exp((μ − σ²/2)·dt + σ·√dt·Z) from the symbol's mean, one step per tick of that
 * symbol. Parameters ({@link symbolParams}) come from a table or a hash of the name, never the seed.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import { Random } from './random.ts'
import type { Seed } from './random.ts'
import { formatPriceTs } from '../bus/time.ts'
import type { PriceTick } from '../bus/topics/index.ts'

/** The price models. */
export type PriceModel = 'normal' | 'gbm'

/** A symbol's parameters: `normal` mean and sd; `gbm` starts at mean, annualised drift μ and vol σ. */
export interface SymbolParams {
  mean: number
  sd: number
  drift: number
  vol: number
}

/** The symbols a feed publishes when none are configured. */
export const DEFAULT_SYMBOLS: readonly string[] = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'TSLA']

/** The default `tickMs`: each symbol tick advances that symbol's gbm path by one second. */
export const DEFAULT_TICK_MS = 1000

/** 252 sessions of 6.5 h in ms; a gbm step is dt = tickMs / TRADING_YEAR_MS (an equity-year fraction). */
export const TRADING_YEAR_MS = 252 * 6.5 * 3600 * 1000

/** The smallest price a tick carries. */
export const MIN_PRICE = 0.01

// Realistic levels (mid-2020s) and typical annualised drift/volatility. sd is the spread of the
// `normal` model, 1–4% of the mean.
const KNOWN_SYMBOLS = new Map<string, SymbolParams>([
  ['AAPL', { mean: 190, sd: 3.5, drift: 0.08, vol: 0.28 }],
  ['MSFT', { mean: 410, sd: 6, drift: 0.1, vol: 0.25 }],
  ['GOOG', { mean: 165, sd: 3, drift: 0.08, vol: 0.3 }],
  ['AMZN', { mean: 185, sd: 4, drift: 0.09, vol: 0.33 }],
  ['TSLA', { mean: 240, sd: 7.5, drift: 0.05, vol: 0.6 }],
  ['NVDA', { mean: 120, sd: 3.6, drift: 0.15, vol: 0.55 }],
  ['META', { mean: 500, sd: 10, drift: 0.1, vol: 0.38 }],
  ['IBM', { mean: 190, sd: 2.5, drift: 0.04, vol: 0.22 }],
  ['NFLX', { mean: 650, sd: 13, drift: 0.08, vol: 0.4 }],
  ['JPM', { mean: 200, sd: 3, drift: 0.06, vol: 0.24 }],
  ['BTC-USD', { mean: 60000, sd: 1800, drift: 0.2, vol: 0.6 }],
  ['ETH-USD', { mean: 3000, sd: 105, drift: 0.15, vol: 0.75 }],
])

/**
 * Parameters of `symbol` (case-sensitive): table values, else derived from a hash of the name: mean
 * log-uniform in [10, 500), sd 1–3% of it, drift −5%…+15% and vol 20–60% a year.
 */
export function symbolParams(symbol: string): SymbolParams {
  const known = KNOWN_SYMBOLS.get(symbol)
  if (known !== undefined) return { ...known }
  // A generator seeded by the name only: deterministic per symbol, independent of the feed seed.
  const r = new Random(`tickflow:symbol:${symbol}`)
  const mean = round2(10 * 50 ** r.next())
  const sd = mean * (0.01 + 0.02 * r.next())
  const drift = -0.05 + 0.2 * r.next()
  const vol = 0.2 + 0.4 * r.next()
  return { mean, sd, drift, vol }
}

/** Rounds to two decimals, half away from zero (on x·100). */
export function round2(x: number): number {
  return x < 0 ? -Math.round(-x * 100) / 100 : Math.round(x * 100) / 100
}

/** Options of {@link createPriceGenerator}. */
export interface PriceGeneratorOptions {
  /** Default {@link DEFAULT_SYMBOLS}. */
  symbols?: readonly string[]
  /** Default `normal`. */
  model?: PriceModel
  seed: Seed
  /** Epoch ms for `ts`, read once per tick. */
  clock: () => number
  /** How far one tick moves its symbol's gbm path; default {@link DEFAULT_TICK_MS}. */
  tickMs?: number
}

/** A source of price ticks. */
export interface PriceGenerator {
  next(): PriceTick
}

function invalid(message: string): TickflowError {
  return new TickflowError(ErrorCodes.INVALID_CONFIG, message)
}

function checkSymbols(symbols: readonly string[]): string[] {
  if (!Array.isArray(symbols) || symbols.length === 0) throw invalid('price generator needs at least one symbol')
  const seen = new Set<string>()
  for (const s of symbols) {
    if (typeof s !== 'string' || s.length === 0) throw invalid('price generator symbols must be non-empty strings')
    // A repeated symbol would get two independent gbm paths under one name.
    if (seen.has(s)) throw invalid(`price generator symbol ${JSON.stringify(s)} is listed twice`)
    seen.add(s)
  }
  return [...symbols]
}

/** @throws TICKFLOW_ERR_INVALID_CONFIG on empty or repeated symbols, an unknown model, a bad tickMs */
export function createPriceGenerator(options: PriceGeneratorOptions): PriceGenerator {
  const symbols = checkSymbols(options.symbols ?? DEFAULT_SYMBOLS)
  const model = options.model ?? 'normal'
  const tickMs = options.tickMs ?? DEFAULT_TICK_MS
  const clock = options.clock
  if (model !== 'normal' && model !== 'gbm') throw invalid(`unknown price model ${JSON.stringify(model)}`)
  if (!(tickMs > 0 && Number.isFinite(tickMs))) throw invalid(`tickMs must be a positive number, got ${tickMs}`)
  if (typeof clock !== 'function') throw invalid('price generator needs a clock')
  const rng = new Random(options.seed)
  const n = symbols.length
  const params = symbols.map(symbolParams)

  if (model === 'normal') {
    const means = Float64Array.from(params, (p) => p.mean)
    const sds = Float64Array.from(params, (p) => p.sd)
    return {
      next(): PriceTick {
        const i = Math.floor(rng.next() * n)
        // Clamped, not resampled: with sd ≤ 4% of the mean, a draw below 0.01 is a 25σ event.
        const price = Math.max(MIN_PRICE, round2(means[i] + sds[i] * rng.normal()))
        return { ts: formatPriceTs(clock()), symbol: symbols[i], price }
      },
    }
  }

  const dt = tickMs / TRADING_YEAR_MS
  // The path is kept unrounded; only the published price is rounded.
  const paths = Float64Array.from(params, (p) => p.mean)
  const drifts = Float64Array.from(params, (p) => (p.drift - (p.vol * p.vol) / 2) * dt)
  const shocks = Float64Array.from(params, (p) => p.vol * Math.sqrt(dt))
  return {
    next(): PriceTick {
      const i = Math.floor(rng.next() * n)
      const p = paths[i] * Math.exp(drifts[i] + shocks[i] * rng.normal())
      paths[i] = p
      return { ts: formatPriceTs(clock()), symbol: symbols[i], price: Math.max(MIN_PRICE, round2(p)) }
    },
  }
}

// Timestamps: `yyyy-mm-dd hh:mm:ss.fff`, UTC, proleptic Gregorian, years 0000–9999.
