/**
 * The per-symbol indicator operator against pandas (fixtures written by
 * scripts/pandas/indicators.py) and against an independent two-pass computation in this file; its
 * null/flag semantics; config validation; and checkpoint restore being bit-identical.
 *
 * Tolerance: |a − b| ≤ 1e-9·max(|a|, |b|) + atol, atol = 1e-12 for price-scale values (EMA, SMA,
 * price std), 1e-15 for volatility (log returns are ~1e-3 and below), and for the z-score
 * 1e-12 + 4ε·|x|/σ: z = (x − μ)/σ inherits half an ulp of x and of μ, so near z = 0 its absolute
 * error is that rounding in units of σ (the fixtures' exact values are exact for the decimal prices,
 * while both we and pandas see x/100 rounded to a double).
 *
 * pandas' rolling std (Welford add/remove without recomputation) drifts on long runs and after
 * volatile stretches; where pandas is farther than the tolerance from the exact value (integer
 * arithmetic on cents, computed by the script), we must match the exact value instead. The test
 * counts those indices and prints them as diagnostics.
 */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { test } from 'node:test'
import { gunzipSync } from 'node:zlib'
import { Ema } from '../../src/analytics/ema.ts'
import {
  DEFAULT_INDICATOR_CONFIG,
  SymbolIndicators,
  indicatorConfig,
  newIndicatorNumbers,
  newIndicatorValues,
  type IndicatorConfig,
  type IndicatorNumbers,
  type IndicatorValues,
} from '../../src/analytics/indicators.ts'
import { ErrorCodes } from '../../src/errors.ts'

// ---- the fixtures' price generator, ported from scripts/pandas/indicators.py ----

interface GeneratorParams {
  kind: string
  seed: number
  length: number
  startCents: number
  lowCents: number
  highCents: number
  regimeOdds: number
  jumpOdds: number
  spikeOdds: number
  flats: Array<[number, number]>
}

/** Integer cents of one series: xorshift32, five draws per tick, integer arithmetic only. */
function generateCents(g: GeneratorParams): Int32Array {
  assert.equal(g.kind, 'xorshift32-walk-v1')
  let x = g.seed >>> 0
  const draw = (): number => {
    x = (x ^ (x << 13)) >>> 0
    x = (x ^ (x >>> 17)) >>> 0
    x = (x ^ (x << 5)) >>> 0
    return x
  }
  const flat = new Uint8Array(g.length)
  for (const [start, length] of g.flats) flat.fill(1, start, Math.min(start + length, g.length))
  let cents = g.startCents
  let regime = 1
  const out = new Int32Array(g.length)
  for (let i = 0; i < g.length; i++) {
    const r1 = draw()
    const r2 = draw()
    const r3 = draw()
    const r4 = draw()
    const r5 = draw()
    if (flat[i]) {
      out[i] = cents
      continue
    }
    if (r2 % g.regimeOdds === 0) regime = r5 % 3
    let step: number
    if (regime === 0) {
      const q = r1 % 16
      step = q === 0 ? -1 : q === 1 ? 1 : 0
    } else if (regime === 1) step = (r1 % 21) - 10
    else step = (r1 % 101) - 50
    cents += step
    // products stay far below 2^53 and the quotients are never within 1e-2 of an integer boundary
    // they do not reach, so floor(a / 100) is Python's a // 100
    if (r3 % g.jumpOdds === 0) {
      const delta = Math.floor((cents * (3 + ((r5 >>> 4) % 8))) / 100)
      cents += (r5 >>> 8) & 1 ? delta : -delta
    }
    if (cents < g.lowCents) cents = 2 * g.lowCents - cents
    if (cents > g.highCents) cents = 2 * g.highCents - cents
    let tick = cents
    if (r4 % g.spikeOdds === 0) {
      const delta = Math.floor((cents * (2 + ((r5 >>> 12) % 6))) / 100)
      tick += (r5 >>> 16) & 1 ? delta : -delta
    }
    out[i] = tick
  }
  return out
}

type Column = Array<number | null>
interface WindowFixture {
  sma: Column
  priceStd: Column
  volatility: Column
  zscore: Column
  exactSma: Column
  exactPriceStd: Column
  exactVolatility: Column
  exactZscore: Column
  outlier: number[]
  exactOutlier: number[]
  min: Column
  max: Column
}
interface Fixture {
  name: string
  generator: GeneratorParams
  pandas: string
  zThreshold: number
  minPoints: number
  indices: number[] | null
  price: number[]
  ema: Record<string, { recursive: Column; adjusted: Column }>
  windows: Record<string, WindowFixture>
}

function loadFixture(name: string): Fixture {
  const file = new URL(`../fixtures/analytics/indicators-${name}.json.gz`, import.meta.url)
  return JSON.parse(gunzipSync(readFileSync(file)).toString('utf8')) as Fixture
}

// ---- independent references ----

