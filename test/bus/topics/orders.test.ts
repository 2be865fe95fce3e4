import assert from 'node:assert/strict'
import { test } from 'node:test'
import { formatOrderTs } from '../../../src/bus/time.ts'
import { encodeOrder, ordersTopic, topicType } from '../../../src/bus/topics/index.ts'
import type { Order } from '../../../src/bus/topics/index.ts'
import { createOrderGenerator } from '../../../src/feeds/synthetic-orders.ts'

/** The example of the architecture document, byte for byte. */
const EXAMPLE =
  '{"id":1000001,"instrument":"TCS","trxn_type":"BUY","quantity":5,"price":15.0,"order_timestamp":"2023/03/12, 23:48:37"}'

const BASE: Order = {
  id: 1000001,
  instrument: 'TCS',
  trxn_type: 'BUY',
  quantity: 5,
  price: 15,
  order_timestamp: '2023/03/12, 23:48:37',
}

function decode(value: unknown) {
  return ordersTopic.decode(Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)))
}

/** The field the reason of a rejected order names. */
function failingField(value: unknown): string {
  const decoded = decode(value)
  assert.equal(decoded.ok, false, JSON.stringify(value))
  return (decoded as { reason: string }).reason.split(':')[0]
}

test('ordersTopic accepts the architecture example', () => {
  assert.deepEqual(decode(EXAMPLE), { ok: true, value: BASE })
  assert.equal(topicType('orders'), ordersTopic)
  assert.equal(ordersTopic.keyOf(BASE), 'TCS')
})

test('ordersTopic accepts every order the generator makes, and encode/decode round-trips them', () => {
  let t = Date.UTC(2023, 2, 12, 23, 48, 37)
  const gen = createOrderGenerator({ seed: 'orders-topic', clock: () => (t += 997) })
  for (let i = 0; i < 5000; i++) {
    const order = gen.next()
    const text = ordersTopic.encode(order)
    assert.equal(text, encodeOrder(order))
    assert.deepEqual(ordersTopic.decode(Buffer.from(text)), { ok: true, value: order }, text)
    assert.equal(ordersTopic.keyOf(order), order.instrument)
  }
})

test('encodeOrder writes the fields in order and leaves absent optional ones out', () => {
  assert.equal(
    encodeOrder(BASE),
    '{"id":1000001,"instrument":"TCS","trxn_type":"BUY","quantity":5,"price":15,"order_timestamp":"2023/03/12, 23:48:37"}',
  )
  const full: Required<Order> = {
    ...BASE,
    price: 15,
    trader: 'T001',
    type: 'limit',
    tif: 'IOC',
    action: 'new',
  }
  assert.deepEqual(Object.keys(JSON.parse(encodeOrder(full))), [
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
  const { price: _price, ...noPrice } = BASE
  const market: Order = { ...noPrice, type: 'market', trxn_type: 'SELL' }
  const text = encodeOrder(market)
  assert.equal(text.includes('price'), false)
  assert.deepEqual(decode(text), { ok: true, value: market })
  // Odd strings survive the round trip.
  const odd: Order = { ...BASE, instrument: 'A"B\\C\u00e9', trader: 'line\nbreak' }
  assert.deepEqual(decode(encodeOrder(odd)), { ok: true, value: odd })
})

test('ordersTopic accepts market orders and cancels without a price, and unknown extra fields', () => {
  for (const order of [
    { ...BASE, price: undefined, type: 'market' },
    { ...BASE, price: 0, type: 'market' },
    { ...BASE, price: undefined, action: 'cancel' },
    { ...BASE, trxn_type: 'SELL', type: 'limit', tif: 'FOK', action: 'modify', trader: 'T020' },
    { ...BASE, venue: 'NSE' },
    { ...BASE, price: 0.05, quantity: Number.MAX_SAFE_INTEGER, id: 1 },
  ]) {
    const decoded = decode(order)
    assert.equal(decoded.ok, true, JSON.stringify(order))
  }
})

test('ordersTopic rejects invalid orders with a reason naming the field', () => {
  assert.equal(failingField({ ...BASE, trxn_type: 'HOLD' }), 'trxn_type')
  assert.equal(failingField({ ...BASE, trxn_type: 'buy' }), 'trxn_type')
  assert.equal(failingField({ ...BASE, trxn_type: undefined }), 'trxn_type')
  assert.equal(failingField({ ...BASE, quantity: 2.5 }), 'quantity')
  assert.equal(failingField({ ...BASE, quantity: 0 }), 'quantity')
  assert.equal(failingField({ ...BASE, quantity: -5 }), 'quantity')
  assert.equal(failingField({ ...BASE, quantity: '5' }), 'quantity')
  assert.equal(failingField({ ...BASE, quantity: 2 ** 53 }), 'quantity')
  assert.equal(failingField({ ...BASE, id: 1.5 }), 'id')
  assert.equal(failingField({ ...BASE, id: 0 }), 'id')
  assert.equal(failingField({ ...BASE, instrument: '' }), 'instrument')
  assert.equal(failingField({ ...BASE, instrument: 'X'.repeat(65) }), 'instrument')
  assert.equal(failingField({ ...BASE, price: -1 }), 'price')
  assert.equal(failingField({ ...BASE, price: '15.0' }), 'price')
  // A limit order (the default type) needs a price > 0.
  assert.equal(failingField({ ...BASE, price: undefined }), 'price')
  assert.equal(failingField({ ...BASE, price: 0 }), 'price')
  assert.equal(failingField({ ...BASE, price: 0, type: 'limit' }), 'price')
  assert.equal(failingField({ ...BASE, price: undefined, action: 'modify' }), 'price')
  for (const ts of [
    '2023-03-12 23:48:37.000',
    '2023/03/12 23:48:37',
    '2023/02/29, 23:48:37',
    '2023/13/12, 23:48:37',
    '2023/03/12, 24:48:37',
    '12/03/2023, 23:48:37',
    '',
  ]) {
    assert.equal(failingField({ ...BASE, order_timestamp: ts }), 'order_timestamp', ts)
  }
  assert.equal(failingField({ ...BASE, order_timestamp: Date.UTC(2023, 2, 12) }), 'order_timestamp')
  assert.equal(failingField({ ...BASE, type: 'stop' }), 'type')
  assert.equal(failingField({ ...BASE, tif: 'DAY' }), 'tif')
  assert.equal(failingField({ ...BASE, action: 'delete' }), 'action')
  assert.equal(failingField({ ...BASE, trader: '' }), 'trader')
  assert.ok(failingField([BASE]).length > 0)
  assert.match(failingField('{"id":1'), /JSON/)
  const none = ordersTopic.decode(null)
  assert.equal(none.ok, false)
})

test('the order timestamp field formats epoch ms in the topic layout', () => {
  const field = ordersTopic.fields.find((f) => f.name === 'order_timestamp')
  assert.equal(field?.kind, 'timestamp')
  assert.equal(field?.format, formatOrderTs)
  assert.equal(field?.format?.(Date.UTC(2023, 2, 12, 23, 48, 37, 500)), BASE.order_timestamp)
})
