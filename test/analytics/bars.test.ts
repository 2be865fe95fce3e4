/**
 * OHLCV bars against pandas: scripts/pandas/bars.py writes tick streams (arrival order, with ties,
 * window-boundary timestamps, out-of-order and late records) and the bars pandas computes for 1s, 1m
 * and 5m. Each stream is replayed here as the `analyze` processor does it — watermark before the
 * record decides lateness, then observe, then close — and every bar and late record must match.
 * Unit tests cover the rules one at a time, save/restore mid-stream, and state validation.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { BarAggregator, windowStart } from '../../src/analytics/bars.ts'
import type { Bar } from '../../src/analytics/bars.ts'
import { parseInterval } from '../../src/analytics/intervals.ts'
import type { BarInterval } from '../../src/analytics/intervals.ts'
import { ErrorCodes } from '../../src/errors.ts'
import { PartitionWatermark } from '../../src/stream/watermark.ts'

const REL = 1e-9
const M1 = parseInterval('1m')
const S1 = parseInterval('1s')

interface BarColumns {
  sym: number[]
  start: number[]
  open: number[]
  high: number[]
  low: number[]
  close: number[]
  volume: number[]
  trades: number[]
  vwap: number[]
}

interface Fixture {
  name: string
  allowedLatenessMs: number
  graceMs: number
  symbols: string[]
  ticks: { t0: number; dt: number[]; sym: number[]; price: number[]; qty: number[] }
  intervals: Array<{ interval: string; ms: number; late: number[]; bars: BarColumns }>
}

interface Tick {
  ts: number
  symbol: string
  price: number
  qty: number
}

function loadFixture(name: string): { fx: Fixture; ticks: Tick[] } {
  const url = new URL(`../fixtures/analytics/bars-${name}.json.gz`, import.meta.url)
  const fx = JSON.parse(gunzipSync(readFileSync(url)).toString('utf8')) as Fixture
  const { t0, dt, sym, price, qty } = fx.ticks
  const ticks: Tick[] = []
  let ts = t0
  for (let i = 0; i < dt.length; i++) {
    ts += dt[i]
    ticks.push({ ts, symbol: fx.symbols[sym[i]], price: price[i], qty: qty[i] })
  }
  return { fx, ticks }
}

interface Run {
  late: number[][]
  bars: Bar[][]
}

/**
 * Feeds `ticks` in arrival order: lateness under the watermark before the record, observe, close.
 * At each index in `cuts` every piece of state goes through JSON and is restored, as after a crash.
 */
function replay(
  ticks: readonly Tick[],
  intervals: readonly BarInterval[],
  latenessMs: number,
  graceMs: number,
  cuts: readonly number[] = [],
): Run {
  const config = { allowedLatenessMs: latenessMs, idleTimeoutMs: 0 }
  let wm = new PartitionWatermark(config)
  let aggs = intervals.map((iv) => new BarAggregator(iv, graceMs))
  const run: Run = { late: intervals.map(() => []), bars: intervals.map(() => []) }
  const cutSet = new Set(cuts)
  for (let i = 0; i < ticks.length; i++) {
    if (cutSet.has(i)) {
      const saved = JSON.parse(JSON.stringify({ wm: wm.saveState(), aggs: aggs.map((a) => a.saveState()) }))
      wm = PartitionWatermark.restore(config, saved.wm)
      aggs = intervals.map((iv, k) => BarAggregator.restore(iv, graceMs, saved.aggs[k]))
    }
    const t = ticks[i]
    const w = wm.current
    aggs.forEach((a, k) => {
      if (a.add(t.symbol, t.ts, t.price, t.qty, w) === 'late') run.late[k].push(i)
    })
    wm.observe(t.ts, 0)
    aggs.forEach((a, k) => run.bars[k].push(...a.closeUpTo(wm.current)))
  }
  aggs.forEach((a, k) => {
    run.bars[k].push(...a.closeUpTo(Infinity))
    assert.equal(a.openCount, 0)
  })
  return run
}

