/**
 * RollingMoments against an independent two-pass computation (compensated sums) at every index, on
 * the data that breaks add/remove updates: a level far from zero with tiny noise, quiet stretches
 * after loud ones, flat windows, long runs. Also: rebasing, the accurate deviation, interleaved
 * rings, and the save/load round trip being bit-identical.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { RollingMoments } from '../../src/analytics/rolling.ts'

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

/** Neumaier-compensated sum of f(x) over xs[from..to). */
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

/**
 * Two-pass mean and sample std of xs[from..to), on the values minus their first one: those
 * differences are exact (Sterbenz), so the first pass' rounding is at the scale of the spread, not of
 * the level (at 1e6 ± 1e-5, an ulp of the mean alone would be 1e-10 relative to the std).
 */
function twoPass(xs: ArrayLike<number>, from: number, to: number): { mean: number; std: number } {
  const n = to - from
  const k = xs[from]
  const d = sum(xs, from, to, (x) => x - k) / n
  const m2 = sum(xs, from, to, (x) => (x - k - d) * (x - k - d))
  return { mean: k + d, std: n > 1 ? Math.sqrt(m2 / (n - 1)) : NaN }
}

/** |a − b| ≤ rel·max(|a|, |b|) + abs. */
function near(a: number, b: number, rel: number, abs: number): boolean {
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b)) + abs
}

/** Named series: each breaks some naive rolling update. */
function series(): Array<[string, number[]]> {
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

test('mean and sample std match a two-pass computation at every index', (t) => {
  for (const [name, xs] of series()) {
    for (const n of [2, 3, 20, 100, 1000]) {
      const m = new RollingMoments(n)
      let worstMean = 0
      let worstStd = 0
      for (let i = 0; i < xs.length; i++) {
        m.push(xs[i])
        const from = Math.max(0, i + 1 - n)
        const ref = twoPass(xs, from, i + 1)
        assert.equal(m.size, i + 1 - from)
        const scale = Math.abs(ref.mean)
        const eMean = Math.abs(m.mean - ref.mean) / scale
        worstMean = Math.max(worstMean, eMean)
        if (m.size > 1) {
          // Absolute floor: a std below ~1e-15 of the level is already rounding noise in the input.
          const eStd = Math.abs(m.std - ref.std) / Math.max(ref.std, 1e-13 * scale)
          worstStd = Math.max(worstStd, eStd)
          assert.ok(eStd <= 1e-11, `${name} N=${n} i=${i}: std ${m.std} vs two-pass ${ref.std}`)
        } else assert.ok(Number.isNaN(m.std))
        assert.ok(eMean <= 1e-15, `${name} N=${n} i=${i}: mean ${m.mean} vs ${ref.mean}`)
      }
      t.diagnostic(
        `${name}, N=${n}: worst relative error std ${worstStd.toExponential(2)}, mean ${worstMean.toExponential(2)}`,
      )
    }
  }
})

test('a flat window has std exactly 0 and mean exactly its value, whatever came before', () => {
  const m = new RollingMoments(5)
  for (const x of [300.01, 512.77, 100.5, 299.99, 300.02, 300.03]) m.push(x)
  for (let i = 0; i < 5; i++) {
    m.push(300.07)
    if (i < 4) assert.ok(m.std > 0)
  }
  assert.equal(m.std, 0)
  assert.equal(m.mean, 300.07)
  assert.equal(m.m2, 0)
  assert.equal(m.deviation(300.07), 0)
  assert.equal(m.deviation(300.08), 300.08 - 300.07)
  m.push(300.08)
  assert.ok(m.std > 0)
})

test('the shift is rebased when the mean drifts away from it, and not on every value', () => {
  const m = new RollingMoments(50)
  let rebases = 0
  let shift = NaN
  for (let i = 0; i < 100_000; i++) {
    m.push(100 + i * 0.01 + (i % 7) * 0.003)
    if (m.shift !== shift) {
      rebases++
      shift = m.shift
    }
  }
  assert.ok(rebases > 1, `rebases ${rebases}`)
  assert.ok(rebases < 100_000 / 50, `rebases ${rebases}`)
})

test('deviation(x) is x − mean accurate to the std scale, not to an ulp of the level', () => {
  const u = rng(9)
  const xs = Array.from({ length: 5000 }, () => 1e6 + Math.floor(u() * 100) / 1e4)
  const m = new RollingMoments(40)
  for (let i = 0; i < xs.length - 1; i++) {
    m.push(xs[i])
    const from = Math.max(0, i + 1 - 40)
    const x = xs[i + 1]
    // Σ(x − w)/n: each difference is exact (Sterbenz), the sum compensated
    const ref = sum(xs, from, i + 1, (w) => x - w) / (i + 1 - from)
    assert.ok(near(m.deviation(x), ref, 1e-12, 1e-15), `i=${i}: ${m.deviation(x)} vs ${ref}`)
  }
})

test('rings interleaved in one buffer behave as separate ones', () => {
  const u = rng(3)
  const buf = new Float64Array(3 * 10)
  const a = new RollingMoments(10, buf, 0, 3)
  const b = new RollingMoments(10, buf, 2, 3)
  const a1 = new RollingMoments(10)
  const b1 = new RollingMoments(10)
  for (let i = 0; i < 1000; i++) {
    const x = 100 + u()
    const y = -5 + u()
    a.push(x)
    b.push(y)
    a1.push(x)
    b1.push(y)
    assert.equal(a.std, a1.std)
    assert.equal(b.std, b1.std)
    assert.equal(a.valueAt((a.head + 9) % 10), x)
    assert.equal(b.valueAt((b.head + 9) % 10), y)
  }
  assert.throws(() => new RollingMoments(10, buf, 3, 3), RangeError)
  assert.throws(() => new RollingMoments(11, buf, 0, 3), RangeError)
})

test('saveSums + copyValues + load continue bit-identically', () => {
  for (const [name, xs] of series()) {
    const u = rng(xs.length)
    for (const n of [2, 20, 100]) {
      for (let k = 0; k < 5; k++) {
        const cut = Math.floor(u() * xs.length)
        const live = new RollingMoments(n)
        for (let i = 0; i < cut; i++) live.push(xs[i])
        const sums = new Float64Array(5)
        live.saveSums(sums, 0)
        const values = new Float64Array(n)
        const count = live.copyValues(values, 0)
        assert.equal(count, Math.min(cut, n))
        const restored = new RollingMoments(n)
        restored.load(values, 0, count, sums[0], sums, 1)
        assert.ok(Object.is(restored.mean, live.mean) && Object.is(restored.std, live.std), `${name} cut ${cut}`)
        for (let i = cut; i < Math.min(xs.length, cut + 3 * n + 50); i++) {
          live.push(xs[i])
          restored.push(xs[i])
          assert.ok(Object.is(restored.std, live.std), `${name} N=${n} cut ${cut} i ${i}`)
          assert.ok(Object.is(restored.mean, live.mean))
          assert.ok(Object.is(restored.deviation(xs[i] + 0.01), live.deviation(xs[i] + 0.01)))
        }
      }
    }
  }
})
