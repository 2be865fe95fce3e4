/**
 * Fetch (key 1): offset range checks, containing-batch and KIP-74 size semantics, topic ids from
 * v13, long polls woken by appends (observed through the handler's diagnostics channel, never by
 * timing) and isolation levels: the last stable offset and aborted transactions of read_committed
 * fetches, also after a restart.
 */
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import fs from 'node:fs'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { FETCH_CHANNEL, type FetchEvent } from '../../../src/broker/apis/01-fetch.ts'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readDeleteRecordsResponse,
  readDeleteTopicsResponse,
  readFetchResponse,
  writeDeleteRecordsRequest,
  writeDeleteTopicsRequest,
  writeFetchRequest,
} from '../../../src/protocol/messages/index.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { logEntries, TxnProducer } from '../../helpers/txn-wire.ts'
import {
  batchOf,
  brokerHome,
  connect,
  fetchBody,
  fetchMany,
  fetchOne,
  mustCreateTopic,
  produce,
  recordsOf,
  topicIdOf,
} from '../../helpers/wire.ts'

const OLDEST = 4
const NEWEST = 17
/** The newest version that names topics instead of ids. */
const LAST_BY_NAME = 12
const READ_COMMITTED = 1

/** Resolves at the next time a Fetch parks on `topic` (published by the handler). */
function nextPark(t: TestContext, topic: string): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (msg: unknown): void => {
      const e = msg as FetchEvent
      if (e.type === 'parked' && e.topics.includes(topic)) {
        unsubscribe(FETCH_CHANNEL, onMessage)
        resolve()
      }
    }
    subscribe(FETCH_CHANNEL, onMessage)
    t.after(() => unsubscribe(FETCH_CHANNEL, onMessage))
  })
}

test('fetch offsets outside [log start, high watermark] are OFFSET_OUT_OF_RANGE; the HWM itself is valid', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'range')
  await produce(c, 'range', 0, batchOf(['0', '1', '2']))
  await produce(c, 'range', 0, batchOf(['3', '4']))
  const del = await c.request(21, 2, writeDeleteRecordsRequest, readDeleteRecordsResponse, {
    topics: [{ name: 'range', partitions: [{ partitionIndex: 0, offset: 3n }] }],
    timeoutMs: 1000,
  })
  assert.equal(del.topics[0].partitions[0].errorCode, KafkaError.NONE)

  for (const version of [OLDEST, LAST_BY_NAME]) {
    for (const offset of [2, 6, 1000]) {
      const p = await fetchOne(c, version, { topic: 'range', offset })
      assert.equal(p.errorCode, KafkaError.OFFSET_OUT_OF_RANGE, `v${version} offset ${offset}`)
      assert.equal(p.highWatermark, 5n)
      if (version >= 5) assert.equal(p.logStartOffset, 3n)
      assert.equal(recordsOf(p.records).length, 0)
    }
    const atEnd = await fetchOne(c, version, { topic: 'range', offset: 5 })
    assert.equal(atEnd.errorCode, KafkaError.NONE)
    assert.equal(atEnd.highWatermark, 5n)
    assert.equal(recordsOf(atEnd.records).length, 0)
    const atStart = await fetchOne(c, version, { topic: 'range', offset: 3 })
    assert.equal(atStart.errorCode, KafkaError.NONE)
    assert.deepEqual(
      recordsOf(atStart.records).map((r) => r.offset),
      [3, 4],
    )
  }
})

test('returns the whole batch containing the fetch offset', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'contain')
  await produce(c, 'contain', 0, batchOf(['a', 'b', 'c']))
  await produce(c, 'contain', 0, batchOf(['d', 'e', 'f']))
  const p = await fetchOne(c, NEWEST, { topicId: await topicIdOf(c, 'contain'), offset: 4 })
  assert.equal(p.errorCode, KafkaError.NONE)
  // Records 3 and 4's batch starts at 3; the client skips what it did not ask for.
  assert.deepEqual(
    recordsOf(p.records).map((r) => r.offset),
    [3, 4, 5],
  )
})

