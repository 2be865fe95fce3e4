import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KeyedStats, type SummaryStats } from '../../../src/analytics/batch-stats.ts'
import { formatPriceTs } from '../../../src/bus/time.ts'
import { encodePriceTick } from '../../../src/bus/topics/index.ts'
import { createPriceGenerator } from '../../../src/feeds/synthetic-prices.ts'
import { PriceAccumulator, type Outlier } from '../../../src/stream/stats/accumulator.ts'

const T0 = Date.UTC(2024, 2, 1, 9, 30)

interface Row {
  value: Buffer | null
  partition: number
  offset: bigint
  /** What the row means, decided by the test when it made it: undefined for an invalid row. */
  tick?: { tsMs: number; symbol: string; price: number }
}

/** Two-pass statistics (ddof = 1) of the prices of each symbol. */
function reference(
  rows: Row[],
): Map<string, { count: number; min: number; max: number; mean: number; std: number | null; prices: number[] }> {
  const bySymbol = new Map<string, number[]>()
  for (const r of rows) {
    if (r.tick === undefined) continue
    const list = bySymbol.get(r.tick.symbol)
    if (list === undefined) bySymbol.set(r.tick.symbol, [r.tick.price])
    else list.push(r.tick.price)
  }
  const out = new Map()
  for (const [symbol, prices] of bySymbol) {
    const mean = prices.reduce((a, x) => a + x, 0) / prices.length
    const ss = prices.reduce((a, x) => a + (x - mean) ** 2, 0)
    out.set(symbol, {
      count: prices.length,
      min: Math.min(...prices),
      max: Math.max(...prices),
      mean,
      std: prices.length < 2 ? null : Math.sqrt(ss / (prices.length - 1)),
      prices,
    })
  }
  return out
}

function close(actual: number | null, expected: number | null, what: string): void {
  if (expected === null || actual === null) {
    assert.equal(actual, expected, what)
    return
  }
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.abs(expected), `${what}: ${actual} vs ${expected}`)
}

function checkSummaries(summaries: Record<string, SummaryStats>, rows: Row[]): void {
  const ref = reference(rows)
  assert.deepEqual(Object.keys(summaries).sort(), [...ref.keys()].sort())
  for (const [symbol, r] of ref) {
    const s = summaries[symbol]
    assert.equal(s.count, r.count, symbol)
    assert.equal(s.min, r.min, symbol)
    assert.equal(s.max, r.max, symbol)
    close(s.mean, r.mean, `${symbol} mean`)
    close(s.std, r.std, `${symbol} std`)
  }
}

/** Outliers as the test defines them: |x − mean| > k·std with the two-pass mean and std. */
function referenceOutliers(rows: Row[], k: number): string[] {
  const ref = reference(rows)
  return rows
    .filter((r) => {
      if (r.tick === undefined) return false
      const { mean, std } = ref.get(r.tick.symbol)!
      return std !== null && std > 0 && Math.abs(r.tick.price - mean) > k * std
    })
    .map((r) => `${formatPriceTs(r.tick!.tsMs)}|${r.tick!.symbol}|${r.tick!.price}|${r.partition}|${r.offset}`)
    .sort()
}

const keyOf = (o: Outlier): string => `${o.ts}|${o.symbol}|${o.price}|${o.partition}|${o.offset}`

function canonicalRow(partition: number, offset: number, tsMs: number, symbol: string, price: number): Row {
  return {
    value: Buffer.from(encodePriceTick({ ts: formatPriceTs(tsMs), symbol, price })),
    partition,
    offset: BigInt(offset),
    tick: { tsMs, symbol, price },
  }
}

/**
 * Generated ticks in canonical form, with a few injected extremes, plus the valid layouts the fast
 * path declines and invalid records, spread over three partitions.
 */
