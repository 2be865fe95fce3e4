import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import {
  DEFAULT_INSTRUMENTS,
  DEFAULT_START_ID,
  DEFAULT_TRADERS,
  createOrderGenerator,
  instrumentParams,
} from '../../src/feeds/synthetic-orders.ts'
import type { GeneratedOrder as Order, OrderGeneratorOptions } from '../../src/feeds/synthetic-orders.ts'
import { formatOrderTs } from '../../src/bus/time.ts'
import { encodeOrder } from '../../src/bus/topics/index.ts'

const T0 = Date.UTC(2023, 2, 12, 23, 48, 37)

function take(options: Partial<OrderGeneratorOptions>, n: number): Order[] {
  let t = T0
  const gen = createOrderGenerator({ seed: 1, clock: () => (t += 113), ...options })
  return Array.from({ length: n }, () => gen.next())
}

/**
 * The share of orders that cross: a BUY priced at or above the last SELL of its instrument, or a
 * SELL at or below the last BUY (the definition the generator documents).
 */
function crossingShare(orders: Order[]): number {
  const lastBuy = new Map<string, number>()
  const lastSell = new Map<string, number>()
  let crossing = 0
  for (const o of orders) {
    if (o.trxn_type === 'BUY') {
      const sell = lastSell.get(o.instrument)
      if (sell !== undefined && o.price >= sell) crossing++
      lastBuy.set(o.instrument, o.price)
    } else {
      const buy = lastBuy.get(o.instrument)
      if (buy !== undefined && o.price <= buy) crossing++
      lastSell.set(o.instrument, o.price)
    }
  }
  return crossing / orders.length
}

test('defaults', () => {
  assert.deepEqual(DEFAULT_INSTRUMENTS, ['TCS', 'INFY', 'RELIANCE', 'HDFCBANK', 'WIPRO'])
  assert.equal(DEFAULT_TRADERS.length, 20)
  assert.equal(DEFAULT_TRADERS[0], 'T001')
  assert.equal(DEFAULT_TRADERS[19], 'T020')
  assert.equal(DEFAULT_START_ID, 1_000_001)
  const orders = take({}, 5000)
  assert.equal(orders[0].id, 1_000_001)
  assert.deepEqual(new Set(orders.map((o) => o.instrument)), new Set(DEFAULT_INSTRUMENTS))
  assert.deepEqual(new Set(orders.map((o) => o.trader)), new Set(DEFAULT_TRADERS))
  for (const o of orders) {
    assert.equal(o.type, 'limit')
    assert.equal(o.tif, 'GTC')
    assert.equal(o.action, 'new')
  }
})

test('encodeOrder writes the orders-topic shape, keys in order', () => {
  const [order] = take({ seed: 'shape' }, 1)
  const text = encodeOrder(order)
  assert.deepEqual(JSON.parse(text), order)
  assert.deepEqual(Object.keys(JSON.parse(text)), [
    'id',
    'instrument',
    'trxn_type',
    'quantity',
    'price',
    'order_timestamp',
    'trader',
    'type',
    'tif',
    'action',
  ])
  const example: Order = {
    id: 1000001,
    instrument: 'TCS',
    trxn_type: 'BUY',
    quantity: 5,
    price: 15,
    order_timestamp: '2023/03/12, 23:48:37',
    trader: 'T001',
    type: 'limit',
    tif: 'GTC',
    action: 'new',
  }
  assert.equal(
    encodeOrder(example),
    '{"id":1000001,"instrument":"TCS","trxn_type":"BUY","quantity":5,"price":15,"order_timestamp":"2023/03/12, 23:48:37","trader":"T001","type":"limit","tif":"GTC","action":"new"}',
  )
  // Extra properties of the object are not part of the message.
  assert.equal(encodeOrder({ ...example, extra: 1 } as Order), encodeOrder(example))
})

test('same seed, same orders; another seed, other orders', () => {
  const a = take({ seed: 'x' }, 3000)
  assert.deepEqual(a, take({ seed: 'x' }, 3000))
  assert.notDeepEqual(a, take({ seed: 'y' }, 3000))
  assert.notDeepEqual(
    a.map((o) => o.price),
    take({ seed: 'y' }, 3000).map((o) => o.price),
  )
})

test('ids are unique and increase by one from startId', () => {
  for (const startId of [undefined, 0, 1, 42_000_000]) {
    const orders = take({ startId }, 2000)
    const first = startId ?? DEFAULT_START_ID
    orders.forEach((o, i) => assert.equal(o.id, first + i))
  }
})

test('prices are positive multiples of the tick, with at most two decimals and no float noise', () => {
  const orders = take({ seed: 'ticks', instruments: [...DEFAULT_INSTRUMENTS, 'ACME', 'ZED'] }, 50_000)
  for (const o of orders) {
    const cents = Math.round(o.price * 100)
    assert.ok(o.price > 0, `${o.id}: ${o.price}`)
    assert.equal(cents % 5, 0, `${o.id}: ${o.price} is off the 0.05 grid`)
    assert.equal(o.price, cents / 100, `${o.id}: ${o.price} carries float noise`)
    const json = /"price":([^,]+),/.exec(encodeOrder(o))?.[1] ?? ''
    assert.match(json, /^\d+(\.\d{1,2})?$/, `${o.id}: ${json}`)
  }
})