function assertMatchesPandas(fx: Fixture, run: Run): void {
  fx.intervals.forEach((expected, k) => {
    const label = expected.interval
    assert.deepEqual(run.late[k], expected.late, `${fx.name} ${label}: late records`)
    const bars = run.bars[k]
    const e = expected.bars
    assert.equal(bars.length, e.start.length, `${fx.name} ${label}: bar count`)
    for (let i = 0; i < bars.length; i++) {
      const b = bars[i]
      const where = `${fx.name} ${label} bar ${i} (${b.symbol} @ ${b.start})`
      assert.equal(b.symbol, fx.symbols[e.sym[i]], where)
      assert.equal(b.interval, label, where)
      assert.equal(b.start, e.start[i], where)
      assert.equal(b.end, e.start[i] + expected.ms, where)
      assert.deepEqual(
        [b.open, b.high, b.low, b.close, b.volume, b.trades],
        [e.open[i], e.high[i], e.low[i], e.close[i], e.volume[i], e.trades[i]],
        where,
      )
      assert.ok(Math.abs(b.vwap - e.vwap[i]) <= REL * Math.abs(e.vwap[i]), `${where}: vwap ${b.vwap} vs ${e.vwap[i]}`)
    }
  })
}

const FIXTURES = ['small', 'no-lateness', 'long']

for (const name of FIXTURES) {
  test(`bars match pandas: ${name} fixture`, () => {
    const { fx, ticks } = loadFixture(name)
    const intervals = fx.intervals.map((iv) => parseInterval(iv.interval))
    assert.deepEqual(
      intervals.map((iv) => iv.ms),
      fx.intervals.map((iv) => iv.ms),
    )
    // The stream must exercise what it is meant to: ties, boundaries, disorder, late records.
    let maxTs = -Infinity
    let outOfOrder = 0
    let onSecond = 0
    let sameTsSameSymbol = 0
    const lastTs = new Map<string, number>()
    for (const t of ticks) {
      if (t.ts < maxTs) outOfOrder++
      maxTs = Math.max(maxTs, t.ts)
      if (windowStart(t.ts, 1000) === t.ts) onSecond++
      if (lastTs.get(t.symbol) === t.ts) sameTsSameSymbol++
      lastTs.set(t.symbol, t.ts)
    }
    assert.ok(outOfOrder > 0 && onSecond > 0 && sameTsSameSymbol > 0, `${outOfOrder} ${onSecond} ${sameTsSameSymbol}`)
    assert.ok(fx.intervals.every((iv) => iv.late.length > 0))
    if (name === 'long') assert.ok(ticks.length >= 200_000)

    assertMatchesPandas(fx, replay(ticks, intervals, fx.allowedLatenessMs, fx.graceMs))
  })
}

test('save/restore mid-stream continues exactly as an uninterrupted run', () => {
  for (const name of ['small', 'no-lateness']) {
    const { fx, ticks } = loadFixture(name)
    const intervals = fx.intervals.map((iv) => parseInterval(iv.interval))
    const whole = replay(ticks, intervals, fx.allowedLatenessMs, fx.graceMs)
    const n = ticks.length
    const cuts = [1, 2, 17, Math.floor(n / 7), Math.floor(n / 3), Math.floor(n / 2), n - 1]
    const restored = replay(ticks, intervals, fx.allowedLatenessMs, fx.graceMs, cuts)
    // Bit for bit, VWAP included: the compensated sums are part of the state.
    assert.deepEqual(restored, whole, name)
    assertMatchesPandas(fx, restored)
  }
})

test('save/restore between add and closeUpTo, and of an aggregator that never closed anything', () => {
  const a = new BarAggregator(M1, 1000)
  const b = new BarAggregator(M1, 1000)
  const feed = (agg: BarAggregator, from: number, to: number) => {
    for (let i = from; i < to; i++) {
      assert.equal(agg.add(i % 3 === 0 ? 'X' : 'Y', i * 7919, 100 + (i % 13) / 100, 1 + (i % 5), -Infinity), 'ok')
    }
  }
  feed(a, 0, 50)
  feed(b, 0, 50)
  const state = JSON.parse(JSON.stringify(b.saveState()))
  const c = BarAggregator.restore(M1, 1000, state)
  assert.equal(c.openCount, b.openCount)
  assert.equal(c.nextCloseAt, b.nextCloseAt)
  feed(a, 50, 120)
  feed(c, 50, 120)
  assert.deepEqual(c.closeUpTo(500_000), a.closeUpTo(500_000))
  assert.deepEqual(c.closeUpTo(Infinity), a.closeUpTo(Infinity))
})