test('KIP-74: the first batch comes back even when larger than max bytes; later partitions respect their limits', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'big', 3)
  const large = batchOf(['x'.repeat(1000)])
  for (const p of [0, 1, 2]) {
    await produce(c, 'big', p, large)
    await produce(c, 'big', p, batchOf(['y'.repeat(1000)]))
  }
  // Both limits far below one batch: the first partition still gets exactly one batch.
  const tiny = await fetchOne(
    c,
    NEWEST,
    { topicId: await topicIdOf(c, 'big'), offset: 0, partitionMaxBytes: 10 },
    {
      maxBytes: 10,
    },
  )
  assert.equal(tiny.errorCode, KafkaError.NONE)
  assert.deepEqual(
    recordsOf(tiny.records).map((r) => r.offset),
    [0],
  )

  const res = await fetchMany(
    c,
    LAST_BY_NAME,
    [
      { topic: 'big', partition: 0, offset: 0, partitionMaxBytes: large.length + 10 },
      { topic: 'big', partition: 1, offset: 0, partitionMaxBytes: 100 },
      { topic: 'big', partition: 2, offset: 0, partitionMaxBytes: 1 << 20 },
    ],
    { maxBytes: 1 << 20 },
  )
  const [p0, p1, p2] = res.responses.map((r) => r.partitions[0])
  assert.deepEqual(
    recordsOf(p0.records).map((r) => r.offset),
    [0],
    'partition max bytes stops after the batch that fits',
  )
  assert.deepEqual(recordsOf(p1.records), [], 'a later partition gets nothing over its partition max bytes')
  assert.equal(p1.errorCode, KafkaError.NONE)
  assert.deepEqual(
    recordsOf(p2.records).map((r) => r.offset),
    [0, 1],
  )

  // The response max bytes, once used up by earlier partitions, leaves later ones empty.
  const capped = await fetchMany(
    c,
    LAST_BY_NAME,
    [
      { topic: 'big', partition: 0, offset: 0 },
      { topic: 'big', partition: 1, offset: 0 },
    ],
    { maxBytes: large.length + 10 },
  )
  assert.equal(recordsOf(capped.responses[0].partitions[0].records).length, 1)
  assert.equal(recordsOf(capped.responses[1].partitions[0].records).length, 0)
})

test('v13+ names topics by id; an unknown id is UNKNOWN_TOPIC_ID', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const id = await mustCreateTopic(c, 'byid', 2)
  assert.deepEqual(await topicIdOf(c, 'byid'), id)
  await produce(c, 'byid', 1, batchOf(['hello']))
  for (const version of [13, NEWEST]) {
    const res = await fetchMany(c, version, [
      { topicId: id, partition: 1, offset: 0 },
      { topicId: Buffer.alloc(16, 7), partition: 0, offset: 0 },
    ])
    assert.deepEqual(res.responses[0].topicId, id)
    assert.equal(res.responses[0].partitions[0].errorCode, KafkaError.NONE)
    assert.deepEqual(
      recordsOf(res.responses[0].partitions[0].records).map((r) => r.value),
      ['hello'],
    )
    assert.deepEqual(res.responses[1].topicId, Buffer.alloc(16, 7))
    assert.equal(res.responses[1].partitions[0].errorCode, KafkaError.UNKNOWN_TOPIC_ID)
  }
  // By name (v12 and older) an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION.
  const old = await fetchMany(c, LAST_BY_NAME, [
    { topic: 'nope', offset: 0 },
    { topic: 'byid', partition: 5, offset: 0 },
  ])
  assert.equal(old.responses[0].partitions[0].errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION)
  assert.equal(old.responses[1].partitions[0].errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION)
})

test('min_bytes/max_wait: a parked fetch is answered with the data of a later append', async (t) => {
  const broker = await startTestBroker(t)
  const consumer = await connect(t, broker)
  const producer = await connect(t, broker)
  await mustCreateTopic(producer, 'poll')
  await produce(producer, 'poll', 0, batchOf(['before']))
  for (const version of [OLDEST, NEWEST]) {
    const end = version === OLDEST ? 1 : 2
    const parked = nextPark(t, 'poll')
    // max_wait is long enough that only the append can explain an answer carrying data.
    const pending = fetchOne(
      consumer,
      version,
      { topic: 'poll', topicId: await topicIdOf(producer, 'poll'), offset: end },
      { minBytes: 1, maxWaitMs: 60_000 },
    )
    await parked
    await produce(producer, 'poll', 0, batchOf([`after-v${version}`]))
    const p = await pending
    assert.equal(p.errorCode, KafkaError.NONE)
    assert.deepEqual(
      recordsOf(p.records).map((r) => [r.offset, r.value]),
      [[end, `after-v${version}`]],
    )
    assert.equal(p.highWatermark, BigInt(end + 1))
  }
  // With nothing to wait for, max_wait expiry answers an empty, valid response.
  const idle = await fetchOne(
    consumer,
    NEWEST,
    { topicId: await topicIdOf(producer, 'poll'), offset: 3 },
    {
      minBytes: 1,
      maxWaitMs: 20,
    },
  )
  assert.equal(idle.errorCode, KafkaError.NONE)
  assert.equal(recordsOf(idle.records).length, 0)
})

