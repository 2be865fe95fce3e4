import assert from 'node:assert/strict'
import { test } from 'node:test'
import { decimalsOf, Exchange, toUnits, type OrderCommand } from '../../src/exchange/exchange.ts'
import { TradeStats, type TradeStatsSnapshot } from '../../src/exchange/trade-stats.ts'

let ts = 1_700_000_000_000
const cmd = (c: Partial<OrderCommand> & Pick<OrderCommand, 'id'>): OrderCommand => ({
  action: 'new',
  instrument: 'TCS',
  trader: 't1',
  side: 'BUY',
  type: 'limit',
  tif: 'GTC',
  price: 15,
  quantity: 5,
  ts: ts++,
  ...c,
})

test('units: prices on the tick and quantities on the lot convert exactly; others do not', () => {
  assert.equal(toUnits(15.05, 0.01), 1505)
  assert.equal(toUnits(0.3, 0.1), 3)
  assert.equal(toUnits(15.055, 0.01), undefined)
  assert.equal(toUnits(10, 5), 2)
  assert.equal(toUnits(12, 5), undefined)
  assert.equal(toUnits(Number.NaN, 1), undefined)
  assert.equal(decimalsOf(0.01), 2)
  assert.equal(decimalsOf(0.5), 1)
  assert.equal(decimalsOf(25), 0)
})

test('orders in decimal units trade into trades, order events, book updates, P&L and statistics', () => {
  const ex = new Exchange({ instruments: { TCS: { tickSize: 0.05, lotSize: 1 } }, takerFee: 0.001, statsWindow: 2 })
  const a = ex.submit(cmd({ id: 1, trader: 'seller', side: 'SELL', price: 15.05, quantity: 10 }))
  assert.deepEqual(
    a.events.map((e) => e.type),
    ['accepted'],
  )
  assert.deepEqual(a.book, {
    instrument: 'TCS',
    ts: a.events[0].ts,
    bid: null,
    bidQuantity: 0,
    ask: 15.05,
    askQuantity: 10,
    bids: [],
    asks: [[15.05, 10]],
  })
  const b = ex.submit(cmd({ id: 2, trader: 'buyer', price: 15.1, quantity: 4 }))
  assert.equal(b.trades.length, 1)
  assert.deepEqual(
    { ...b.trades[0], ts: 0 },
    {
      seq: 1,
      ts: 0,
      instrument: 'TCS',
      price: 15.05,
      quantity: 4,
      buyOrderId: 2,
      sellOrderId: 1,
      buyer: 'buyer',
      seller: 'seller',
      aggressor: 'BUY',
    },
  )
  assert.deepEqual(
    b.events.map((e) => [e.type, e.id, e.open]),
    [
      ['accepted', 2, 4],
      ['filled', 2, 0],
    ],
  )
  assert.equal(b.book?.askQuantity, 6)
  const buyer = b.pnl.find((p) => p.trader === 'buyer')!
  assert.equal(buyer.position, 4)
  assert.equal(buyer.avgPrice, 15.05)
  assert.equal(buyer.fees, 0.0602, 'the taker pays 0.1% of 60.2')
  assert.equal(b.pnl.find((p) => p.trader === 'seller')!.fees, 0, 'no maker fee')
  assert.deepEqual(
    { sma: b.stats?.sma, vwap: b.stats?.vwap, volume: b.stats?.volume },
    { sma: 15.05, vwap: 15.05, volume: 4 },
  )
  ex.submit(cmd({ id: 3, trader: 'seller', side: 'SELL', price: 15.2, quantity: 1 }))
  const c = ex.submit(cmd({ id: 4, trader: 'buyer', type: 'market', price: undefined, quantity: 8 }))
  assert.deepEqual(
    c.trades.map((t) => [t.price, t.quantity]),
    [
      [15.05, 6],
      [15.2, 1],
    ],
  )
  assert.equal(c.stats?.trades, 3)
  assert.equal(c.stats?.sma, 15.125, 'the last 2 trades')
  // Averages are not on the tick: they keep six decimals more than the tick has (2 + 6).
  assert.equal(c.stats?.vwap, Number(((15.05 * 6 + 15.2) / 7).toFixed(8)))
  const seller = ex.pnl('seller', 'TCS')!
  assert.equal(seller.position, -11)
  assert.equal(seller.unrealized, Number((10 * 15.05 + 15.2 - 11 * 15.2).toFixed(8)), 'marked at the last trade')
})

