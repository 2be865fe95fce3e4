/**
 * The archiver over a real broker (TCP) into PGlite and, when TICKFLOW_TEST_DATABASE_URL is set,
 * the PostgreSQL server: every committed record once in the raw archive, typed and routed rows,
 * dead letters with their reasons, aborted transactions never archived, offsets in the database,
 * and a second run resuming exactly where the first stopped.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { KafkaCluster } from '../../src/bus/cluster.ts'
import { runArchiver, type ArchiverStats } from '../../src/store/archiver.ts'
import type { Database } from '../../src/store/database.ts'
import { DEFAULT_ROUTES, parseRoutes } from '../../src/store/tables.ts'
import { createTopic, listEndOffsets, produceRaw } from '../helpers/admin.ts'
import { eventually, startTestBroker } from '../helpers/broker.ts'
import { readCommitted } from '../helpers/committed.ts'
import { connect } from '../helpers/wire.ts'
import { TxnProducer } from '../helpers/txn-wire.ts'
import { storeTargets } from '../helpers/store.ts'

const price = (ts: string, symbol: string, p: number) => JSON.stringify({ ts, symbol, price: p })

interface Running {
  stats: ArchiverStats
  done: Promise<ArchiverStats>
  stop(): Promise<ArchiverStats>
}

async function startArchiver(
  t: TestContext,
  address: string,
  db: Database,
  extra: Partial<Parameters<typeof runArchiver>[0]> = {},
): Promise<Running> {
  const cluster = await KafkaCluster.connect({ bootstrapBrokers: [address], clientId: 'archiver-test' })
  t.after(() => cluster.close())
  const abort = new AbortController()
  let stats: ArchiverStats = { records: 0, rows: {}, rejected: 0, batches: 0, retries: 0, partitions: 0 }
  const done = runArchiver({
    cluster,
    bus: { bootstrapBrokers: [address], clientId: 'archiver-test' },
    db,
    topics: 'all',
    routes: DEFAULT_ROUTES,
    lingerMs: 50,
    fetchMaxWaitMs: 50,
    signal: abort.signal,
    onCommit: (s) => (stats = s),
    log: process.env.ARCHIVER_TEST_LOG ? (l) => console.error(l) : undefined,
    ...extra,
  })
  done.catch(() => undefined)
  return {
    get stats() {
      return stats
    },
    done,
    stop: async () => {
      abort.abort()
      return done
    },
  }
}

for (const target of storeTargets()) {
  test(`${target.name}: every record once in the archive, typed and routed rows, dead letters, resume`, async (t) => {
    const broker = await startTestBroker(t)
    const db = await target.open(t)
    const address = broker.address
    await createTopic(broker, 'prices', 2)
    await createTopic(broker, 'orders', 1)
    await createTopic(broker, 'bars.1m', 1)
    await createTopic(broker, 'tickers.stocks', 1)
    await createTopic(broker, 'misc', 1)

    await produceRaw(broker, 'prices', 0, [
      [
        { key: 'AAPL', value: price('2024-01-02 09:30:00.000', 'AAPL', 190.5), headers: [['src', 'feed']] },
        { key: 'AAPL', value: price('2024-01-02 09:30:01.000', 'AAPL', 190.75) },
        // no price: the typed table cannot take it
        { key: 'AAPL', value: JSON.stringify({ ts: '2024-01-02 09:30:02.000', symbol: 'AAPL' }) },
      ],
    ])
    await produceRaw(broker, 'prices', 1, [
      [
        { key: 'MSFT', value: price('2024-01-02 09:30:00.500', 'MSFT', 370.25), timestamp: 1_700_000_000_000 },
        { key: 'MSFT', value: 'not json at all' },
      ],
    ])
    await produceRaw(broker, 'orders', 0, [
      [
        {
          key: 'TCS',
          value: JSON.stringify({
            id: 1000001,
            instrument: 'TCS',
            trxn_type: 'BUY',
            quantity: 5,
            price: 15.0,
            order_timestamp: '2023/03/12, 23:48:37',
            trader: 'T1',
          }),
        },
        {
          key: 'TCS',
          value: JSON.stringify({
            id: 1000002,
            instrument: 'TCS',
            trxn_type: 'HOLD',
            quantity: 5,
            price: 15.0,
            order_timestamp: '2023/03/12, 23:48:38',
          }),
        },
      ],
    ])
    const bar = {
      symbol: 'AAPL',
      interval: '1m',
      start: '2024-01-02 09:30:00.000',
      end: '2024-01-02 09:31:00.000',
      open: 190.5,
      high: 191,
      low: 190.25,
      close: 190.75,
      volume: 3,
      vwap: 190.58333333333334,
      trades: 3,
    }
    await produceRaw(broker, 'bars.1m', 0, [[{ key: 'AAPL', value: JSON.stringify(bar) }]])
    await produceRaw(broker, 'tickers.stocks', 0, [
      [
        {
          value: JSON.stringify({
            symbol: 'IBM',
            price: 160.1,
            change: -0.4,
            change_percent: -0.25,
            exchange: 'NYSE',
            quote_type: 'EQUITY',
            ticker_ts: '2024-01-02T09:30:00Z',
            event_id: 'e-1',
          }),
        },
      ],
    ])
    const binary = Buffer.from([0, 1, 2, 255, 254])
    await produceRaw(broker, 'misc', 0, [
      [
        {
          key: Buffer.from([9, 8, 7]),
          value: binary,
          headers: [
            ['bin', Buffer.from([0xff, 0])],
            ['none', null],
          ],
        },
        { key: null, value: null },
        { value: '{"text":"nul \\u0000 inside"}' },
        { value: '{"nested":{"a":[1,2,{"b":"tab\\there"}]},"line":"x\\ny"}' },
      ],
    ])
    // An aborted transaction on misc: never archived.
    const c = await connect(t, broker)
    const txn = await TxnProducer.init(c, 'archiver-test-txn')
    await txn.send('misc', 0, ['aborted-1', 'aborted-2'])
    await txn.abort()
    await produceRaw(broker, 'misc', 0, [[{ value: '"after the abort"' }]])

    const expected = 3 + 2 + 2 + 1 + 1 + 4 + 1
    const first = await startArchiver(t, address, db)
    await eventually(() => first.stats.records === expected, 60_000, `the archiver to commit ${expected} records`)
    const stats = await first.stop()
    assert.equal(stats.records, expected)
    assert.equal(stats.rejected, 3, 'the price without a price, the non-JSON price, the HOLD order')

    const s = db.schema
    const archive = (
      await db.query<{
        topic: string
        partition: number
        offset: string
        key: Buffer | Uint8Array | null
        headers: unknown
        value_json: unknown
        value_bytes: Buffer | Uint8Array | null
        ms: number
      }>(
        `SELECT topic, partition, "offset"::text AS "offset", key, headers, value_json, value_bytes, ` +
          `(extract(epoch from ts) * 1000)::float8 AS ms FROM ${s}.archive ORDER BY topic, partition, "offset"`,
      )
    ).rows
    assert.equal(archive.length, expected)
    const at = (topic: string, partition: number, offset: number) =>
      archive.find((r) => r.topic === topic && r.partition === partition && Number(r.offset) === offset)!
    assert.deepEqual(at('prices', 0, 0).value_json, JSON.parse(price('2024-01-02 09:30:00.000', 'AAPL', 190.5)))
    assert.deepEqual(at('prices', 0, 0).headers, [['src', 'feed']])
    assert.equal(Buffer.from(at('prices', 0, 0).key!).toString(), 'AAPL')
    assert.equal(at('prices', 1, 0).ms, 1_700_000_000_000)
    assert.deepEqual(Buffer.from(at('prices', 1, 1).value_bytes!), Buffer.from('not json at all'))
    assert.equal(at('prices', 1, 1).value_json, null)
    const misc = archive.filter((r) => r.topic === 'misc')
    assert.deepEqual(
      misc.map((r) => Number(r.offset)),
      [0, 1, 2, 3, 7],
      'the aborted records (4, 5) and their marker (6) are not archived',
    )
    assert.deepEqual(Buffer.from(misc[0].value_bytes!), binary)
    assert.deepEqual(Buffer.from(misc[0].key!), Buffer.from([9, 8, 7]))
    assert.deepEqual(misc[0].headers, [
      ['bin', { base64: Buffer.from([0xff, 0]).toString('base64') }],
      ['none', null],
    ])
    assert.equal(misc[1].key, null)
    assert.equal(misc[1].value_json, null)
    assert.equal(misc[1].value_bytes, null)
    assert.deepEqual(
      Buffer.from(misc[2].value_bytes!),
      Buffer.from('{"text":"nul \\u0000 inside"}'),
      'jsonb cannot hold NUL',
    )
    assert.deepEqual(misc[3].value_json, { nested: { a: [1, 2, { b: 'tab\there' }] }, line: 'x\ny' })
    assert.equal(misc[4].value_json, 'after the abort')

    const prices = (
      await db.query<{ symbol: string; price: number; ms: number; offset: string }>(
        `SELECT symbol, price, (extract(epoch from ts) * 1000)::float8 AS ms, "offset"::text AS "offset" FROM ${s}.prices ORDER BY partition, "offset"`,
      )
    ).rows
    assert.deepEqual(
      prices.map((r) => [r.symbol, r.price, r.ms]),
      [
        ['AAPL', 190.5, Date.UTC(2024, 0, 2, 9, 30, 0)],
        ['AAPL', 190.75, Date.UTC(2024, 0, 2, 9, 30, 1)],
        ['MSFT', 370.25, Date.UTC(2024, 0, 2, 9, 30, 0, 500)],
      ],
    )
    const orders = (
      await db.query<{ id: string; side: string; trader: string }>(
        `SELECT id::text AS id, side, trader FROM ${s}.orders`,
      )
    ).rows
    assert.deepEqual(orders, [{ id: '1000001', side: 'BUY', trader: 'T1' }])
    const bars = (
      await db.query<{ symbol: string; interval: string; vwap: number; trades: string }>(
        `SELECT symbol, "interval", vwap, trades::text AS trades FROM ${s}.bars`,
      )
    ).rows
    assert.deepEqual(bars, [{ symbol: 'AAPL', interval: '1m', vwap: bar.vwap, trades: '3' }])
    const quotes = (
      await db.query<{ symbol: string; price: number; exchange: string; ingested_at: unknown }>(
        `SELECT symbol, price, exchange, ingested_at FROM ${s}.quotes_stocks`,
      )
    ).rows
    assert.deepEqual(quotes, [{ symbol: 'IBM', price: 160.1, exchange: 'NYSE', ingested_at: null }])

    const dead = [...(await readCommitted(address, 'dlq.prices')), ...(await readCommitted(address, 'dlq.orders'))]
    assert.deepEqual(
      dead.map((d) => [
        d.headers['tickflow.dlq.topic'],
        d.headers['tickflow.dlq.partition'],
        d.headers['tickflow.dlq.offset'],
      ]),
      [
        ['prices', '0', '2'],
        ['prices', '1', '1'],
        ['orders', '0', '1'],
      ],
    )
    assert.match(dead[0].headers['tickflow.dlq.reason'], /^archive: prices: price is missing/)
    assert.match(dead[1].headers['tickflow.dlq.reason'], /not JSON/)
    assert.match(dead[2].headers['tickflow.dlq.reason'], /"HOLD" is not one of BUY, SELL/)
    assert.equal(
      dead[2].value,
      JSON.stringify({
        id: 1000002,
        instrument: 'TCS',
        trxn_type: 'HOLD',
        quantity: 5,
        price: 15.0,
        order_timestamp: '2023/03/12, 23:48:38',
      }),
    )

    // The offsets are the ends of the topics.
    const offsets = (
      await db.query<{ topic: string; partition: number; next: string }>(
        `SELECT topic, partition, next_offset::text AS next FROM ${s}.consumer_offsets WHERE consumer = 'archive' AND topic NOT LIKE 'dlq.%' ORDER BY topic, partition`,
      )
    ).rows
    for (const topic of ['prices', 'orders', 'bars.1m', 'tickers.stocks', 'misc']) {
      const ends = await listEndOffsets(broker, topic)
      assert.deepEqual(
        offsets.filter((o) => o.topic === topic).map((o) => Number(o.next)),
        ends,
        `${topic} offsets`,
      )
    }

    // A second run archives only what came after (the dead-letter topics, created meanwhile, too).
    await produceRaw(broker, 'prices', 0, [[{ key: 'AAPL', value: price('2024-01-02 09:30:03.000', 'AAPL', 191) }]])
    const second = await startArchiver(t, address, db)
    await eventually(() => second.stats.records === 1 + 3, 60_000, 'the second run to archive the new records')
    await second.stop()
    const count = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${s}.archive`)
    assert.equal(count.rows[0].n, expected + 1 + 3)
    const dups = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${s}.prices`)
    assert.equal(dups.rows[0].n, 4)
  })

  test(`${target.name}: a second archiver of the same name is refused; a routed table must have its columns`, async (t) => {
    const broker = await startTestBroker(t)
    const db = await target.open(t)
    await createTopic(broker, 'prices', 1)
    await produceRaw(broker, 'prices', 0, [[{ value: price('2024-01-02 09:30:00.000', 'AAPL', 1) }]])
    const first = await startArchiver(t, broker.address, db)
    // Once it has committed, it holds its lock.
    await eventually(() => first.stats.records === 1, 30_000)
    const second = await startArchiver(t, broker.address, db)
    await assert.rejects(second.done, /another archiver named archive/)
    await first.stop()

    await db.query(`CREATE TABLE ${db.schema}.custom (topic text, partition int, "offset" bigint, other text)`)
    const routes = parseRoutes([{ topic: 'custom', table: 'custom', columns: [{ column: 'symbol' }] }])
    const third = await startArchiver(t, broker.address, db, { routes })
    await assert.rejects(third.done, /table custom exists without the column\(s\) symbol/)
  })
}
