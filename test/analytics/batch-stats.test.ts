/**
 * Batch statistics against an independent two-pass computation (compensated sums), on seeded
 * random data: Welford per partial, Chan merges of arbitrary splits, edge counts, the outlier rule
 * and the keyed accumulator's plain-object form.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  DEFAULT_OUTLIER_K,
  KeyedStats,
  addValue,
  emptyPartial,
  finishPartial,
  isOutlier,
  mergeInto,
} from '../../src/analytics/batch-stats.ts'
import type { KeyedStatsJSON, StatsPartial, SummaryStats } from '../../src/analytics/batch-stats.ts'
import { ErrorCodes } from '../../src/errors.ts'

const REL = 1e-9

/** mulberry32: a tiny seeded PRNG, independent of the code under test. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Box–Muller normals from `u`. */
function normals(u: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u())
}

/** Named seeded data sets, including the ones naive formulas get wrong. */
function datasets(): Array<[string, number[]]> {
  const u = rng(7)
  const z = normals(rng(11))
  const gen = (n: number, f: (i: number) => number) => Array.from({ length: n }, (_, i) => f(i))
  return [
    ['uniform [0,1), n=1000', gen(1000, () => u())],
    ['N(100, 15), n=100k', gen(100_000, () => 100 + 15 * z())],
    ['lognormal prices, n=50k', gen(50_000, () => 200 * Math.exp(0.3 * z()))],
    ['integers 1..100, n=20k', gen(20_000, () => 1 + Math.floor(100 * u()))],
    ['1e6 + N(0, 1), n=100k', gen(100_000, () => 1e6 + z())],
    ['1e6 + prices on a 0.01 grid, n=50k', gen(50_000, () => 1e6 + Math.round(100 * z()) / 100)],
    ['-5000 + N(0, 30), n=10k', gen(10_000, () => -5000 + 30 * z())],
    ['N(0, 1e-3), n=10k', gen(10_000, () => 1e-3 * z())],
    ['trend 1e3 + i/1000 + noise, n=50k', gen(50_000, (i) => 1e3 + i / 1000 + 0.5 * z())],
  ]
}

/** Neumaier-compensated sum of f(x) over xs. */
function sum(xs: readonly number[], f: (x: number) => number): number {
  let s = 0
  let c = 0
  for (const x of xs) {
    const v = f(x)
    const t = s + v
    c += Math.abs(s) >= Math.abs(v) ? s - t + v : v - t + s
    s = t
  }
  return s + c
}

/** The two-pass reference: exact-as-possible mean, then Σ(x − mean)² / (n − 1), corrected. */
function reference(xs: readonly number[]): SummaryStats {
  const n = xs.length
  if (n === 0) return { count: 0, min: null, max: null, mean: null, std: null }
  const mean = sum(xs, (x) => x) / n
  // The corrected two-pass form subtracts the residual (Σ(x − mean))²/n left by rounding of mean.
  const resid = sum(xs, (x) => x - mean)
  const ss = sum(xs, (x) => (x - mean) * (x - mean)) - (resid * resid) / n
  const std = n < 2 ? null : Math.sqrt(Math.max(0, ss / (n - 1)))
  return { count: n, min: Math.min(...xs), max: Math.max(...xs), mean, std }
}

function welford(xs: readonly number[]): StatsPartial {
  const p = emptyPartial()
  for (const x of xs) addValue(p, x)
  return p
}

/** Relative closeness; the mean is judged against the data's scale (mean or spread), not 0. */
function assertStats(actual: SummaryStats, expected: SummaryStats, label: string): void {
  assert.equal(actual.count, expected.count, `${label}: count`)
  assert.equal(actual.min, expected.min, `${label}: min`)
  assert.equal(actual.max, expected.max, `${label}: max`)
  if (expected.mean === null || expected.std === null) {
    assert.equal(actual.mean, expected.mean, `${label}: mean`)
    assert.equal(actual.std, expected.std, `${label}: std`)
    return
  }
  assert.ok(actual.mean !== null && actual.std !== null, `${label}: non-null`)
  const scale = Math.max(Math.abs(expected.mean), expected.std)
  const meanErr = Math.abs(actual.mean - expected.mean) / scale
  const stdErr = Math.abs(actual.std - expected.std) / expected.std
  assert.ok(meanErr < REL, `${label}: mean relative error ${meanErr}`)
  assert.ok(stdErr < REL, `${label}: std relative error ${stdErr}`)
}

