/**
 * AddOffsetsToTxn (key 25): a consumer group's offsets will be committed with the transaction
 * (consume-transform-produce). It opens a transaction by itself, and TxnOffsetCommit for the group
 * is refused before it.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { connect, mustCreateTopic } from '../../helpers/wire.ts'
import { addOffsets, TxnProducer, txnOffsetCommit } from '../../helpers/txn-wire.ts'

test('v0-v4: the group joins the transaction (which it opens); TxnOffsetCommit needs it first', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'in', 1)
  for (let version = 0; version <= 4; version++) {
    const id = `tx-${version}`
    const p = await TxnProducer.init(c, id)
    const commit = (groupId: string) =>
      txnOffsetCommit(c, {
        transactionalId: id,
        groupId,
        producerId: p.producerId,
        producerEpoch: p.producerEpoch,
        offsets: [{ topic: 'in', partition: 0, offset: 3 }],
      })
    assert.equal((await commit('g')).get('in-0'), KafkaError.INVALID_TXN_STATE, `v${version}: before AddOffsetsToTxn`)
    assert.equal(await addOffsets(c, id, p.producerId, p.producerEpoch, 'g', version), KafkaError.NONE)
    assert.equal(broker.context.transactions.describe(id)?.state, 'Ongoing')
    // Adding it again is harmless; another group is still not in.
    assert.equal(await addOffsets(c, id, p.producerId, p.producerEpoch, 'g', version), KafkaError.NONE)
    assert.equal((await commit('g')).get('in-0'), KafkaError.NONE)
    assert.equal((await commit('other')).get('in-0'), KafkaError.INVALID_TXN_STATE)
  }
})

test('the transactional id, producer id and epoch must be the current ones', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const old = await TxnProducer.init(c, 'tx')
  const p = await TxnProducer.init(c, 'tx')
  assert.equal(
    await addOffsets(c, 'nobody', p.producerId, p.producerEpoch, 'g'),
    KafkaError.INVALID_PRODUCER_ID_MAPPING,
  )
  assert.equal(
    await addOffsets(c, 'tx', p.producerId + 1, p.producerEpoch, 'g'),
    KafkaError.INVALID_PRODUCER_ID_MAPPING,
  )
  // Fenced: PRODUCER_FENCED from v2 (KIP-588), INVALID_PRODUCER_EPOCH for older clients, as Kafka answers.
  for (const [version, code] of [
    [0, KafkaError.INVALID_PRODUCER_EPOCH],
    [1, KafkaError.INVALID_PRODUCER_EPOCH],
    [2, KafkaError.PRODUCER_FENCED],
    [4, KafkaError.PRODUCER_FENCED],
  ]) {
    assert.equal(await addOffsets(c, 'tx', old.producerId, old.producerEpoch, 'g', version), code, `v${version}`)
  }
  assert.equal(broker.context.transactions.describe('tx')?.state, 'Empty')
})

test('a transaction of offsets only commits them, with no marker anywhere', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'in', 1)
  const p = await TxnProducer.init(c, 'tx')
  assert.equal(await addOffsets(c, 'tx', p.producerId, p.producerEpoch, 'g'), KafkaError.NONE)
  const codes = await txnOffsetCommit(c, {
    transactionalId: 'tx',
    groupId: 'g',
    producerId: p.producerId,
    producerEpoch: p.producerEpoch,
    offsets: [{ topic: 'in', partition: 0, offset: 11 }],
  })
  assert.equal(codes.get('in-0'), KafkaError.NONE)
  await p.commit()
  const fetched = broker.context.groups.fetchOffsets('g', [{ name: 'in', partitions: [0] }])
  assert.equal(fetched.topics[0].partitions[0].committedOffset, 11)
  assert.equal(broker.context.topics.getPartition('in', 0)?.log.logEndOffset, 0)
})
