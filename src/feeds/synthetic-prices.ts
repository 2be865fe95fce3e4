/**
 * Synthetic ticks for the `prices` topic, deterministic from the seed, options and clock readings.
 * Each tick draws a symbol uniformly, then a price: model `normal` (default) N(mean, sd) per tick;
 * model `gbm` p ← p·exp((μ − σ²/2)·dt + σ·√dt·Z) from the symbol's mean, one step per tick of that
 * symbol. Parameters ({@link symbolParams}) come from a table or a hash of the name, never the seed.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import { Random } from './random.ts'
import type { Seed } from './random.ts'

/** One message of the `prices` topic: ts `yyyy-mm-dd hh:mm:ss.fff` UTC, price two decimals, > 0. */
export interface PriceTick {
  ts: string
  symbol: string
  price: number
}

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

const MS_PER_DAY = 86_400_000
const MIN_TS_MS = -62_167_219_200_000 // 0000-01-01 00:00:00.000
const MAX_TS_MS = 253_402_300_799_999 // 9999-12-31 23:59:59.999

const PAD2 = Array.from({ length: 100 }, (_, i) => String(i).padStart(2, '0'))
const PAD3 = Array.from({ length: 1000 }, (_, i) => String(i).padStart(3, '0'))

/** Days since 1970-01-01 of a civil date (Howard Hinnant's `days_from_civil`). */
function daysFromCivil(y: number, m: number, d: number): number {
  const yy = m <= 2 ? y - 1 : y
  const era = Math.floor(yy / 400)
  const yoe = yy - era * 400
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy
  return era * 146097 + doe - 719468
}

/** `yyyy-mm-dd` of a day number (Hinnant's `civil_from_days`). */
function civilDate(days: number): string {
  const z = days + 719468
  const era = Math.floor(z / 146097)
  const doe = z - era * 146097
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365)
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100))
  const mp = Math.floor((5 * doy + 2) / 153)
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1
  const m = mp < 10 ? mp + 3 : mp - 9
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0)
  return PAD2[Math.floor(y / 100)] + PAD2[y % 100] + '-' + PAD2[m] + '-' + PAD2[d]
}

// Feeds format runs of timestamps from the same second, so the `yyyy-mm-dd hh:mm:ss.` prefix of
// the last second (and the date of the last day) is cached; a hit costs one concatenation.
let cachedSecond = NaN
let cachedSecondPrefix = ''
let cachedDay = NaN
let cachedDayPrefix = ''

/**
 * Formats epoch ms as `yyyy-mm-dd hh:mm:ss.fff` UTC, truncating a fraction as `new Date(ms)` does.
 * @throws TICKFLOW_ERR_INVALID_ARGUMENT when `ms` is not finite or outside years 0000–9999
 */
export function formatPriceTs(ms: number): string {
  const t = Math.trunc(ms)
  if (!(t >= MIN_TS_MS && t <= MAX_TS_MS)) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `timestamp ${ms} is outside years 0000-9999`)
  }
  const second = Math.floor(t / 1000)
  const millis = t - second * 1000
  if (second !== cachedSecond) {
    const day = Math.floor(t / MS_PER_DAY)
    if (day !== cachedDay) {
      cachedDay = day
      cachedDayPrefix = civilDate(day) + ' '
    }
    const s = second - day * 86400
    const h = Math.floor(s / 3600)
    const mi = Math.floor((s - h * 3600) / 60)
    cachedSecondPrefix = cachedDayPrefix + PAD2[h] + ':' + PAD2[mi] + ':' + PAD2[s - h * 3600 - mi * 60] + '.'
    cachedSecond = second
  }
  return cachedSecondPrefix + PAD3[millis]
}

function readDigits(s: string, start: number, len: number): number {
  let v = 0
  for (let i = start; i < start + len; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    v = v * 10 + c
  }
  return v
}

const DAYS_IN_MONTH = [0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31]

function isLeapYear(y: number): boolean {
  return y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0)
}

/** Parses `yyyy-mm-dd hh:mm:ss.fff` UTC strictly (layout, digits, real date and time) to epoch ms. */
export function parsePriceTs(s: string): number | undefined {
  if (typeof s !== 'string' || s.length !== 23) return undefined
  if (
    s.charCodeAt(4) !== 0x2d || // -
    s.charCodeAt(7) !== 0x2d ||
    s.charCodeAt(10) !== 0x20 || // space
    s.charCodeAt(13) !== 0x3a || // :
    s.charCodeAt(16) !== 0x3a ||
    s.charCodeAt(19) !== 0x2e // .
  ) {
    return undefined
  }
  const y = readDigits(s, 0, 4)
  const m = readDigits(s, 5, 2)
  const d = readDigits(s, 8, 2)
  const h = readDigits(s, 11, 2)
  const mi = readDigits(s, 14, 2)
  const sec = readDigits(s, 17, 2)
  const ms = readDigits(s, 20, 3)
  if (y < 0 || m < 1 || m > 12 || d < 1 || h < 0 || h > 23 || mi < 0 || mi > 59 || sec < 0 || sec > 59 || ms < 0) {
    return undefined
  }
  if (d > (m === 2 && isLeapYear(y) ? 29 : DAYS_IN_MONTH[m])) return undefined
  return daysFromCivil(y, m, d) * MS_PER_DAY + h * 3_600_000 + mi * 60_000 + sec * 1000 + ms
}

// A character JSON must escape, or a surrogate (which may be unpaired).
function needsEscape(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i)
    if (c < 0x20 || c === 0x22 || c === 0x5c || (c >= 0xd800 && c <= 0xdfff)) return true
  }
  return false
}

function jsonString(s: string): string {
  return needsEscape(s) ? JSON.stringify(s) : '"' + s + '"'
}

/**
 * Encodes `{"ts":"…","symbol":"…","price":238.30}`: this key order, price with two decimals.
 * @throws TICKFLOW_ERR_INVALID_ARGUMENT when the price is not finite (it has no JSON form)
 */
export function encodePriceTick(tick: PriceTick): string {
  const price = tick.price
  if (!Number.isFinite(price)) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `price ${price} of ${tick.symbol} is not finite`)
  }
  return '{"ts":' + jsonString(tick.ts) + ',"symbol":' + jsonString(tick.symbol) + ',"price":' + price.toFixed(2) + '}'
}