test('Welford matches the two-pass reference to 1e-9 on every data set', () => {
  for (const [label, xs] of datasets()) assertStats(finishPartial(welford(xs)), reference(xs), label)
})

test('the offset data sets defeat the naive sum-of-squares formula (so the test above has teeth)', () => {
  for (const [label, xs] of datasets().filter(([l]) => l.startsWith('1e6'))) {
    const n = xs.length
    const s = xs.reduce((a, x) => a + x, 0)
    const s2 = xs.reduce((a, x) => a + x * x, 0)
    const naiveStd = Math.sqrt(Math.max(0, (s2 - (s * s) / n) / (n - 1)))
    const ref = reference(xs).std as number
    assert.ok(Math.abs(naiveStd - ref) / ref > 1e-6, `${label}: naive std unexpectedly accurate`)
  }
})

/** Splits xs into `parts` partials, either as contiguous runs or by random assignment. */
function split(xs: readonly number[], parts: number, u: () => number, contiguous: boolean): StatsPartial[] {
  const partials = Array.from({ length: parts }, () => emptyPartial())
  if (contiguous) {
    const cuts = Array.from({ length: parts - 1 }, () => Math.floor(u() * (xs.length + 1))).sort((a, b) => a - b)
    let part = 0
    xs.forEach((x, i) => {
      while (part < cuts.length && i >= cuts[part]) part++
      addValue(partials[part], x)
    })
  } else {
    for (const x of xs) addValue(partials[Math.floor(u() * parts)], x)
  }
  return partials
}

/** Merges partials in random order: sequentially into a fresh partial, or pairwise as a tree. */
function mergeAll(partials: StatsPartial[], u: () => number, tree: boolean): StatsPartial {
  const queue = [...partials].sort(() => u() - 0.5)
  if (!tree) {
    const total = emptyPartial()
    for (const p of queue) mergeInto(total, p)
    return total
  }
  while (queue.length > 1) {
    const a = queue.shift() as StatsPartial
    const b = queue.shift() as StatsPartial
    mergeInto(a, b)
    queue.push(a)
  }
  return queue[0] ?? emptyPartial()
}

test('any split of the data merges to the unsplit result within 1e-9', () => {
  const u = rng(2024)
  for (const [label, xs] of datasets()) {
    const whole = finishPartial(welford(xs))
    const ref = reference(xs)
    for (let trial = 0; trial < 24; trial++) {
      const parts = 1 + Math.floor(u() * 64)
      const contiguous = trial % 2 === 0
      const tree = trial % 4 < 2
      const merged = finishPartial(mergeAll(split(xs, parts, u, contiguous), u, tree))
      const what = `${label}, ${parts} parts, ${contiguous ? 'runs' : 'scattered'}, ${tree ? 'tree' : 'sequential'}`
      assertStats(merged, whole, `${what} vs unsplit`)
      assertStats(merged, ref, `${what} vs two-pass`)
    }
  }
})

test('many tiny partials (one or two values each) merge exactly enough', () => {
  const z = normals(rng(5))
  const xs = Array.from({ length: 20_000 }, () => 1e6 + z())
  const partials: StatsPartial[] = []
  for (let i = 0; i < xs.length; i += 1 + (i % 2)) partials.push(welford(xs.slice(i, i + 1 + (i % 2))))
  assertStats(finishPartial(mergeAll(partials, rng(6), false)), reference(xs), 'sequential')
  assertStats(
    finishPartial(
      mergeAll(
        partials.map((p) => ({ ...p })),
        rng(6),
        true,
      ),
    ),
    reference(xs),
    'tree',
  )
})

test('merging with empty partials is the identity, and the source is left unchanged', () => {
  const p = welford([3, 1, 4, 1, 5, 9, 2, 6])
  const snapshot = { ...p }

  const target = { ...p }
  mergeInto(target, emptyPartial())
  assert.deepEqual(target, snapshot)

  const fromEmpty = emptyPartial()
  mergeInto(fromEmpty, p)
  assert.deepEqual(fromEmpty, snapshot)
  assert.deepEqual(p, snapshot, 'the merged-in partial is not modified')

  const both = emptyPartial()
  mergeInto(both, emptyPartial())
  assert.deepEqual(both, emptyPartial())
  assert.deepEqual(finishPartial(both), { count: 0, min: null, max: null, mean: null, std: null })
})