/** Neumaier-compensated sum of f(xs[i]) for i in [from, to). */
function sum(xs: ArrayLike<number>, from: number, to: number, f: (x: number) => number): number {
  let s = 0
  let c = 0
  for (let i = from; i < to; i++) {
    const v = f(xs[i])
    const t = s + v
    c += Math.abs(s) >= Math.abs(v) ? s - t + v : v - t + s
    s = t
  }
  return s + c
}

/** Two-pass mean and sample std of xs[from..to), shifted by xs[from] (exact differences). */
function twoPass(xs: ArrayLike<number>, from: number, to: number): { mean: number; std: number } {
  const n = to - from
  const k = xs[from]
  const d = sum(xs, from, to, (x) => x - k) / n
  const m2 = sum(xs, from, to, (x) => (x - k - d) * (x - k - d))
  return { mean: k + d, std: n > 1 ? Math.sqrt(m2 / (n - 1)) : NaN }
}

/** Every indicator at index i of `prices` (log returns in `returns`, returns[i] = ln p_i − ln p_(i−1)). */
function reference(
  prices: Float64Array,
  returns: Float64Array,
  i: number,
  n: number,
): {
  sma: number | null
  priceStd: number | null
  volatility: number | null
  zscore: number | null
  sigmaPrev: number
  min: number
  max: number
} {
  const full = i + 1 >= n
  const win = full ? twoPass(prices, i + 1 - n, i + 1) : null
  const vol = i >= n ? twoPass(returns, i + 1 - n, i + 1).std : null
  const m = Math.min(n, i)
  let zscore: number | null = null
  let sigmaPrev = NaN
  if (m >= 2) {
    sigmaPrev = twoPass(prices, i - m, i).std
    const x = prices[i]
    // x − mean as Σ(x − w)/m: exact differences, compensated sum
    if (sigmaPrev > 0) zscore = sum(prices, i - m, i, (w) => x - w) / m / sigmaPrev
  }
  let min = Infinity
  let max = -Infinity
  for (let j = Math.max(0, i + 1 - n); j <= i; j++) {
    min = Math.min(min, prices[j])
    max = Math.max(max, prices[j])
  }
  return { sma: win && win.mean, priceStd: win && win.std, volatility: vol, zscore, sigmaPrev, min, max }
}

const REL = 1e-9
const ATOL = { ema: 1e-12, sma: 1e-12, priceStd: 1e-12, volatility: 1e-15 } as const

function zAtol(x: number, sigma: number): number {
  return 1e-12 + (4 * Number.EPSILON * Math.abs(x)) / sigma
}

/** |a − b| within `fraction` of the tolerance. */
function near(a: number, b: number, atol: number, fraction = 1): boolean {
  return Math.abs(a - b) <= fraction * (REL * Math.max(Math.abs(a), Math.abs(b)) + atol)
}

function nullable(v: number): number | null {
  return Number.isNaN(v) ? null : v
}

// ---- config ----

test('defaults, and emaSpan following the window', () => {
  assert.deepEqual(DEFAULT_INDICATOR_CONFIG, {
    window: 100,
    emaSpan: 100,
    emaAdjust: false,
    zThreshold: 3,
    minPoints: 30,
  })
  assert.ok(Object.isFrozen(DEFAULT_INDICATOR_CONFIG))
  assert.deepEqual(indicatorConfig(), DEFAULT_INDICATOR_CONFIG)
  assert.deepEqual(indicatorConfig({ window: 20 }), { ...DEFAULT_INDICATOR_CONFIG, window: 20, emaSpan: 20 })
  assert.deepEqual(indicatorConfig({ window: 20, emaSpan: 7.5, emaAdjust: true, zThreshold: 2.5, minPoints: 0 }), {
    window: 20,
    emaSpan: 7.5,
    emaAdjust: true,
    zThreshold: 2.5,
    minPoints: 0,
  })
  assert.deepEqual(indicatorConfig({ window: undefined, emaSpan: 10 }), { ...DEFAULT_INDICATOR_CONFIG, emaSpan: 10 })
})

test('invalid configs throw INVALID_ARGUMENT', () => {
  const bad: Array<Partial<IndicatorConfig>> = [
    { window: 1 },
    { window: 0 },
    { window: 2.5 },
    { window: NaN },
    { window: 1e7 },
    { emaSpan: 0.5 },
    { emaSpan: Infinity },
    { zThreshold: 0 },
    { zThreshold: -1 },
    { zThreshold: NaN },
    { minPoints: -1 },
    { minPoints: 1.5 },
    { emaAdjust: 'yes' as unknown as boolean },
  ]
  for (const partial of bad) {
    assert.throws(() => indicatorConfig(partial), { code: ErrorCodes.INVALID_ARGUMENT }, JSON.stringify(partial))
    assert.throws(() => new SymbolIndicators({ ...DEFAULT_INDICATOR_CONFIG, ...partial }), {
      code: ErrorCodes.INVALID_ARGUMENT,
    })
  }
})

// ---- pandas fixtures ----

interface Tally {
  compared: number
  /** pandas farther than the tolerance from the exact value */
  pandasOff: number
  /** we are farther than the tolerance from pandas (pandas being off by more than half of it) */
  notPandas: number
  worstVsExact: number
}

