/**
 * `tickflow exchange` end to end, over TCP, with separate processes: orders in, trades, order
 * events, book updates, P&L and trade statistics out; exactly-once output across kill -9 crashes
 * (compared record for record with an uninterrupted run on the same orders, read back as a
 * read_committed consumer); rejections and dead letters.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { Broker } from '../../../src/broker/index.ts'
import { createTopic, fetchCommittedOffsets, listEndOffsets } from '../../helpers/admin.ts'
import { eventually, startTestBroker, tempDir } from '../../helpers/broker.ts'
import { cliEnv, produceWithKafkajs, startCli } from '../../helpers/cli.ts'
import { readCommitted, readCommittedPartition } from '../../helpers/committed.ts'
import { consumedAll, crashRuns, fedBroker, stopProcessor, type FedBroker } from '../../helpers/processor-cli.ts'

const GROUP = 'tickflow-exchange'
const ORDERS = 60_000
// Fixed seed, rate and simulated clock: byte-identical orders on every broker, spread over ~12 s
// so that the kills below land while they flow.
const PRODUCE = ['produce', 'orders', '--count', String(ORDERS), '--rate', '5000', '--seed', '5']
PRODUCE.push('--start', '2024-01-02 09:30:00', '--partitions', '3', '--start-id', '1', '--quiet')
// Eight instruments: every one of the 3 partitions gets some.
PRODUCE.push('--instruments', 'TCS,INFY,RELIANCE,HDFCBANK,WIPRO,ITC,SBIN,ICICIBANK')
const EXCHANGE = [
  'exchange',
  '--quiet',
  '--session-timeout',
  '2s',
  '--checkpoint-interval',
  '1s',
  '--tick-size',
  '0.05',
]
const OUTPUTS = ['trades', 'pnl', 'order-events', 'book', 'trade-stats']

const setup = (t: TestContext): Promise<FedBroker> => fedBroker(t, 'orders', PRODUCE)
const done = (s: FedBroker): Promise<boolean> => consumedAll(s, GROUP)
const stop = stopProcessor

/** Every output topic's committed records, per partition, as text. */
async function outputs(broker: Broker): Promise<Record<string, string[][]>> {
  const out: Record<string, string[][]> = {}
  for (const topic of OUTPUTS) {
    const ends = await listEndOffsets(broker, topic)
    out[topic] = await Promise.all(
      ends.map(async (_, p) => (await readCommittedPartition(broker.address, topic, p)).map((r) => r.value ?? '')),
    )
  }
  return out
}

test('exchange killed with SIGKILL at random points and restarted gives the output of an uninterrupted run', async (t) => {
  // Every run is killed when the test ends, failed or not.
  const start = (s: FedBroker) => {
    const run = startCli(EXCHANGE, s)
    t.after(() => run.child.kill('SIGKILL'))
    return run
  }
  // The uninterrupted run.
  const first = await setup(t)
  const whole = start(first)
  await eventually(() => done(first), 120_000, 'the uninterrupted run to finish')
  await stop(whole)
  const expected = await outputs(first.broker)
  const count = (topic: string) => expected[topic].reduce((n, p) => n + p.length, 0)
  assert.ok(count('trades') > 1000, `trades: ${count('trades')}`)
  assert.ok(count('pnl') >= 2 * 1000 * 0.5, `pnl: ${count('pnl')}`)
  assert.ok(count('order-events') >= ORDERS, 'at least one event per order')
  assert.ok(count('book') > 0 && count('trade-stats') > 0)
  // Every trade is between the orders' own instruments and at a price on the tick.
  for (const line of expected.trades.flat()) {
    const trade = JSON.parse(line) as { price: number; quantity: number; buyer: string; seller: string }
    assert.ok(Math.abs(Math.round(trade.price / 0.05) * 0.05 - trade.price) < 1e-9, line)
    assert.ok(trade.quantity > 0 && trade.buyer !== trade.seller, line)
  }

  // The same orders on another broker, the processor killed five times.
  const s = await setup(t)
  // Each kill at a random point after its run's mark: mid-transaction, mid-fetch or between the two.
  const crashed = await crashRuns(t, s, GROUP, EXCHANGE, { runs: 5, total: ORDERS, jitterMs: 500 })
  const killedMidStream = crashed.killedMidStream
  let stderr = crashed.stderr
  assert.ok(killedMidStream >= 3, `only ${killedMidStream} of 5 kills came before the end of the input`)
  const last = start(s)
  await eventually(() => done(s), 120_000, 'the last run to finish')
  await stop(last)
  stderr += last.stderr()
  // The books came back from snapshots (then the orders after them), not from the start.
  assert.match(stderr, /restored \d+ snapshot bytes/)
  const got = await outputs(s.broker)
  for (const topic of OUTPUTS) {
    assert.equal(got[topic].length, expected[topic].length, topic)
    if (topic === 'pnl') {
      // Keyed by trader: a partition holds records of several input partitions, interleaved as
      // their transactions happened to commit. Each trader's records per instrument keep their order.
      assert.deepEqual(byTraderAndInstrument(got.pnl), byTraderAndInstrument(expected.pnl))
      continue
    }
    // Keyed by instrument, like the orders: record for record.
    for (let p = 0; p < expected[topic].length; p++) {
      assert.equal(got[topic][p].length, expected[topic][p].length, `${topic} partition ${p}: record count`)
      assert.deepEqual(got[topic][p], expected[topic][p], `${topic} partition ${p}: records`)
    }
  }
})

