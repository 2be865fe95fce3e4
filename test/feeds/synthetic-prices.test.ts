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
import { formatPriceTs, parsePriceTs } from '../../src/bus/time.ts'
import { encodePriceTick } from '../../src/bus/topics/index.ts'
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

/** The reference formatting, via Date. */
function isoTs(ms: number): string {
  return new Date(ms).toISOString().replace('T', ' ').replace('Z', '')
}

test('formatPriceTs pads every field and handles leap days, epoch edges and years 0–9999', () => {
  assert.equal(formatPriceTs(T0), '2021-03-10 16:21:32.000')
  assert.equal(formatPriceTs(0), '1970-01-01 00:00:00.000')
  assert.equal(formatPriceTs(-1), '1969-12-31 23:59:59.999')
  assert.equal(formatPriceTs(Date.UTC(2024, 1, 29, 1, 2, 3, 4)), '2024-02-29 01:02:03.004')
  assert.equal(formatPriceTs(Date.UTC(2024, 1, 29, 23, 59, 59, 999) + 1), '2024-03-01 00:00:00.000')
  assert.equal(formatPriceTs(Date.UTC(2000, 1, 29, 12, 0, 0, 10)), '2000-02-29 12:00:00.010')
  assert.equal(formatPriceTs(Date.UTC(1900, 1, 28, 23, 59, 59, 100) + 900), '1900-03-01 00:00:00.000')
  assert.equal(formatPriceTs(Date.UTC(2023, 11, 31, 23, 59, 59, 999)), '2023-12-31 23:59:59.999')
  assert.equal(formatPriceTs(-62_167_219_200_000), '0000-01-01 00:00:00.000')
  assert.equal(formatPriceTs(253_402_300_799_999), '9999-12-31 23:59:59.999')
  // Fractions truncate toward zero, like new Date(ms).
  assert.equal(formatPriceTs(T0 + 999.9), '2021-03-10 16:21:32.999')
  assert.equal(formatPriceTs(-0.5), '1970-01-01 00:00:00.000')
})

test('formatPriceTs agrees with Date on random instants, in and out of its per-second cache', () => {
  let x = 12345
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32
  const span = 253_402_300_799_999 + 62_167_219_200_000
  for (let i = 0; i < 20_000; i++) {
    const ms = Math.floor(-62_167_219_200_000 + next() * span)
    assert.equal(formatPriceTs(ms), isoTs(ms))
    // Same second, then the same time of day on another day: the cache must not serve stale text.
    assert.equal(formatPriceTs(ms + 1), isoTs(ms + 1))
    const other = ms > 0 ? ms - 86_400_000 : ms + 86_400_000
    assert.equal(formatPriceTs(other), isoTs(other))
  }
  for (let ms = T0 - 5000; ms < T0 + 5000; ms += 3) assert.equal(formatPriceTs(ms), isoTs(ms))
})

test('formatPriceTs refuses what it cannot format', () => {
  for (const ms of [NaN, Infinity, -Infinity, -62_167_219_200_001, 253_402_300_800_000]) {
    assert.throws(() => formatPriceTs(ms), { code: ErrorCodes.INVALID_ARGUMENT }, String(ms))
  }
})

test('parsePriceTs is the exact inverse of formatPriceTs', () => {
  let x = 99
  const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0) / 2 ** 32
  for (let i = 0; i < 20_000; i++) {
    const ms = Math.floor(-62_167_219_200_000 + next() * (253_402_300_799_999 + 62_167_219_200_000))
    assert.equal(parsePriceTs(formatPriceTs(ms)), ms)
  }
  assert.equal(parsePriceTs('2021-03-10 16:21:32.000'), T0)
  assert.equal(parsePriceTs('2024-02-29 00:00:00.000'), Date.UTC(2024, 1, 29))
  assert.equal(parsePriceTs('2000-02-29 23:59:59.999'), Date.UTC(2000, 1, 29, 23, 59, 59, 999))
  // Year 0 is a leap year in the proleptic Gregorian calendar (Date.UTC would read 0 as 1900).
  assert.equal(parsePriceTs('0000-02-29 00:00:00.000'), Date.parse('0000-02-29T00:00:00.000Z'))
  assert.equal(parsePriceTs('1969-12-31 23:59:59.999'), -1)
})