/** Runs one fixture series through the operator for each window and EMA form, comparing everything. */
function checkFixture(name: string, diagnostic: (msg: string) => void): void {
  const f = loadFixture(name)
  const cents = generateCents(f.generator)
  const prices = Float64Array.from(cents, (c) => c / 100)
  const length = prices.length
  const indices = f.indices ?? Array.from({ length }, (_, i) => i)
  // the regenerated input is the one pandas saw
  indices.forEach((i, j) => assert.equal(prices[i], f.price[j], `${name}: price at ${i}`))
  assert.equal(f.zThreshold, DEFAULT_INDICATOR_CONFIG.zThreshold)
  assert.equal(f.minPoints, DEFAULT_INDICATOR_CONFIG.minPoints)
  const returns = new Float64Array(length)
  for (let i = 1; i < length; i++) returns[i] = Math.log(prices[i]) - Math.log(prices[i - 1])

  // EMA for every stored span and form, on its own
  for (const [span, forms] of Object.entries(f.ema)) {
    for (const adjust of [false, true]) {
      const ema = new Ema(Number(span), adjust)
      const want = adjust ? forms.adjusted : forms.recursive
      let j = 0
      for (let i = 0; i < length && j < indices.length; i++) {
        const got = ema.update(prices[i])
        if (indices[j] !== i) continue
        assert.ok(
          near(got, want[j] as number, ATOL.ema),
          `${name} span ${span} adjust ${adjust} i ${i}: ${got} vs ${want[j]}`,
        )
        j++
      }
    }
  }

  for (const [windowKey, w] of Object.entries(f.windows)) {
    const n = Number(windowKey)
    for (const emaAdjust of [false, true]) {
      const op = new SymbolIndicators(indicatorConfig({ window: n, emaAdjust }))
      const out = newIndicatorValues()
      const emaWant = f.ema[windowKey]?.[emaAdjust ? 'adjusted' : 'recursive']
      const tallies: Record<string, Tally> = {}
      let outlierTies = 0
      let outliers = 0
      let pandasOutlierDiffs = 0
      let j = 0
      let extra = 0
      for (let i = 0; i < length; i++) {
        op.update(prices[i], out)
        const where = `${name} N=${n} adjust=${emaAdjust} i=${i}`
        if (indices[j] !== i) {
          // Between the fixture's sample indices of the long series: the two-pass reference alone.
          if (i % 97 !== 0 || emaAdjust) continue
          const ref = reference(prices, returns, i, n)
          for (const [metric, ours, want, atol] of [
            ['sma', out.sma, ref.sma, ATOL.sma],
            ['priceStd', out.priceStd, ref.priceStd, ATOL.priceStd],
            ['volatility', out.volatility, ref.volatility, ATOL.volatility],
            ['zscore', out.zscore, ref.zscore, zAtol(prices[i], ref.sigmaPrev)],
          ] as const) {
            assert.equal(ours === null, want === null, `${where} ${metric}: ${ours} vs two-pass ${want}`)
            if (ours !== null && want !== null)
              assert.ok(near(ours, want, atol), `${where} ${metric}: ${ours} vs two-pass ${want}`)
          }
          assert.equal(out.min, ref.min)
          assert.equal(out.max, ref.max)
          extra++
          continue
        }
        const ref = reference(prices, returns, i, n)
        assert.equal(out.count, i + 1)
        assert.equal(out.min, w.min[j], `${where} min`)
        assert.equal(out.max, w.max[j], `${where} max`)
        if (emaWant)
          assert.ok(near(out.ema, emaWant[j] as number, ATOL.ema), `${where} ema ${out.ema} vs ${emaWant[j]}`)
        const metrics = [
          ['sma', out.sma, w.sma[j], w.exactSma[j], ref.sma, ATOL.sma],
          ['priceStd', out.priceStd, w.priceStd[j], w.exactPriceStd[j], ref.priceStd, ATOL.priceStd],
          ['volatility', out.volatility, w.volatility[j], w.exactVolatility[j], ref.volatility, ATOL.volatility],
          ['zscore', out.zscore, w.zscore[j], w.exactZscore[j], ref.zscore, zAtol(prices[i], ref.sigmaPrev)],
        ] as const
        for (const [metric, ours, pandas, exact, twoPassValue, atol] of metrics) {
          // null exactly where pandas has NaN, and where the exact value is undefined
          assert.equal(ours === null, pandas === null, `${where} ${metric}: ${ours} vs pandas ${pandas}`)
          assert.equal(ours === null, exact === null, `${where} ${metric}: ${ours} vs exact ${exact}`)
          assert.equal(ours === null, twoPassValue === null, `${where} ${metric}: ${ours} vs two-pass ${twoPassValue}`)
          if (ours === null || pandas === null || exact === null || twoPassValue === null) continue
          const t = (tallies[metric] ??= { compared: 0, pandasOff: 0, notPandas: 0, worstVsExact: 0 })
          t.compared++
          assert.ok(near(ours, exact, atol), `${where} ${metric}: ${ours} vs exact ${exact}`)
          assert.ok(near(ours, twoPassValue, atol), `${where} ${metric}: ${ours} vs two-pass ${twoPassValue}`)
          const scale = REL * Math.max(Math.abs(ours), Math.abs(exact)) + atol
          t.worstVsExact = Math.max(t.worstVsExact, Math.abs(ours - exact) / scale)
          if (!near(pandas, exact, atol)) t.pandasOff++
          if (!near(ours, pandas, atol)) {
            // Allowed only where pandas' own error takes more than half the tolerance (ours takes
            // a few percent of it at most, see worstVsExact).
            assert.ok(
              !near(pandas, exact, atol, 0.5),
              `${where} ${metric}: ${ours} vs pandas ${pandas}, exact ${exact}`,
            )
            t.notPandas++
          }
        }
        // outlier flag: as the exact z-score says, except on a tie (|z| = threshold up to rounding)
        const exactZ = w.exactZscore[j]
        const tie = exactZ !== null && near(Math.abs(exactZ), f.zThreshold, zAtol(prices[i], ref.sigmaPrev))
        if (tie) outlierTies++
        else assert.equal(out.outlier ? 1 : 0, w.exactOutlier[j], `${where} outlier, z ${out.zscore} exact ${exactZ}`)
        if (out.outlier) outliers++
        if ((out.outlier ? 1 : 0) !== w.outlier[j]) pandasOutlierDiffs++
        j++
      }
      assert.equal(j, indices.length)
      assert.ok(outliers > 0, `${name} N=${n}: the series has outliers`)
      if (!emaAdjust) {
        for (const [metric, t] of Object.entries(tallies)) {
          diagnostic(
            `${name} N=${n} ${metric}: ${t.compared} compared; pandas beyond tolerance of the exact value at ` +
              `${t.pandasOff}, ours beyond tolerance of pandas at ${t.notPandas}; ` +
              `worst |ours − exact| = ${t.worstVsExact.toFixed(4)} × tolerance`,
          )
        }
        diagnostic(
          `${name} N=${n}: ${outliers} outliers, ${outlierTies} ties at the threshold, ${pandasOutlierDiffs} flags differ from pandas'`,
        )
        if (extra > 0) diagnostic(`${name} N=${n}: also ${extra} more indices against the two-pass reference alone`)
      }
      // SMA (Kahan-summed in pandas) always matches pandas directly
      assert.equal(tallies.sma?.pandasOff ?? 0, 0)
    }
  }
}