function makeRows(): Row[] {
  let t = T0
  const gen = createPriceGenerator({
    seed: 'accumulator',
    symbols: ['AAPL', 'MSFT', 'BTC-USD', 'Z'],
    clock: () => (t += 250),
  })
  const rows: Row[] = []
  const next = [0, 0, 0]
  const push = (partition: number, make: (offset: number) => Row) => rows.push(make(next[partition]++))
  for (let i = 0; i < 6000; i++) {
    const tick = gen.next()
    let price = tick.price
    if (i % 997 === 500) price = Math.round(price * 150) / 100 // an extreme, on the cent grid
    push(i % 3, (o) => canonicalRow(i % 3, o, t, tick.symbol, price))
  }
  const ts = (ms: number) => formatPriceTs(ms)
  const valid = (partition: number, text: string, tsMs: number, symbol: string, price: number) =>
    push(partition, (offset) => ({
      value: Buffer.from(text),
      partition,
      offset: BigInt(offset),
      tick: { tsMs, symbol, price },
    }))
  // Valid, but not the canonical layout: the slow path reads them, and they count.
  valid(0, `{ "ts": "${ts(T0 + 1)}", "symbol": "AAPL", "price": 190.5 }`, T0 + 1, 'AAPL', 190.5)
  valid(1, `{"symbol":"MSFT","price":411.25,"ts":"${ts(T0 + 2)}"}`, T0 + 2, 'MSFT', 411.25)
  valid(2, `{"ts":"${ts(T0 + 3)}","symbol":"\\u0041APL","price":1.9e2}`, T0 + 3, 'AAPL', 190)
  valid(0, `{"ts":"${ts(T0 + 4)}","symbol":"Z","price":42,"venue":"X"}\n`, T0 + 4, 'Z', 42)
  valid(1, `{"ts":"${ts(T0 + 5)}","symbol":"caf\u00e9","price":3.5}`, T0 + 5, 'caf\u00e9', 3.5)
  valid(2, `{"ts":"${ts(T0 + 6)}","symbol":"caf\u00e9","price":4.5}`, T0 + 6, 'caf\u00e9', 4.5)
  // Symbols that are also names of Object.prototype members are symbols like any other.
  for (const [i, symbol] of ['__proto__', 'constructor', 'toString', '__proto__'].entries()) {
    push(i % 3, (o) => canonicalRow(i % 3, o, T0 + 10 + i, symbol, 10 + i))
  }
  // Invalid records.
  const invalid = (partition: number, value: Buffer | null) =>
    push(partition, (offset) => ({ value, partition, offset: BigInt(offset) }))
  invalid(0, Buffer.from('not json'))
  invalid(1, Buffer.from(`{"ts":"${ts(T0)}","symbol":"AAPL"}`))
  invalid(2, Buffer.from(`{"ts":"2023-02-29 00:00:00.000","symbol":"AAPL","price":1}`))
  invalid(0, Buffer.from(`{"ts":"${ts(T0)}","symbol":"AAPL","price":-1}`))
  invalid(1, Buffer.from(`{"ts":"${ts(T0)}","symbol":"AAPL","price":0}`))
  invalid(2, Buffer.from(`{"ts":"${ts(T0)}","symbol":"","price":1}`))
  invalid(0, Buffer.from(`{"ts":"${ts(T0)}","symbol":"AAPL","price":"1"}`))
  invalid(1, null)
  invalid(2, Buffer.from([0xff, 0xfe]))
  return rows
}

test('the accumulator counts every record and gives the statistics of the valid ones', () => {
  const rows = makeRows()
  for (const budget of [0, 10, 1_000_000]) {
    const acc = new PriceAccumulator(budget)
    for (const r of rows) acc.add(r.value, r.partition, r.offset)
    assert.equal(acc.count, rows.length)
    assert.equal(acc.invalid, 9)
    assert.deepEqual(
      acc.invalidExamples.map((e) => [e.partition, e.offset]),
      rows.filter((r) => r.tick === undefined).map((r) => [r.partition, String(r.offset)]),
    )
    for (const e of acc.invalidExamples) assert.ok(e.reason.length > 0)
    const summaries = acc.stats().summary()
    checkSummaries(summaries, rows)
    assert.equal(summaries['__proto__'].count, 2)
    assert.equal(Object.getPrototypeOf(summaries), Object.prototype, 'summary is a plain object')
    assert.equal(summaries['constructor'].count, 1)
    assert.equal(acc.cacheComplete, budget >= rows.length)
  }
})