test('prices stay around each instrument’s drifting mid', () => {
  const orders = take({ seed: 'mids' }, 50_000)
  for (const name of DEFAULT_INSTRUMENTS) {
    const { mid } = instrumentParams(name)
    const prices = orders.filter((o) => o.instrument === name).map((o) => o.price)
    // ~10k steps of 0.02%: the mid wanders about 2%; 10% is five of those.
    for (const p of prices) assert.ok(Math.abs(p / mid - 1) < 0.1, `${name}: ${p} vs ${mid}`)
    assert.ok(new Set(prices).size > 100, `${name} prices vary`)
  }
})

test('20–40% of orders cross the last opposite order of their instrument; sides are balanced', () => {
  for (const seed of [1, 'orders', 2024]) {
    const orders = take({ seed }, 50_000)
    const share = crossingShare(orders)
    assert.ok(share >= 0.2 && share <= 0.4, `seed ${seed}: crossing share ${share}`)
    const buys = orders.filter((o) => o.trxn_type === 'BUY').length / orders.length
    assert.ok(Math.abs(buys - 0.5) < 0.01, `seed ${seed}: BUY share ${buys}`)
  }
  // Cheap and expensive instruments alike (few ticks of offset vs many).
  const wide = take({ seed: 5, instruments: ['WIPRO', 'TCS', 'LOWCOST'] }, 50_000)
  for (const name of ['WIPRO', 'TCS', 'LOWCOST']) {
    const share = crossingShare(wide.filter((o) => o.instrument === name))
    assert.ok(share >= 0.2 && share <= 0.4, `${name}: crossing share ${share}`)
  }
})

test('quantities are integers 1–100, skewed toward small sizes, with round lots', () => {
  const q = take({ seed: 'qty' }, 50_000).map((o) => o.quantity)
  assert.ok(q.every((x) => Number.isInteger(x) && x >= 1 && x <= 100))
  const share = (f: (x: number) => boolean) => q.filter(f).length / q.length
  assert.ok(share((x) => x <= 10) > 0.4, 'mostly small')
  assert.ok(share((x) => x > 50) < 0.2, 'few large')
  assert.ok(share((x) => x === 1) > share((x) => x === 50), 'size 1 beats size 50')
  assert.ok(share((x) => x === 100) > 0.02, 'round lots of 100 occur')
  assert.equal(new Set(q).size, 100, 'every size occurs')
})

test('order_timestamp is the clock reading, formatted; formatOrderTs pads and drops milliseconds', () => {
  let calls = 0
  const gen = createOrderGenerator({ seed: 1, clock: () => T0 + 61_001 * calls++ })
  for (let i = 0; i < 500; i++) assert.equal(gen.next().order_timestamp, formatOrderTs(T0 + 61_001 * i))
  assert.equal(calls, 500)
  assert.equal(formatOrderTs(T0 + 999), '2023/03/12, 23:48:37')
  assert.equal(formatOrderTs(Date.UTC(2024, 1, 29, 1, 2, 3)), '2024/02/29, 01:02:03')
  assert.equal(formatOrderTs(0), '1970/01/01, 00:00:00')
  assert.equal(formatOrderTs(-1), '1969/12/31, 23:59:59')
  assert.throws(() => formatOrderTs(NaN), { code: ErrorCodes.INVALID_ARGUMENT })
})

test('instrumentParams: table mids, hashed mids on the tick, independent of any seed', () => {
  assert.deepEqual(instrumentParams('TCS'), { mid: 3500, tickSize: 0.05 })
  for (let i = 0; i < 1000; i++) {
    const p = instrumentParams(`INST${i}`)
    assert.deepEqual(instrumentParams(`INST${i}`), p)
    assert.ok(p.mid >= 50 && p.mid <= 2000, `${p.mid}`)
    assert.equal(Math.round(p.mid * 100) % 5, 0)
    assert.equal(p.mid, Math.round(p.mid * 100) / 100)
  }
})

test('createOrderGenerator validates its options', () => {
  const bad: Array<Partial<OrderGeneratorOptions>> = [
    { instruments: [] },
    { instruments: ['TCS', 'TCS'] },
    { instruments: [''] },
    { traders: [] },
    { traders: ['T1', 'T1'] },
    { startId: -1 },
    { startId: 1.5 },
    { startId: 2 ** 53 },
    { clock: undefined },
  ]
  for (const options of bad) {
    assert.throws(() => createOrderGenerator({ seed: 1, clock: () => T0, ...options }), {
      code: ErrorCodes.INVALID_CONFIG,
    })
  }
})
