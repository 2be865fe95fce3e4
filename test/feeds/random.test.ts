import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import { Random } from '../../src/feeds/random.ts'

/** cyrb128 and sfc32 as bryc publishes them (github.com/bryc/code, PRNGs.md), written independently. */
function referenceStream(seed: string): () => number {
  let h1 = 1779033703,
    h2 = 3144134277,
    h3 = 1013904242,
    h4 = 2773480762
  for (let i = 0, k; i < seed.length; i++) {
    k = seed.charCodeAt(i)
    h1 = h2 ^ Math.imul(h1 ^ k, 597399067)
    h2 = h3 ^ Math.imul(h2 ^ k, 2869860233)
    h3 = h4 ^ Math.imul(h3 ^ k, 951274213)
    h4 = h1 ^ Math.imul(h4 ^ k, 2716044179)
  }
  h1 = Math.imul(h3 ^ (h1 >>> 18), 597399067)
  h2 = Math.imul(h4 ^ (h2 >>> 22), 2869860233)
  h3 = Math.imul(h1 ^ (h3 >>> 17), 951274213)
  h4 = Math.imul(h2 ^ (h4 >>> 19), 2716044179)
  h1 ^= h2 ^ h3 ^ h4
  h2 ^= h1
  h3 ^= h1
  h4 ^= h1
  let a = h1,
    b = h2,
    c = h3,
    d = h4
  return () => {
    a |= 0
    b |= 0
    c |= 0
    d |= 0
    const t = (((a + b) | 0) + d) | 0
    d = (d + 1) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    c = (c + t) | 0
    return t >>> 0
  }
}

test('the stream is sfc32 seeded by cyrb128, after 15 discarded outputs', () => {
  for (const seed of ['42', 'tickflow', '', 'AAPL|MSFT', '\u00e9\u{1f600}']) {
    const ref = referenceStream(seed)
    for (let i = 0; i < 15; i++) ref()
    const r = new Random(seed)
    for (let i = 0; i < 1000; i++) assert.equal(r.uint32(), ref(), `seed ${JSON.stringify(seed)}, output ${i}`)
  }
})

test('known answers for seed 42 (a change here changes every synthetic data set)', () => {
  const r = new Random(42)
  assert.deepEqual([r.uint32(), r.uint32(), r.uint32(), r.uint32()], [2258495261, 801819658, 1739561921, 3711374978])
})

/** The first values of every method, in a fixed call pattern. */
function sample(seed: number | string): number[] {
  const r = new Random(seed)
  const out: number[] = []
  for (let i = 0; i < 200; i++) out.push(r.next(), r.normal(), r.int(-10, 10), r.pick([1, 2, 3]), r.uint32())
  return out
}

test('same seed, same sequence; a number and its decimal string are the same seed', () => {
  assert.deepEqual(sample(7), sample(7))
  assert.deepEqual(sample('orders'), sample('orders'))
  assert.deepEqual(sample(42), sample('42'))
  assert.deepEqual(sample(1.5), sample('1.5'))
})

test('different seeds give different sequences', () => {
  const seqs = [1, 2, 3, 'a', 'b', 'A', 0, -1].map(sample)
  for (let i = 0; i < seqs.length; i++) {
    for (let j = i + 1; j < seqs.length; j++) assert.notDeepEqual(seqs[i], seqs[j])
  }
  // Neighbouring seeds are not merely shifted copies of each other.
  const a = new Set(sample(1))
  const overlap = sample(2).filter((x) => a.has(x) && !Number.isInteger(x)).length
  assert.equal(overlap, 0)
})

test('a non-finite numeric seed is refused', () => {
  for (const seed of [NaN, Infinity, -Infinity]) {
    assert.throws(() => new Random(seed), { code: ErrorCodes.INVALID_ARGUMENT })
  }
})

test('next() is uniform on [0, 1)', () => {
  const r = new Random('uniform')
  const n = 100_000
  const bins = new Array<number>(20).fill(0)
  let sum = 0
  for (let i = 0; i < n; i++) {
    const x = r.next()
    assert.ok(x >= 0 && x < 1)
    sum += x
    bins[Math.floor(x * 20)]++
  }
  assert.ok(Math.abs(sum / n - 0.5) < 0.005)
  // Chi-square with 19 degrees of freedom: the 99.9% quantile is 43.8.
  const expected = n / 20
  const chi2 = bins.reduce((s, b) => s + (b - expected) ** 2 / expected, 0)
  assert.ok(chi2 < 43.8, `chi2 ${chi2}`)
})

test('normal() has mean 0, std 1 and normal tails over 100k draws', () => {
  const r = new Random('normal')
  const n = 100_000
  let s1 = 0
  let s2 = 0
  let s3 = 0
  let s4 = 0
  let beyond196 = 0
  for (let i = 0; i < n; i++) {
    const z = r.normal()
    s1 += z
    s2 += z * z
    s3 += z ** 3
    s4 += z ** 4
    if (Math.abs(z) > 1.96) beyond196++
  }
  const mean = s1 / n
  const std = Math.sqrt((s2 - n * mean * mean) / (n - 1))
  // Standard errors: mean 0.0032, std 0.0022, skewness 0.0077, kurtosis 0.015, tail share 0.0007.
  assert.ok(Math.abs(mean) < 0.015, `mean ${mean}`)
  assert.ok(Math.abs(std - 1) < 0.01, `std ${std}`)
  assert.ok(Math.abs(s3 / n) < 0.04, `skewness ${s3 / n}`)
  assert.ok(Math.abs(s4 / n - 3) < 0.08, `kurtosis ${s4 / n}`)
  assert.ok(Math.abs(beyond196 / n - 0.05) < 0.004, `tail share ${beyond196 / n}`)
})

test('int(lo, hi) is inclusive at both ends and uniform', () => {
  const r = new Random('dice')
  const counts = new Map<number, number>()
  for (let i = 0; i < 60_000; i++) {
    const v = r.int(1, 6)
    counts.set(v, (counts.get(v) ?? 0) + 1)
  }
  assert.deepEqual([...counts.keys()].sort(), [1, 2, 3, 4, 5, 6])
  for (const c of counts.values()) assert.ok(Math.abs(c - 10_000) < 500, `count ${c}`)
  assert.equal(r.int(5, 5), 5)
  for (let i = 0; i < 1000; i++) {
    const v = r.int(-3, -1)
    assert.ok(v >= -3 && v <= -1 && Number.isInteger(v))
  }
  const wide = r.int(0, 2 ** 32 - 1)
  assert.ok(Number.isInteger(wide) && wide >= 0 && wide < 2 ** 32)
})

test('int refuses empty, fractional and too-wide ranges', () => {
  const r = new Random(1)
  for (const [lo, hi] of [
    [2, 1],
    [0.5, 3],
    [0, 2.5],
    [0, 2 ** 32],
    [NaN, 1],
    [0, Infinity],
  ]) {
    assert.throws(() => r.int(lo, hi), { code: ErrorCodes.INVALID_ARGUMENT }, `[${lo}, ${hi}]`)
  }
})

test('pick draws every element and refuses an empty array', () => {
  const r = new Random('pick')
  const items = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'TSLA'] as const
  const seen = new Map<string, number>()
  for (let i = 0; i < 50_000; i++) {
    const s = r.pick(items)
    seen.set(s, (seen.get(s) ?? 0) + 1)
  }
  assert.equal(seen.size, items.length)
  for (const c of seen.values()) assert.ok(Math.abs(c - 10_000) < 500, `count ${c}`)
  assert.throws(() => r.pick([]), { code: ErrorCodes.INVALID_ARGUMENT })
})