test('count 0, 1 and 2', () => {
  assert.deepEqual(emptyPartial(), { count: 0, mean: 0, m2: 0, min: Infinity, max: -Infinity })
  assert.deepEqual(finishPartial(emptyPartial()), { count: 0, min: null, max: null, mean: null, std: null })
  assert.deepEqual(finishPartial(welford([42.5])), { count: 1, min: 42.5, max: 42.5, mean: 42.5, std: null })
  assert.deepEqual(finishPartial(welford([-7])), { count: 1, min: -7, max: -7, mean: -7, std: null })
  const two = finishPartial(welford([10, 13]))
  assert.equal(two.count, 2)
  assert.equal(two.min, 10)
  assert.equal(two.max, 13)
  assert.equal(two.mean, 11.5)
  assert.ok(Math.abs((two.std as number) - 3 / Math.SQRT2) < 1e-15)
  // One value in each of two partials: the merge alone produces the spread.
  const merged = welford([10])
  mergeInto(merged, welford([13]))
  assert.deepEqual(finishPartial(merged), two)
})

test('identical values give std exactly 0, whatever their magnitude', () => {
  for (const v of [0, 1, 238.3, 1e6 + 0.1, -1e9, 1e-300]) {
    const p = welford(Array.from({ length: 1000 }, () => v))
    assert.deepEqual(finishPartial(p), { count: 1000, min: v, max: v, mean: v, std: 0 })
    const q = { ...p }
    mergeInto(q, p)
    assert.equal(finishPartial(q).std, 0)
  }
})

test('a negative m2 (not produced here, but possible in a foreign partial) is clamped to std 0', () => {
  assert.equal(finishPartial({ count: 3, mean: 1, m2: -1e-18, min: 1, max: 1 }).std, 0)
})

test('isOutlier: strictly more than k·std from the mean', () => {
  const s: SummaryStats = { count: 100, min: 90, max: 110, mean: 100, std: 2 }
  const above = (x: number) => x + Number.EPSILON * x * 2 // the next doubles up, for x ≈ 100
  assert.equal(DEFAULT_OUTLIER_K, 3)
  assert.equal(isOutlier(106, s), false, 'exactly 3σ above is not an outlier')
  assert.equal(isOutlier(94, s), false, 'exactly 3σ below is not an outlier')
  assert.equal(isOutlier(above(106), s), true)
  assert.equal(isOutlier(94 - 94 * Number.EPSILON, s), true)
  assert.equal(isOutlier(100, s), false)
  assert.equal(isOutlier(1e9, s), true)
  assert.equal(isOutlier(-1e9, s), true)
  // k is configurable; k = 0 flags every value off the mean.
  assert.equal(isOutlier(103, s, 1), true)
  assert.equal(isOutlier(103, s, 1.5), false)
  assert.equal(isOutlier(100.001, s, 0), true)
  assert.equal(isOutlier(100, s, 0), false)
  // No spread, or no spread known yet: never an outlier.
  assert.equal(isOutlier(1e9, { ...s, std: 0 }), false)
  assert.equal(isOutlier(1e9, { count: 1, min: 5, max: 5, mean: 5, std: null }), false)
  assert.equal(isOutlier(1e9, finishPartial(emptyPartial())), false)
})

test('outliers over real data use the summary of the same data', () => {
  const z = normals(rng(99))
  const xs = Array.from({ length: 10_000 }, () => 50 + 2 * z())
  xs.push(80, 20) // ±15σ plants
  const s = finishPartial(welford(xs))
  const flagged = xs.filter((x) => isOutlier(x, s))
  assert.ok(flagged.includes(80) && flagged.includes(20))
  // Normal data has about 0.27% beyond 3σ.
  assert.ok(flagged.length >= 10 && flagged.length <= 60, `flagged ${flagged.length}`)
})

/** Keyed data: [symbol, price] pairs with per-symbol levels. */
function keyedData(n: number, seed: number): Array<[string, number]> {
  const u = rng(seed)
  const z = normals(rng(seed + 1))
  const keys = ['MSFT', 'AAPL', 'TSLA', 'GOOG', 'AMZN', 'BTC-USD', '__proto__', 'constructor', '10', '9']
  return Array.from({ length: n }, (_, i) => {
    const k = Math.floor(u() * keys.length)
    return [keys[k], 100 * (k + 1) + (k + 1) * z() + (i % 2 ? 1e6 : 0) * (k === 5 ? 1 : 0)]
  })
}

function perKeyReference(data: Array<[string, number]>): Map<string, SummaryStats> {
  const groups = new Map<string, number[]>()
  for (const [k, x] of data) {
    const g = groups.get(k)
    if (g === undefined) groups.set(k, [x])
    else g.push(x)
  }
  return new Map([...groups].map(([k, xs]) => [k, reference(xs)]))
}