/** An aggregator fed `[ts, price, qty?]` ticks of one symbol under a −∞ watermark. */
function barsOf(interval: BarInterval, ticks: Array<[number, number, number?]>, symbol = 'S'): Bar[] {
  const agg = new BarAggregator(interval, 0)
  for (const [ts, price, qty] of ticks) assert.equal(agg.add(symbol, ts, price, qty ?? 1, -Infinity), 'ok')
  return agg.closeUpTo(Infinity)
}

test('a bar covers [start, end), labelled by start; empty windows emit nothing', () => {
  const bars = barsOf(M1, [
    [60_000, 10],
    [119_999, 12],
    [120_000, 11],
    [300_000, 9],
  ])
  assert.deepEqual(
    bars.map((b) => [b.start, b.end, b.open, b.close, b.trades]),
    [
      [60_000, 120_000, 10, 12, 2],
      [120_000, 180_000, 11, 11, 1],
      [300_000, 360_000, 9, 9, 1],
    ],
  )
  assert.ok(bars.every((b) => b.symbol === 'S' && b.interval === '1m'))
})

test('OHLCV and VWAP of one window', () => {
  const [bar] = barsOf(M1, [
    [1000, 10, 2],
    [2000, 13, 1],
    [3000, 8, 5],
    [4000, 11, 2],
  ])
  assert.deepEqual(bar, {
    symbol: 'S',
    interval: '1m',
    start: 0,
    end: 60_000,
    open: 10,
    high: 13,
    low: 8,
    close: 11,
    volume: 10,
    vwap: (10 * 2 + 13 + 8 * 5 + 11 * 2) / 10,
    trades: 4,
  })
})

test('open and close follow event time, not arrival; ties: earlier arrival opens, later closes', () => {
  const [disordered] = barsOf(M1, [
    [5000, 2],
    [1000, 1],
    [9000, 4],
    [7000, 3],
  ])
  assert.equal(disordered.open, 1)
  assert.equal(disordered.close, 4)
  const [tied] = barsOf(M1, [
    [3000, 20],
    [1000, 11],
    [1000, 12],
    [3000, 21],
    [2000, 15],
  ])
  assert.equal(tied.open, 11)
  assert.equal(tied.close, 21)
  assert.equal(tied.high, 21)
  assert.equal(tied.low, 11)
})

test('negative event times floor to epoch-aligned windows', () => {
  assert.equal(windowStart(-1, 60_000), -60_000)
  assert.equal(windowStart(-60_000, 60_000), -60_000)
  assert.equal(windowStart(-60_001, 60_000), -120_000)
  assert.equal(windowStart(59_999, 60_000), 0)
  const bars = barsOf(S1, [
    [-1500, 1],
    [-1, 2],
    [0, 3],
  ])
  assert.deepEqual(
    bars.map((b) => [b.start, b.end, b.trades]),
    [
      [-2000, -1000, 1],
      [-1000, 0, 1],
      [0, 1000, 1],
    ],
  )
})

test('zero quantity counts as a trade without volume; VWAP is NaN only when all volume is 0', () => {
  const [some] = barsOf(M1, [
    [0, 10, 0],
    [1, 20, 2],
  ])
  assert.deepEqual([some.volume, some.vwap, some.trades, some.high], [2, 20, 2, 20])
  const [none] = barsOf(M1, [[0, 10, 0]])
  assert.equal(none.volume, 0)
  assert.ok(Number.isNaN(none.vwap))
})

test('VWAP stays inside [low, high] when rounding would push it out', () => {
  const ticks: Array<[number, number, number]> = []
  for (let i = 0; i < 1000; i++) ticks.push([i, 0.1, 1 + (i % 7) * 0.3])
  const [bar] = barsOf(M1, ticks)
  assert.equal(bar.low, 0.1)
  assert.equal(bar.high, 0.1)
  assert.equal(bar.vwap, 0.1)
})

test('a window closes when the watermark reaches end + grace, not before', () => {
  const agg = new BarAggregator(M1, 2000)
  agg.add('S', 30_000, 1, 1, -Infinity)
  assert.equal(agg.nextCloseAt, 62_000)
  assert.deepEqual(agg.closeUpTo(61_999), [])
  assert.equal(agg.openCount, 1)
  // Within the grace a record of the window is still accepted.
  assert.equal(agg.add('S', 59_999, 2, 1, 61_999), 'ok')
  const closed = agg.closeUpTo(62_000)
  assert.equal(closed.length, 1)
  assert.equal(closed[0].close, 2)
  assert.equal(agg.openCount, 0)
  assert.equal(agg.nextCloseAt, Infinity)
})