/** P&L records by trader and instrument, in order, over every partition. */
function byTraderAndInstrument(partitions: string[][]): Map<string, string[]> {
  const out = new Map<string, string[]>()
  for (const p of partitions) {
    for (const line of p) {
      const r = JSON.parse(line) as { trader: string; instrument: string }
      const k = `${r.trader} ${r.instrument}`
      out.set(k, [...(out.get(k) ?? []), line])
    }
  }
  return new Map([...out].sort(([a], [b]) => (a < b ? -1 : 1)))
}

const order = (o: Record<string, unknown>): string =>
  JSON.stringify({ instrument: 'X', quantity: 1, order_timestamp: '2024/01/02, 09:30:00', ...o })

test('trades at the maker price, P&L by FIFO or average cost, rejections as events, bad records to dlq.orders', async (t) => {
  const broker = await startTestBroker(t)
  const cwd = tempDir(t)
  const env = cliEnv({ TICKFLOW_LOCAL_BROKER: broker.address, TICKFLOW_DATA_DIR: cwd })
  await createTopic(broker, 'orders', 1)
  // The exchange note's vector: A buys 10 @ 100 and 10 @ 110, then sells 15 @ 120.
  const values = [
    order({ id: 1, trader: 'S', trxn_type: 'SELL', quantity: 10, price: 100 }),
    order({ id: 2, trader: 'A', trxn_type: 'BUY', quantity: 10, price: 101 }),
    order({ id: 3, trader: 'S', trxn_type: 'SELL', quantity: 10, price: 110 }),
    order({ id: 4, trader: 'A', trxn_type: 'BUY', quantity: 10, price: 110 }),
    order({ id: 5, trader: 'B', trxn_type: 'BUY', quantity: 15, price: 120 }),
    order({ id: 6, trader: 'A', trxn_type: 'SELL', quantity: 15, price: 119 }),
    order({ id: 7, trader: 'A', trxn_type: 'BUY', quantity: 1, price: 100.003 }), // off the tick
    order({ id: 8, trader: 'A', trxn_type: 'BUY', quantity: 1, price: 90, instrument: 'Y' }), // not traded here
    order({ id: 99, trader: 'A', trxn_type: 'BUY', action: 'cancel' }), // unknown order
    '{"id": 9, "instrument": "X"', // not JSON
    order({ id: 10, trxn_type: 'HOLD', price: 1 }), // fails the schema
    order({ id: 11, trxn_type: 'BUY', price: 1, post_only: 'yes' }),
  ]
  await produceWithKafkajs(
    broker.address,
    'orders',
    values.map((value) => ({ key: 'X', value, partition: 0 })),
  )
  const results: Record<string, { realized: number; unrealized: number; position: number }> = {}
  for (const method of ['fifo', 'average']) {
    const group = `exchange-${method}`
    const run = startCli(
      ['exchange', '--quiet', '--instruments', 'X', '--pnl', method, '--group', group, '--taker-fee-bps', '10'],
      { env, cwd },
    )
    await eventually(
      async () => (await fetchCommittedOffsets(broker, group, 'orders', 1)).get(0) === values.length,
      60_000,
      'the exchange to consume the orders',
    )
    await stop(run)
    const trades = (await readCommitted(broker.address, 'trades')).map(
      (r) => JSON.parse(r.value!) as Record<string, unknown>,
    )
    const pnl = (await readCommitted(broker.address, 'pnl')).map((r) => JSON.parse(r.value!) as Record<string, unknown>)
    // Each run writes its own copy of the outputs: the second run's are the second half.
    const mine = <T>(all: T[]): T[] => all.slice(method === 'fifo' ? 0 : all.length / 2)
    assert.deepEqual(
      mine(trades).map((x) => [x.price, x.quantity, x.buyer, x.seller, x.aggressor, x.buy_order_id, x.sell_order_id]),
      [
        [100, 10, 'A', 'S', 'BUY', 2, 1],
        [110, 10, 'A', 'S', 'BUY', 4, 3],
        [120, 15, 'B', 'A', 'SELL', 5, 6],
      ],
    )
    const a = mine(pnl).filter((p) => p.trader === 'A')
    assert.equal(a.length, 3)
    const final = a.at(-1) as { realized: number; unrealized: number; position: number; fees: number; net: number }
    results[method] = final
    assert.equal(final.position, 5)
    // Taker fees of 10 bps on 1,000 + 1,100 + 1,800.
    assert.ok(Math.abs(final.fees - 3.9) < 1e-9, String(final.fees))
    assert.ok(Math.abs(final.net - (final.realized - 3.9)) < 1e-9)
  }
  assert.equal(results.fifo.realized, 250)
  assert.equal(results.fifo.unrealized, 50, 'the 5 left from 110, at the last trade price 120')
  assert.equal(results.average.realized, 225)
  assert.equal(results.average.unrealized, 75)

  const events = (await readCommitted(broker.address, 'order-events')).map(
    (r) => JSON.parse(r.value!) as { type: string; id: number; reason: string | null },
  )
  const rejected = events.slice(0, events.length / 2).filter((e) => e.type === 'rejected')
  assert.deepEqual(
    rejected.map((e) => [e.id, e.reason]),
    [
      [7, 'price-off-tick'],
      [8, 'unknown-instrument'],
      [99, 'unknown-order'],
    ],
  )
  const dead = await readCommitted(broker.address, 'dlq.orders')
  // Two runs, each dead-lettering the same three records.
  assert.deepEqual(
    dead.map((d) => d.headers['tickflow.dlq.offset']),
    ['9', '10', '11', '9', '10', '11'],
  )
  assert.match(dead[2].headers['tickflow.dlq.reason'] ?? '', /post_only/)
  const book = (await readCommitted(broker.address, 'book')).map((r) => JSON.parse(r.value!) as Record<string, unknown>)
  assert.deepEqual(book[0], {
    ts: '2024-01-02 09:30:00.000',
    instrument: 'X',
    bid: null,
    bid_quantity: 0,
    ask: 100,
    ask_quantity: 10,
    changes: { bids: [], asks: [[100, 10]] },
    depth: { bids: [], asks: [[100, 10]] },
  })
})

test('bad arguments of exchange exit 2 with one line', async (t) => {
  const cwd = tempDir(t)
  const env = cliEnv({ TICKFLOW_LOCAL_BROKER: '127.0.0.1:1', TICKFLOW_DATA_DIR: cwd })
  for (const args of [
    ['--tick-size', '0'],
    ['--pnl', 'lifo'],
    ['--self-trade', 'sometimes'],
    ['--taker-fee-bps', '-1'],
    ['--instruments', 'A,,B'],
    ['--depth', 'x'],
    ['extra'],
  ]) {
    const run = startCli(['exchange', ...args], { env, cwd })
    const r = await run.exited
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.doesNotMatch(r.stderr, /\n\s+at /)
  }
})
