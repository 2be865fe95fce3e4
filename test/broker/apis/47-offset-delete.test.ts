/** OffsetDelete (key 47): offsets of empty groups, and of topics an active group does not use. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { readOffsetDeleteResponse, writeOffsetDeleteRequest } from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { commit, committed, join, sync } from '../../helpers/group-wire.ts'
import { connect, mustCreateTopic } from '../../helpers/wire.ts'

const offsetDelete = async (c: RawClient, groupId: string, topics: Record<string, number[]>) => {
  const res = await c.request(47, 0, writeOffsetDeleteRequest, readOffsetDeleteResponse, {
    groupId,
    topics: Object.entries(topics).map(([name, ps]) => ({
      name,
      partitions: ps.map((partitionIndex) => ({ partitionIndex })),
    })),
  })
  return [res.errorCode, res.topics.map((x) => [x.name, x.partitions.map((p) => [p.partitionIndex, p.errorCode])])]
}

test('deletes offsets of an empty group, including never-committed ones', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'a', 2)
  await commit(c, 'g', [
    { topic: 'a', partition: 0, offset: 1 },
    { topic: 'a', partition: 1, offset: 2 },
  ])
  // Partition 7 never had a commit (nor exists): deleting nothing is still a success.
  assert.deepEqual(await offsetDelete(c, 'g', { a: [0, 7] }), [
    KafkaError.NONE,
    [
      [
        'a',
        [
          [0, KafkaError.NONE],
          [7, KafkaError.NONE],
        ],
      ],
    ],
  ])
  assert.equal((await committed(c, 'g', 'a', 0)).offset, -1)
  assert.equal((await committed(c, 'g', 'a', 1)).offset, 2)
  assert.deepEqual(await offsetDelete(c, 'unknown', { a: [0] }), [KafkaError.GROUP_ID_NOT_FOUND, []])
  assert.deepEqual(await offsetDelete(c, '', { a: [0] }), [KafkaError.INVALID_GROUP_ID, []])
})

test('an active group keeps offsets of subscribed topics; a non-consumer group refuses', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'sub')
  await mustCreateTopic(c, 'other')
  // The member's subscription (JoinGroup metadata) names 'sub' only.
  const j = await join(c, 'consumers', { topics: ['sub'] })
  await sync(c, 'consumers', j.generationId, j.memberId, {})
  await commit(c, 'consumers', [{ topic: 'other', partition: 0, offset: 3 }], {
    generationId: j.generationId,
    memberId: j.memberId,
  })
  assert.deepEqual(await offsetDelete(c, 'consumers', { sub: [0], other: [0] }), [
    KafkaError.NONE,
    [
      ['sub', [[0, KafkaError.GROUP_SUBSCRIBED_TO_TOPIC]]],
      ['other', [[0, KafkaError.NONE]]],
    ],
  ])
  assert.equal((await committed(c, 'consumers', 'other', 0)).offset, -1)
  // Only consumer groups say which topics they use; any other active group refuses outright.
  await join(c, 'connectors', { protocolType: 'connect' })
  assert.deepEqual(await offsetDelete(c, 'connectors', { sub: [0] }), [KafkaError.NON_EMPTY_GROUP, []])
})