test('matches pandas on the short series, windows 5/20/100, both EMA forms', (t) => {
  checkFixture('short-a', (m) => t.diagnostic(m))
  checkFixture('short-b', (m) => t.diagnostic(m))
})

test('matches pandas on the 1,000,000-point series (sampled indices)', (t) => {
  checkFixture('long', (m) => t.diagnostic(m))
})

// ---- semantics ----

test('null until defined: sma/priceStd from `window` prices, volatility from window+1, z from 3', () => {
  const op = new SymbolIndicators(indicatorConfig({ window: 4, minPoints: 0 }))
  const out = newIndicatorValues()
  const ps = [100, 101, 99.5, 102, 100.5, 103]
  const seen: IndicatorValues[] = ps.map((p) => {
    op.update(p, out)
    return { ...out }
  })
  assert.deepEqual(
    seen.map((v) => [v.count, v.sma === null, v.priceStd === null, v.volatility === null, v.zscore === null]),
    [
      [1, true, true, true, true],
      [2, true, true, true, true],
      [3, true, true, true, false],
      [4, false, false, true, false],
      [5, false, false, false, false],
      [6, false, false, false, false],
    ],
  )
  assert.equal(seen[0].ema, 100)
  assert.equal(seen[0].min, 100)
  assert.equal(seen[0].max, 100)
  assert.equal(seen[3].sma, (100 + 101 + 99.5 + 102) / 4)
  assert.equal(seen[5].min, 99.5)
  assert.equal(seen[5].max, 103)
  // z of the 3rd price against the 2 before it
  assert.ok(near(seen[2].zscore as number, (99.5 - 100.5) / Math.SQRT1_2, 1e-15))
})

test('the z-score excludes the price itself, so a small window can flag a jump', () => {
  // With x included, |z| ≤ (n−1)/√n = 1.79 for n = 5: a threshold of 3 could never be crossed.
  const op = new SymbolIndicators(indicatorConfig({ window: 5, minPoints: 5 }))
  const out = newIndicatorValues()
  for (const p of [100, 100.1, 99.9, 100, 100.1, 99.9]) {
    op.update(p, out)
    assert.equal(out.outlier, false)
  }
  op.update(101, out)
  const ref = twoPass([100.1, 99.9, 100, 100.1, 99.9], 0, 5)
  assert.ok(near(out.zscore as number, (101 - ref.mean) / ref.std, 1e-14))
  assert.ok((out.zscore as number) > 3)
  assert.equal(out.outlier, true)
  // the jump is now in the window: the next price at the same level is not an outlier
  op.update(101, out)
  assert.equal(out.outlier, false)
})

