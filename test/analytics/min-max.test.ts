/**
 * Sliding-window min/max (van Herk / Gil-Werman blocks) against a brute-force scan of the window at
 * every index: random data with many ties, monotone runs (the worst case for deques), window sizes
 * from 1 up, interleaved layouts, and rebuild() from a ring laid out oldest-first.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { WindowExtrema, extremaLayout, type ExtremaLayout } from '../../src/analytics/min-max.ts'

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

function datasets(): Array<[string, number[]]> {
  const u = rng(17)
  let walk = 0
  return [
    ['few distinct values (ties)', Array.from({ length: 3000 }, () => Math.floor(u() * 4))],
    ['uniform', Array.from({ length: 3000 }, () => u() * 1000 - 500)],
    ['random walk', Array.from({ length: 3000 }, () => (walk += Math.floor(u() * 21) - 10))],
    ['increasing', Array.from({ length: 1000 }, (_, i) => i)],
    ['decreasing', Array.from({ length: 1000 }, (_, i) => -i)],
    ['sawtooth', Array.from({ length: 1000 }, (_, i) => (i % 13) - (i % 7))],
  ]
}

/** Feeds xs through a WindowExtrema over `layout`, as the indicator operator does. */
class Driver {
  readonly e: WindowExtrema
  readonly layout: ExtremaLayout
  head = 0
  size = 0
  constructor(layout: ExtremaLayout) {
    this.layout = layout
    this.e = new WindowExtrema(layout)
  }
  push(x: number): void {
    const { buf, value, stride, cap } = this.layout
    const evicted = this.size === cap
    buf[value + this.head * stride] = x
    this.e.push(this.head, evicted)
    if (!evicted) this.size++
    this.head = this.head + 1 === cap ? 0 : this.head + 1
  }
}

function brute(xs: number[], i: number, n: number): { min: number; max: number } {
  let min = Infinity
  let max = -Infinity
  for (let j = Math.max(0, i + 1 - n); j <= i; j++) {
    min = Math.min(min, xs[j])
    max = Math.max(max, xs[j])
  }
  return { min, max }
}

test('min and max equal a scan of the window at every index', () => {
  for (const [name, xs] of datasets()) {
    for (const n of [1, 2, 3, 5, 16, 100, 999]) {
      const d = new Driver(extremaLayout(n))
      assert.ok(Number.isNaN(d.e.min) && Number.isNaN(d.e.max))
      xs.forEach((x, i) => {
        d.push(x)
        const want = brute(xs, i, n)
        assert.equal(d.e.min, want.min, `${name} N=${n} i=${i} min`)
        assert.equal(d.e.max, want.max, `${name} N=${n} i=${i} max`)
      })
    }
  }
})

test('an interleaved layout (stride 4, shared buffer) gives the same results', () => {
  const xs = datasets()[2][1]
  const n = 37
  const buf = new Float64Array(4 * n).fill(12345) // other rings' data in the gaps must not matter
  const d = new Driver({ buf, cap: n, stride: 4, value: 1, max: 3, min: 0 })
  xs.forEach((x, i) => {
    d.push(x)
    const want = brute(xs, i, n)
    assert.equal(d.e.min, want.min)
    assert.equal(d.e.max, want.max)
    for (let j = 0; j < n; j++) assert.equal(buf[4 * j + 2], 12345) // slot 2 untouched
  })
  assert.throws(() => new WindowExtrema({ buf, cap: n, stride: 4, value: 1, max: 4, min: 0 }), RangeError)
  assert.throws(() => new WindowExtrema({ buf, cap: n + 1, stride: 4, value: 0, max: 1, min: 2 }), RangeError)
})

test('rebuild() from an oldest-first ring continues with the same results', () => {
  const u = rng(23)
  for (const [name, xs] of datasets()) {
    for (const n of [1, 2, 7, 100]) {
      for (let k = 0; k < 6; k++) {
        const cut = Math.floor(u() * xs.length)
        const size = Math.min(cut, n)
        const layout = extremaLayout(n)
        const d = new Driver(layout)
        for (let j = 0; j < size; j++) layout.buf[layout.value + j * layout.stride] = xs[cut - size + j]
        d.e.rebuild(size)
        d.size = size
        d.head = size === n ? 0 : size
        if (size > 0) {
          const want = brute(xs, cut - 1, n)
          assert.equal(d.e.min, want.min, `${name} N=${n} cut ${cut}`)
          assert.equal(d.e.max, want.max)
        }
        for (let i = cut; i < Math.min(xs.length, cut + 3 * n + 10); i++) {
          d.push(xs[i])
          const want = brute(xs, i, n)
          assert.equal(d.e.min, want.min, `${name} N=${n} cut ${cut} i ${i}`)
          assert.equal(d.e.max, want.max)
        }
      }
    }
  }
})
