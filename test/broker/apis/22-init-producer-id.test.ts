/**
 * InitProducerId (key 22): fresh ids, transactional ids and epochs, no reuse; a new instance of
 * a transactional id aborts the transaction the previous one left open.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { readInitProducerIdResponse, writeInitProducerIdRequest } from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { brokerHome, connect, fetchOne, mustCreateTopic } from '../../helpers/wire.ts'
import { initTxn, markerProducers, TxnProducer } from '../../helpers/txn-wire.ts'

const init = (
  c: RawClient,
  version: number,
  o: { transactionalId?: string | null; producerId?: bigint; producerEpoch?: number } = {},
) =>
  c.request(22, version, writeInitProducerIdRequest, readInitProducerIdResponse, {
    transactionalId: o.transactionalId ?? null,
    transactionTimeoutMs: 60_000,
    producerId: o.producerId ?? -1n,
    producerEpoch: o.producerEpoch ?? -1,
  })

test('hands out distinct producer ids at epoch 0, at every version', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const ids = new Set<bigint>()
  for (let version = 0; version <= 5; version++) {
    const res = await init(c, version)
    assert.equal(res.errorCode, KafkaError.NONE)
    assert.equal(res.producerEpoch, 0)
    assert.ok(res.producerId >= 0n)
    ids.add(res.producerId)
  }
  assert.equal(ids.size, 6)
})

test('v3+: an id and epoch presented without a transactional id still get a fresh id at epoch 0', async (t) => {
  // Kafka ignores them for idempotent producers; bumping the presented id would let any client
  // fence, or collide with, another producer's id.
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const first = await init(c, 4)
  for (const version of [3, 4, 5]) {
    const again = await init(c, version, { producerId: first.producerId, producerEpoch: first.producerEpoch })
    assert.equal(again.errorCode, KafkaError.NONE)
    assert.notEqual(again.producerId, first.producerId)
    assert.equal(again.producerEpoch, 0)
  }
})

test('a transactional id keeps its producer id; each init bumps the epoch', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const first = await init(c, 0, { transactionalId: 'tx' })
  assert.deepEqual([first.errorCode, first.producerEpoch], [KafkaError.NONE, 0])
  const second = await init(c, 5, { transactionalId: 'tx' })
  assert.deepEqual([second.errorCode, second.producerId, second.producerEpoch], [KafkaError.NONE, first.producerId, 1])
  // KIP-360: presenting an old incarnation is refused: PRODUCER_FENCED from v4 (KIP-588), the
  // older INVALID_PRODUCER_EPOCH for v3, as Kafka answers; nothing is bumped.
  for (const [version, code] of [
    [3, KafkaError.INVALID_PRODUCER_EPOCH],
    [4, KafkaError.PRODUCER_FENCED],
    [5, KafkaError.PRODUCER_FENCED],
  ]) {
    const stale = await init(c, version, { transactionalId: 'tx', producerId: first.producerId, producerEpoch: 0 })
    assert.deepEqual([stale.errorCode, stale.producerId, stale.producerEpoch], [code, -1n, -1], `v${version}`)
  }
  assert.equal(broker.context.transactions.describe('tx')?.producerEpoch, 1)
  assert.equal((await init(c, 5, { transactionalId: '' })).errorCode, KafkaError.INVALID_REQUEST)
})

test('ids are never reused after a restart', async (t) => {
  const home = brokerHome(t)
  const seen: bigint[] = []
  for (let round = 0; round < 3; round++) {
    const broker = await home.start()
    const c = await connect(t, broker)
    for (let i = 0; i < 3; i++) seen.push((await init(c, 4)).producerId)
    c.close()
    await broker.close()
  }
  assert.equal(new Set(seen).size, seen.length)
})

test('an epoch bump of an id this broker never handed out does not make that id shared', async (t) => {
  // Kafka answers every InitProducerId without a transactional id with a fresh id at epoch 0.
  // Bumping whatever id a client presents lets it claim an id that is handed out later.
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const first = await init(c, 4)
  const claimed = await init(c, 4, { producerId: first.producerId + 1n, producerEpoch: 0 })
  const next = await init(c, 4)
  assert.notEqual(next.producerId, claimed.producerId)
})

test('with a transaction open, a new instance aborts it: ABORT markers under the new epoch in its partitions', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'txn', 3)
  const old = await TxnProducer.init(c, 'tx')
  assert.equal(await old.send('txn', 0, ['a']), 0)
  assert.equal(await old.send('txn', 2, ['b', 'c']), 0)
  const res = await initTxn(c, 'tx')
  assert.deepEqual([res.errorCode, Number(res.producerId)], [KafkaError.NONE, old.producerId])
  assert.equal(res.producerEpoch, old.producerEpoch + 1)
  for (const [partition, marker] of [
    [0, 1],
    [2, 2],
  ]) {
    const f = await fetchOne(c, 12, { topic: 'txn', partition, offset: 0 }, { isolationLevel: 1 })
    assert.equal(f.lastStableOffset, f.highWatermark, `txn-${partition} is stable again`)
    assert.deepEqual(markerProducers(f.records), [
      { offset: marker, producerId: old.producerId, epoch: res.producerEpoch },
    ])
    assert.deepEqual(f.abortedTransactions, [{ producerId: BigInt(old.producerId), firstOffset: 0n }])
  }
  assert.equal(broker.context.topics.getPartition('txn', 1)?.log.logEndOffset, 0, 'no marker outside the transaction')
  assert.equal(broker.context.transactions.describe('tx')?.state, 'Empty')
})

test('a transaction timeout must be positive and at most 15 minutes: INVALID_TRANSACTION_TIMEOUT', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  for (const timeoutMs of [0, -5, 15 * 60_000 + 1]) {
    const res = await initTxn(c, 'tx', { timeoutMs })
    assert.deepEqual(
      [res.errorCode, res.producerId, res.producerEpoch],
      [KafkaError.INVALID_TRANSACTION_TIMEOUT, -1n, -1],
    )
  }
  assert.equal((await initTxn(c, 'tx', { timeoutMs: 15 * 60_000 })).errorCode, KafkaError.NONE)
  // A timeout is irrelevant without a transactional id.
  assert.equal((await initTxn(c, null, { timeoutMs: 0 })).errorCode, KafkaError.NONE)
})

test('transactional ids survive a restart: the same producer id at the next epoch', async (t) => {
  const home = brokerHome(t)
  let broker = await home.start()
  let c = await connect(t, broker)
  const first = await initTxn(c, 'tx')
  c.close()
  await broker.close()
  broker = await home.start()
  c = await connect(t, broker)
  const again = await initTxn(c, 'tx', { producerId: Number(first.producerId), producerEpoch: first.producerEpoch })
  assert.deepEqual([again.errorCode, again.producerId, again.producerEpoch], [KafkaError.NONE, first.producerId, 1])
  // Ids handed out after the restart do not collide with the transactional one.
  assert.notEqual((await init(c, 4)).producerId, first.producerId)
})