test('no flag before minPoints previous prices; the threshold is strict and configurable', () => {
  const ps = [100, 100.02, 99.98, 100, 100.02, 99.98, 100, 100.02, 99.98, 100, 130]
  for (const [minPoints, expectFlag] of [
    [10, true],
    [11, false],
  ] as const) {
    const op = new SymbolIndicators(indicatorConfig({ window: 10, minPoints }))
    const out = newIndicatorValues()
    for (const p of ps) op.update(p, out)
    assert.ok((out.zscore as number) > 1000)
    assert.equal(out.outlier, expectFlag)
  }
  // |z| equal to the threshold is not an outlier; just above it is
  const zOf = (zThreshold: number): IndicatorValues => {
    const op = new SymbolIndicators(indicatorConfig({ window: 3, minPoints: 0, zThreshold }))
    const out = newIndicatorValues()
    for (const p of [100, 100.5, 99.75, 103]) op.update(p, out)
    return out
  }
  const z = zOf(1).zscore as number
  assert.ok(z > 3)
  assert.equal(zOf(z).outlier, false)
  assert.equal(zOf(z * (1 - 2 * Number.EPSILON)).outlier, true)
})

test('a flat stretch: price std and volatility exactly 0, z-score null, no outlier', () => {
  const op = new SymbolIndicators(indicatorConfig({ window: 10, minPoints: 0 }))
  const out = newIndicatorValues()
  for (const p of [100.01, 107.3, 99.2, 100.5]) op.update(p, out)
  for (let i = 0; i < 11; i++) op.update(250.25, out)
  assert.equal(out.priceStd, 0)
  assert.equal(out.sma, 250.25)
  assert.equal(out.volatility, 0)
  assert.equal(out.zscore, null)
  assert.equal(out.outlier, false)
  assert.equal(out.min, 250.25)
  assert.equal(out.max, 250.25)
  // the first move off the flat window: σ = 0, still null
  op.update(250.26, out)
  assert.equal(out.zscore, null)
  // the next one is measured against a window with one different price: tiny σ, huge z
  op.update(250.3, out)
  assert.ok(Number(out.zscore) > 3 && out.outlier) // Number(null) would be 0
})

test('updateNumbers writes the same values, NaN for null', () => {
  const cents = generateCents({
    kind: 'xorshift32-walk-v1',
    seed: 4242,
    length: 3000,
    startCents: 20000,
    lowCents: 10000,
    highCents: 50000,
    regimeOdds: 300,
    jumpOdds: 400,
    spikeOdds: 200,
    flats: [[1000, 150]],
  })
  const a = new SymbolIndicators(indicatorConfig({ window: 50 }))
  const b = new SymbolIndicators(indicatorConfig({ window: 50 }))
  const va = newIndicatorValues()
  const vb = newIndicatorNumbers()
  for (const c of cents) {
    a.update(c / 100, va)
    b.updateNumbers(c / 100, vb)
    assert.deepEqual(va, {
      ...vb,
      sma: nullable(vb.sma),
      priceStd: nullable(vb.priceStd),
      volatility: nullable(vb.volatility),
      zscore: nullable(vb.zscore),
    })
  }
})

test('a price that is not finite and > 0 throws INVALID_ARGUMENT and changes nothing', () => {
  const op = new SymbolIndicators(DEFAULT_INDICATOR_CONFIG)
  const out = newIndicatorValues()
  op.update(100, out)
  op.update(101, out)
  const before = op.saveState()
  for (const bad of [0, -1, NaN, Infinity, -Infinity]) {
    assert.throws(() => op.update(bad, out), { code: ErrorCodes.INVALID_ARGUMENT })
  }
  assert.deepEqual(op.saveState(), before)
  assert.equal(op.ticks, 2)
})

// ---- checkpoint state ----

/** Every output field of every tick, as numbers (NaN for null), to compare bit for bit. */
function record(op: SymbolIndicators, prices: Float64Array, from: number, to: number): Float64Array {
  const out: IndicatorNumbers = newIndicatorNumbers()
  const rec = new Float64Array((to - from) * 9)
  for (let i = from; i < to; i++) {
    op.updateNumbers(prices[i], out)
    const k = (i - from) * 9
    rec[k] = out.count
    rec[k + 1] = out.ema
    rec[k + 2] = out.sma
    rec[k + 3] = out.priceStd
    rec[k + 4] = out.volatility
    rec[k + 5] = out.zscore
    rec[k + 6] = out.outlier ? 1 : 0
    rec[k + 7] = out.min
    rec[k + 8] = out.max
  }
  return rec
}

/** Index of the first element that differs bitwise (Object.is), or −1. */
function firstDifference(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) return 0
  for (let i = 0; i < a.length; i++) if (!Object.is(a[i], b[i])) return i
  return -1
}

