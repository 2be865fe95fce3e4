/**
 * Fetch (key 1): offset range checks, containing-batch and KIP-74 size semantics, topic ids from
 * v13, long polls woken by appends (observed through the handler's diagnostics channel, never by
 * timing) and isolation levels.
 */
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
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
import {
  batchOf,
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
