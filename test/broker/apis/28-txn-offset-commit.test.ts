/**
 * TxnOffsetCommit (key 28): offsets held by the transaction, committed with it or dropped with it.
 * Per-partition checks (unknown partition, metadata size) and, from v3, the group generation.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { committed, join, sync } from '../../helpers/group-wire.ts'
import { connect, mustCreateTopic } from '../../helpers/wire.ts'
import { addOffsets, TxnProducer, txnOffsetCommit, type TxnOffset } from '../../helpers/txn-wire.ts'

/** A producer with group `g` in its open transaction; `commit` sends TxnOffsetCommit for it. */
async function setup(c: RawClient, id = 'tx') {
  const p = await TxnProducer.init(c, id)
  assert.equal(await addOffsets(c, id, p.producerId, p.producerEpoch, 'g'), KafkaError.NONE)
  const commit = (offsets: TxnOffset[], o: { version?: number; generationId?: number; memberId?: string } = {}) =>
    txnOffsetCommit(c, {
      transactionalId: id,
      groupId: 'g',
      producerId: p.producerId,
      producerEpoch: p.producerEpoch,
      offsets,
      ...o,
    })
  return { p, commit }
}

test('v0-v4: offsets become the group offsets when the transaction commits, last write per partition winning', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'in', 2)
  for (let version = 0; version <= 4; version++) {
    const { p, commit } = await setup(c)
    const codes = await commit(
      [
        { topic: 'in', partition: 0, offset: 10 * version + 1, metadata: `m${version}` },
        { topic: 'in', partition: 1, offset: 10 * version + 2 },
      ],
      { version },
    )
    assert.deepEqual([...codes.values()], [KafkaError.NONE, KafkaError.NONE], `v${version}`)
    // A second commit for in-0 in the same transaction replaces the first (metadata included).
    assert.equal((await commit([{ topic: 'in', partition: 0, offset: 10 * version + 5 }], { version })).get('in-0'), 0)
    await p.commit()
    assert.deepEqual(await committed(c, 'g', 'in', 0), { offset: 10 * version + 5, metadata: null })
    assert.deepEqual(await committed(c, 'g', 'in', 1), { offset: 10 * version + 2, metadata: null })
  }
})

test('an aborted transaction commits no offset', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'in', 1)
  let { p, commit } = await setup(c)
  assert.equal((await commit([{ topic: 'in', partition: 0, offset: 4 }])).get('in-0'), KafkaError.NONE)
  await p.commit()
  // The next transaction of the same producer (setup re-initialises it: a new epoch).
  ;({ p, commit } = await setup(c))
  assert.equal((await commit([{ topic: 'in', partition: 0, offset: 9 }])).get('in-0'), KafkaError.NONE)
  await p.abort()
  assert.equal((await committed(c, 'g', 'in', 0)).offset, 4)
})

test('per partition: an unknown partition and oversized metadata are refused, the rest accepted', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'in', 2)
  const { p, commit } = await setup(c)
  const codes = await commit([
    { topic: 'in', partition: 0, offset: 1, metadata: 'x'.repeat(4096) },
    { topic: 'in', partition: 1, offset: 2, metadata: 'x'.repeat(4097) },
    { topic: 'in', partition: 5, offset: 1 },
    { topic: 'missing', partition: 0, offset: 1 },
  ])
  assert.deepEqual(Object.fromEntries(codes), {
    'in-0': KafkaError.NONE,
    'in-1': KafkaError.OFFSET_METADATA_TOO_LARGE,
    'in-5': KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
    'missing-0': KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
  })
  await p.commit()
  assert.deepEqual(await committed(c, 'g', 'in', 0), { offset: 1, metadata: 'x'.repeat(4096) })
  assert.equal((await committed(c, 'g', 'in', 1)).offset, -1, 'the refused offset was not committed')
})

test('the producer must be current and the group in its transaction', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'in', 1)
  const old = await TxnProducer.init(c, 'tx')
  const { p } = await setup(c)
  const attempt = (o: { transactionalId?: string; groupId?: string; producerId?: number; producerEpoch?: number }) =>
    txnOffsetCommit(c, {
      transactionalId: 'tx',
      groupId: 'g',
      producerId: p.producerId,
      producerEpoch: p.producerEpoch,
      offsets: [{ topic: 'in', partition: 0, offset: 1 }],
      ...o,
    })
  assert.equal((await attempt({ transactionalId: 'nobody' })).get('in-0'), KafkaError.INVALID_PRODUCER_ID_MAPPING)
  assert.equal((await attempt({ producerEpoch: old.producerEpoch })).get('in-0'), KafkaError.INVALID_PRODUCER_EPOCH)
  assert.equal((await attempt({ groupId: 'not-added' })).get('in-0'), KafkaError.INVALID_TXN_STATE)
  assert.equal((await attempt({})).get('in-0'), KafkaError.NONE)
})

test('v3+: a member of the group must present its generation', async (t) => {
  const broker = await startTestBroker(t, { initialRebalanceDelayMs: 0 })
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'in', 1)
  const joined = await join(c, 'g', { topics: ['in'] })
  assert.equal(joined.errorCode, KafkaError.NONE)
  assert.equal((await sync(c, 'g', joined.generationId, joined.memberId)).errorCode, KafkaError.NONE)
  // TxnOffsetCommit of a consume-transform-produce member: checked like its OffsetCommit.
  const { p, commit } = await setup(c)
  const offsets = [{ topic: 'in', partition: 0, offset: 6 }]
  const memberId = joined.memberId
  assert.equal(
    (await commit(offsets, { generationId: joined.generationId + 1, memberId })).get('in-0'),
    KafkaError.ILLEGAL_GENERATION,
  )
  assert.equal(
    (await commit(offsets, { generationId: joined.generationId, memberId: 'stranger' })).get('in-0'),
    KafkaError.UNKNOWN_MEMBER_ID,
  )
  assert.equal((await commit(offsets, { generationId: joined.generationId, memberId })).get('in-0'), KafkaError.NONE)
  await p.commit()
  assert.equal((await committed(c, 'g', 'in', 0)).offset, 6)
})