test('min_bytes already satisfied answers at once; an error answers at once', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'ready')
  await produce(c, 'ready', 0, batchOf(['r']))
  // max_wait of 10 minutes: only an immediate answer lets this test finish.
  const ready = await fetchOne(c, LAST_BY_NAME, { topic: 'ready', offset: 0 }, { minBytes: 1, maxWaitMs: 600_000 })
  assert.equal(recordsOf(ready.records).length, 1)
  const res = await fetchMany(
    c,
    LAST_BY_NAME,
    [
      { topic: 'ready', offset: 1 },
      { topic: 'ready', offset: 99 },
    ],
    { minBytes: 1, maxWaitMs: 600_000 },
  )
  assert.equal(res.responses[1].partitions[0].errorCode, KafkaError.OFFSET_OUT_OF_RANGE)
})

test('isolation levels: read_committed sees data up to the LSO (= HWM without transactions)', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'iso')
  await produce(c, 'iso', 0, batchOf(['a', 'b']))
  for (const isolationLevel of [0, 1]) {
    for (const version of [OLDEST, 11, NEWEST]) {
      const p = await fetchOne(
        c,
        version,
        { topic: 'iso', topicId: await topicIdOf(c, 'iso'), offset: 0 },
        { isolationLevel },
      )
      assert.equal(p.errorCode, KafkaError.NONE)
      assert.equal(p.highWatermark, 2n)
      assert.equal(p.lastStableOffset, 2n)
      assert.deepEqual(
        recordsOf(p.records).map((r) => r.value),
        ['a', 'b'],
      )
      // read_committed readers get an (empty) aborted transaction list; read_uncommitted null.
      assert.deepEqual(p.abortedTransactions, isolationLevel === 1 ? [] : null)
      if (version >= 11) assert.equal(p.preferredReadReplica, -1)
    }
  }
})

test('the response carries session id 0 and no top-level error', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'sess')
  const res = await c.request(1, LAST_BY_NAME, writeFetchRequest, readFetchResponse, {
    ...fetchBody(LAST_BY_NAME, [{ topic: 'sess', offset: 0 }]),
    sessionId: 1234,
    sessionEpoch: 5,
  })
  assert.equal(res.errorCode, KafkaError.NONE)
  assert.equal(res.sessionId, 0)
})

test('a fetch parked on a topic that is then deleted is still answered', async (t) => {
  const broker = await startTestBroker(t)
  const consumer = await connect(t, broker)
  const admin = await connect(t, broker)
  await mustCreateTopic(admin, 'doomed')
  await produce(admin, 'doomed', 0, batchOf(['x']))
  const parked = nextPark(t, 'doomed')
  // min_bytes beyond what the partition holds keeps the fetch parked although it has data.
  const pending = fetchOne(
    consumer,
    LAST_BY_NAME,
    { topic: 'doomed', offset: 0 },
    { minBytes: 1 << 20, maxWaitMs: 60_000 },
  )
  await parked
  const del = await admin.request(20, 6, writeDeleteTopicsRequest, readDeleteTopicsResponse, {
    topics: [{ name: 'doomed', topicId: Buffer.alloc(16) }],
    timeoutMs: 1000,
  })
  assert.equal(del.responses[0].errorCode, KafkaError.NONE)
  const p = await pending
  assert.equal(p.errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION)
})

test('read_committed: the LSO is the first offset of the oldest open transaction, across producers', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'txn')
  const first = await TxnProducer.init(c, 'first')
  const second = await TxnProducer.init(c, 'second')
  const committed = async (offset = 0) =>
    fetchOne(c, LAST_BY_NAME, { topic: 'txn', offset }, { isolationLevel: READ_COMMITTED })
  assert.equal(await first.send('txn', 0, ['f1']), 0)
  assert.equal(await second.send('txn', 0, ['s1']), 1)
  assert.equal(await first.send('txn', 0, ['f2']), 2)
  assert.equal((await committed()).lastStableOffset, 0n)
  await first.commit()
  // The second transaction is still open from offset 1: the commit of the first does not pass it.
  const partly = await committed()
  assert.deepEqual([partly.highWatermark, partly.lastStableOffset], [4n, 1n])
  assert.deepEqual(logEntries(partly.records), ['f1@0'])
  await second.abort()
  const all = await committed()
  assert.deepEqual([all.highWatermark, all.lastStableOffset], [5n, 5n])
  assert.deepEqual(logEntries(all.records), ['f1@0', 's1@1', 'f2@2', 'COMMIT@3', 'ABORT@4'])
  assert.deepEqual(all.abortedTransactions, [{ producerId: BigInt(second.producerId), firstOffset: 1n }])
  assert.deepEqual((await committed(4)).abortedTransactions, [
    { producerId: BigInt(second.producerId), firstOffset: 1n },
  ])
  assert.deepEqual((await committed(5)).abortedTransactions, [])
})

