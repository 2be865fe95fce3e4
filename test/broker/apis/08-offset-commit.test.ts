/**
 * OffsetCommit (key 8): standalone and member commits, generation and member checks,
 * per-partition errors and durability across a restart.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { commit, committed, join, sync } from '../../helpers/group-wire.ts'
import { brokerHome, connect, mustCreateTopic } from '../../helpers/wire.ts'

test('standalone commits (generation -1) at the oldest and newest version; metadata round-trips', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'logs', 2)
  for (const [version, offset] of [
    [2, 10],
    [9, 20],
  ]) {
    const codes = await commit(
      c,
      'solo',
      [
        { topic: 'logs', partition: 0, offset, metadata: `v${version}` },
        { topic: 'logs', partition: 1, offset: offset + 1, metadata: null },
      ],
      { version },
    )
    assert.deepEqual(codes, [KafkaError.NONE, KafkaError.NONE])
    assert.deepEqual(await committed(c, 'solo', 'logs', 0), { offset, metadata: `v${version}` })
    assert.deepEqual(await committed(c, 'solo', 'logs', 1), { offset: offset + 1, metadata: null })
  }
})

test('unknown topics and partitions are refused per partition; the rest is committed', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'real')
  const codes = await commit(c, 'mixed', [
    { topic: 'real', partition: 0, offset: 5 },
    { topic: 'real', partition: 1, offset: 5 },
    { topic: 'imaginary', partition: 0, offset: 5 },
  ])
  assert.deepEqual(
    codes.sort(),
    [KafkaError.NONE, KafkaError.UNKNOWN_TOPIC_OR_PARTITION, KafkaError.UNKNOWN_TOPIC_OR_PARTITION].sort(),
  )
  assert.equal((await committed(c, 'mixed', 'real', 0)).offset, 5)
})

test('generation and member checks; oversized metadata', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'gen')
  const one = [{ topic: 'gen', partition: 0, offset: 1 }]
  // An unknown group takes only standalone commits.
  assert.deepEqual(await commit(c, 'fresh', one, { generationId: 3, memberId: 'm' }), [KafkaError.ILLEGAL_GENERATION])
  const j = await join(c, 'busy', { topics: ['gen'] })
  // CompletingRebalance: the member has no assignment yet.
  assert.deepEqual(await commit(c, 'busy', one, { generationId: j.generationId, memberId: j.memberId }), [
    KafkaError.REBALANCE_IN_PROGRESS,
  ])
  await sync(c, 'busy', j.generationId, j.memberId, {})
  assert.deepEqual(await commit(c, 'busy', one, { generationId: j.generationId, memberId: j.memberId }), [
    KafkaError.NONE,
  ])
  // A group with members refuses standalone commits.
  assert.deepEqual(await commit(c, 'busy', one), [KafkaError.UNKNOWN_MEMBER_ID])
  const big = [{ topic: 'gen', partition: 0, offset: 2, metadata: 'x'.repeat(4097) }]
  assert.deepEqual(await commit(c, 'solo', big), [KafkaError.OFFSET_METADATA_TOO_LARGE])
})

test('committed offsets survive a restart', async (t) => {
  const home = brokerHome(t)
  let broker = await home.start()
  let c = await connect(t, broker)
  await mustCreateTopic(c, 'durable')
  assert.deepEqual(await commit(c, 'g', [{ topic: 'durable', partition: 0, offset: 77, metadata: 'm' }]), [0])
  c.close()
  await broker.close()
  broker = await home.start()
  c = await connect(t, broker)
  assert.deepEqual(await committed(c, 'g', 'durable', 0), { offset: 77, metadata: 'm' })
})
