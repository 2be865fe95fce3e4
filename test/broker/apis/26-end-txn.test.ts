/**
 * EndTxn (key 26) at the protocol level, through the whole flow a transactional client drives:
 * InitProducerId(transactional id) -> AddPartitionsToTxn -> transactional Produce -> EndTxn. While a
 * transaction is open read_committed readers stop at its first offset (the last stable offset);
 * a commit or an abort writes a marker to every partition of the transaction, and after an abort
 * read_committed fetches list the aborted transaction so that clients drop its records.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { eventually, startTestBroker } from '../../helpers/broker.ts'
import { batchOf, connect, fetchOne, listOffset, mustCreateTopic, produce, recordsOf } from '../../helpers/wire.ts'
import { endTxn, logEntries, markerProducers, TxnProducer } from '../../helpers/txn-wire.ts'

const READ_UNCOMMITTED = 0
const READ_COMMITTED = 1

/** Every batch of a partition from `offset`, read_uncommitted (markers included). */
async function logOf(c: RawClient, topic: string, partition: number, offset = 0): Promise<string[]> {
  return logEntries((await fetchOne(c, 12, { topic, partition, offset })).records)
}

/** A read_committed fetch of one partition from `offset`. */
function fetchCommitted(c: RawClient, topic: string, partition: number, offset: number, version = 12) {
  return fetchOne(c, version, { topic, partition, offset }, { isolationLevel: READ_COMMITTED })
}

test('commit: read_committed readers stop at the open transaction, then see it once the COMMIT markers are in', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 't', 2)
  assert.equal((await produce(c, 't', 0, batchOf(['pre']))).baseOffset, 0n)
  const p = await TxnProducer.init(c, 'tx')
  assert.equal(await p.send('t', 0, ['a', 'b']), 1)
  assert.equal(await p.send('t', 1, ['c']), 0)
  // A non-transactional record after the transaction's first one: stable only once it ends.
  assert.equal((await produce(c, 't', 0, batchOf(['mid']))).baseOffset, 3n)

  for (const version of [4, 12, 17]) {
    const topicId = version >= 13 ? broker.context.topics.get('t')?.id : undefined
    const open = await fetchOne(c, version, { topic: 't', topicId, offset: 0 }, { isolationLevel: READ_COMMITTED })
    assert.equal(open.errorCode, KafkaError.NONE)
    assert.equal(open.highWatermark, 4n)
    assert.equal(open.lastStableOffset, 1n, 'the LSO is the first offset of the open transaction')
    assert.deepEqual(
      recordsOf(open.records).map((r) => r.value),
      ['pre'],
      `v${version}: nothing at or past the LSO`,
    )
    assert.deepEqual(open.abortedTransactions, [])
  }
  const atLso = await fetchCommitted(c, 't', 0, 1)
  assert.deepEqual([atLso.errorCode, atLso.records?.length ?? 0], [KafkaError.NONE, 0])
  assert.deepEqual(
    recordsOf((await fetchCommitted(c, 't', 1, 0)).records),
    [],
    'the other partition of the transaction too',
  )
  // read_uncommitted readers see everything up to the high watermark.
  const uncommitted = await fetchOne(c, 12, { topic: 't', offset: 0 }, { isolationLevel: READ_UNCOMMITTED })
  assert.equal(uncommitted.lastStableOffset, 1n)
  assert.deepEqual(
    recordsOf(uncommitted.records).map((r) => r.value),
    ['pre', 'a', 'b', 'mid'],
  )
  assert.equal((await listOffset(c, 't', 0, -1, { isolationLevel: READ_COMMITTED })).offset, 1n)
  assert.equal((await listOffset(c, 't', 0, -1, { isolationLevel: READ_UNCOMMITTED })).offset, 4n)

  await p.commit()
  assert.deepEqual(await logOf(c, 't', 0), ['pre@0', 'a@1', 'b@2', 'mid@3', 'COMMIT@4'])
  assert.deepEqual(await logOf(c, 't', 1), ['c@0', 'COMMIT@1'])
  const markers = markerProducers((await fetchOne(c, 12, { topic: 't', offset: 0 })).records)
  assert.deepEqual(markers, [{ offset: 4, producerId: p.producerId, epoch: p.producerEpoch }])
  const done = await fetchCommitted(c, 't', 0, 0)
  assert.deepEqual([done.highWatermark, done.lastStableOffset], [5n, 5n])
  assert.deepEqual(done.abortedTransactions, [], 'a committed transaction is not listed')
  assert.deepEqual(logEntries(done.records), ['pre@0', 'a@1', 'b@2', 'mid@3', 'COMMIT@4'])
  assert.equal((await listOffset(c, 't', 0, -1, { isolationLevel: READ_COMMITTED })).offset, 5n)
})

