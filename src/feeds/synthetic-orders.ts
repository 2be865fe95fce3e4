/**
 * Synthetic orders for the `orders` topic, deterministic from the seed, options and clock readings.
 * Every order is a new GTC limit order: instrument, side and trader uniform, quantity 1–100 skewed
 * small, price on the tick grid around a drifting mid so that about 30% cross (see
 * {@link createOrderGenerator}).
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import { Random } from './random.ts'
import type { Seed } from './random.ts'
import { formatOrderTs } from '../bus/time.ts'
import type { Order, OrderSide } from '../bus/topics/index.ts'

/** An order as the generator makes it: every optional field is set. */
export type GeneratedOrder = Required<Order>

/** Default instruments (NSE large caps). */
export const DEFAULT_INSTRUMENTS: readonly string[] = ['TCS', 'INFY', 'RELIANCE', 'HDFCBANK', 'WIPRO']

/** Default traders: T001 … T020. */
export const DEFAULT_TRADERS: readonly string[] = Array.from(
  { length: 20 },
  (_, i) => `T${String(i + 1).padStart(3, '0')}`,
)

/** Default first order id. */
export const DEFAULT_START_ID = 1_000_001

// Every instrument's price grid, in hundredths: 0.05, the NSE equity tick.
const TICK_CENTS = 5

/** An instrument's starting mid price and tick (every order price is a multiple of the tick). */
export interface InstrumentParams {
  mid: number
  tickSize: number
}

// Starting mid prices in INR, roughly at mid-2020s levels.
const KNOWN_INSTRUMENTS = new Map<string, number>([
  ['TCS', 3500],
  ['INFY', 1500],
  ['RELIANCE', 2900],
  ['HDFCBANK', 1600],
  ['WIPRO', 480],
  ['ITC', 430],
  ['SBIN', 780],
  ['ICICIBANK', 1100],
])

/** Table mid for common names, else log-uniform in [50, 2000) from a hash of the name, on the tick. */
export function instrumentParams(instrument: string): InstrumentParams {
  let mid = KNOWN_INSTRUMENTS.get(instrument)
  if (mid === undefined) {
    const r = new Random(`tickflow:instrument:${instrument}`)
    mid = (Math.round((50 * 40 ** r.next() * 100) / TICK_CENTS) * TICK_CENTS) / 100
  }
  return { mid, tickSize: TICK_CENTS / 100 }
}

// Per-order relative step of an instrument's mid (a log random walk, so the mid stays positive).
const MID_STEP = 0.0002
// Orders are priced at mid ∓ SKEW·w + w·Z, with w = OFFSET_SCALE·mid (at least 2 ticks).
const OFFSET_SCALE = 0.0005
const SKEW = 0.4
// Sizes traders like to round to; the rest are log-uniform on 1…100.
const ROUND_LOTS = [10, 20, 25, 50, 100]

/** Options of {@link createOrderGenerator}. */
export interface OrderGeneratorOptions {
  instruments?: readonly string[]
  traders?: readonly string[]
  seed: Seed
  /** The first id; ids then increase by one. */
  startId?: number
  /** Epoch ms for `order_timestamp`, read once per order. */
  clock: () => number
}

/** A source of orders. */
export interface OrderGenerator {
  next(): GeneratedOrder
}

function invalid(message: string): TickflowError {
  return new TickflowError(ErrorCodes.INVALID_CONFIG, message)
}

function checkNames(what: string, names: readonly string[]): string[] {
  if (!Array.isArray(names) || names.length === 0) throw invalid(`order generator needs at least one ${what}`)
  const seen = new Set<string>()
  for (const name of names) {
    if (typeof name !== 'string' || name.length === 0) {
      throw invalid(`order generator ${what}s must be non-empty strings`)
    }
    if (seen.has(name)) throw invalid(`order generator ${what} ${JSON.stringify(name)} is listed twice`)
    seen.add(name)
  }
  return [...names]
}

/**
 * Creates an order generator. Each instrument's mid follows a log random walk (0.02% per order of
 * it); a BUY is priced mid − 0.4·w + w·Z, a SELL mid + 0.4·w + w·Z, with w = 0.05% of the mid (≥ 2
 * ticks), rounded to the tick (≥ 1 tick). An order *crosses* when it is a BUY at or above the last
 * SELL of its instrument, or a SELL at or below the last BUY: at one mid, BUY − SELL ~ N(−0.8w, 2w²),
 * so P(cross) = Φ(−0.8/√2) ≈ 29%, plus a little for ties on the tick grid. Tests hold it to 20–40%.
 * @throws TICKFLOW_ERR_INVALID_CONFIG on empty or repeated instruments or traders, or a bad startId
 */
export function createOrderGenerator(options: OrderGeneratorOptions): OrderGenerator {
  const instruments = checkNames('instrument', options.instruments ?? DEFAULT_INSTRUMENTS)
  const traders = checkNames('trader', options.traders ?? DEFAULT_TRADERS)
  const startId = options.startId ?? DEFAULT_START_ID
  const clock = options.clock
  if (!Number.isSafeInteger(startId) || startId < 0) {
    throw invalid(`startId must be a non-negative safe integer, got ${startId}`)
  }
  if (typeof clock !== 'function') throw invalid('order generator needs a clock')
  const rng = new Random(options.seed)
  const mids = Float64Array.from(instruments, (name) => instrumentParams(name).mid)
  const n = instruments.length
  let nextId = startId

  return {
    next(): GeneratedOrder {
      if (nextId > Number.MAX_SAFE_INTEGER) {
        throw invalid('order ids exhausted the safe integer range')
      }
      const i = Math.floor(rng.next() * n)
      const mid = mids[i] * Math.exp(MID_STEP * rng.normal())
      mids[i] = mid
      const side: OrderSide = rng.next() < 0.5 ? 'BUY' : 'SELL'
      const w = Math.max(OFFSET_SCALE * mid, (2 * TICK_CENTS) / 100)
      const raw = mid + (side === 'BUY' ? -SKEW : SKEW) * w + w * rng.normal()
      // Whole ticks, then one division: k·5/100 is the double nearest the decimal price, never
      // 15.000000000000002 as k·0.05 can be.
      const ticks = Math.max(1, Math.round((raw * 100) / TICK_CENTS))
      const price = (ticks * TICK_CENTS) / 100
      const quantity = rng.next() < 0.15 ? rng.pick(ROUND_LOTS) : Math.floor(101 ** rng.next())
      return {
        id: nextId++,
        instrument: instruments[i],
        trxn_type: side,
        quantity,
        price,
        order_timestamp: formatOrderTs(clock()),
        trader: rng.pick(traders),
        type: 'limit',
        tif: 'GTC',
        action: 'new',
      }
    },
  }
}
