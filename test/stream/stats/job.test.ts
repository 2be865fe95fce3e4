import assert from 'node:assert/strict'
import { test } from 'node:test'
import type { BusConfig } from '../../../src/bus/client.ts'
import { TopicWriter } from '../../../src/bus/producer.ts'
import { formatPriceTs } from '../../../src/bus/time.ts'
import { encodePriceTick } from '../../../src/bus/topics/index.ts'
import { createPriceGenerator } from '../../../src/feeds/synthetic-prices.ts'
import { runStatsJob, splitRanges, type StatsResult } from '../../../src/stream/stats/job.ts'
import { createTopic } from '../../helpers/admin.ts'
import { startTestBroker } from '../../helpers/broker.ts'

const T0 = Date.UTC(2024, 2, 1, 9, 30)

test('splitRanges spreads the records evenly and assigns every range once', () => {
  const range = (partition: number, size: number) => ({ partition, from: 1000n, to: 1000n + BigInt(size) })
  const load = (group: { from: bigint; to: bigint }[]) => group.reduce((a, r) => a + Number(r.to - r.from), 0)
  const cases = [
    [100, 90, 50, 40, 30, 10],
    [5, 5, 5, 5, 5, 5, 5],
    [1_000_000, 1, 1, 1],
    [7],
    [3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8, 9, 7, 9, 3, 2, 3, 8, 4, 6, 2, 6, 4, 3, 3, 8, 3, 2, 7, 9, 5],
  ]
  for (const sizes of cases) {
    const ranges = sizes.map((size, partition) => range(partition, size))
    for (const n of [1, 2, 3, 4, 8]) {
      const groups = splitRanges(ranges, n)
      assert.ok(groups.length === Math.min(n, ranges.length), `${sizes} into ${n}: ${groups.length} groups`)
      assert.ok(groups.every((g) => g.length > 0))
      const assigned = groups.flat().map((r) => r.partition)
      assert.deepEqual(
        assigned.slice().sort((a, b) => a - b),
        ranges.map((r) => r.partition),
        'every range exactly once',
      )
      // Greedy largest-first: the heaviest group exceeds the lightest by at most one range.
      const loads = groups.map(load)
      assert.ok(Math.max(...loads) - Math.min(...loads) <= Math.max(...sizes), `${sizes} into ${n}: ${loads}`)
      assert.equal(
        loads.reduce((a, b) => a + b, 0),
        sizes.reduce((a, b) => a + b, 0),
      )
    }
  }
  assert.deepEqual(splitRanges([range(0, 100), range(1, 90), range(2, 50), range(3, 40)], 2).map(load), [140, 140])
  assert.deepEqual(splitRanges([], 3), [])
})

interface Tick {
  ts: string
  symbol: string
  price: number
}

/** Two-pass statistics (ddof = 1) per symbol, and the outliers |x − mean| > k·std in ts order. */
function reference(ticks: Tick[], k: number) {
  const bySymbol = new Map<string, number[]>()
  for (const t of ticks) bySymbol.set(t.symbol, [...(bySymbol.get(t.symbol) ?? []), t.price])
  const stats = new Map<string, { count: number; min: number; max: number; mean: number; std: number | null }>()
  for (const [symbol, prices] of bySymbol) {
    const mean = prices.reduce((a, x) => a + x, 0) / prices.length
    const ss = prices.reduce((a, x) => a + (x - mean) ** 2, 0)
    stats.set(symbol, {
      count: prices.length,
      min: Math.min(...prices),
      max: Math.max(...prices),
      mean,
      std: prices.length < 2 ? null : Math.sqrt(ss / (prices.length - 1)),
    })
  }
  const outliers = ticks
    .filter((t) => {
      const s = stats.get(t.symbol)!
      return s.std !== null && s.std > 0 && Math.abs(t.price - s.mean) > k * s.std
    })
    .sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0))
  return { stats, outliers }
}

function close(actual: number | null, expected: number | null, what: string): void {
  if (expected === null || actual === null) {
    assert.equal(actual, expected, what)
    return
  }
  assert.ok(Math.abs(actual - expected) <= 1e-9 * Math.abs(expected), `${what}: ${actual} vs ${expected}`)
}