function assertSummary(summary: Record<string, SummaryStats>, expected: Map<string, SummaryStats>): void {
  assert.deepEqual(Object.keys(summary).sort(), [...expected.keys()].sort())
  for (const [k, e] of expected) {
    assert.ok(Object.hasOwn(summary, k), `own key ${k}`)
    assertStats(summary[k], e, k)
  }
}

test('KeyedStats: per-key statistics, odd keys included, keys sorted', () => {
  const data = keyedData(50_000, 1)
  const stats = new KeyedStats()
  for (const [k, x] of data) stats.add(k, x)
  const summary = stats.summary()
  assertSummary(summary, perKeyReference(data))
  assert.equal(stats.size, 10)
  // Code-unit order, except that JS objects always list integer-like keys first, numerically.
  assert.deepEqual(Object.keys(summary), [
    '9',
    '10',
    'AAPL',
    'AMZN',
    'BTC-USD',
    'GOOG',
    'MSFT',
    'TSLA',
    '__proto__',
    'constructor',
  ])
  assert.equal(Object.getPrototypeOf(summary), Object.prototype, 'the __proto__ key did not replace the prototype')
  assert.equal(stats.get('nope'), undefined)
  const aapl = stats.get('AAPL') as StatsPartial
  aapl.count = -1
  assert.notEqual(stats.get('AAPL')?.count, -1, 'get returns a copy')
})

test('KeyedStats: partials from workers merge to the single-pass result', () => {
  const data = keyedData(60_000, 2)
  const single = new KeyedStats()
  for (const [k, x] of data) single.add(k, x)
  const u = rng(3)
  const workers = Array.from({ length: 7 }, () => new KeyedStats())
  for (const [k, x] of data) workers[Math.floor(u() * workers.length)].add(k, x)
  const before = workers[3].toJSON()
  const total = new KeyedStats()
  for (const w of workers) assert.equal(total.merge(w), total)
  assert.deepEqual(workers[3].toJSON(), before, 'merge leaves its argument unchanged')
  assertSummary(total.summary(), perKeyReference(data))
  const expected = new Map(Object.entries(single.summary()))
  assertSummary(total.summary(), expected)
  // Merging an empty accumulator either way changes nothing.
  assert.deepEqual(new KeyedStats().merge(total).toJSON(), total.toJSON())
  assert.deepEqual(total.merge(new KeyedStats()).summary(), total.summary())
})

test('KeyedStats crosses structured clone (postMessage) and JSON as plain objects', () => {
  const data = keyedData(5_000, 4)
  const stats = new KeyedStats()
  for (const [k, x] of data) stats.add(k, x)
  const json = stats.toJSON()
  for (const p of Object.values(json)) assert.equal(Object.getPrototypeOf(p), Object.prototype)
  assert.equal(Object.keys(json).length, 10)
  assert.ok(Object.hasOwn(json, '__proto__'))

  const cloned = KeyedStats.fromJSON(structuredClone(json))
  assert.deepEqual(cloned.summary(), stats.summary())
  assert.deepEqual(cloned.toJSON(), json)
  const parsed = KeyedStats.fromJSON(JSON.parse(JSON.stringify(json)) as KeyedStatsJSON)
  assert.deepEqual(parsed.summary(), stats.summary())

  // toJSON is a snapshot: later adds do not show up in it.
  const before = structuredClone(json)
  stats.add('AAPL', 1)
  assert.deepEqual(json, before)
})

test('KeyedStats.fromJSON skips empty entries and refuses malformed ones', () => {
  const ok = { count: 2, mean: 1.5, m2: 0.5, min: 1, max: 2 }
  const empty = JSON.parse(JSON.stringify({ E: emptyPartial() })) as KeyedStatsJSON // min/max → null
  assert.equal(KeyedStats.fromJSON({ ...empty, A: ok }).size, 1)
  assert.deepEqual(KeyedStats.fromJSON({ A: ok }).get('A'), ok)
  const bad: unknown[] = [
    null,
    42,
    { ...ok, count: 1.5 },
    { ...ok, count: -1 },
    { ...ok, mean: NaN },
    { ...ok, m2: -1 },
    { ...ok, min: 3 },
    { ...ok, max: Infinity },
    { ...ok, min: '1' },
    { count: 2 },
  ]
  for (const p of bad) {
    assert.throws(() => KeyedStats.fromJSON({ A: p } as unknown as KeyedStatsJSON), {
      code: ErrorCodes.INVALID_ARGUMENT,
    })
  }
})