test('restore() at random cut points continues bit-identically over long runs', (t) => {
  const cents = generateCents({
    kind: 'xorshift32-walk-v1',
    seed: 31337,
    length: 200_000,
    startCents: 40000,
    lowCents: 10000,
    highCents: 50000,
    regimeOdds: 2000,
    jumpOdds: 3000,
    spikeOdds: 1500,
    flats: [
      [5000, 300],
      [120_000, 40],
    ],
  })
  const prices = Float64Array.from(cents, (c) => c / 100)
  let u = 12345
  const random = (k: number): number => {
    u = (Math.imul(u, 1103515245) + 12345) >>> 0
    return u % k
  }
  const configs: Array<Partial<IndicatorConfig>> = [
    {},
    { window: 2 },
    { window: 5, emaAdjust: true },
    { window: 20, emaSpan: 7.5, zThreshold: 2 },
    { window: 250, emaAdjust: true },
    // Above the recomputation period: the sums are also recomputed every 1024 ticks.
    { window: 1500 },
  ]
  for (const partial of configs) {
    const config = indicatorConfig(partial)
    const n = config.window
    // cut points: the edges of the window filling up, inside and after the flat stretches, random
    const cuts = [0, 1, 2, n - 1, n, n + 1, n + 2, 2 * n, 5003, 5301, 120_020]
    const randomCuts = Array.from({ length: 8 }, () => random(prices.length))
    const sorted = [...new Set([...cuts, ...randomCuts])].sort((a, b) => a - b)
    // One never-saved operator records every output and saves its state at each cut.
    const live = new SymbolIndicators(config)
    const reference = new Float64Array(prices.length * 9)
    const states = new Map<number, Float64Array>()
    let pos = 0
    for (const cut of sorted) {
      reference.set(record(live, prices, pos, cut), pos * 9)
      pos = cut
      const state = live.saveState()
      assert.equal(state.length, 15 + Math.min(cut, n + 1))
      assert.equal(live.stateLength, state.length)
      states.set(cut, state)
    }
    reference.set(record(live, prices, pos, prices.length), pos * 9)
    const finalState = live.saveState()
    let continued = 0
    for (const cut of sorted) {
      const state = states.get(cut) as Float64Array
      const restored = SymbolIndicators.restore(config, state)
      assert.equal(restored.ticks, cut)
      assert.deepEqual(restored.saveState(), state)
      // to the end of the series after the random cuts; a bounded stretch after the others
      const to = randomCuts.includes(cut) ? prices.length : Math.min(prices.length, cut + 4 * n + 2000)
      const rest = record(restored, prices, cut, to)
      continued += to - cut
      const d = firstDifference(rest, reference.subarray(cut * 9, to * 9))
      assert.equal(d, -1, `window ${n} cut ${cut}: differs at tick ${cut + Math.floor(d / 9)} field ${d % 9}`)
      if (to === prices.length) assert.deepEqual(restored.saveState(), finalState)
    }
    t.diagnostic(`window ${n}: ${sorted.length} cuts, ${continued} restored updates compared bit for bit`)
  }
})

test('saveStateInto packs states back to back; thresholds may change on restore', () => {
  const config = indicatorConfig({ window: 10 })
  const ops = [3, 10, 11, 40].map((ticks) => {
    const op = new SymbolIndicators(config)
    const out = newIndicatorValues()
    for (let i = 0; i < ticks; i++) op.update(100 + ((i * 7) % 5) * 0.25, out)
    return op
  })
  const total = ops.reduce((s, op) => s + op.stateLength, 0)
  assert.equal(total, 15 * 4 + 3 + 10 + 11 + 11)
  const buf = new Float64Array(total)
  let at = 0
  for (const op of ops) at += op.saveStateInto(buf, at)
  assert.equal(at, total)
  assert.throws(() => ops[0].saveStateInto(new Float64Array(5), 0), { code: ErrorCodes.INVALID_ARGUMENT })
  at = 0
  for (const op of ops) {
    const state = buf.subarray(at, at + op.stateLength)
    at += state.length
    const other = SymbolIndicators.restore({ ...config, zThreshold: 1, minPoints: 0 }, state)
    const a = newIndicatorValues()
    const b = newIndicatorValues()
    op.update(150, a)
    other.update(150, b)
    assert.equal(b.zscore, a.zscore)
    assert.equal(b.outlier, true) // threshold 1 and no minimum
  }
})

