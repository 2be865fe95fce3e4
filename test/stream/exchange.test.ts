import assert from 'node:assert/strict'
import { test } from 'node:test'
import { exchangeConfigFromOptions } from '../../src/cli/commands/exchange.ts'
import { parseConfig } from '../../src/cli/config-file.ts'
import { ErrorCodes } from '../../src/errors.ts'
import { CopyBinary } from '../../src/store/copy-binary.ts'
import { appendRow, TYPED_TABLES } from '../../src/store/tables.ts'
import { DEFAULT_EXCHANGE_CONFIG, exchangeProcessor, ExchangePartition } from '../../src/stream/exchange.ts'
import type { Emitter } from '../../src/stream/processor.ts'

class Collect implements Emitter {
  records: { topic: string; key: string; value: Record<string, unknown> }[] = []
  dead: string[] = []
  emit(topic: string, key: string | Buffer, value: string | Buffer): void {
    this.records.push({ topic, key: String(key), value: JSON.parse(String(value)) as Record<string, unknown> })
  }
  deadLetter(reason: string): void {
    this.dead.push(reason)
  }
  of(topic: string) {
    return this.records.filter((r) => r.topic === topic)
  }
}

let offset = 0
const feed = (p: ExchangePartition, out: Emitter, o: Record<string, unknown>) =>
  p.process(
    {
      partition: 0,
      offset: offset++,
      timestamp: 0,
      value: Buffer.from(JSON.stringify({ instrument: 'TCS', order_timestamp: '2023/03/12, 23:48:37', ...o })),
    },
    out,
  )

test('orders become trades, events, book, pnl and trade-stats records that the typed tables take', () => {
  const p = ExchangePartition.create(DEFAULT_EXCHANGE_CONFIG, undefined)
  const out = new Collect()
  feed(p, out, { id: 1, trxn_type: 'SELL', quantity: 5, price: 15.05, trader: 'S' })
  feed(p, out, { id: 2, trxn_type: 'BUY', quantity: 3, price: 15.1, trader: 'B' })
  feed(p, out, { id: 3, trxn_type: 'BUY', quantity: 1, trader: 'B', type: 'market' })
  feed(p, out, { id: 4, trxn_type: 'BUY', quantity: 1, price: 1, action: 'cancel' })
  assert.deepEqual(
    out.of('trades').map((r) => [r.key, r.value.price, r.value.quantity, r.value.buyer, r.value.seller]),
    [
      ['TCS', 15.05, 3, 'B', 'S'],
      ['TCS', 15.05, 1, 'B', 'S'],
    ],
  )
  assert.deepEqual(
    out.of('order-events').map((r) => [r.value.id, r.value.type, r.value.reason]),
    [
      [1, 'accepted', null],
      [2, 'accepted', null],
      [2, 'filled', null],
      [3, 'accepted', null],
      [3, 'filled', null],
      [4, 'rejected', 'unknown-order'],
    ],
  )
  assert.deepEqual(
    out.of('pnl').map((r) => [r.key, r.value.position]),
    [
      ['B', 3],
      ['S', -3],
      ['B', 4],
      ['S', -4],
    ],
  )
  assert.equal(out.of('book').at(-1)?.value.ask_quantity, 1)
  assert.equal(out.of('trade-stats').at(-1)?.value.volume, 4)
  // What the archiver will do with them: a row each, no dead letter.
  const rows = new CopyBinary()
  for (const r of out.of('trades'))
    assert.equal(appendRow(rows, TYPED_TABLES.trades, 'trades', 0, 0, r.value), undefined)
  for (const r of out.of('pnl')) assert.equal(appendRow(rows, TYPED_TABLES.pnl, 'pnl', 0, 0, r.value), undefined)
  assert.equal(rows.rows, 6)
})

test('bad records go to the dead letters; the checkpoint restores the books and positions', () => {
  const def = exchangeProcessor()
  assert.deepEqual(def.outputs, ['trades', 'order-events', 'book', 'pnl', 'trade-stats'])
  const p = ExchangePartition.create(DEFAULT_EXCHANGE_CONFIG, undefined)
  const out = new Collect()
  p.process({ partition: 0, offset: 0, timestamp: 0, value: Buffer.from('nope') }, out)
  p.process({ partition: 0, offset: 1, timestamp: 0, value: null }, out)
  feed(p, out, { id: 1, trxn_type: 'SELL', quantity: 5, price: 10, post_only: 1 })
  assert.equal(out.dead.length, 3)
  assert.match(out.dead[2], /post_only/)
  feed(p, out, { id: 2, trxn_type: 'SELL', quantity: 5, price: 10, trader: 'S' })
  const restored = ExchangePartition.create(DEFAULT_EXCHANGE_CONFIG, p.snapshot())
  assert.equal(restored.maxEventTime, p.maxEventTime)
  const a = new Collect()
  const b = new Collect()
  for (const [part, o] of [
    [p, a],
    [restored, b],
  ] as const) {
    offset = 10
    feed(part, o, { id: 3, trxn_type: 'BUY', quantity: 7, price: 10, trader: 'B' })
  }
  assert.deepEqual(b.records, a.records)
  assert.equal(a.of('trades').length, 1)
  assert.throws(
    () => ExchangePartition.create(DEFAULT_EXCHANGE_CONFIG, Buffer.from('{"version": 99}')),
    (err: { code?: string }) => err.code === ErrorCodes.CHECKPOINT,
  )
  assert.throws(
    () => ExchangePartition.create(DEFAULT_EXCHANGE_CONFIG, Buffer.from('{')),
    (err: { code?: string }) => err.code === ErrorCodes.CHECKPOINT,
  )
})

test('instruments from the config file and --instruments: sizes per instrument, the others rejected or not', () => {
  const file = parseConfig('{"exchange": {"instruments": {"TCS": {"tickSize": 0.05}}}}', 'tickflow.json')
  const run = (values: Record<string, string>, orders: Record<string, unknown>[]) => {
    const p = ExchangePartition.create(exchangeConfigFromOptions(values, file), undefined)
    const out = new Collect()
    for (const o of orders) feed(p, out, o)
    return out.of('order-events').map((r) => `${r.value.instrument} ${r.value.type} ${r.value.reason ?? ''}`.trim())
  }
  const orders = [
    { id: 1, trxn_type: 'BUY', quantity: 1, price: 10.01 }, // TCS: off its 0.05 tick
    { id: 2, trxn_type: 'BUY', quantity: 1, price: 10.05 },
    { id: 3, trxn_type: 'BUY', quantity: 1, price: 10.01, instrument: 'INFY' }, // the CLI's 0.01 tick
  ]
  assert.deepEqual(run({}, orders), ['TCS rejected price-off-tick', 'TCS accepted', 'INFY accepted'])
  assert.deepEqual(run({ instruments: 'TCS' }, orders), [
    'TCS rejected price-off-tick',
    'TCS accepted',
    'INFY rejected unknown-instrument',
  ])
  assert.deepEqual(run({ instruments: 'INFY', 'tick-size': '0.02' }, orders), [
    'TCS rejected unknown-instrument',
    'TCS rejected unknown-instrument',
    'INFY rejected price-off-tick',
  ])
})