test('a late record changes nothing; a closed window is never reopened', () => {
  const agg = new BarAggregator(M1, 0)
  assert.equal(agg.add('S', 10_000, 5, 1, -Infinity), 'ok')
  // Late under the watermark passed in, although the window is still open here.
  assert.equal(agg.isLate(20_000, 60_000), true)
  assert.equal(agg.add('S', 20_000, 99, 1, 60_000), 'late')
  assert.equal(agg.add('T', 20_000, 99, 1, 60_000), 'late')
  assert.equal(agg.openCount, 1)
  const [bar] = agg.closeUpTo(60_000)
  assert.deepEqual([bar.trades, bar.high, bar.close], [1, 5, 5])
  // A stale (smaller) watermark cannot reopen what closeUpTo emitted.
  assert.equal(agg.isLate(30_000, 0), true)
  assert.equal(agg.add('S', 30_000, 7, 1, 0), 'late')
  assert.equal(agg.openCount, 0)
  assert.equal(agg.isLate(60_000, 0), false)
  assert.equal(agg.add('S', 60_000, 7, 1, 0), 'ok')
})

test('bars of many symbols close together, ordered by start then symbol (code-unit order)', () => {
  const agg = new BarAggregator(S1, 0)
  const symbols = ['b', 'B', 'a', 'AAPL', 'Z', 'ÉTÉ', 'A', 'aa']
  for (let s = 0; s < 3; s++) {
    for (const sym of symbols) {
      assert.equal(agg.add(sym, s * 1000 + 500, 10 + s, 1, -Infinity), 'ok')
    }
  }
  assert.equal(agg.openCount, 24)
  assert.deepEqual(agg.closeUpTo(999), [])
  const closed = agg.closeUpTo(2000)
  const order = [...symbols].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0))
  assert.deepEqual(order, ['A', 'AAPL', 'B', 'Z', 'a', 'aa', 'b', 'ÉTÉ'])
  assert.deepEqual(
    closed.map((b) => `${b.start}:${b.symbol}`),
    [...order.map((s) => `0:${s}`), ...order.map((s) => `1000:${s}`)],
  )
  assert.equal(agg.openCount, 8)
  assert.deepEqual(
    agg.closeUpTo(Infinity).map((b) => b.symbol),
    order,
  )
})

test('a silent symbol’s windows close on the partition watermark driven by other symbols', () => {
  const wm = new PartitionWatermark({ allowedLatenessMs: 1000, idleTimeoutMs: 0 })
  const agg = new BarAggregator(M1, 500)
  const emitted: Bar[] = []
  const feed = (symbol: string, ts: number) => {
    assert.equal(agg.add(symbol, ts, 1, 1, wm.current), 'ok')
    wm.observe(ts, 0)
    emitted.push(...agg.closeUpTo(wm.current))
  }
  feed('QUIET', 5_000)
  for (let ts = 10_000; ts < 61_500; ts += 500) feed('BUSY', ts)
  assert.equal(emitted.length, 0)
  feed('BUSY', 61_500) // watermark 60_500 = end + grace of the first window
  assert.deepEqual(
    emitted.map((b) => [b.symbol, b.start]),
    [
      ['BUSY', 0],
      ['QUIET', 0],
    ],
  )
})

test('an idle partition’s bars close through idleAdvance/advanceTo', () => {
  const wm = new PartitionWatermark({ allowedLatenessMs: 2000, idleTimeoutMs: 5000 })
  const agg = new BarAggregator(S1, 0)
  agg.add('S', 10_400, 1, 1, wm.current)
  wm.observe(10_400, 1_000_000)
  assert.deepEqual(agg.closeUpTo(wm.current), [])
  // Silent for the timeout: no advance yet; then event time is assumed to follow the wall clock.
  assert.equal(wm.idleAdvance(1_005_000), undefined)
  const w = wm.idleAdvance(1_007_600)
  assert.equal(w, 10_400 + 2600 - 2000)
  wm.advanceTo(w as number)
  const [bar] = agg.closeUpTo(wm.current)
  assert.deepEqual([bar.symbol, bar.start, bar.end], ['S', 10_000, 11_000])
})

