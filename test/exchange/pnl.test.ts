import assert from 'node:assert/strict'
import { test } from 'node:test'
import { PnlLedger, Position, type CostMethod } from '../../src/exchange/pnl.ts'

test('the exchange note test vector: buy 10 @ 100, buy 10 @ 110, sell 15 @ 120, mark 115', () => {
  const expected: Record<CostMethod, { realized: number; unrealized: number; avg: number }> = {
    fifo: { realized: 250, unrealized: 25, avg: 110 },
    average: { realized: 225, unrealized: 50, avg: 105 },
  }
  for (const method of ['fifo', 'average'] as const) {
    const p = new Position('t', 'X', method)
    p.fill('BUY', 10, 100)
    p.fill('BUY', 10, 110)
    assert.equal(p.avgPrice, 105)
    p.fill('SELL', 15, 120)
    const f = p.figures(115)
    assert.equal(f.position, 5)
    assert.equal(f.realized, expected[method].realized, method)
    assert.equal(f.unrealized, expected[method].unrealized, method)
    assert.equal(f.avgPrice, expected[method].avg, method)
    assert.equal(f.realized + f.unrealized, 275, `${method}: realized + unrealized`)
  }
})

test('short positions, flips through zero, fees and net', () => {
  for (const method of ['fifo', 'average'] as const) {
    const p = new Position('t', 'X', method)
    p.fill('SELL', 4, 50, 0.5)
    assert.equal(p.position, -4)
    assert.equal(p.unrealized(45), 20, 'a short gains when the price falls')
    // Buying 10 closes the 4 short (gain 4 × 2) and opens 6 long at 48.
    p.fill('BUY', 10, 48, 1)
    assert.equal(p.position, 6)
    assert.equal(p.realized, 8)
    assert.equal(p.avgPrice, 48)
    assert.equal(p.unrealized(50), 12)
    const f = p.figures(50)
    assert.equal(f.fees, 1.5)
    assert.equal(f.net, 6.5)
    // Flat again: no average, nothing unrealized.
    p.fill('SELL', 6, 47)
    assert.equal(p.position, 0)
    assert.equal(p.realized, 2)
    assert.ok(Number.isNaN(p.avgPrice))
    assert.equal(p.unrealized(100), 0)
  }
})

test('FIFO closes the oldest lots first, across many lots, and survives a snapshot', () => {
  const p = new Position('t', 'X', 'fifo')
  for (let i = 1; i <= 200; i++) p.fill('BUY', 1, i)
  p.fill('SELL', 150, 300)
  // Lots 1..150 closed at 300.
  assert.equal(p.realized, 150 * 300 - (150 * 151) / 2)
  assert.equal(p.avgPrice, (151 + 200) / 2)
  const again = Position.restore(JSON.parse(JSON.stringify(p.snapshot())))
  again.fill('SELL', 50, 0)
  p.fill('SELL', 50, 0)
  assert.equal(again.realized, p.realized)
  assert.equal(again.position, 0)
})

test('random fills: realized + unrealized equals cash flow + position × mark, both methods', () => {
  let seed = 7
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  for (const method of ['fifo', 'average'] as const) {
    const p = new Position('t', 'X', method)
    let cash = 0
    for (let i = 0; i < 2000; i++) {
      const side = rnd() < 0.5 ? 'BUY' : 'SELL'
      const q = 1 + Math.floor(rnd() * 9)
      const price = 90 + Math.floor(rnd() * 20)
      p.fill(side, q, price)
      cash += side === 'BUY' ? -q * price : q * price
      const mark = 100
      assert.ok(Math.abs(p.realized + p.unrealized(mark) - (cash + p.position * mark)) < 1e-6, `${method} fill ${i}`)
    }
  }
})

test('the ledger keeps one position per trader and instrument', () => {
  const ledger = new PnlLedger('average')
  ledger.position('a', 'X').fill('BUY', 1, 10)
  ledger.position('a', 'Y').fill('SELL', 2, 20)
  ledger.position('b', 'X').fill('SELL', 1, 10)
  assert.equal(ledger.position('a', 'X').position, 1)
  assert.equal(ledger.has('b', 'Y'), false)
  assert.deepEqual(
    [...ledger.all()].map((p) => [p.trader, p.instrument, p.position]),
    [
      ['a', 'X', 1],
      ['a', 'Y', -2],
      ['b', 'X', -1],
    ],
  )
  const restored = PnlLedger.restore('average', ledger.snapshot())
  assert.deepEqual(restored.snapshot(), ledger.snapshot())
})