test('parsePriceTs rejects malformed strings', () => {
  const bad = [
    '',
    '2021-03-10 16:21:32',
    '2021-03-10 16:21:32.00',
    '2021-03-10 16:21:32.0000',
    ' 2021-03-10 16:21:32.000',
    '2021-03-10T16:21:32.000',
    '2021/03/10 16:21:32.000',
    '2021-03-10 16-21-32.000',
    '2021-03-10 16:21:32,000',
    '2021-13-10 16:21:32.000',
    '2021-00-10 16:21:32.000',
    '2021-03-00 16:21:32.000',
    '2021-04-31 16:21:32.000',
    '2023-02-29 16:21:32.000',
    '1900-02-29 16:21:32.000',
    '2021-03-32 16:21:32.000',
    '2021-03-10 24:00:00.000',
    '2021-03-10 16:60:32.000',
    '2021-03-10 16:21:60.000',
    '2021-03-1a 16:21:32.000',
    'abcd-ef-gh ij:kl:mn.opq',
    '2021-03-10 16:21:32.-01',
    '2021-03-10 16:21:3 .000',
    '+021-03-10 16:21:32.000',
    '２０２１-03-10 16:21:32.000'.slice(0, 23),
    '2021-03-10 16:21:32.000Z',
  ]
  for (const s of bad) assert.equal(parsePriceTs(s), undefined, JSON.stringify(s))
  assert.equal(parsePriceTs(12345 as unknown as string), undefined)
})

test('encodePriceTick writes the exact wire form, and JSON.parse reads the same values back', () => {
  assert.equal(
    encodePriceTick({ ts: '2021-03-10 16:21:32.000', symbol: 'AAPL', price: 238.3 }),
    '{"ts":"2021-03-10 16:21:32.000","symbol":"AAPL","price":238.30}',
  )
  assert.equal(
    encodePriceTick({ ts: 'x', symbol: 'BTC-USD', price: 60000 }),
    '{"ts":"x","symbol":"BTC-USD","price":60000.00}',
  )
  assert.equal(encodePriceTick({ ts: 'x', symbol: 'P', price: 0.01 }), '{"ts":"x","symbol":"P","price":0.01}')
  for (const tick of [...take({}, 2000), ...take({ model: 'gbm', symbols: ['ETH-USD', 'X'] }, 2000)]) {
    assert.deepEqual(JSON.parse(encodePriceTick(tick)), tick)
  }
})

test('encodePriceTick escapes symbols (and ts) that need it', () => {
  for (const symbol of [
    'A"B',
    'back\\slash',
    'tab\there',
    'nl\n',
    '\u0000',
    'caf\u00e9',
    '\u{1f600}',
    '\ud800lone',
    'É"',
  ]) {
    const text = encodePriceTick({ ts: '2021-03-10 16:21:32.000', symbol, price: 1.5 })
    assert.deepEqual(JSON.parse(text), { ts: '2021-03-10 16:21:32.000', symbol, price: 1.5 })
    assert.ok(
      [...text].every((c) => c.charCodeAt(0) >= 0x20),
      'no raw control characters',
    )
  }
  assert.deepEqual(JSON.parse(encodePriceTick({ ts: 'a"b', symbol: 'S', price: 2 })), {
    ts: 'a"b',
    symbol: 'S',
    price: 2,
  })
})

test('encodePriceTick refuses a price JSON cannot carry', () => {
  for (const price of [NaN, Infinity, -Infinity]) {
    assert.throws(() => encodePriceTick({ ts: 't', symbol: 'S', price }), { code: ErrorCodes.INVALID_ARGUMENT })
  }
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
