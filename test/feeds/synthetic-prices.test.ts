import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import {
  DEFAULT_SYMBOLS,
  MIN_PRICE,
  TRADING_YEAR_MS,
  createPriceGenerator,
  round2,
  symbolParams,
} from '../../src/feeds/synthetic-prices.ts'
import type { PriceGeneratorOptions } from '../../src/feeds/synthetic-prices.ts'
import { parsePriceTs } from '../../src/bus/time.ts'
import type { PriceTick } from '../../src/bus/topics/index.ts'

const T0 = Date.UTC(2021, 2, 10, 16, 21, 32)

/** A clock that advances `step` ms per reading. */
function steppingClock(step = 7, start = T0): () => number {
  let t = start - step
  return () => (t += step)
}

function take(options: Partial<PriceGeneratorOptions>, n: number): PriceTick[] {
  const gen = createPriceGenerator({ seed: 1, clock: steppingClock(), ...options })
  return Array.from({ length: n }, () => gen.next())
}

/** Per-symbol sample mean and std (ddof = 1) of `values`. */
function meanStd(values: number[]): { mean: number; std: number } {
  const mean = values.reduce((a, x) => a + x, 0) / values.length
  const ss = values.reduce((a, x) => a + (x - mean) ** 2, 0)
  return { mean, std: Math.sqrt(ss / (values.length - 1)) }
}

function bySymbol(ticks: PriceTick[]): Map<string, number[]> {
  const out = new Map<string, number[]>()
  for (const t of ticks) {
    const list = out.get(t.symbol)
    if (list === undefined) out.set(t.symbol, [t.price])
    else list.push(t.price)
  }
  return out
}

test('defaults: five symbols, normal model', () => {
  assert.deepEqual(DEFAULT_SYMBOLS, ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'TSLA'])
  const ticks = take({}, 5000)
  assert.deepEqual([...bySymbol(ticks).keys()].sort(), [...DEFAULT_SYMBOLS].sort())
  assert.deepEqual(take({}, 100), take({ model: 'normal', symbols: DEFAULT_SYMBOLS }, 100))
})

test('same seed, same ticks; another seed, other ticks', () => {
  for (const model of ['normal', 'gbm'] as const) {
    const a = take({ model, seed: 'run-1' }, 2000)
    assert.deepEqual(a, take({ model, seed: 'run-1' }, 2000))
    assert.notDeepEqual(a, take({ model, seed: 'run-2' }, 2000))
    const prices = (ticks: PriceTick[]) => ticks.map((t) => t.price)
    assert.notDeepEqual(prices(a), prices(take({ model, seed: 'run-2' }, 2000)))
  }
})

test('ticks carry the clock reading, read once per tick, and two-decimal positive prices', () => {
  let calls = 0
  const clock = () => T0 + 250 * calls++
  const gen = createPriceGenerator({ seed: 3, clock, symbols: ['AAPL', 'BTC-USD', 'PENNY'] })
  for (let i = 0; i < 1000; i++) {
    const tick = gen.next()
    assert.equal(calls, i + 1)
    assert.equal(parsePriceTs(tick.ts), T0 + 250 * i)
    assert.ok(tick.price >= MIN_PRICE)
    assert.equal(tick.price, round2(tick.price))
  }
})

test('symbols are drawn uniformly', () => {
  const symbols = ['A', 'B', 'C', 'D', 'E', 'F', 'G', 'H']
  const counts = bySymbol(take({ symbols }, 80_000))
  assert.equal(counts.size, symbols.length)
  for (const [s, list] of counts) assert.ok(Math.abs(list.length - 10_000) < 450, `${s}: ${list.length}`)
})

test('normal model: per-symbol sample mean and std match the parameters over 200k ticks', () => {
  const symbols = [...DEFAULT_SYMBOLS, 'BTC-USD', 'ZZTOP']
  const groups = bySymbol(take({ symbols, seed: 'normal-model' }, 200_000))
  for (const symbol of symbols) {
    const { mean, sd } = symbolParams(symbol)
    const values = groups.get(symbol) as number[]
    const stats = meanStd(values)
    // ~28k values each: the standard error of the mean is sd/168, of the std sd/238.
    assert.ok(Math.abs(stats.mean - mean) < (4 * sd) / Math.sqrt(values.length), `${symbol} mean ${stats.mean}`)
    assert.ok(Math.abs(stats.std / sd - 1) < 0.02, `${symbol} std ${stats.std} vs ${sd}`)
  }
})

