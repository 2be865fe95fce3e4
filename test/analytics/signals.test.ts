import assert from 'node:assert/strict'
import { test } from 'node:test'
import { SignalBits, signalConfig, SymbolSignals } from '../../src/analytics/signals.ts'
import { ErrorCodes } from '../../src/errors.ts'

// An independent reference: both EMAs by their textbook recursion, crossovers as sign changes of
// fast − slow once `slow` prices were seen (zero differences keep the previous sign).
function referenceCrossings(prices: number[], fast: number, slow: number): Map<number, 'up' | 'down'> {
  const af = 2 / (fast + 1)
  const as = 2 / (slow + 1)
  let f = prices[0]
  let s = prices[0]
  let sign = 0
  const out = new Map<number, 'up' | 'down'>()
  prices.forEach((p, i) => {
    if (i > 0) {
      f = af * p + (1 - af) * f
      s = as * p + (1 - as) * s
    }
    if (i + 1 < slow) return
    const d = Math.sign(f - s)
    if (d !== 0) {
      if (sign !== 0 && d !== sign) out.set(i, d > 0 ? 'up' : 'down')
      sign = d
    }
  })
  return out
}

test('EMA crossovers fire exactly where the fast EMA crosses the slow one, never in the warm-up', () => {
  // Waves of rising and falling prices: several crossings each way.
  const prices = Array.from({ length: 2000 }, (_, i) => 100 + 10 * Math.sin(i / 40) + (i % 7) * 0.01)
  const s = new SymbolSignals(signalConfig())
  const got = new Map<number, 'up' | 'down'>()
  prices.forEach((p, i) => {
    const bits = s.update(p, null, false)
    if (bits & SignalBits.CROSS_UP) got.set(i, 'up')
    if (bits & SignalBits.CROSS_DOWN) got.set(i, 'down')
  })
  const expected = referenceCrossings(prices, 12, 26)
  assert.ok(expected.size >= 10, `the series crosses often (${expected.size})`)
  assert.deepEqual(got, expected)
  assert.ok([...got.keys()].every((i) => i >= 25))
})

test('outliers pass through; a volatility breakout fires once per rise above ratio × baseline', () => {
  const s = new SymbolSignals(signalConfig({ minPoints: 30, breakoutRatio: 2, baselineSpan: 20 }))
  const fired: number[] = []
  const vols = [...Array(60).fill(0.01), 0.05, 0.06, 0.05, ...Array(200).fill(0.01), 0.1]
  vols.forEach((v, i) => {
    const bits = s.update(100, v, i === 5)
    if (i === 5) assert.ok(bits & SignalBits.OUTLIER)
    if (bits & SignalBits.BREAKOUT) fired.push(i)
  })
  assert.deepEqual(fired, [60, vols.length - 1])
  // Not before minPoints volatility values, however large.
  const early = new SymbolSignals(signalConfig({ minPoints: 30 }))
  const bits = [0.01, 0.01, 1].map((v) => early.update(100, v, false))
  assert.deepEqual(bits, [0, 0, 0])
})

test('a restored state continues bit for bit', () => {
  const config = signalConfig()
  const a = new SymbolSignals(config)
  const prices = Array.from({ length: 500 }, (_, i) => 50 + Math.cos(i / 9) * 3 + i * 0.001)
  const vols = prices.map((_, i) => (i < 5 ? null : 0.01 + ((i * 7919) % 13) * 0.002))
  for (let i = 0; i < 250; i++) a.update(prices[i], vols[i], false)
  const b = SymbolSignals.restore(config, a.saveState())
  for (let i = 250; i < 500; i++) {
    assert.equal(b.update(prices[i], vols[i], false), a.update(prices[i], vols[i], false))
    assert.deepEqual(b.saveState(), a.saveState())
  }
  assert.throws(
    () => SymbolSignals.restore(config, new Float64Array(3)),
    (e: { code?: string }) => e.code === ErrorCodes.INVALID_ARGUMENT,
  )
})

test('bad signal settings are refused', () => {
  for (const bad of [{ fastSpan: 26, slowSpan: 12 }, { fastSpan: 0 }, { breakoutRatio: 1 }, { baselineSpan: 0 }]) {
    assert.throws(
      () => signalConfig(bad),
      (e: { code?: string }) => e.code === ErrorCodes.INVALID_ARGUMENT,
      JSON.stringify(bad),
    )
  }
})