test('out-of-order windows within the lateness stay open and sorted per symbol', () => {
  const agg = new BarAggregator(S1, 0)
  for (const ts of [5500, 3500, 4500, 1500, 5600, 2500, 3600]) assert.equal(agg.add('S', ts, ts / 100, 1, 0), 'ok')
  assert.equal(agg.openCount, 5)
  assert.equal(agg.nextCloseAt, 2000)
  assert.deepEqual(
    agg.closeUpTo(4000).map((b) => [b.start, b.trades]),
    [
      [1000, 1],
      [2000, 1],
      [3000, 2],
    ],
  )
  assert.deepEqual(
    agg.closeUpTo(Infinity).map((b) => [b.start, b.open, b.close]),
    [
      [4000, 45, 45],
      [5000, 55, 56],
    ],
  )
})

function assertInvalid(fn: () => unknown): void {
  assert.throws(fn, (err: unknown) => (err as { code?: string }).code === ErrorCodes.INVALID_ARGUMENT)
}

test('invalid arguments throw INVALID_ARGUMENT and leave the aggregator unchanged', () => {
  assertInvalid(() => new BarAggregator({ label: 'x', ms: 0 }, 0))
  assertInvalid(() => new BarAggregator({ label: 'x', ms: 1.5 }, 0))
  assertInvalid(() => new BarAggregator(M1, -1))
  assertInvalid(() => new BarAggregator(M1, NaN))
  const agg = new BarAggregator(M1, 0)
  assertInvalid(() => agg.add('S', NaN, 1, 1, 0))
  assertInvalid(() => agg.add('S', Infinity, 1, 1, 0))
  assertInvalid(() => agg.add('S', 1e16, 1, 1, 0))
  assertInvalid(() => agg.add('S', 0, NaN, 1, 0))
  assertInvalid(() => agg.add('S', 0, Infinity, 1, 0))
  assertInvalid(() => agg.add('S', 0, 1, -1, 0))
  assertInvalid(() => agg.add('S', 0, 1, Infinity, 0))
  assertInvalid(() => agg.add('S', 0, 1, NaN, 0))
  assertInvalid(() => agg.add('S', 0, 1, 1, NaN))
  assertInvalid(() => agg.closeUpTo(NaN))
  assert.equal(agg.openCount, 0)
})

test('saved state is compact plain data; closing everything is remembered', () => {
  const agg = new BarAggregator(M1, 0)
  agg.add('S', 1000, 1.25, 3, -Infinity)
  const state = agg.saveState()
  assert.deepEqual(state, {
    v: 1,
    ms: 60_000,
    closed: null,
    bars: [['S', 0, 1.25, 1000, 1.25, 1.25, 1.25, 1000, 3, 0, 3.75, 0, 1]],
  })
  agg.closeUpTo(Infinity)
  const flushed = JSON.parse(JSON.stringify(agg.saveState()))
  assert.deepEqual(flushed, { v: 1, ms: 60_000, closed: 'Infinity', bars: [] })
  const again = BarAggregator.restore(M1, 0, flushed)
  assert.equal(again.add('S', 8.64e15, 1, 1, -Infinity), 'late')
})

test('restore rejects malformed state with INVALID_ARGUMENT', () => {
  const agg = new BarAggregator(M1, 0)
  agg.add('S', 1000, 2, 1, -Infinity)
  agg.add('S', 2000, 3, 1, -Infinity)
  const good = agg.saveState() as { v: number; ms: number; closed: unknown; bars: unknown[][] }
  const withBar = (i: number, value: unknown) => {
    const bar = [...good.bars[0]]
    bar[i] = value
    return { ...good, bars: [bar] }
  }
  assert.equal(BarAggregator.restore(M1, 0, good).openCount, 1)
  for (const bad of [
    null,
    42,
    'state',
    { ...good, v: 2 },
    { ...good, ms: 1000 },
    { ...good, closed: 'soon' },
    { ...good, closed: NaN },
    { ...good, bars: {} },
    { ...good, bars: [[1, 2, 3]] },
    { ...good, bars: [good.bars[0], good.bars[0]] },
    withBar(0, 7),
    withBar(1, 1000), // not a window start
    withBar(2, 5), // open above high
    withBar(3, -1), // open event time before the window
    withBar(7, 60_000), // close event time at the window end
    withBar(7, 999), // close before open
    withBar(8, -1), // negative volume
    withBar(12, 0), // no trades
    withBar(12, 1.5),
    withBar(10, '5'),
  ]) {
    assertInvalid(() => BarAggregator.restore(M1, 0, bad))
  }
  // Saved for 1m: restoring as 1s bars would misplace every window.
  assertInvalid(() => BarAggregator.restore(S1, 0, good))
})
