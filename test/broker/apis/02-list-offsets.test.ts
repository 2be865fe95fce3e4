/**
 * ListOffsets (key 2): the special timestamps (-1 latest, -2 earliest, -3 max timestamp), lookups
 * by timestamp down to the record inside compressed batches, per-partition errors, and the last
 * stable offset as the end of read_committed readers.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readDeleteRecordsResponse,
  readListOffsetsResponse,
  writeDeleteRecordsRequest,
  writeListOffsetsRequest,
} from '../../../src/protocol/messages/index.ts'
import { buildRecordBatch } from '../../../src/protocol/record-batch.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { batchOf, connect, fixCrc, listOffset, mustCreateTopic, produce } from '../../helpers/wire.ts'
import { TxnProducer } from '../../helpers/txn-wire.ts'

const OLDEST = 1
const NEWEST = 9
const LATEST = -1
const EARLIEST = -2
const MAX_TIMESTAMP = -3

test('latest (-1) is the high watermark, earliest (-2) the log start offset, for both isolation levels', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'ends')
  for (const version of [OLDEST, NEWEST]) {
    assert.equal((await listOffset(c, 'ends', 0, LATEST, { version })).offset, 0n)
    assert.equal((await listOffset(c, 'ends', 0, EARLIEST, { version })).offset, 0n)
  }
  await produce(c, 'ends', 0, batchOf(['a', 'b', 'c']))
  await produce(c, 'ends', 0, batchOf(['d']))
  await c.request(21, 2, writeDeleteRecordsRequest, readDeleteRecordsResponse, {
    topics: [{ name: 'ends', partitions: [{ partitionIndex: 0, offset: 2n }] }],
    timeoutMs: 1000,
  })
  for (const version of [OLDEST, 2, NEWEST]) {
    for (const isolationLevel of [0, 1]) {
      const latest = await listOffset(c, 'ends', 0, LATEST, { version, isolationLevel })
      assert.equal(latest.errorCode, KafkaError.NONE)
      assert.equal(latest.offset, 4n)
      assert.equal(latest.timestamp, -1n)
      assert.equal((await listOffset(c, 'ends', 0, EARLIEST, { version, isolationLevel })).offset, 2n)
    }
  }
  // Leader epoch 0 (this broker always led) from v4 on.
  assert.equal((await listOffset(c, 'ends', 0, LATEST, { version: NEWEST })).leaderEpoch, 0)
})

test('max timestamp (-3) finds the record with the largest timestamp, inside its batch', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'maxts')
  const empty = await listOffset(c, 'maxts', 0, MAX_TIMESTAMP)
  assert.equal(empty.errorCode, KafkaError.NONE)
  assert.equal(empty.offset, -1n)
  await produce(
    c,
    'maxts',
    0,
    buildRecordBatch([
      { value: 'a', timestamp: 1000 },
      { value: 'b', timestamp: 9000 },
      { value: 'c', timestamp: 5000 },
    ]),
  )
  await produce(c, 'maxts', 0, buildRecordBatch([{ value: 'd', timestamp: 2000 }], { compression: 'gzip' }))
  const found = await listOffset(c, 'maxts', 0, MAX_TIMESTAMP)
  assert.equal(found.offset, 1n)
  assert.equal(found.timestamp, 9000n)
})

test('by timestamp: the exact first record at or after it, also inside compressed batches', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'bytime')
  const ts = (values: number[]) => values.map((timestamp) => ({ value: `t${timestamp}`, timestamp }))
  await produce(c, 'bytime', 0, buildRecordBatch(ts([1000, 2000, 3000]), { compression: 'gzip' }))
  await produce(c, 'bytime', 0, buildRecordBatch(ts([4000, 5000, 6000]), { compression: 'zstd' }))
  await produce(c, 'bytime', 0, buildRecordBatch(ts([7000, 8000])))
  const cases: Array<[number, bigint, bigint]> = [
    [0, 0n, 1000n],
    [1000, 0n, 1000n],
    [2500, 2n, 3000n],
    [3001, 3n, 4000n],
    [5000, 4n, 5000n],
    [7999, 7n, 8000n],
  ]
  for (const version of [OLDEST, NEWEST]) {
    for (const [query, offset, timestamp] of cases) {
      const p = await listOffset(c, 'bytime', 0, query, { version })
      assert.equal(p.errorCode, KafkaError.NONE)
      assert.deepEqual([p.offset, p.timestamp], [offset, timestamp], `v${version} timestamp ${query}`)
    }
    const after = await listOffset(c, 'bytime', 0, 8001, { version })
    assert.deepEqual([after.errorCode, after.offset, after.timestamp], [KafkaError.NONE, -1n, -1n])
  }
})

test('an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION, next to valid answers', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'known', 2)
  const res = await c.request(2, NEWEST, writeListOffsetsRequest, readListOffsetsResponse, {
    replicaId: -1,
    isolationLevel: 0,
    topics: [
      {
        name: 'known',
        partitions: [
          { partitionIndex: 1, timestamp: -1n },
          { partitionIndex: 2, timestamp: -1n },
        ],
      },
      { name: 'unknown', partitions: [{ partitionIndex: 0, timestamp: -2n }] },
    ],
  })
  assert.deepEqual(
    res.topics.map((t) => [t.name, t.partitions.map((p) => [p.partitionIndex, p.errorCode])]),
    [
      [
        'known',
        [
          [1, KafkaError.NONE],
          [2, KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
        ],
      ],
      ['unknown', [[0, KafkaError.UNKNOWN_TOPIC_OR_PARTITION]]],
    ],
  )
})

test('a stored batch whose records do not decode does not cost the client its connection', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'garbled')
  let stored = 0
  for (const compression of ['none', 'gzip'] as const) {
    const batch = buildRecordBatch([{ value: 'abcdefgh', timestamp: 5000 }], { compression })
    // Records section replaced by bytes that are neither records nor gzip; the CRC still matches.
    batch.fill(0xff, 61)
    // Kafka refuses such a batch on produce (it validates records); this broker stores batches
    // opaque, and then ListOffsets must still answer, at batch granularity.
    if ((await produce(c, 'garbled', 0, fixCrc(batch))).errorCode === KafkaError.NONE) stored++
  }
  if (stored === 0) return
  for (const query of [4000, MAX_TIMESTAMP]) {
    const p = await listOffset(c, 'garbled', 0, query)
    assert.deepEqual([p.errorCode, p.offset, p.timestamp], [KafkaError.NONE, 0n, 5000n], `timestamp ${query}`)
  }
})

test('v2+ with a transaction open: latest is the LSO for read_committed and the HWM for read_uncommitted', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'txn')
  const base = 1_700_000_000_000
  await produce(c, 'txn', 0, buildRecordBatch([{ value: 'early', timestamp: base }]))
  const p = await TxnProducer.init(c, 'tx')
  await p.add({ txn: [0] })
  const batch = buildRecordBatch([{ value: 'late', timestamp: base + 5000 }], {
    transactional: true,
    producerId: p.producerId,
    producerEpoch: p.producerEpoch,
    baseSequence: 0,
  })
  assert.equal((await produce(c, 'txn', 0, batch, { transactionalId: 'tx' })).baseOffset, 1n)
  const at = (timestamp: number, isolationLevel: number, version: number) =>
    listOffset(c, 'txn', 0, timestamp, { version, isolationLevel })
  for (const version of [2, NEWEST]) {
    assert.equal((await at(LATEST, 1, version)).offset, 1n, `v${version} read_committed: the LSO`)
    assert.equal((await at(LATEST, 0, version)).offset, 2n, `v${version} read_uncommitted: the HWM`)
    // A lookup by timestamp does not find a record at or past the LSO for read_committed readers.
    assert.equal((await at(base + 1000, 1, version)).offset, -1n)
    assert.equal((await at(base + 1000, 0, version)).offset, 1n)
  }
  assert.deepEqual([(await at(MAX_TIMESTAMP, 1, NEWEST)).offset, (await at(MAX_TIMESTAMP, 0, NEWEST)).offset], [0n, 1n])
  await p.commit()
  for (const isolationLevel of [0, 1]) {
    assert.equal((await at(LATEST, isolationLevel, NEWEST)).offset, 3n, 'after the commit both are past the marker')
    assert.equal((await at(base + 1000, isolationLevel, NEWEST)).offset, 1n)
  }
})