test('outliers from the column cache equal those of a second read, and the reference', () => {
  const rows = makeRows()
  const full = new PriceAccumulator(1_000_000)
  const none = new PriceAccumulator(0)
  for (const r of rows) {
    full.add(r.value, r.partition, r.offset)
    none.add(r.value, r.partition, r.offset)
  }
  assert.equal(full.cacheComplete, true)
  assert.equal(none.cacheComplete, false)
  const summaries = full.stats().summary()
  assert.deepEqual(none.stats().summary(), summaries)
  for (const k of [3, 2, 1]) {
    const cached = full.cachedOutliers(summaries, k)
    const reread: Outlier[] = []
    for (const r of rows) {
      const o = none.outlierOf(r.value, summaries, k, r.partition, r.offset)
      if (o !== undefined) reread.push(o)
    }
    assert.deepEqual(cached, reread, `k = ${k}`)
    const want = referenceOutliers(rows, k)
    assert.deepEqual(cached.map(keyOf).sort(), want, `k = ${k}`)
    if (k === 3) assert.ok(want.length >= 6, `the injected extremes are outliers (${want.length})`)
  }
})

test('the cache holds exactly its budget of valid rows, and is dropped past it', () => {
  const rows = Array.from({ length: 70_000 }, (_, i) =>
    canonicalRow(i % 2, i >> 1, T0 + i, i % 5 === 0 ? 'A' : 'B', i === 12_345 ? 1000 : 10 + (i % 7) / 100),
  )
  const invalid: Row = { value: Buffer.from('{}'), partition: 0, offset: 99_999n }
  const exact = new PriceAccumulator(rows.length)
  for (const r of rows) exact.add(r.value, r.partition, r.offset)
  exact.add(invalid.value, invalid.partition, invalid.offset) // not cached, so still complete
  assert.equal(exact.cacheComplete, true)
  const summaries = exact.stats().summary()
  const outliers = exact.cachedOutliers(summaries, 3)
  assert.deepEqual(outliers.map(keyOf).sort(), referenceOutliers(rows, 3))
  assert.ok(outliers.some((o) => o.price === 1000))
  // Offsets past 2^32 survive the cache.
  const big = new PriceAccumulator(10)
  big.add(rows[0].value, 7, 2n ** 40n + 3n)
  big.add(Buffer.from(encodePriceTick({ ts: formatPriceTs(T0), symbol: 'A', price: 1e6 })), 7, 2n ** 40n + 4n)
  big.add(Buffer.from(encodePriceTick({ ts: formatPriceTs(T0), symbol: 'A', price: 10 })), 7, 2n ** 40n + 5n)
  assert.deepEqual(
    big.cachedOutliers(big.stats().summary(), 1).map((o) => [o.partition, o.offset, o.price]),
    [[7, String(2n ** 40n + 4n), 1e6]],
  )

  const over = new PriceAccumulator(rows.length - 1)
  for (const r of rows) over.add(r.value, r.partition, r.offset)
  assert.equal(over.cacheComplete, false)
  assert.deepEqual(over.stats().summary(), summaries)
})

test('invalid examples are capped, the count is not', () => {
  const acc = new PriceAccumulator(100)
  for (let i = 0; i < 500; i++) acc.add(Buffer.from(`bad ${i}`), i % 4, BigInt(i))
  acc.add(Buffer.from(encodePriceTick({ ts: formatPriceTs(T0), symbol: 'A', price: 1 })), 0, 500n)
  assert.equal(acc.count, 501)
  assert.equal(acc.invalid, 500)
  assert.ok(acc.invalidExamples.length > 0 && acc.invalidExamples.length < 500)
  assert.deepEqual(acc.invalidExamples[0], { partition: 0, offset: '0', reason: acc.invalidExamples[0].reason })
  assert.deepEqual(acc.stats().summary(), { A: { count: 1, min: 1, max: 1, mean: 1, std: null } })
  // Partials merge like KeyedStats: the accumulator's are the ones its job merges.
  const merged = new KeyedStats().merge(acc.stats()).merge(acc.stats()).summary()
  assert.equal(merged.A.count, 2)
  assert.equal(merged.A.std, 0)
})