test('gbm: starts at the mean, stays positive, log-returns have vol·√dt', () => {
  const tickMs = 3_600_000 // one trading hour per symbol tick: steps well above the 0.01 grid
  const dt = tickMs / TRADING_YEAR_MS
  const symbols = [...DEFAULT_SYMBOLS, 'NVDA', 'QQQX']
  const groups = bySymbol(take({ symbols, model: 'gbm', tickMs, seed: 'gbm' }, 200_000))
  for (const symbol of symbols) {
    const { mean, vol } = symbolParams(symbol)
    const prices = groups.get(symbol) as number[]
    assert.ok(
      prices.every((p) => p > 0),
      symbol,
    )
    assert.ok(Math.abs(Math.log(prices[0] / mean)) < 5 * vol * Math.sqrt(dt), `${symbol} starts at ${prices[0]}`)
    const returns = prices.slice(1).map((p, i) => Math.log(p / prices[i]))
    const { std } = meanStd(returns)
    assert.ok(Math.abs(std / (vol * Math.sqrt(dt)) - 1) < 0.03, `${symbol} step std ${std}`)
  }
})

test('gbm: default tickMs steps are small, and an extreme run never goes to zero', () => {
  const small = take({ model: 'gbm', symbols: ['AAPL'] }, 1000).map((t) => t.price)
  const maxStep = Math.max(...small.slice(1).map((p, i) => Math.abs(p - small[i])))
  assert.ok(maxStep < 0.5, `max step ${maxStep}`)
  // One trading year per tick at 60% vol: paths wander over many orders of magnitude.
  const wild = take({ model: 'gbm', symbols: ['TSLA', 'BTC-USD'], tickMs: TRADING_YEAR_MS }, 20_000)
  assert.ok(wild.every((t) => Number.isFinite(t.price) && t.price >= MIN_PRICE))
})

test('symbolParams: table values, hashed values in range, independent of any seed', () => {
  assert.deepEqual(symbolParams('AAPL'), { mean: 190, sd: 3.5, drift: 0.08, vol: 0.28 })
  const known = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'TSLA', 'NVDA', 'META', 'IBM', 'NFLX', 'JPM', 'BTC-USD', 'ETH-USD']
  for (const s of known) {
    const p = symbolParams(s)
    assert.ok(p.mean > 0 && p.sd > 0.01 * p.mean && p.sd < 0.04 * p.mean && p.vol > 0.1 && p.vol < 1, s)
  }
  // A caller mutating the result does not change the table.
  symbolParams('MSFT').mean = -1
  assert.equal(symbolParams('MSFT').mean, 410)

  const means = []
  for (let i = 0; i < 2000; i++) {
    const s = `SYM${i}`
    const p = symbolParams(s)
    assert.deepEqual(symbolParams(s), p, 'deterministic')
    assert.ok(p.mean >= 10 && p.mean <= 500, `${s} mean ${p.mean}`)
    assert.equal(p.mean, round2(p.mean))
    assert.ok(p.sd >= 0.01 * p.mean && p.sd <= 0.03 * p.mean, `${s} sd ${p.sd}`)
    assert.ok(p.vol >= 0.2 && p.vol <= 0.6, `${s} vol ${p.vol}`)
    assert.ok(p.drift >= -0.05 && p.drift <= 0.15, `${s} drift ${p.drift}`)
    means.push(p.mean)
  }
  assert.ok(new Set(means).size > 1500, 'symbols get different parameters')
  // Case-sensitive: 'aapl' is not the table's AAPL.
  assert.notDeepEqual(symbolParams('aapl'), symbolParams('AAPL'))
  // The feed seed has no say: the same unknown symbol centres on the same mean under any seed.
  for (const seed of [1, 2, 'x']) {
    const values = take({ symbols: ['QWERTY'], seed }, 4000).map((t) => t.price)
    assert.ok(Math.abs(meanStd(values).mean / symbolParams('QWERTY').mean - 1) < 0.005)
  }
})

test('round2', () => {
  assert.equal(round2(238.304), 238.3)
  assert.equal(round2(238.305001), 238.31)
  assert.equal(round2(0.125), 0.13)
  assert.equal(round2(-0.125), -0.13)
  assert.equal(round2(1e-9), 0)
  assert.equal(round2(42), 42)
  assert.equal(round2(59999.999), 60000)
})

test('createPriceGenerator validates its options', () => {
  const clock = steppingClock()
  const bad: Array<Partial<PriceGeneratorOptions>> = [
    { symbols: [] },
    { symbols: ['AAPL', 'AAPL'] },
    { symbols: ['AAPL', ''] },
    { model: 'lognormal' as 'gbm' },
    { tickMs: 0 },
    { tickMs: -1000 },
    { tickMs: NaN },
    { tickMs: Infinity },
    { clock: undefined },
  ]
  for (const options of bad) {
    assert.throws(
      () => createPriceGenerator({ seed: 1, clock, ...options }),
      { code: ErrorCodes.INVALID_CONFIG },
      JSON.stringify(options),
    )
  }
})