test('restore() rejects a state that does not fit the config', () => {
  const config = indicatorConfig({ window: 10, emaSpan: 12 })
  const op = new SymbolIndicators(config)
  const out = newIndicatorValues()
  for (let i = 0; i < 25; i++) op.update(100 + (i % 4), out)
  const good = op.saveState()
  assert.equal(good.length, 15 + 11)
  SymbolIndicators.restore(config, good) // fits
  const mutate = (i: number, v: number): Float64Array => {
    const s = good.slice()
    s[i] = v
    return s
  }
  const cases: Array<[string, IndicatorConfig, Float64Array]> = [
    ['other window', indicatorConfig({ window: 11, emaSpan: 12 }), good],
    ['other span', indicatorConfig({ window: 10, emaSpan: 10 }), good],
    ['other EMA form', indicatorConfig({ window: 10, emaSpan: 12, emaAdjust: true }), good],
    ['truncated', config, good.subarray(0, good.length - 1)],
    ['too long', config, Float64Array.from([...good, 100])],
    ['header only', config, good.subarray(0, 10)],
    ['version', config, mutate(0, 1)],
    ['count not an integer', config, mutate(4, 24.5)],
    ['count negative', config, mutate(4, -1)],
    ['count not matching the length', config, mutate(4, 5)],
    ['NaN sum', config, mutate(9, NaN)],
    ['negative sum of squares', config, mutate(9, -1)],
    ['infinite EMA', config, mutate(5, Infinity)],
    ['negative price', config, mutate(good.length - 1, -100)],
    ['zero price', config, mutate(20, 0)],
    ['denominator in the recursive form', config, mutate(6, 1)],
  ]
  for (const [what, cfg, state] of cases) {
    assert.throws(() => SymbolIndicators.restore(cfg, state), { code: ErrorCodes.INVALID_ARGUMENT }, what)
  }
  // a fresh operator's state restores to a fresh operator
  const fresh = new SymbolIndicators(config).saveState()
  assert.equal(fresh.length, 15)
  const again = SymbolIndicators.restore(config, fresh)
  const a = newIndicatorValues()
  again.update(100, a)
  assert.equal(a.count, 1)
  assert.equal(a.ema, 100)
})

// ---- window moments and extrema on data that breaks naive rolling updates ----

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

/** Named positive series: each breaks some naive rolling update. */
function hardSeries(): Array<[string, number[]]> {
  const u = rng(5)
  const out: Array<[string, number[]]> = []
  out.push(['1e6 + N(0,1e-3)-ish noise', Array.from({ length: 20_000 }, () => 1e6 + (u() - 0.5) * 1e-3)])
  // loud (±50 around 300) then quiet (one cent moves), repeatedly
  const loudQuiet: number[] = []
  let cents = 30000
  for (let k = 0; k < 40; k++) {
    for (let i = 0; i < 300; i++) loudQuiet.push((cents = 30000 + Math.floor(u() * 10001) - 5000) / 100)
    for (let i = 0; i < 700; i++) {
      if (u() < 0.05) cents += u() < 0.5 ? -1 : 1
      loudQuiet.push(cents / 100)
    }
  }
  out.push(['loud stretches then one-cent moves', loudQuiet])
  // a single huge spike in a quiet market, again and again: the variance collapses when it leaves
  const spikes: number[] = []
  cents = 10000
  for (let i = 0; i < 30_000; i++) {
    if (u() < 0.3) cents += u() < 0.5 ? -1 : 1
    spikes.push(i % 3001 === 1000 ? 5000 : cents / 100)
  }
  out.push(['rare 50x spikes in a one-cent market', spikes])
  // flat stretches longer and shorter than the windows, between random-walk moves
  const flat: number[] = []
  cents = 25000
  for (let k = 0; k < 100; k++) {
    const len = 1 + Math.floor(u() * 250)
    for (let i = 0; i < len; i++) flat.push(cents / 100)
    for (let i = 0; i < 50; i++) flat.push((cents += Math.floor(u() * 21) - 10) / 100)
  }
  out.push(['flat stretches', flat])
  // a trend: the mean runs away from any fixed shift
  out.push(['trend 100 → 10100 + noise', Array.from({ length: 50_000 }, (_, i) => 100 + i / 5 + u() * 0.01)])
  out.push(['tiny values 1e-5 ± 1e-9', Array.from({ length: 10_000 }, () => 1e-5 + (u() - 0.5) * 2e-9)])
  return out
}

test('sma, price std and volatility match a two-pass computation at every index, within the error bound', (t) => {
  const out = newIndicatorNumbers()
  for (const [name, xs] of hardSeries()) {
    const logs = xs.map((x) => Math.log(x))
    const returns = logs.map((l, i) => (i === 0 ? 0 : l - logs[i - 1]))
    for (const n of [2, 3, 20, 100, 1000, 1500]) {
      const op = new SymbolIndicators(indicatorConfig({ window: n }))
      let worstMean = 0
      let worstStd = 0
      let worstVol = 0
      for (let i = 0; i < xs.length; i++) {
        op.updateNumbers(xs[i], out)
        if (i + 1 < n) continue
        const ref = twoPass(xs, i + 1 - n, i + 1)
        const scale = Math.abs(ref.mean)
        const eMean = Math.abs(out.sma - ref.mean) / scale
        // Absolute floor: a std below ~1e-13 of the level is already rounding noise in the input.
        const eStd = Math.abs(out.priceStd - ref.std) / Math.max(ref.std, 1e-13 * scale)
        worstMean = Math.max(worstMean, eMean)
        worstStd = Math.max(worstStd, eStd)
        // S1's error is at most ~4·min(N, 1024)·ε·max|x − K|, far below an ulp of the level here.
        assert.ok(eMean <= 1e-13, `${name} N=${n} i=${i}: sma ${out.sma} vs two-pass ${ref.mean}`)
        // The module's bound on M2 is 4·min(N, 1024)·256·ε (1.2e-10), half of it on the std.
        assert.ok(eStd <= 1e-10, `${name} N=${n} i=${i}: std ${out.priceStd} vs two-pass ${ref.std}`)
        if (i >= n) {
          const vol = twoPass(returns, i + 1 - n, i + 1).std
          const eVol = Math.abs(out.volatility - vol) / Math.max(vol, 1e-15)
          worstVol = Math.max(worstVol, eVol)
          assert.ok(eVol <= 1e-10, `${name} N=${n} i=${i}: volatility ${out.volatility} vs two-pass ${vol}`)
        }
      }
      t.diagnostic(
        `${name}, N=${n}: worst relative error sma ${worstMean.toExponential(2)}, price std ${worstStd.toExponential(2)}, volatility ${worstVol.toExponential(2)}`,
      )
    }
  }
})