test('abort: the ABORT marker is in the log and read_committed fetches overlapping the transaction list it', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 't', 2)
  const p = await TxnProducer.init(c, 'tx')
  assert.equal(await p.send('t', 0, ['x', 'y']), 0)
  assert.equal(await p.send('t', 1, ['w']), 0)
  await p.abort()
  // The next transaction of the same producer commits.
  assert.equal(await p.send('t', 0, ['z']), 3)
  await p.commit()
  assert.deepEqual(await logOf(c, 't', 0), ['x@0', 'y@1', 'ABORT@2', 'z@3', 'COMMIT@4'])
  assert.deepEqual(await logOf(c, 't', 1), ['w@0', 'ABORT@1'])

  const aborted = [{ producerId: BigInt(p.producerId), firstOffset: 0n }]
  for (const from of [0, 1, 2]) {
    const f = await fetchCommitted(c, 't', 0, from)
    assert.deepEqual(f.abortedTransactions, aborted, `a fetch from ${from} overlaps the aborted transaction`)
    assert.equal(f.lastStableOffset, 5n)
  }
  // The records are still served: the client drops them, as with Kafka.
  assert.deepEqual(logEntries((await fetchCommitted(c, 't', 0, 0)).records), [
    'x@0',
    'y@1',
    'ABORT@2',
    'z@3',
    'COMMIT@4',
  ])
  for (const from of [3, 5]) {
    assert.deepEqual((await fetchCommitted(c, 't', 0, from)).abortedTransactions, [], `from ${from}: after it`)
  }
  assert.deepEqual((await fetchCommitted(c, 't', 1, 0)).abortedTransactions, aborted)
  // read_uncommitted readers get no list at all.
  assert.equal((await fetchOne(c, 12, { topic: 't', offset: 0 })).abortedTransactions, null)
})

test('EndTxn at every version; errors for no transaction, a stale epoch, an unknown id, and the opposite outcome', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 't', 1)
  const p = await TxnProducer.init(c, 'tx')
  for (let version = 0; version <= 4; version++) {
    const commit = version % 2 === 0
    await p.send('t', 0, [`v${version}`])
    assert.equal(await p.end(commit, version), KafkaError.NONE)
    // A retry of the same EndTxn is answered again; the opposite outcome is refused.
    assert.equal(await endTxn(c, 'tx', p.producerId, p.producerEpoch, commit, version), KafkaError.NONE)
    assert.equal(await endTxn(c, 'tx', p.producerId, p.producerEpoch, !commit, version), KafkaError.INVALID_TXN_STATE)
  }
  assert.deepEqual(await logOf(c, 't', 0), [
    'v0@0',
    'COMMIT@1',
    'v1@2',
    'ABORT@3',
    'v2@4',
    'COMMIT@5',
    'v3@6',
    'ABORT@7',
    'v4@8',
    'COMMIT@9',
  ])

  const fresh = await TxnProducer.init(c, 'fresh')
  assert.equal(await fresh.end(true), KafkaError.INVALID_TXN_STATE, 'no transaction was started')
  assert.equal(await endTxn(c, 'nobody', p.producerId, p.producerEpoch, true), KafkaError.INVALID_PRODUCER_ID_MAPPING)
  assert.equal(await endTxn(c, 'tx', fresh.producerId, 0, true), KafkaError.INVALID_PRODUCER_ID_MAPPING)
  // An epoch other than the current one is fenced: PRODUCER_FENCED from v2 (KIP-588), before that
  // INVALID_PRODUCER_EPOCH, as Kafka answers older clients.
  for (const [version, code] of [
    [0, KafkaError.INVALID_PRODUCER_EPOCH],
    [1, KafkaError.INVALID_PRODUCER_EPOCH],
    [2, KafkaError.PRODUCER_FENCED],
    [4, KafkaError.PRODUCER_FENCED],
  ]) {
    assert.equal(await endTxn(c, 'tx', p.producerId, p.producerEpoch + 1, true, version), code, `v${version}`)
  }
})

test('a transaction over several partitions writes one marker to each, and only to them', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'a', 3)
  await mustCreateTopic(c, 'b', 1)
  const p = await TxnProducer.init(c, 'tx')
  // Added but never written: still gets a marker (Kafka writes to every added partition).
  await p.add({ a: [0, 2], b: [0] })
  await p.send('a', 0, ['a0'])
  await p.send('b', 0, ['b0'])
  await p.commit()
  assert.deepEqual(await logOf(c, 'a', 0), ['a0@0', 'COMMIT@1'])
  assert.deepEqual(await logOf(c, 'a', 1), [], 'not in the transaction')
  assert.deepEqual(await logOf(c, 'a', 2), ['COMMIT@0'])
  assert.deepEqual(await logOf(c, 'b', 0), ['b0@0', 'COMMIT@1'])
  for (const [topic, partition] of [
    ['a', 0],
    ['a', 2],
    ['b', 0],
  ] as const) {
    const f = await fetchCommitted(c, topic, partition, 0)
    assert.equal(f.lastStableOffset, f.highWatermark, `${topic}-${partition} is stable`)
  }
})

test('the broker aborts a transaction open longer than its timeout and fences its producer', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 't', 1)
  // 1 ms: the coordinator's next periodic check aborts it.
  const p = await TxnProducer.init(c, 'tx', 1)
  await p.add({ t: [0] })
  await eventually(() => broker.context.transactions.describe('tx')?.state === 'CompleteAbort', 30_000, 'the abort')
  const f = await fetchOne(c, 12, { topic: 't', offset: 0 })
  assert.deepEqual(logEntries(f.records), ['ABORT@0'])
  assert.deepEqual(markerProducers(f.records), [{ offset: 0, producerId: p.producerId, epoch: p.producerEpoch + 1 }])
  assert.equal(await p.end(true), KafkaError.PRODUCER_FENCED)
  assert.equal(await p.end(true, 1), KafkaError.INVALID_PRODUCER_EPOCH, 'v1 predates PRODUCER_FENCED')
  // A write is refused with the Produce error, as in Kafka since 2.7.
  assert.equal((await p.sendRaw('t', 0, ['late'])).errorCode, KafkaError.INVALID_PRODUCER_EPOCH)
})
