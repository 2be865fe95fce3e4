/**
 * OffsetFetch (key 9): the single-group form (v1-7, topics = null from v2) and the multi-group
 * form of v8+; offsets of transactions, hidden by require_stable (v7+) while pending.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readOffsetFetchResponse,
  writeOffsetFetchRequest,
  type OffsetFetchRequestInput,
} from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { commit } from '../../helpers/group-wire.ts'
import { connect, mustCreateTopic } from '../../helpers/wire.ts'
import { addOffsets, TxnProducer, txnOffsetCommit } from '../../helpers/txn-wire.ts'

const offsetFetch = (c: RawClient, version: number, body: OffsetFetchRequestInput) =>
  c.request(9, version, writeOffsetFetchRequest, readOffsetFetchResponse, body)

async function setup(t: Parameters<typeof startTestBroker>[0]): Promise<RawClient> {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'a', 2)
  await mustCreateTopic(c, 'b', 1)
  assert.deepEqual(
    await commit(c, 'g1', [
      { topic: 'a', partition: 0, offset: 10, metadata: 'm10' },
      { topic: 'a', partition: 1, offset: 11 },
      { topic: 'b', partition: 0, offset: 12 },
    ]),
    [0, 0, 0],
  )
  assert.deepEqual(await commit(c, 'g2', [{ topic: 'b', partition: 0, offset: 20 }]), [0])
  return c
}

test('v1..v7: one group; named partitions, uncommitted ones answer -1', async (t) => {
  const c = await setup(t)
  for (const version of [1, 5, 7]) {
    const res = await offsetFetch(c, version, { groupId: 'g1', topics: [{ name: 'a', partitionIndexes: [1, 0, 5] }] })
    if (version >= 2) assert.equal(res.errorCode, KafkaError.NONE)
    assert.deepEqual(
      res.topics[0].partitions.map((p) => [p.partitionIndex, p.committedOffset, p.metadata, p.errorCode]),
      [
        [1, 11n, null, 0],
        [0, 10n, 'm10', 0],
        [5, -1n, null, 0],
      ],
    )
  }
  // An unknown group is not an error: nothing committed.
  const none = await offsetFetch(c, 7, { groupId: 'nobody', topics: [{ name: 'a', partitionIndexes: [0] }] })
  assert.deepEqual([none.errorCode, none.topics[0].partitions[0].committedOffset], [KafkaError.NONE, -1n])
})

test('v2+: topics = null returns every committed partition of the group', async (t) => {
  const c = await setup(t)
  for (const version of [2, 7]) {
    const res = await offsetFetch(c, version, { groupId: 'g1', topics: null })
    const flat = res.topics
      .flatMap((x) => x.partitions.map((p) => [x.name, p.partitionIndex, p.committedOffset]))
      .sort((x, y) => String(x).localeCompare(String(y)))
    assert.deepEqual(flat, [
      ['a', 0, 10n],
      ['a', 1, 11n],
      ['b', 0, 12n],
    ])
  }
})

test('v8+: several groups in one request, each with topics or null', async (t) => {
  const c = await setup(t)
  for (const version of [8, 9]) {
    const res = await offsetFetch(c, version, {
      groups: [
        { groupId: 'g1', memberId: null, memberEpoch: -1, topics: [{ name: 'b', partitionIndexes: [0] }] },
        { groupId: 'g2', memberId: null, memberEpoch: -1, topics: null },
        { groupId: 'g3', memberId: null, memberEpoch: -1, topics: null },
      ],
      requireStable: true,
    })
    assert.deepEqual(
      res.groups.map((g) => [
        g.groupId,
        g.errorCode,
        g.topics.flatMap((x) => x.partitions.map((p) => [x.name, p.partitionIndex, p.committedOffset, p.errorCode])),
      ]),
      [
        ['g1', 0, [['b', 0, 12n, 0]]],
        ['g2', 0, [['b', 0, 20n, 0]]],
        ['g3', 0, []],
      ],
    )
  }
})

test('transactional offsets: committed with the transaction only; v7+ require_stable sees UNSTABLE_OFFSET_COMMIT while pending', async (t) => {
  const c = await setup(t)
  const pendingTxn = async (offsets: Array<[string, number, number]>) => {
    const p = await TxnProducer.init(c, 'tx')
    assert.equal(await addOffsets(c, 'tx', p.producerId, p.producerEpoch, 'g1'), KafkaError.NONE)
    const codes = await txnOffsetCommit(c, {
      transactionalId: 'tx',
      groupId: 'g1',
      producerId: p.producerId,
      producerEpoch: p.producerEpoch,
      offsets: offsets.map(([topic, partition, offset]) => ({ topic, partition, offset })),
    })
    assert.deepEqual(
      [...codes.values()],
      offsets.map(() => KafkaError.NONE),
    )
    return p
  }
  /** [topic, partition, offset, metadata, error] of g1's a-0, a-1 and b-0 (v7, or v8 with g2 beside it). */
  const g1 = async (requireStable: boolean, version = 7) => {
    const topics = [
      { name: 'a', partitionIndexes: [0, 1] },
      { name: 'b', partitionIndexes: [0] },
    ]
    const res =
      version < 8
        ? await offsetFetch(c, version, { groupId: 'g1', topics, requireStable })
        : (
            await offsetFetch(c, version, {
              groups: [
                { groupId: 'g1', memberId: null, memberEpoch: -1, topics },
                { groupId: 'g2', memberId: null, memberEpoch: -1, topics: null },
              ],
              requireStable,
            })
          ).groups[0]
    return res.topics.flatMap((x) =>
      x.partitions.map((p) => [x.name, p.partitionIndex, Number(p.committedOffset), p.metadata, p.errorCode]),
    )
  }
  const before = [
    ['a', 0, 10, 'm10', 0],
    ['a', 1, 11, null, 0],
    ['b', 0, 12, null, 0],
  ]
  const p = await pendingTxn([
    ['a', 0, 50],
    ['a', 1, 51],
  ])
  // Without require_stable the committed offsets are answered as they are.
  assert.deepEqual(await g1(false), before)
  const unstable = [
    ['a', 0, -1, '', KafkaError.UNSTABLE_OFFSET_COMMIT],
    ['a', 1, -1, '', KafkaError.UNSTABLE_OFFSET_COMMIT],
    ['b', 0, 12, null, 0],
  ]
  assert.deepEqual(await g1(true), unstable)
  assert.deepEqual(await g1(true, 8), unstable)
  // Another group is not affected.
  const g2 = await offsetFetch(c, 7, {
    groupId: 'g2',
    topics: [{ name: 'b', partitionIndexes: [0] }],
    requireStable: true,
  })
  assert.equal(g2.topics[0].partitions[0].errorCode, KafkaError.NONE)

  await p.commit()
  const after = [
    ['a', 0, 50, null, 0],
    ['a', 1, 51, null, 0],
    ['b', 0, 12, null, 0],
  ]
  assert.deepEqual(await g1(true), after)
  assert.deepEqual(await g1(false, 8), after)

  // An aborted transaction leaves the committed offsets as they were.
  const q = await pendingTxn([['b', 0, 99]])
  assert.deepEqual((await g1(true))[2], ['b', 0, -1, '', KafkaError.UNSTABLE_OFFSET_COMMIT])
  await q.abort()
  assert.deepEqual(await g1(true), after)
})
