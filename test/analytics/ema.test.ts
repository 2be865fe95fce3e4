/**
 * EMA forms against their closed definitions: the recursive form step by step, the normalised form
 * as an explicit weighted mean; α from the span; pandas' constant-series behaviour. The pandas
 * fixtures themselves are checked in indicators.test.ts.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Ema, emaAlpha } from '../../src/analytics/ema.ts'
import { ErrorCodes } from '../../src/errors.ts'

/** mulberry32: a tiny seeded PRNG. */
function rng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

function prices(n: number, seed: number): number[] {
  const u = rng(seed)
  let cents = 25000
  return Array.from({ length: n }, () => (cents += Math.floor(u() * 41) - 20) / 100)
}

function close(a: number, b: number, rel = 1e-13): boolean {
  return Math.abs(a - b) <= rel * Math.max(Math.abs(a), Math.abs(b))
}

test('alpha is 2/(span+1); spans below 1 or not finite are rejected', () => {
  assert.equal(emaAlpha(1), 1)
  assert.equal(emaAlpha(3), 0.5)
  assert.equal(emaAlpha(100), 2 / 101)
  assert.equal(emaAlpha(2.5), 2 / 3.5)
  for (const bad of [0.5, 0, -3, NaN, Infinity]) {
    assert.throws(() => emaAlpha(bad), { code: ErrorCodes.INVALID_ARGUMENT })
    assert.throws(() => new Ema(bad, false), { code: ErrorCodes.INVALID_ARGUMENT })
  }
})

test('recursive form: y0 = x0, then y = (1 − α)·y + α·x', () => {
  const xs = prices(2000, 1)
  for (const span of [1, 2, 5, 20, 100, 7.5]) {
    const ema = new Ema(span, false)
    assert.ok(Number.isNaN(ema.value))
    const a = 2 / (span + 1)
    let y = NaN
    xs.forEach((x, i) => {
      y = i === 0 ? x : (1 - a) * y + a * x
      const got = ema.update(x)
      assert.ok(close(got, y), `span ${span} i ${i}: ${got} vs ${y}`)
      assert.equal(ema.value, got)
    })
    assert.equal(ema.count, xs.length)
  }
  // span 1: α = 1, the EMA is the last value
  const one = new Ema(1, false)
  for (const x of xs.slice(0, 50)) assert.equal(one.update(x), x)
})

test('normalised form is the explicit weighted mean Σ(1−α)^i·x_(t−i) / Σ(1−α)^i', () => {
  const xs = prices(600, 2)
  for (const span of [2, 5, 20, 100]) {
    const ema = new Ema(span, true)
    const d = 1 - 2 / (span + 1)
    xs.forEach((x, t) => {
      const got = ema.update(x)
      if (t % 37 !== 0 && t > 5) return
      let num = 0
      let den = 0
      for (let i = 0; i <= t; i++) {
        const w = d ** i
        num += w * xs[t - i]
        den += w
      }
      assert.ok(close(got, num / den, 1e-12), `span ${span} t ${t}: ${got} vs ${num / den}`)
    })
  }
})

test('the two forms start apart and converge', () => {
  const xs = prices(5000, 3)
  const rec = new Ema(100, false)
  const adj = new Ema(100, true)
  let early = 0
  let late = 0
  xs.forEach((x, i) => {
    const diff = Math.abs(rec.update(x) - adj.update(x))
    if (i >= 10 && i < 100) early = Math.max(early, diff)
    if (i >= 4000) late = Math.max(late, diff)
  })
  assert.ok(early > 1e-3, `early difference ${early}`)
  assert.ok(late < 1e-12 * 500, `late difference ${late}`)
})

test('a constant series gives exactly that constant in the recursive form (as pandas), within rounding in the normalised one', () => {
  const ema = new Ema(100, false)
  for (let i = 0; i < 50; i++) ema.update(101.37 + (i % 3) * 0.01)
  for (let i = 0; i < 5000; i++) ema.update(99.99)
  // Converged as far as rounding allows: a step α·(x − y) below half an ulp of y rounds away, so the
  // recursion stalls within about ulp/α (≈ 50 ulps at span 100) of the constant.
  assert.ok(Math.abs(ema.value - 99.99) <= (Number.EPSILON * 99.99) / emaAlpha(100))
  const fresh = new Ema(100, false)
  for (let i = 0; i < 1000; i++) assert.equal(fresh.update(123.45), 123.45)
  const adjusted = new Ema(100, true)
  for (let i = 0; i < 1000; i++) assert.ok(close(adjusted.update(123.45), 123.45, 1e-14))
})

test('setState carries the accumulators over', () => {
  const xs = prices(300, 4)
  for (const adjust of [false, true]) {
    const a = new Ema(20, adjust)
    for (const x of xs.slice(0, 150)) a.update(x)
    const b = new Ema(20, adjust)
    b.setState(a.count, a.a, a.b)
    assert.equal(b.value, a.value)
    for (const x of xs.slice(150)) assert.equal(b.update(x), a.update(x))
  }
})
