/**
 * The store's queries over rows written the archiver's way (ArchiveBatch + writeBatch), on PGlite
 * and the server: latest price per symbol, bars over a range, trades of a trader, latest P&L.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ArchiveBatch, type ArchiveRecord } from '../../src/store/archive-batch.ts'
import { writeBatch } from '../../src/store/archiver.ts'
import { migrate } from '../../src/store/migrations.ts'
import { bars, latestPrices, pnl, trades } from '../../src/store/queries.ts'
import { storeTargets } from '../helpers/store.ts'

let offset = 0
const rec = (topic: string, value: object): ArchiveRecord => ({
  topic,
  partition: 0,
  offset: offset++,
  timestamp: 0,
  key: null,
  value: Buffer.from(JSON.stringify(value)),
  headers: [],
})

const T = (s: string) => Date.parse(`${s}Z`)

for (const target of storeTargets()) {
  test(`${target.name}: latest prices, bars, trades and P&L`, async (t) => {
    const db = await target.open(t)
    await migrate(db)
    const batch = new ArchiveBatch([])
    const records = [
      rec('prices', { ts: '2024-01-02 09:30:00.000', symbol: 'AAPL', price: 190 }),
      rec('prices', { ts: '2024-01-02 09:30:02.000', symbol: 'AAPL', price: 191 }),
      // later in the topic, earlier in event time: not the latest
      rec('prices', { ts: '2024-01-02 09:30:01.000', symbol: 'AAPL', price: 189 }),
      rec('prices', { ts: '2024-01-02 09:30:00.000', symbol: 'MSFT', price: 370 }),
      ...[0, 1, 2].map((m) =>
        rec('bars.1m', {
          symbol: 'AAPL',
          interval: '1m',
          start: `2024-01-02 09:3${m}:00.000`,
          end: `2024-01-02 09:3${m + 1}:00.000`,
          open: 190 + m,
          high: 191 + m,
          low: 189 + m,
          close: 190.5 + m,
          volume: 10,
          vwap: 190.2 + m,
          trades: 10,
        }),
      ),
      rec('bars.5m', {
        symbol: 'AAPL',
        interval: '5m',
        start: '2024-01-02 09:30:00.000',
        end: '2024-01-02 09:35:00.000',
        open: 1,
        high: 1,
        low: 1,
        close: 1,
        volume: 1,
        vwap: null,
        trades: 1,
      }),
      ...[1, 2, 3].map((seq) =>
        rec('trades', {
          seq,
          ts: `2024-01-02 09:30:0${seq}.000`,
          instrument: 'TCS',
          price: 15 + seq / 100,
          quantity: seq,
          buy_order_id: 100 + seq,
          sell_order_id: 200 + seq,
          buyer: seq === 2 ? 'B' : 'A',
          seller: seq === 2 ? 'A' : 'C',
          aggressor: 'BUY',
        }),
      ),
      rec('pnl', {
        ts: '2024-01-02 09:30:01.000',
        trader: 'A',
        instrument: 'TCS',
        position: 1,
        avg_price: 15.01,
        realized: 0,
        unrealized: 0,
        fees: 0.01,
        last_price: 15.01,
      }),
      rec('pnl', {
        ts: '2024-01-02 09:30:03.000',
        trader: 'A',
        instrument: 'TCS',
        position: 2,
        avg_price: 15.02,
        realized: 0.5,
        unrealized: 0.1,
        fees: 0.03,
        last_price: 15.03,
      }),
      rec('pnl', {
        ts: '2024-01-02 09:30:02.000',
        trader: 'B',
        instrument: 'TCS',
        position: 2,
        avg_price: null,
        realized: 0,
        unrealized: 0.02,
        fees: 0,
        last_price: null,
      }),
    ]
    for (const r of records) batch.add(r)
    assert.deepEqual(batch.rejected, [])
    await writeBatch(db, 'test', batch)

    assert.deepEqual(await latestPrices(db), [
      { symbol: 'AAPL', ts: T('2024-01-02T09:30:02'), price: 191 },
      { symbol: 'MSFT', ts: T('2024-01-02T09:30:00'), price: 370 },
    ])
    assert.deepEqual(await latestPrices(db, ['MSFT', 'NOPE']), [
      { symbol: 'MSFT', ts: T('2024-01-02T09:30:00'), price: 370 },
    ])

    const b = await bars(db, {
      symbol: 'AAPL',
      interval: '1m',
      from: T('2024-01-02T09:31:00'),
      to: T('2024-01-02T09:33:00'),
    })
    assert.deepEqual(
      b.map((x) => [x.start, x.end, x.open, x.vwap, x.trades]),
      [
        [T('2024-01-02T09:31:00'), T('2024-01-02T09:32:00'), 191, 191.2, 10],
        [T('2024-01-02T09:32:00'), T('2024-01-02T09:33:00'), 192, 192.2, 10],
      ],
    )
    assert.equal(
      (await bars(db, { symbol: 'AAPL', interval: '1m', limit: 1 }))[0].open,
      192,
      'the last bars of the range',
    )
    assert.equal((await bars(db, { symbol: 'AAPL', interval: '5m' }))[0].vwap, null)

    assert.deepEqual(
      (await trades(db, { trader: 'A' })).map((x) => [x.seq, x.buyer, x.seller]),
      [
        [3, 'A', 'C'],
        [2, 'B', 'A'],
        [1, 'A', 'C'],
      ],
    )
    assert.deepEqual(
      (await trades(db, { trader: 'B', limit: 5 })).map((x) => x.seq),
      [2],
    )
    assert.deepEqual(
      (await trades(db, { instrument: 'TCS', from: T('2024-01-02T09:30:02'), limit: 1 })).map((x) => [
        x.seq,
        x.price,
        x.quantity,
      ]),
      [[3, 15.03, 3]],
    )

    assert.deepEqual(
      (await pnl(db)).map((x) => [x.trader, x.position, x.realized, x.avgPrice]),
      [
        ['A', 2, 0.5, 15.02],
        ['B', 2, 0, null],
      ],
    )
    assert.deepEqual((await pnl(db, 'B')).length, 1)
  })
}
