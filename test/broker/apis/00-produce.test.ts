/**
 * Produce (key 0) at the protocol level: appends and base offsets, acks=0 silence, acks
 * validation, per-partition errors, the one-batch rule and header checks, max.message.bytes, the
 * idempotent producer's sequence rules, including across a restart, and transactional batches
 * (added partitions only, fenced epochs, a transaction left open by a restart).
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readApiVersionsResponse,
  readProduceResponse,
  writeApiVersionsRequest,
  writeProduceRequest,
} from '../../../src/protocol/messages/index.ts'
import { Offsets } from '../../../src/protocol/record-batch.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import {
  batchOf,
  brokerHome,
  connect,
  fetchOne,
  fixCrc,
  listOffset,
  mustCreateTopic,
  newProducerId,
  produce,
  recordsOf,
} from '../../helpers/wire.ts'
import { endTxn, logEntries, markerProducers, TxnProducer } from '../../helpers/txn-wire.ts'

const OLDEST = 3
const NEWEST = 11

test('appends each batch at the high watermark, at the oldest and the newest version', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'p', 2)
  const a = await produce(c, 'p', 0, batchOf(['a0', 'a1', 'a2']), { version: OLDEST })
  assert.equal(a.errorCode, KafkaError.NONE)
  assert.equal(a.baseOffset, 0n)
  const b = await produce(c, 'p', 0, batchOf(['b0', 'b1']), { version: NEWEST })
  assert.equal(b.errorCode, KafkaError.NONE)
  assert.equal(b.baseOffset, 3n)
  assert.equal(b.logStartOffset, 0n)
  assert.equal(b.errorMessage, null)
  // The other partition has its own offsets.
  assert.equal((await produce(c, 'p', 1, batchOf(['x']), { version: 7 })).baseOffset, 0n)

  const f = await fetchOne(c, 12, { topic: 'p', offset: 0 })
  assert.deepEqual(
    recordsOf(f.records).map((r) => [r.offset, r.value]),
    [
      [0, 'a0'],
      [1, 'a1'],
      [2, 'a2'],
      [3, 'b0'],
      [4, 'b1'],
    ],
  )
})

test('acks=0 gets no response at all, yet the data is appended', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'quiet')
  for (const version of [OLDEST, NEWEST]) {
    c.sendOnly(0, version, writeProduceRequest, {
      acks: 0,
      timeoutMs: 1000,
      topicData: [{ name: 'quiet', partitionData: [{ index: 0, records: batchOf([`v${version}`]) }] }],
    })
  }
  // Responses come in request order: once this one is in, a produce answer would have come first.
  const api = await c.request(18, 3, writeApiVersionsRequest, readApiVersionsResponse, {
    clientSoftwareName: 't',
    clientSoftwareVersion: '1',
  })
  assert.equal(api.errorCode, KafkaError.NONE)
  assert.deepEqual(c.unmatched, [])
  assert.equal((await listOffset(c, 'quiet', 0, -1)).offset, 2n)
  const f = await fetchOne(c, 12, { topic: 'quiet', offset: 0 })
  assert.deepEqual(
    recordsOf(f.records).map((r) => r.value),
    ['v3', 'v11'],
  )
})

test('acks other than -1, 0 and 1 are refused with INVALID_REQUIRED_ACKS and append nothing', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'acks')
  for (const acks of [2, -2, 100]) {
    const res = await produce(c, 'acks', 0, batchOf(['x']), { acks })
    assert.equal(res.errorCode, KafkaError.INVALID_REQUIRED_ACKS, `acks=${acks}`)
  }
  assert.equal((await produce(c, 'acks', 0, batchOf(['y']), { acks: 1 })).baseOffset, 0n)
})

test('an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION, per partition', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'two', 2)
  const res = await c.request(0, NEWEST, writeProduceRequest, readProduceResponse, {
    acks: -1,
    timeoutMs: 1000,
    topicData: [
      {
        name: 'two',
        partitionData: [
          { index: 2, records: batchOf(['a']) },
          { index: 1, records: batchOf(['b']) },
          { index: -1, records: batchOf(['c']) },
        ],
      },
      { name: 'missing', partitionData: [{ index: 0, records: batchOf(['d']) }] },
    ],
  })
  assert.deepEqual(
    res.responses.map((r) => [r.name, r.partitionResponses.map((p) => [p.index, p.errorCode])]),
    [
      [
        'two',
        [
          [2, KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
          [1, KafkaError.NONE],
          [-1, KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
        ],
      ],
      ['missing', [[0, KafkaError.UNKNOWN_TOPIC_OR_PARTITION]]],
    ],
  )
  // Produce does not create topics.
  assert.equal((await listOffset(c, 'missing', 0, -1)).errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION)
})

test('a partition must carry exactly one well-formed batch', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'one')
  const two = Buffer.concat([batchOf(['a']), batchOf(['b'])])
  assert.equal((await produce(c, 'one', 0, two)).errorCode, KafkaError.INVALID_RECORD)
  assert.equal((await produce(c, 'one', 0, null)).errorCode, KafkaError.INVALID_RECORD)
  assert.equal((await produce(c, 'one', 0, Buffer.alloc(0))).errorCode, KafkaError.INVALID_RECORD)
  assert.equal((await produce(c, 'one', 0, batchOf(['a']).subarray(0, 10))).errorCode, KafkaError.CORRUPT_MESSAGE)
  // A batch cut short: its batchLength promises more bytes than the partition carries.
  assert.equal((await produce(c, 'one', 0, batchOf(['abc']).subarray(0, 70))).errorCode, KafkaError.INVALID_RECORD)
  assert.equal((await listOffset(c, 'one', 0, -1)).offset, 0n)
})

test('header checks: CRC, magic, codec, record count, control bit', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'checks')
  const corrupt = batchOf(['payload'])
  corrupt[corrupt.length - 1] ^= 0xff
  assert.equal((await produce(c, 'checks', 0, corrupt)).errorCode, KafkaError.CORRUPT_MESSAGE)

  const magic = batchOf(['m'])
  magic.writeInt8(1, Offsets.magic)
  assert.equal((await produce(c, 'checks', 0, magic)).errorCode, KafkaError.CORRUPT_MESSAGE)

  const codec = batchOf(['z'])
  codec.writeInt16BE(5, Offsets.attributes)
  assert.equal((await produce(c, 'checks', 0, fixCrc(codec))).errorCode, KafkaError.UNSUPPORTED_COMPRESSION_TYPE)

  const count = batchOf(['a', 'b'])
  count.writeInt32BE(3, Offsets.recordCount)
  assert.equal((await produce(c, 'checks', 0, fixCrc(count))).errorCode, KafkaError.INVALID_RECORD)

  const control = batchOf(['c'], { control: true })
  assert.equal((await produce(c, 'checks', 0, control)).errorCode, KafkaError.INVALID_RECORD)
  assert.equal((await listOffset(c, 'checks', 0, -1)).offset, 0n)
})

test('a batch over max.message.bytes is MESSAGE_TOO_LARGE; one exactly at the limit is taken', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const exact = batchOf(['x'.repeat(100)])
  await mustCreateTopic(c, 'small', 1, { 'max.message.bytes': String(exact.length) })
  assert.equal((await produce(c, 'small', 0, batchOf(['x'.repeat(101)]))).errorCode, KafkaError.MESSAGE_TOO_LARGE)
  assert.equal((await produce(c, 'small', 0, exact)).errorCode, KafkaError.NONE)
  assert.equal((await listOffset(c, 'small', 0, -1)).offset, 1n)
})

test('a transactional batch for a partition not in an open transaction is refused', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'txn')
  const txn = batchOf(['t'], { transactional: true, producerId: 1, producerEpoch: 0, baseSequence: 0 })
  assert.equal((await produce(c, 'txn', 0, txn)).errorCode, KafkaError.INVALID_TXN_STATE)
  assert.equal((await produce(c, 'txn', 0, txn, { transactionalId: 'tx-1' })).errorCode, KafkaError.INVALID_TXN_STATE)
  assert.equal((await listOffset(c, 'txn', 0, -1)).offset, 0n)
})

test('idempotent producer: duplicates, gaps and epochs', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'idem')
  const { producerId } = await newProducerId(c)
  const send = (values: string[], producerEpoch: number, baseSequence: number) =>
    produce(c, 'idem', 0, batchOf(values, { producerId, producerEpoch, baseSequence }))

  assert.equal((await send(['a', 'b', 'c'], 0, 0)).baseOffset, 0n)
  assert.equal((await send(['d', 'e'], 0, 3)).baseOffset, 3n)
  // Retries of cached batches: NONE with the original base offset, nothing appended.
  for (const [values, seq, offset] of [
    [['a', 'b', 'c'], 0, 0n],
    [['d', 'e'], 3, 3n],
  ] as const) {
    const dup = await send([...values], 0, seq)
    assert.equal(dup.errorCode, KafkaError.NONE)
    assert.equal(dup.baseOffset, offset)
  }
  assert.equal((await listOffset(c, 'idem', 0, -1)).offset, 5n)

  // A gap, or a batch overlapping a cached one without matching it, is out of order.
  assert.equal((await send(['g'], 0, 6)).errorCode, KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.equal((await send(['h', 'i'], 0, 4)).errorCode, KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER)

  // A new epoch must start at sequence 0; after it, the old epoch is fenced.
  assert.equal((await send(['n'], 1, 5)).errorCode, KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.equal((await send(['n'], 1, 0)).baseOffset, 5n)
  assert.equal((await send(['old'], 0, 5)).errorCode, KafkaError.INVALID_PRODUCER_EPOCH)
  assert.equal((await send(['n2'], 1, 1)).baseOffset, 6n)
  assert.equal((await listOffset(c, 'idem', 0, -1)).offset, 7n)
})

test('idempotent producer: an unknown producer may start at any sequence; only 5 batches are cached', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'window')
  const { producerId } = await newProducerId(c)
  const send = (seq: number) =>
    produce(c, 'window', 0, batchOf([`s${seq}`], { producerId, producerEpoch: 0, baseSequence: seq }))
  for (let seq = 42; seq < 48; seq++) assert.equal((await send(seq)).baseOffset, BigInt(seq - 42))
  // Batches 43..47 are cached; 42 fell out of the window and is no longer recognised as a retry.
  assert.equal((await send(43)).baseOffset, 1n)
  assert.equal((await send(42)).errorCode, KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.equal((await listOffset(c, 'window', 0, -1)).offset, 6n)
})

test('idempotence state survives a broker restart on the same data directory', async (t) => {
  const home = brokerHome(t)
  for (const dropSnapshot of [false, true]) {
    await t.test(dropSnapshot ? 'rebuilt from the log' : 'from the snapshot', async (t) => {
      const topic = dropSnapshot ? 'rebuilt' : 'snap'
      let broker = await home.start()
      let c = await connect(t, broker)
      await mustCreateTopic(c, topic)
      const { producerId } = await newProducerId(c)
      const batch = (values: string[], baseSequence: number) =>
        batchOf(values, { producerId, producerEpoch: 0, baseSequence })
      assert.equal((await produce(c, topic, 0, batch(['a', 'b'], 0))).baseOffset, 0n)
      assert.equal((await produce(c, topic, 0, batch(['c'], 2))).baseOffset, 2n)
      c.close()
      await broker.close()
      // Without the snapshot the broker has to rebuild the table from the batch headers in the log.
      if (dropSnapshot) fs.rmSync(path.join(home.dir, 'topics', topic, '0.producers'))

      broker = await home.start()
      c = await connect(t, broker)
      const retry = await produce(c, topic, 0, batch(['a', 'b'], 0))
      assert.equal(retry.errorCode, KafkaError.NONE)
      assert.equal(retry.baseOffset, 0n)
      assert.equal((await produce(c, topic, 0, batch(['c'], 2))).baseOffset, 2n)
      assert.equal((await produce(c, topic, 0, batch(['x'], 7))).errorCode, KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER)
      assert.equal((await produce(c, topic, 0, batch(['d'], 3))).baseOffset, 3n)
      assert.equal((await listOffset(c, topic, 0, -1)).offset, 4n)
      c.close()
      await broker.close()
    })
  }
})

test('v0-2 are advertised but refused per partition with UNSUPPORTED_VERSION, appending nothing', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'old', 1)
  for (const version of [0, 1, 2]) {
    const res = await c.request(0, version, writeProduceRequest, readProduceResponse, {
      acks: -1,
      timeoutMs: 1000,
      topicData: [{ name: 'old', partitionData: [{ index: 0, records: batchOf(['x']) }] }],
    })
    assert.equal(res.responses[0].partitionResponses[0].errorCode, KafkaError.UNSUPPORTED_VERSION)
  }
  assert.equal(broker.context.topics.getPartition('old', 0)?.log.logEndOffset, 0)
})

test('transactional batches: only to partitions added to the open transaction, with the transactional id', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'txn', 2)
  const p = await TxnProducer.init(c, 'tx')
  await p.add({ txn: [0] })
  assert.equal((await p.sendRaw('txn', 1, ['not-added'])).errorCode, KafkaError.INVALID_TXN_STATE)
  assert.equal((await p.sendRaw('txn', 0, ['a', 'b'])).baseOffset, 0n)
  // The same batch without the request's transactional id is refused.
  const batch = batchOf(['c'], { transactional: true, producerId: p.producerId, producerEpoch: 0, baseSequence: 2 })
  assert.equal((await produce(c, 'txn', 0, batch)).errorCode, KafkaError.INVALID_TXN_STATE)
  // A retry of a batch of the transaction is recognised as one.
  const retry = batchOf(['a', 'b'], {
    transactional: true,
    producerId: p.producerId,
    producerEpoch: 0,
    baseSequence: 0,
  })
  const dup = await produce(c, 'txn', 0, retry, { transactionalId: 'tx' })
  assert.deepEqual([dup.errorCode, dup.baseOffset], [KafkaError.NONE, 0n])
  await p.commit()
  // After the commit the partition is out of the transaction until it is added again.
  assert.equal((await p.sendRaw('txn', 0, ['late'])).errorCode, KafkaError.INVALID_TXN_STATE)
  // Sequences continue across the transactions of one epoch.
  assert.equal(await p.send('txn', 0, ['next']), 3)
  await p.commit()
  assert.equal((await listOffset(c, 'txn', 0, -1)).offset, 5n)
  assert.equal((await listOffset(c, 'txn', 1, -1)).offset, 0n)
})

test('a fenced transactional producer (an older epoch) gets INVALID_PRODUCER_EPOCH', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'txn', 2)
  const zombie = await TxnProducer.init(c, 'tx')
  assert.equal(await zombie.send('txn', 0, ['a']), 0)
  // A new instance of the same transactional id aborts the open transaction and fences the old one.
  const current = await TxnProducer.init(c, 'tx')
  assert.equal(current.producerEpoch, zombie.producerEpoch + 1)
  assert.equal((await zombie.sendRaw('txn', 0, ['late'])).errorCode, KafkaError.INVALID_PRODUCER_EPOCH)
  // Also to a partition its transaction never touched.
  assert.equal((await zombie.sendRaw('txn', 1, ['late'])).errorCode, KafkaError.INVALID_PRODUCER_EPOCH)
  // At the coordinator (EndTxn v4) it is PRODUCER_FENCED.
  assert.equal(await zombie.end(true), KafkaError.PRODUCER_FENCED)
  // The current instance starts its sequences over.
  assert.equal(await current.send('txn', 0, ['new']), 2)
  await current.commit()
  const f = await fetchOne(c, 12, { topic: 'txn', offset: 0 }, { isolationLevel: 1 })
  assert.deepEqual(logEntries(f.records), ['a@0', 'ABORT@1', 'new@2', 'COMMIT@3'])
  assert.deepEqual(f.abortedTransactions, [{ producerId: BigInt(zombie.producerId), firstOffset: 0n }])
})

test('a transaction open when the broker stops is aborted on restart; the old epoch is fenced', async (t) => {
  const home = brokerHome(t)
  let broker = await home.start()
  let c = await connect(t, broker)
  await mustCreateTopic(c, 'txn', 1)
  assert.equal((await produce(c, 'txn', 0, batchOf(['pre']))).baseOffset, 0n)
  const p = await TxnProducer.init(c, 'tx')
  assert.equal(await p.send('txn', 0, ['a', 'b']), 1)
  c.close()
  await broker.close()

  broker = await home.start()
  c = await connect(t, broker)
  const f = await fetchOne(c, 12, { topic: 'txn', offset: 0 }, { isolationLevel: 1 })
  assert.deepEqual([f.highWatermark, f.lastStableOffset], [4n, 4n], 'the LSO is back at the high watermark')
  assert.deepEqual(f.abortedTransactions, [{ producerId: BigInt(p.producerId), firstOffset: 1n }])
  assert.deepEqual(logEntries(f.records), ['pre@0', 'a@1', 'b@2', 'ABORT@3'])
  assert.deepEqual(markerProducers(f.records), [{ offset: 3, producerId: p.producerId, epoch: p.producerEpoch + 1 }])
  // The instance that opened it is fenced, on the partition and at the coordinator.
  const late = batchOf(['late'], { transactional: true, producerId: p.producerId, producerEpoch: 0, baseSequence: 2 })
  assert.equal(
    (await produce(c, 'txn', 0, late, { transactionalId: 'tx' })).errorCode,
    KafkaError.INVALID_PRODUCER_EPOCH,
  )
  assert.equal(await endTxn(c, 'tx', p.producerId, p.producerEpoch, true), KafkaError.PRODUCER_FENCED)
  const next = await TxnProducer.init(c, 'tx')
  assert.deepEqual([next.producerId, next.producerEpoch], [p.producerId, p.producerEpoch + 2])
})