test('a parked read_committed fetch is answered by the commit, not by writes of the open transaction', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const reader = await connect(t, broker)
  await mustCreateTopic(c, 'txn')
  const p = await TxnProducer.init(c, 'tx')
  assert.equal(await p.send('txn', 0, ['a']), 0)
  const events: FetchEvent[] = []
  const onEvent = (e: unknown): void => {
    if ((e as FetchEvent).topics.includes('txn')) events.push(e as FetchEvent)
  }
  subscribe(FETCH_CHANNEL, onEvent)
  t.after(() => unsubscribe(FETCH_CHANNEL, onEvent))
  let parked = nextPark(t, 'txn')
  const pending = fetchOne(
    reader,
    LAST_BY_NAME,
    { topic: 'txn', offset: 0 },
    { minBytes: 1, maxWaitMs: 600_000, isolationLevel: READ_COMMITTED },
  )
  await parked
  // More data of the open transaction wakes the fetch, which finds nothing stable and parks again.
  parked = nextPark(t, 'txn')
  assert.equal(await p.send('txn', 0, ['b']), 1)
  await parked
  await p.commit()
  const res = await pending
  assert.deepEqual(logEntries(res.records), ['a@0', 'b@1', 'COMMIT@2'])
  assert.equal(res.lastStableOffset, 3n)
  assert.deepEqual(
    events.map((e) => e.type),
    ['parked', 'woken', 'parked', 'woken'],
  )
})

test('the transaction state of a partition survives a restart: snapshot, log replay, stale snapshot plus replay', async (t) => {
  for (const variant of ['snapshot', 'log', 'stale snapshot'] as const) {
    await t.test(variant, async (t) => {
      const home = brokerHome(t)
      let broker = await home.start()
      let c = await connect(t, broker)
      await mustCreateTopic(c, 'txn')
      const p = await TxnProducer.init(c, 'p')
      const q = await TxnProducer.init(c, 'q')
      assert.equal(await p.send('txn', 0, ['a']), 0)
      await p.commit()
      assert.equal(await p.send('txn', 0, ['b', 'c']), 2)
      await p.abort()
      assert.equal(await q.send('txn', 0, ['d']), 5)
      // A snapshot taken while q's transaction is open, kept to be put back after the stop.
      const snapshot = path.join(home.dir, 'topics', 'txn', '0.producers')
      broker.context.topics.saveProducerSnapshots()
      const stale = fs.readFileSync(snapshot)
      await q.abort()
      // One more committed transaction of p after the snapshot.
      assert.equal(await p.send('txn', 0, ['e']), 7)
      await p.commit()
      c.close()
      await broker.close()
      if (variant === 'log') fs.rmSync(snapshot)
      if (variant === 'stale snapshot') fs.writeFileSync(snapshot, stale)

      broker = await home.start()
      c = await connect(t, broker)
      const f = await fetchOne(c, LAST_BY_NAME, { topic: 'txn', offset: 0 }, { isolationLevel: READ_COMMITTED })
      assert.deepEqual([f.highWatermark, f.lastStableOffset], [9n, 9n], 'no transaction is left open')
      assert.deepEqual(f.abortedTransactions, [
        { producerId: BigInt(p.producerId), firstOffset: 2n },
        { producerId: BigInt(q.producerId), firstOffset: 5n },
      ])
      assert.deepEqual(logEntries(f.records), [
        'a@0',
        'COMMIT@1',
        'b@2',
        'c@3',
        'ABORT@4',
        'd@5',
        'ABORT@6',
        'e@7',
        'COMMIT@8',
      ])
      // Later transactions behave as before the restart.
      const p2 = await TxnProducer.init(c, 'p')
      assert.equal(await p2.send('txn', 0, ['f']), 9)
      assert.equal(
        (await fetchOne(c, LAST_BY_NAME, { topic: 'txn', offset: 0 }, { isolationLevel: READ_COMMITTED }))
          .lastStableOffset,
        9n,
      )
      await p2.abort()
      const after = await fetchOne(c, LAST_BY_NAME, { topic: 'txn', offset: 7 }, { isolationLevel: READ_COMMITTED })
      assert.deepEqual(after.abortedTransactions, [{ producerId: BigInt(p.producerId), firstOffset: 9n }])
      c.close()
      await broker.close()
    })
  }
})
