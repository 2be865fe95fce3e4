/**
 * JoinGroup (key 11) and the whole classic-group lifecycle over the wire: join, sync, heartbeat,
 * commit, fetch, rebalance with a second member, leave, describe, list, delete.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readDeleteGroupsResponse,
  readDescribeGroupsResponse,
  readListGroupsResponse,
  readOffsetDeleteResponse,
  readOffsetFetchResponse,
  writeDeleteGroupsRequest,
  writeDescribeGroupsRequest,
  writeListGroupsRequest,
  writeOffsetDeleteRequest,
  writeOffsetFetchRequest,
} from '../../../src/protocol/messages/index.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import {
  assignedPartitions,
  assignment,
  commit,
  committed,
  heartbeat,
  join,
  joinOnce,
  leave,
  sync,
} from '../../helpers/group-wire.ts'
import { connect, mustCreateTopic } from '../../helpers/wire.ts'

test('a group lifecycle at the wire level: join, sync, heartbeat, commit, fetch, rebalance, leave, describe, delete', async (t) => {
  const broker = await startTestBroker(t)
  const a = await connect(t, broker)
  const b = await connect(t, broker)
  await mustCreateTopic(a, 'events', 2)

  // One member: it leads generation 1 and sees its own subscription.
  const ja = await join(a, 'life', { topics: ['events'] })
  assert.equal(ja.errorCode, KafkaError.NONE)
  assert.equal(ja.generationId, 1)
  assert.equal(ja.leader, ja.memberId)
  assert.equal(ja.protocolName, 'range')
  assert.deepEqual(
    ja.members.map((m) => m.memberId),
    [ja.memberId],
  )
  const sa = await sync(a, 'life', 1, ja.memberId, { [ja.memberId]: assignment({ events: [0, 1] }) })
  assert.equal(sa.errorCode, KafkaError.NONE)
  assert.deepEqual(assignedPartitions(sa.assignment), { events: [0, 1] })
  assert.equal(await heartbeat(a, 'life', 1, ja.memberId), KafkaError.NONE)

  // Commits are checked against the generation and the member; metadata round-trips.
  assert.deepEqual(
    await commit(a, 'life', [{ topic: 'events', partition: 0, offset: 42, metadata: 'meta-0' }], {
      generationId: 1,
      memberId: ja.memberId,
    }),
    [KafkaError.NONE],
  )
  assert.deepEqual(
    await commit(a, 'life', [{ topic: 'events', partition: 1, offset: 1 }], { generationId: 7, memberId: ja.memberId }),
    [KafkaError.ILLEGAL_GENERATION],
  )
  assert.deepEqual(
    await commit(a, 'life', [{ topic: 'events', partition: 1, offset: 1 }], { generationId: 1, memberId: 'stranger' }),
    [KafkaError.UNKNOWN_MEMBER_ID],
  )
  assert.deepEqual(await committed(a, 'life', 'events', 0), { offset: 42, metadata: 'meta-0' })
  assert.deepEqual(await committed(a, 'life', 'events', 1), { offset: -1, metadata: null })

  // A second member starts a rebalance: its join parks until the first rejoins.
  const jbPending = join(b, 'life', { topics: ['events'] })
  // The first member learns about the rebalance from its heartbeat (the join is parked by now:
  // heartbeats are answered in order behind nothing on connection a).
  let hb: number
  do hb = await heartbeat(a, 'life', 1, ja.memberId)
  while (hb === KafkaError.NONE)
  assert.equal(hb, KafkaError.REBALANCE_IN_PROGRESS)
  const ja2 = await join(a, 'life', { topics: ['events'], memberId: ja.memberId })
  const jb = await jbPending
  assert.equal(ja2.generationId, 2)
  assert.equal(jb.generationId, 2)
  assert.equal(ja2.leader, ja.memberId)
  assert.equal(jb.leader, ja.memberId)
  // The leader gets every member's metadata; the follower none.
  assert.deepEqual(ja2.members.map((m) => m.memberId).sort(), [ja.memberId, jb.memberId].sort())
  assert.deepEqual(jb.members, [])

  // The follower's SyncGroup waits for the leader's assignment.
  const sbPending = sync(b, 'life', 2, jb.memberId)
  const sa2 = await sync(a, 'life', 2, ja.memberId, {
    [ja.memberId]: assignment({ events: [0] }),
    [jb.memberId]: assignment({ events: [1] }),
  })
  const sb = await sbPending
  assert.deepEqual(assignedPartitions(sa2.assignment), { events: [0] })
  assert.deepEqual(assignedPartitions(sb.assignment), { events: [1] })

  // Described and listed as Stable; not deletable while members remain.
  const described = await a.request(15, 5, writeDescribeGroupsRequest, readDescribeGroupsResponse, {
    groups: ['life'],
    includeAuthorizedOperations: false,
  })
  const g = described.groups[0]
  assert.deepEqual([g.errorCode, g.groupState, g.protocolType, g.protocolData], [0, 'Stable', 'consumer', 'range'])
  assert.equal(g.members.length, 2)
  const listed = await a.request(16, 5, writeListGroupsRequest, readListGroupsResponse, {
    statesFilter: [],
    typesFilter: [],
  })
  assert.deepEqual(
    listed.groups.map((x) => [x.groupId, x.groupState, x.protocolType, x.groupType]),
    [['life', 'Stable', 'consumer', 'classic']],
  )
  const deleteGroup = async () =>
    (await a.request(42, 2, writeDeleteGroupsRequest, readDeleteGroupsResponse, { groupsNames: ['life'] })).results[0]
      .errorCode
  assert.equal(await deleteGroup(), KafkaError.NON_EMPTY_GROUP)
  // An active consumer group keeps the offsets of topics it subscribes to.
  const offsetDelete = async () => {
    const res = await a.request(47, 0, writeOffsetDeleteRequest, readOffsetDeleteResponse, {
      groupId: 'life',
      topics: [{ name: 'events', partitions: [{ partitionIndex: 0 }] }],
    })
    return [res.errorCode, res.topics.flatMap((x) => x.partitions.map((p) => p.errorCode))]
  }
  assert.deepEqual(await offsetDelete(), [KafkaError.NONE, [KafkaError.GROUP_SUBSCRIBED_TO_TOPIC]])

  // Both leave: the group is Empty, its offsets can go, then the group itself.
  assert.deepEqual(await leave(b, 'life', [jb.memberId]), [KafkaError.NONE, [KafkaError.NONE]])
  assert.deepEqual(await leave(a, 'life', [ja.memberId, 'stranger']), [
    KafkaError.NONE,
    [KafkaError.NONE, KafkaError.UNKNOWN_MEMBER_ID],
  ])
  assert.deepEqual(await offsetDelete(), [KafkaError.NONE, [KafkaError.NONE]])
  assert.deepEqual(await committed(a, 'life', 'events', 0), { offset: -1, metadata: null })
  assert.equal(await deleteGroup(), KafkaError.NONE)
  assert.equal(await deleteGroup(), KafkaError.GROUP_ID_NOT_FOUND)
  const after = await a.request(9, 9, writeOffsetFetchRequest, readOffsetFetchResponse, {
    groups: [{ groupId: 'life', memberId: null, memberEpoch: -1, topics: null }],
    requireStable: false,
  })
  assert.deepEqual(after.groups[0].topics, [])
})

test('v4+ dynamic joins get MEMBER_ID_REQUIRED first; v2 and v3 join at once', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  for (const version of [2, 3]) {
    const res = await joinOnce(c, `old-${version}`, { version })
    assert.equal(res.errorCode, KafkaError.NONE)
    assert.equal(res.generationId, 1)
    assert.equal(res.protocolName, 'range')
  }
  for (const version of [4, 9]) {
    const first = await joinOnce(c, `new-${version}`, { version })
    assert.equal(first.errorCode, KafkaError.MEMBER_ID_REQUIRED)
    assert.notEqual(first.memberId, '')
    // Before v7 the protocol name is not nullable: an error answer carries ''.
    assert.equal(first.protocolName, version < 7 ? '' : null)
    const second = await joinOnce(c, `new-${version}`, { version, memberId: first.memberId })
    assert.deepEqual([second.errorCode, second.memberId, second.leader], [0, first.memberId, first.memberId])
  }
})

test('join errors: empty group id, session timeout bounds, protocol mismatches, unknown member', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  assert.equal((await joinOnce(c, '')).errorCode, KafkaError.INVALID_GROUP_ID)
  assert.equal((await joinOnce(c, 'g', { sessionTimeoutMs: 10 })).errorCode, KafkaError.INVALID_SESSION_TIMEOUT)
  assert.equal((await joinOnce(c, 'g', { sessionTimeoutMs: 3_600_000 })).errorCode, KafkaError.INVALID_SESSION_TIMEOUT)
  assert.equal((await joinOnce(c, 'g', { protocols: [] })).errorCode, KafkaError.INCONSISTENT_GROUP_PROTOCOL)
  assert.equal((await joinOnce(c, 'g', { memberId: 'ghost' })).errorCode, KafkaError.UNKNOWN_MEMBER_ID)
  const leader = await join(c, 'g', { protocols: ['range'] })
  assert.equal(leader.errorCode, KafkaError.NONE)
  // A newcomer sharing no protocol with the group is refused.
  assert.equal((await join(c, 'g', { protocols: ['roundrobin'] })).errorCode, KafkaError.INCONSISTENT_GROUP_PROTOCOL)
  assert.equal((await join(c, 'g', { protocolType: 'connect' })).errorCode, KafkaError.INCONSISTENT_GROUP_PROTOCOL)
})