test('rejections: unknown instrument, price off the tick, quantity off the lot, and the book reasons', () => {
  const ex = new Exchange({ instruments: { TCS: { tickSize: 0.05, lotSize: 10 } } })
  const reason = (c: OrderCommand) => {
    const r = ex.submit(c)
    assert.equal(r.trades.length, 0)
    return r.events.map((e) => `${e.type} ${e.reason ?? ''}`.trim())
  }
  assert.deepEqual(reason(cmd({ id: 1, instrument: 'NOPE', quantity: 10 })), ['rejected unknown-instrument'])
  assert.deepEqual(reason(cmd({ id: 1, price: 15.07, quantity: 10 })), ['rejected price-off-tick'])
  assert.deepEqual(reason(cmd({ id: 1, quantity: 15 })), ['rejected quantity-off-lot'])
  assert.deepEqual(reason(cmd({ id: 1, quantity: -10 })), ['rejected non-positive-quantity'])
  assert.deepEqual(reason(cmd({ id: 1, price: undefined, quantity: 10 })), ['rejected missing-price'])
  assert.deepEqual(reason(cmd({ id: 1, price: -1, quantity: 10 })), ['rejected non-positive-price'])
  assert.deepEqual(reason(cmd({ id: 1, quantity: 10 })), ['accepted'])
  assert.deepEqual(reason(cmd({ id: 1, quantity: 10 })), ['rejected duplicate-order-id'])
  assert.deepEqual(reason(cmd({ id: 7, action: 'cancel' })), ['rejected unknown-order'])
  assert.deepEqual(reason(cmd({ id: 1, action: 'modify', price: 15.1, quantity: 5 })), ['rejected quantity-off-lot'])
  assert.deepEqual(reason(cmd({ id: 1, action: 'cancel' })), ['cancelled'])
  // Any instrument, when the exchange takes any.
  const open = new Exchange({ anyInstrument: { tickSize: 0.01, lotSize: 1 } })
  assert.deepEqual(
    open.submit(cmd({ id: 1, instrument: 'INFY' })).events.map((e) => e.type),
    ['accepted'],
  )
  assert.throws(() => new Exchange({ instruments: { X: { tickSize: 0, lotSize: 1 } } }), /tickSize must be a positive/)
})

test('an exchange restored from its snapshot continues exactly as the original', () => {
  // A tick that is not exact in binary, and restores at trade counts off the statistics window:
  // running sums rebuilt in another order would differ in the last bits.
  const options = { anyInstrument: { tickSize: 0.05, lotSize: 1 }, pnl: 'average' as const, statsWindow: 20 }
  let seed = 11
  const rnd = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31
  const stream: OrderCommand[] = []
  for (let i = 1; i <= 3000; i++) {
    const r = rnd()
    stream.push(
      cmd({
        id: r < 0.2 ? 1 + Math.floor(rnd() * i) : i,
        action: r < 0.1 ? 'cancel' : r < 0.2 ? 'modify' : 'new',
        instrument: rnd() < 0.5 ? 'A' : 'B',
        trader: `t${Math.floor(rnd() * 4)}`,
        side: rnd() < 0.5 ? 'BUY' : 'SELL',
        tif: rnd() < 0.8 ? 'GTC' : 'IOC',
        price: Number((10 + Math.floor(rnd() * 20) * 0.05).toFixed(2)),
        quantity: 1 + Math.floor(rnd() * 5),
      }),
    )
  }
  const whole = new Exchange(options)
  const expected = stream.map((c) => whole.submit(c))
  let ex = new Exchange(options)
  const got = stream.map((c, i) => {
    if (i % 97 === 96) ex = Exchange.restore(JSON.parse(JSON.stringify(ex.snapshot())), options)
    return ex.submit(c)
  })
  assert.ok(expected.reduce((n, r) => n + r.trades.length, 0) > 200)
  assert.deepEqual(JSON.parse(JSON.stringify(got)), JSON.parse(JSON.stringify(expected)))
})

test('trade statistics: SMA and VWAP over the last N trades, volume over all', () => {
  const s = new TradeStats('X', 3)
  const restoredAt: TradeStats[] = []
  const prices = [10, 11, 12, 13, 20, 5, 7]
  const qty = [1, 2, 3, 4, 5, 6, 7]
  prices.forEach((p, i) => {
    s.add(p, qty[i])
    for (const r of restoredAt) r.add(p, qty[i])
    const from = Math.max(0, i - 2)
    const ps = prices.slice(from, i + 1)
    const qs = qty.slice(from, i + 1)
    const f = s.figures()
    assert.ok(Math.abs(f.sma - ps.reduce((a, b) => a + b) / ps.length) < 1e-12)
    assert.ok(Math.abs(f.vwap - ps.reduce((a, p2, k) => a + p2 * qs[k], 0) / qs.reduce((a, b) => a + b)) < 1e-12)
    assert.equal(
      f.volume,
      qty.slice(0, i + 1).reduce((a, b) => a + b),
    )
    // Every copy restored earlier, fed the same trades since, gives exactly these figures.
    for (const r of restoredAt) assert.deepEqual(r.figures(), f)
    restoredAt.push(TradeStats.restore(JSON.parse(JSON.stringify(s.snapshot())) as TradeStatsSnapshot))
  })
  assert.throws(() => new TradeStats('X', 0), /window/)
})

test('a restored book keeps the tick and lot sizes it was made with, whatever the options say now', () => {
  const before = new Exchange({ instruments: { TCS: { tickSize: 0.05, lotSize: 1 } } })
  before.submit(cmd({ id: 1, trader: 's', side: 'SELL', price: 15.05, quantity: 3 }))
  const after = Exchange.restore(JSON.parse(JSON.stringify(before.snapshot())), {
    anyInstrument: { tickSize: 0.01, lotSize: 1 },
  })
  const r = after.submit(cmd({ id: 2, trader: 'b', price: 15.1, quantity: 3 }))
  assert.deepEqual(
    r.trades.map((t) => [t.price, t.quantity]),
    [[15.05, 3]],
  )
  assert.deepEqual(
    after.submit(cmd({ id: 3, price: 15.02 })).events.map((e) => e.reason),
    ['price-off-tick'],
    'still on its 0.05 tick',
  )
  assert.deepEqual(
    after.submit(cmd({ id: 4, instrument: 'INFY', price: 15.02 })).events.map((e) => e.type),
    ['accepted'],
    'new instruments take the new options',
  )
})