test('the stats job equals a two-pass computation, with one or two workers, with or without the cache', async (t) => {
  const broker = await startTestBroker(t)
  const bus: BusConfig = { bootstrapBrokers: [broker.address], clientId: 'stats-job-test' }
  const topic = 'prices'
  await createTopic(broker, topic, 3)

  // Valid ticks (each with its own ts), a few injected extremes, valid records in layouts the fast
  // path declines, and invalid records.
  let clock = T0
  const gen = createPriceGenerator({
    seed: 'stats-job',
    symbols: ['AAPL', 'MSFT', 'GOOG', 'ETH-USD'],
    clock: () => (clock += 10),
  })
  const valid: Tick[] = []
  const writer = new TopicWriter(bus, { topic, chunkSize: 2000 })
  for (let i = 0; i < 30_000; i++) {
    const tick = gen.next()
    if (i % 2999 === 1000) tick.price = Math.round(tick.price * (i % 2 === 0 ? 170 : 40)) / 100
    valid.push(tick)
    const wait = writer.write(tick.symbol, encodePriceTick(tick))
    if (wait !== undefined) await wait
  }
  const ts = (n: number) => formatPriceTs(clock + n)
  const odd: [string, Tick][] = [
    [`{ "ts": "${ts(1)}", "symbol": "AAPL", "price": 190.5 }`, { ts: ts(1), symbol: 'AAPL', price: 190.5 }],
    [`{"symbol":"MSFT","price":411.25,"ts":"${ts(2)}"}`, { ts: ts(2), symbol: 'MSFT', price: 411.25 }],
    [`{"ts":"${ts(3)}","symbol":"\\u0047OOG","price":1.5e2}`, { ts: ts(3), symbol: 'GOOG', price: 150 }],
    [
      `{"ts":"${ts(4)}","symbol":"ETH-USD","price":3000.125,"venue":"X"}\n`,
      { ts: ts(4), symbol: 'ETH-USD', price: 3000.125 },
    ],
    [`{"ts":"${ts(5)}","symbol":"AAPL","price":1e4}`, { ts: ts(5), symbol: 'AAPL', price: 10_000 }],
  ]
  for (const [text, tick] of odd) {
    writer.write(tick.symbol, text)
    valid.push(tick)
  }
  const invalid = [
    'not json',
    `{"ts":"${ts(6)}","symbol":"AAPL"}`,
    `{"ts":"2023-02-29 00:00:00.000","symbol":"AAPL","price":1}`,
    `{"ts":"${ts(7)}","symbol":"AAPL","price":-190}`,
    `{"ts":"${ts(8)}","symbol":"AAPL","price":0}`,
    `{"ts":"${ts(9)}","symbol":"MSFT","price":"411"}`,
    `{"ts":${clock},"symbol":"MSFT","price":411}`,
    '',
  ]
  for (const text of invalid) writer.write('AAPL', text)
  writer.writeMessage({ topic, key: Buffer.from('MSFT') }) // no value at all
  await writer.close()
  const total = valid.length + invalid.length + 1
  assert.equal(writer.acked, total)

  const k = 3
  const ref = reference(valid, k)
  assert.ok(ref.outliers.length >= 10, `outliers to find: ${ref.outliers.length}`)

  const results: { workers: number; cacheRecords: number; result: StatsResult }[] = []
  for (const [workers, cacheRecords] of [
    [1, 0],
    [1, 1_000_000],
    [2, 0],
    [2, 1_000_000],
    [3, 100], // a cache too small: each worker drops it and reads again
    [8, 1_000_000], // more workers than partitions
  ]) {
    const progress: [number, number][] = []
    const result = await runStatsJob({
      bus,
      topic,
      k,
      workers,
      cacheRecords,
      onProgress: (read, of) => progress.push([read, of]),
    })
    results.push({ workers, cacheRecords, result })
    const what = `workers ${workers}, cache ${cacheRecords}`
    assert.equal(result.topic, topic)
    assert.equal(result.count, total, what)
    assert.equal(result.invalid, invalid.length + 1, what)
    assert.equal(result.invalidExamples.length, invalid.length + 1, what)
    for (const e of result.invalidExamples) assert.ok(e.reason.length > 0 && Number(e.offset) >= 0)
    assert.equal(
      result.endOffsets.reduce((a, e) => a + Number(e), 0),
      total,
    )
    assert.deepEqual(Object.keys(result.symbols).sort(), [...ref.stats.keys()].sort(), what)
    for (const [symbol, s] of ref.stats) {
      const got = result.symbols[symbol]
      assert.equal(got.count, s.count, `${what} ${symbol}`)
      assert.equal(got.min, s.min, `${what} ${symbol}`)
      assert.equal(got.max, s.max, `${what} ${symbol}`)
      close(got.mean, s.mean, `${what} ${symbol} mean`)
      close(got.std, s.std, `${what} ${symbol} std`)
    }
    assert.deepEqual(
      result.outliers.map((o) => ({ ts: o.ts, symbol: o.symbol, price: o.price })),
      ref.outliers,
      what,
    )
    for (const [read, of] of progress) assert.ok(read <= of && of === total, `${what}: progress ${read} of ${of}`)
    if (workers === 1) assert.deepEqual(progress.at(-1), [total, total], what)
  }
  // The cache changes nothing; neither does the number of workers, beyond the last bits of mean and std.
  const [a, b, c, d, e, f] = results.map((r) => r.result)
  assert.deepEqual(b, a)
  assert.deepEqual(d, c)
  const stable = (r: StatsResult) => ({
    ...r,
    invalidExamples: r.invalidExamples.map((x) => `${x.partition}/${x.offset}/${x.reason}`).sort(),
    symbols: Object.fromEntries(
      Object.entries(r.symbols).map(([s, v]) => [s, { count: v.count, min: v.min, max: v.max }]),
    ),
  })
  for (const other of [c, e, f]) assert.deepEqual(stable(other), stable(a))
})

test('the stats job over an empty topic', async (t) => {
  const broker = await startTestBroker(t)
  const bus: BusConfig = { bootstrapBrokers: [broker.address], clientId: 'stats-job-test' }
  await createTopic(broker, 'empty', 2)
  for (const workers of [1, 2]) {
    const result = await runStatsJob({ bus, topic: 'empty', k: 3, workers, cacheRecords: 0 })
    assert.deepEqual(result, {
      topic: 'empty',
      count: 0,
      symbols: {},
      outliers: [],
      invalid: 0,
      invalidExamples: [],
      endOffsets: ['0', '0'],
    })
  }
})