test('a flat window has std exactly 0 and mean exactly its value, whatever came before', () => {
  const op = new SymbolIndicators(indicatorConfig({ window: 5 }))
  const out = newIndicatorNumbers()
  for (const x of [300.01, 512.77, 100.5, 299.99, 300.02, 300.03]) op.updateNumbers(x, out)
  for (let i = 0; i < 5; i++) {
    op.updateNumbers(300.07, out)
    if (i < 4) assert.ok(out.priceStd > 0)
  }
  assert.equal(out.priceStd, 0)
  assert.equal(out.sma, 300.07)
  op.updateNumbers(300.07, out)
  assert.ok(Number.isNaN(out.zscore), 'no z-score against a flat window')
  op.updateNumbers(300.08, out)
  assert.ok(out.priceStd > 0)
})

test('the z-score is (x − mean)/std accurate to the std scale, not to an ulp of the level', () => {
  const u = rng(9)
  const xs = Array.from({ length: 5000 }, () => 1e6 + Math.floor(u() * 100) / 1e4)
  const n = 40
  const op = new SymbolIndicators(indicatorConfig({ window: n }))
  const out = newIndicatorNumbers()
  for (let i = 0; i < xs.length; i++) {
    op.updateNumbers(xs[i], out)
    if (i < 2) continue
    const from = Math.max(0, i - n)
    const x = xs[i]
    // Σ(x − w)/n: each difference is exact (Sterbenz), the sum compensated
    const deviation = sum(xs, from, i, (w) => x - w) / (i - from)
    const sigma = twoPass(xs, from, i).std
    if (!(sigma > 0)) continue
    const want = deviation / sigma
    assert.ok(Math.abs(out.zscore - want) <= 1e-9 * Math.abs(want) + 1e-9, `i=${i}: ${out.zscore} vs ${want}`)
  }
})

test('min and max equal a scan of the window at every index', () => {
  const u = rng(17)
  let walk = 5000
  const datasets: Array<[string, number[]]> = [
    ['few distinct values (ties)', Array.from({ length: 3000 }, () => 1 + Math.floor(u() * 4))],
    ['uniform', Array.from({ length: 3000 }, () => 1 + u() * 1000)],
    ['random walk', Array.from({ length: 3000 }, () => (walk += Math.floor(u() * 21) - 10))],
    ['increasing', Array.from({ length: 1000 }, (_, i) => 1 + i)],
    ['decreasing', Array.from({ length: 1000 }, (_, i) => 2000 - i)],
    ['sawtooth', Array.from({ length: 1000 }, (_, i) => 100 + (i % 13) - (i % 7))],
  ]
  const out = newIndicatorNumbers()
  for (const [name, xs] of datasets) {
    for (const n of [2, 3, 5, 16, 100, 999]) {
      const op = new SymbolIndicators(indicatorConfig({ window: n }))
      xs.forEach((x, i) => {
        op.updateNumbers(x, out)
        let min = Infinity
        let max = -Infinity
        for (let j = Math.max(0, i + 1 - n); j <= i; j++) {
          min = Math.min(min, xs[j])
          max = Math.max(max, xs[j])
        }
        assert.equal(out.min, min, `${name} N=${n} i=${i} min`)
        assert.equal(out.max, max, `${name} N=${n} i=${i} max`)
      })
    }
  }
})

test('the EMA is the Ema operator of the same span and form, bit for bit', () => {
  const u = rng(77)
  const out = newIndicatorNumbers()
  for (const emaAdjust of [false, true]) {
    for (const emaSpan of [1, 7.5, 100]) {
      const op = new SymbolIndicators(indicatorConfig({ window: 10, emaSpan, emaAdjust }))
      const ema = new Ema(emaSpan, emaAdjust)
      let cents = 10000
      for (let i = 0; i < 3000; i++) {
        // flat stretches too: an EMA equal to the price is kept exactly
        if (u() < 0.7) cents += Math.floor(u() * 5) - 2
        const x = cents / 100
        op.updateNumbers(x, out)
        assert.ok(Object.is(out.ema, ema.update(x)), `span ${emaSpan} adjust ${emaAdjust} i ${i}`)
      }
    }
  }
})
