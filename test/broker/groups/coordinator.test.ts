import assert from 'node:assert/strict'
import { setTimeout as sleep } from 'node:timers/promises'
import { describe, test } from 'node:test'
import { GroupCoordinator } from '../../../src/broker/groups/coordinator.ts'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { joinReq, setup, stabilize, subscription, tempDir, TestMember, tick, track } from './helpers.ts'

const EMPTY = Buffer.alloc(0)

describe('join and sync', () => {
  test('one member joins, leads, syncs and becomes Stable', async (t) => {
    const { coord } = setup(t)
    const j = await coord.join(joinReq('g', { clientId: 'app' }))
    assert.equal(j.errorCode, KafkaError.NONE)
    assert.equal(j.generationId, 1)
    assert.match(j.memberId, /^app-[0-9a-f-]{36}$/)
    assert.equal(j.leader, j.memberId)
    assert.equal(j.protocolType, 'consumer')
    assert.equal(j.protocolName, 'range')
    assert.deepEqual(j.members, [{ memberId: j.memberId, groupInstanceId: null, metadata: Buffer.from('meta') }])
    assert.equal(coord.describeGroup('g').groupState, 'CompletingRebalance')

    const s = await coord.sync({
      groupId: 'g',
      generationId: 1,
      memberId: j.memberId,
      groupInstanceId: null,
      protocolType: 'consumer',
      protocolName: 'range',
      assignments: [{ memberId: j.memberId, assignment: Buffer.from('all partitions') }],
    })
    assert.equal(s.errorCode, KafkaError.NONE)
    assert.deepEqual(s.assignment, Buffer.from('all partitions'))
    assert.equal(s.protocolName, 'range')
    assert.equal(coord.describeGroup('g').groupState, 'Stable')
    assert.equal(
      coord.heartbeat({ groupId: 'g', generationId: 1, memberId: j.memberId, groupInstanceId: null }).errorCode,
      0,
    )
  })

  test('three members join one generation within the initial rebalance delay', async (t) => {
    const { coord, clock } = setup(t, { initialRebalanceDelayMs: 100 })
    const a = track(
      coord.join(joinReq('g', { clientId: 'a', protocols: [{ name: 'range', metadata: Buffer.from('A') }] })),
    )
    const b = track(
      coord.join(joinReq('g', { clientId: 'b', protocols: [{ name: 'range', metadata: Buffer.from('B') }] })),
    )
    const c = track(
      coord.join(joinReq('g', { clientId: 'c', protocols: [{ name: 'range', metadata: Buffer.from('C') }] })),
    )
    await tick()
    assert.equal(a.done || b.done || c.done, false)
    assert.equal(coord.describeGroup('g').groupState, 'PreparingRebalance')
    clock.advance(100) // members arrived during the delay: Kafka waits one more delay
    await tick()
    assert.equal(a.done, false)
    clock.advance(100)
    await tick()
    const [ja, jb, jc] = [a.value!, b.value!, c.value!]
    for (const j of [ja, jb, jc]) {
      assert.equal(j.errorCode, KafkaError.NONE)
      assert.equal(j.generationId, 1)
      assert.equal(j.leader, ja.memberId) // the first member leads
    }
    assert.deepEqual(
      ja.members.map((m) => m.metadata.toString()),
      ['A', 'B', 'C'],
    )
    assert.deepEqual(jb.members, [])
    assert.deepEqual(jc.members, [])

    const sync = (memberId: string, assignments: { memberId: string; assignment: Buffer }[] = []) =>
      track(
        coord.sync({
          groupId: 'g',
          generationId: 1,
          memberId,
          groupInstanceId: null,
          protocolType: null,
          protocolName: null,
          assignments,
        }),
      )
    const sb = sync(jb.memberId)
    const sc = sync(jc.memberId)
    await tick()
    assert.equal(sb.done, false, 'followers wait for the leader')
    const sa = sync(ja.memberId, [
      { memberId: ja.memberId, assignment: Buffer.from('p0') },
      { memberId: jb.memberId, assignment: Buffer.from('p1') },
    ])
    await tick()
    assert.deepEqual(sa.value!.assignment, Buffer.from('p0'))
    assert.deepEqual(sb.value!.assignment, Buffer.from('p1'))
    assert.equal(sc.value!.errorCode, KafkaError.NONE)
    assert.deepEqual(sc.value!.assignment, EMPTY, 'a member given nothing gets an empty assignment')
    assert.equal(coord.describeGroup('g').groupState, 'Stable')
  })

  test('three clients converge through real rejoins without a delay', async (t) => {
    for (const requireKnownMemberId of [false, true]) {
      const { coord } = setup(t)
      const members = ['a', 'b', 'c'].map((n) => new TestMember(coord, 'g', n, { requireKnownMemberId }))
      await stabilize(members)
      const gen = members[0].generationId
      assert.ok(members.every((m) => m.generationId === gen && m.leader === members[0].leader))
      const assigned = members.map((m) => m.assignment.toString()).sort()
      assert.deepEqual(assigned, members.map((m) => `${m.memberId}@${gen}`).sort())
      assert.equal(coord.describeGroup('g').members.length, 3)
    }
  })

  test('MEMBER_ID_REQUIRED hands out an id that the rejoin uses', async (t) => {
    const { coord } = setup(t)
    const first = await coord.join(joinReq('g', { clientId: 'kcat', requireKnownMemberId: true }))
    assert.equal(first.errorCode, KafkaError.MEMBER_ID_REQUIRED)
    assert.match(first.memberId, /^kcat-/)
    assert.equal(coord.describeGroup('g').members.length, 0, 'a pending id is not a member yet')
    const second = await coord.join(joinReq('g', { memberId: first.memberId, requireKnownMemberId: true }))
    assert.equal(second.errorCode, KafkaError.NONE)
    assert.equal(second.memberId, first.memberId)
    assert.equal(second.leader, first.memberId)
    const unknown = await coord.join(joinReq('g', { memberId: 'made-up', requireKnownMemberId: true }))
    assert.equal(unknown.errorCode, KafkaError.UNKNOWN_MEMBER_ID)
    const noGroup = await coord.join(joinReq('other', { memberId: 'made-up' }))
    assert.equal(noGroup.errorCode, KafkaError.UNKNOWN_MEMBER_ID)
  })

  test('a pending member id expires after the session timeout', async (t) => {
    const { coord, clock } = setup(t)
    const first = await coord.join(joinReq('g', { requireKnownMemberId: true, sessionTimeoutMs: 100 }))
    clock.advance(100)
    const late = await coord.join(joinReq('g', { memberId: first.memberId, requireKnownMemberId: true }))
    assert.equal(late.errorCode, KafkaError.UNKNOWN_MEMBER_ID)
  })

  test('request validation: group id, session timeout, protocols', async (t) => {
    const { coord } = setup(t, { minSessionTimeoutMs: 100, maxSessionTimeoutMs: 1000 })
    assert.equal((await coord.join(joinReq(''))).errorCode, KafkaError.INVALID_GROUP_ID)
    assert.equal(
      (await coord.join(joinReq('g', { sessionTimeoutMs: 99 }))).errorCode,
      KafkaError.INVALID_SESSION_TIMEOUT,
    )
    assert.equal(
      (await coord.join(joinReq('g', { sessionTimeoutMs: 1001 }))).errorCode,
      KafkaError.INVALID_SESSION_TIMEOUT,
    )
    const ok = { sessionTimeoutMs: 500 }
    const noType = await coord.join(joinReq('g', { ...ok, protocolType: '' }))
    assert.equal(noType.errorCode, KafkaError.INCONSISTENT_GROUP_PROTOCOL)
    const noProtocols = await coord.join(joinReq('g', { ...ok, protocols: [] }))
    assert.equal(noProtocols.errorCode, KafkaError.INCONSISTENT_GROUP_PROTOCOL)
    assert.deepEqual(coord.listGroups(), [], 'rejected joins create no group')
  })
})

describe('protocol selection', () => {
  const proto = (...names: string[]) => names.map((name) => ({ name, metadata: Buffer.from(name) }))

  test('the protocol all members support, by member votes', async (t) => {
    const { coord, clock } = setup(t, { initialRebalanceDelayMs: 10 })
    const joins = [
      proto('range', 'roundrobin'),
      proto('roundrobin', 'range', 'sticky'),
      proto('roundrobin', 'range'),
    ].map((protocols, i) => track(coord.join(joinReq('g', { clientId: `m${i}`, protocols }))))
    clock.advance(100)
    await tick()
    for (const j of joins) assert.equal(j.value!.protocolName, 'roundrobin')
    // The leader gets each member's metadata for the chosen protocol.
    assert.deepEqual(
      joins[0].value!.members.map((m) => m.metadata.toString()),
      ['roundrobin', 'roundrobin', 'roundrobin'],
    )
  })

  test('a tie goes to the leader preference; a sole common protocol wins whatever the votes', async (t) => {
    const { coord, clock } = setup(t, { initialRebalanceDelayMs: 10 })
    const tie = [proto('range', 'roundrobin'), proto('roundrobin', 'range')].map((protocols, i) =>
      track(coord.join(joinReq('tie', { clientId: `m${i}`, protocols }))),
    )
    const sole = [proto('range', 'cooperative-sticky'), proto('range', 'roundrobin')].map((protocols, i) =>
      track(coord.join(joinReq('sole', { clientId: `m${i}`, protocols }))),
    )
    clock.advance(100)
    await tick()
    assert.equal(tie[0].value!.protocolName, 'range')
    assert.equal(sole[1].value!.protocolName, 'range')
  })

  test('INCONSISTENT_GROUP_PROTOCOL for a joiner sharing no protocol or of another type', async (t) => {
    const { coord } = setup(t)
    const a = new TestMember(coord, 'g', 'a', { protocols: proto('range', 'roundrobin') })
    await stabilize([a])
    const none = await coord.join(joinReq('g', { protocols: proto('sticky') }))
    assert.equal(none.errorCode, KafkaError.INCONSISTENT_GROUP_PROTOCOL)
    const otherType = await coord.join(joinReq('g', { protocolType: 'connect', protocols: proto('range') }))
    assert.equal(otherType.errorCode, KafkaError.INCONSISTENT_GROUP_PROTOCOL)
    assert.equal(coord.describeGroup('g').groupState, 'Stable', 'a rejected joiner does not disturb the group')
    // Once the group is empty again, any protocol type may start it anew.
    coord.leave({ groupId: 'g', members: [{ memberId: a.memberId, groupInstanceId: null }] })
    const fresh = await coord.join(joinReq('g', { protocolType: 'connect', protocols: proto('v1') }))
    assert.equal(fresh.errorCode, KafkaError.NONE)
    assert.equal(fresh.protocolType, 'connect')
  })
})

describe('heartbeat, sync errors and rebalances', () => {
  test('heartbeat and sync errors follow Kafka', async (t) => {
    const { coord } = setup(t)
    const a = new TestMember(coord, 'g', 'a')
    await stabilize([a])
    const hb = (over: Partial<{ groupId: string; generationId: number; memberId: string }>) =>
      coord.heartbeat({
        groupId: 'g',
        generationId: a.generationId,
        memberId: a.memberId,
        groupInstanceId: null,
        ...over,
      }).errorCode
    assert.equal(hb({}), KafkaError.NONE)
    assert.equal(hb({ groupId: 'nope' }), KafkaError.UNKNOWN_MEMBER_ID)
    assert.equal(hb({ memberId: 'nope' }), KafkaError.UNKNOWN_MEMBER_ID)
    assert.equal(hb({ generationId: a.generationId + 1 }), KafkaError.ILLEGAL_GENERATION)
    assert.equal(hb({ groupId: '' }), KafkaError.INVALID_GROUP_ID)

    const syncReq = { groupId: 'g', generationId: a.generationId, memberId: a.memberId, groupInstanceId: null }
    const s = (over: object) =>
      coord.sync({ ...syncReq, protocolType: null, protocolName: null, assignments: [], ...over })
    assert.equal((await s({ generationId: 99 })).errorCode, KafkaError.ILLEGAL_GENERATION)
    assert.equal((await s({ memberId: 'x' })).errorCode, KafkaError.UNKNOWN_MEMBER_ID)
    assert.equal((await s({ protocolName: 'roundrobin' })).errorCode, KafkaError.INCONSISTENT_GROUP_PROTOCOL)
    assert.deepEqual((await s({})).assignment, a.assignment, 'a Stable group answers from the stored assignment')

    // A new member starts a rebalance: the old member's heartbeat and sync say REBALANCE_IN_PROGRESS.
    const b = track(coord.join(joinReq('g', { clientId: 'b' })))
    assert.equal(coord.describeGroup('g').groupState, 'PreparingRebalance')
    assert.equal(hb({}), KafkaError.REBALANCE_IN_PROGRESS)
    assert.equal((await s({})).errorCode, KafkaError.REBALANCE_IN_PROGRESS)
    const again = track(coord.join(joinReq('g', { clientId: 'a', memberId: a.memberId })))
    await tick()
    assert.equal(b.value!.generationId, a.generationId + 1)
    assert.equal(again.value!.generationId, a.generationId + 1)
    // Heartbeats during CompletingRebalance are fine with the new generation, stale with the old.
    assert.equal(coord.describeGroup('g').groupState, 'CompletingRebalance')
    assert.equal(hb({ generationId: a.generationId + 1 }), KafkaError.NONE)
    assert.equal(hb({}), KafkaError.ILLEGAL_GENERATION)
  })

  test('a member leaving mid-stream: the rest rebalance without it', async (t) => {
    const { coord } = setup(t)
    const [a, b, c] = ['a', 'b', 'c'].map((n) => new TestMember(coord, 'g', n))
    await stabilize([a, b, c])
    const gen = a.generationId
    const left = coord.leave({ groupId: 'g', members: [{ memberId: c.memberId, groupInstanceId: null }] })
    assert.deepEqual(left, {
      errorCode: KafkaError.NONE,
      members: [{ memberId: c.memberId, groupInstanceId: null, errorCode: KafkaError.NONE }],
    })
    assert.equal(coord.describeGroup('g').groupState, 'PreparingRebalance')
    assert.equal(a.heartbeat(), KafkaError.REBALANCE_IN_PROGRESS)
    await stabilize([a, b])
    assert.equal(a.generationId, gen + 1)
    assert.equal(coord.describeGroup('g').members.length, 2)
    assert.equal(c.heartbeat(), KafkaError.UNKNOWN_MEMBER_ID)
    const again = coord.leave({ groupId: 'g', members: [{ memberId: c.memberId, groupInstanceId: null }] })
    assert.equal(again.members[0].errorCode, KafkaError.UNKNOWN_MEMBER_ID)
  })

  test('a leave completes the parked joins of the others', async (t) => {
    const { coord } = setup(t)
    const [a, b, c] = ['a', 'b', 'c'].map((n) => new TestMember(coord, 'g', n))
    await stabilize([a, b, c])
    const gen = a.generationId
    const leader = [a, b, c].find((m) => m.memberId === a.leader)!
    const others = [a, b, c].filter((m) => m !== leader)
    // The leader rejoins (forcing a rebalance) and so does one follower; the third leaves.
    const j1 = track(coord.join(joinReq('g', { memberId: leader.memberId })))
    const j2 = track(coord.join(joinReq('g', { memberId: others[0].memberId })))
    await tick()
    assert.equal(j1.done || j2.done, false)
    coord.leave({ groupId: 'g', members: [{ memberId: others[1].memberId, groupInstanceId: null }] })
    await tick()
    assert.equal(j1.value!.generationId, gen + 1)
    assert.equal(j2.value!.generationId, gen + 1)
    assert.deepEqual(j1.value!.members.map((m) => m.memberId).sort(), [leader.memberId, others[0].memberId].sort())
  })

  test('session expiry evicts a silent member and rebalances', async (t) => {
    const { coord, clock } = setup(t)
    const [a, b] = ['a', 'b'].map((n) => new TestMember(coord, 'g', n, { sessionTimeoutMs: 100 }))
    await stabilize([a, b])
    const gen = a.generationId
    clock.advance(60)
    assert.equal(a.heartbeat(), KafkaError.NONE)
    clock.advance(60) // b silent for 120 ms > 100 ms; a heard from 60 ms ago
    assert.equal(coord.describeGroup('g').groupState, 'PreparingRebalance')
    assert.equal(b.heartbeat(), KafkaError.UNKNOWN_MEMBER_ID)
    assert.equal(a.heartbeat(), KafkaError.REBALANCE_IN_PROGRESS)
    const j = await coord.join(joinReq('g', { memberId: a.memberId, sessionTimeoutMs: 100 }))
    assert.equal(j.generationId, gen + 1)
    assert.deepEqual(
      j.members.map((m) => m.memberId),
      [a.memberId],
    )
    // The last member expiring empties the group; the generation still advances.
    clock.advance(1000)
    const d = coord.describeGroup('g')
    assert.equal(d.groupState, 'Empty')
    assert.equal(d.members.length, 0)
    assert.equal((await coord.join(joinReq('g'))).generationId, gen + 3)
  })

  test('the rebalance timeout evicts members that do not rejoin', async (t) => {
    const { coord, clock } = setup(t)
    const opts = { sessionTimeoutMs: 10_000, rebalanceTimeoutMs: 500 }
    const [a, b] = ['a', 'b'].map((n) => new TestMember(coord, 'g', n, opts))
    await stabilize([a, b])
    const leader = a.memberId === a.leader ? a : b
    const straggler = leader === a ? b : a
    const j = track(coord.join(joinReq('g', { ...opts, memberId: leader.memberId })))
    clock.advance(499)
    await tick()
    assert.equal(j.done, false)
    // Heartbeating keeps the straggler's session but is no substitute for rejoining.
    assert.equal(straggler.heartbeat(), KafkaError.REBALANCE_IN_PROGRESS)
    clock.advance(1)
    await tick()
    assert.equal(j.value!.errorCode, KafkaError.NONE)
    assert.deepEqual(
      j.value!.members.map((m) => m.memberId),
      [leader.memberId],
    )
    assert.equal(straggler.heartbeat(), KafkaError.UNKNOWN_MEMBER_ID)
  })

  test('a member that never syncs after the join is evicted after the rebalance timeout', async (t) => {
    const { coord, clock } = setup(t, { initialRebalanceDelayMs: 10 })
    const opts = { rebalanceTimeoutMs: 500 }
    const ja = track(coord.join(joinReq('g', { ...opts, clientId: 'a' })))
    const jb = track(coord.join(joinReq('g', { ...opts, clientId: 'b' })))
    clock.advance(50)
    await tick()
    const leader = ja.value!
    const sync = await coord.sync({
      groupId: 'g',
      generationId: leader.generationId,
      memberId: leader.memberId,
      groupInstanceId: null,
      protocolType: null,
      protocolName: null,
      assignments: [],
    })
    assert.equal(sync.errorCode, KafkaError.NONE)
    clock.advance(500)
    const hb = coord.heartbeat({
      groupId: 'g',
      generationId: leader.generationId,
      memberId: jb.value!.memberId,
      groupInstanceId: null,
    })
    assert.equal(hb.errorCode, KafkaError.UNKNOWN_MEMBER_ID)
    assert.equal(coord.describeGroup('g').groupState, 'PreparingRebalance')
  })

  test('groups rebalance concurrently and independently', async (t) => {
    const { coord } = setup(t)
    const groups = Array.from({ length: 6 }, (_, g) =>
      Array.from(
        { length: 3 },
        (_, m) => new TestMember(coord, `group-${g}`, `m${m}`, { requireKnownMemberId: g % 2 === 0 }),
      ),
    )
    await Promise.all(groups.map((members) => stabilize(members)))
    for (const [g, members] of groups.entries()) {
      const d = coord.describeGroup(`group-${g}`)
      assert.equal(d.groupState, 'Stable')
      assert.deepEqual(d.members.map((m) => m.memberId).sort(), members.map((m) => m.memberId).sort())
    }
    assert.equal(coord.listGroups(['stable']).length, 6)
  })
})

describe('static membership', () => {
  test('a known instance id with an empty member id replaces the old member', async (t) => {
    const { coord } = setup(t)
    const a = new TestMember(coord, 'g', 'a', { groupInstanceId: 'host-a' })
    const b = new TestMember(coord, 'g', 'b')
    await stabilize([a, b])
    const gen = a.generationId
    assert.equal(coord.describeGroup('g').members.find((m) => m.memberId === a.memberId)!.groupInstanceId, 'host-a')
    const oldId = a.memberId
    const oldAssignment = a.assignment

    // Restarted with the same subscription: no rebalance, same generation, a new member id.
    const j = await coord.join(
      joinReq('g', { clientId: 'a', groupInstanceId: 'host-a', protocols: a.protocols, requireKnownMemberId: true }),
    )
    assert.equal(j.errorCode, KafkaError.NONE)
    assert.notEqual(j.memberId, oldId)
    assert.equal(j.generationId, gen)
    assert.equal(coord.describeGroup('g').groupState, 'Stable')
    assert.equal(j.skipAssignment, j.leader === j.memberId)
    const s = await coord.sync({
      groupId: 'g',
      generationId: gen,
      memberId: j.memberId,
      groupInstanceId: 'host-a',
      protocolType: null,
      protocolName: null,
      assignments: [],
    })
    assert.deepEqual(s.assignment, oldAssignment, 'the replacement keeps the assignment')
    const fenced = coord.heartbeat({ groupId: 'g', generationId: gen, memberId: oldId, groupInstanceId: 'host-a' })
    assert.equal(fenced.errorCode, KafkaError.FENCED_INSTANCE_ID)
    assert.equal(b.heartbeat(), KafkaError.NONE)

    // Administrative removal by instance id.
    const left = coord.leave({ groupId: 'g', members: [{ memberId: '', groupInstanceId: 'host-a' }] })
    assert.equal(left.members[0].errorCode, KafkaError.NONE)
    assert.equal(b.heartbeat(), KafkaError.REBALANCE_IN_PROGRESS)
  })

  test('a replacement with changed metadata rebalances and fences the parked old join', async (t) => {
    const { coord } = setup(t)
    const a = new TestMember(coord, 'g', 'a', { groupInstanceId: 'host-a' })
    const b = new TestMember(coord, 'g', 'b')
    await stabilize([a, b])
    const gen = a.generationId
    const oldJoin = track(coord.join(joinReq('g', { clientId: 'a', memberId: a.memberId, groupInstanceId: 'host-a' })))
    await tick()
    assert.equal(coord.describeGroup('g').groupState, 'PreparingRebalance')
    const newJoin = track(
      coord.join(
        joinReq('g', {
          clientId: 'a',
          groupInstanceId: 'host-a',
          protocols: [{ name: 'range', metadata: Buffer.from('v2') }],
        }),
      ),
    )
    await tick()
    assert.equal(oldJoin.value!.errorCode, KafkaError.FENCED_INSTANCE_ID)
    assert.equal(newJoin.done, false, 'the rebalance waits for b')
    const jb = track(coord.join(joinReq('g', { clientId: 'b', memberId: b.memberId, protocols: b.protocols })))
    await tick()
    assert.equal(newJoin.value!.generationId, gen + 1)
    assert.equal(jb.value!.generationId, gen + 1)
    assert.deepEqual(
      newJoin.value!.members.map((m) => m.metadata.toString()).sort(),
      ['b', 'v2'],
      'the replacement leads in place of the old leader',
    )
  })
})

describe('offsets', () => {
  const commit = (
    coord: GroupCoordinator,
    over: { groupId?: string; generationId?: number; memberId?: string; groupInstanceId?: string | null },
    partitions: { p: number; offset: number; metadata?: string | null; epoch?: number }[],
    topic = 'prices',
  ) =>
    coord.commitOffsets({
      groupId: 'g',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      ...over,
      topics: [
        {
          name: topic,
          partitions: partitions.map((x) => ({
            partitionIndex: x.p,
            committedOffset: x.offset,
            committedLeaderEpoch: x.epoch ?? -1,
            committedMetadata: x.metadata === undefined ? null : x.metadata,
          })),
        },
      ],
    })
  const codes = (r: { partitions: { errorCode: number }[] }[]) => r.flatMap((t) => t.partitions.map((p) => p.errorCode))

  test('standalone commit and fetch round-trip offsets, epochs and metadata', async (t) => {
    const { coord } = setup(t)
    const res = await commit(coord, {}, [
      { p: 0, offset: 42, metadata: 'checkpoint ✓', epoch: 3 },
      { p: 1, offset: 7, metadata: null },
      { p: 2, offset: 0, metadata: '' },
    ])
    assert.deepEqual(codes(res), [0, 0, 0])
    const f = coord.fetchOffsets('g', [{ name: 'prices', partitions: [0, 1, 2, 3] }])
    assert.equal(f.errorCode, KafkaError.NONE)
    assert.deepEqual(f.topics[0].partitions, [
      { partitionIndex: 0, committedOffset: 42, committedLeaderEpoch: 3, metadata: 'checkpoint ✓', errorCode: 0 },
      { partitionIndex: 1, committedOffset: 7, committedLeaderEpoch: -1, metadata: null, errorCode: 0 },
      { partitionIndex: 2, committedOffset: 0, committedLeaderEpoch: -1, metadata: '', errorCode: 0 },
      { partitionIndex: 3, committedOffset: -1, committedLeaderEpoch: -1, metadata: null, errorCode: 0 },
    ])
    await commit(coord, {}, [{ p: 0, offset: 5 }], 'orders')
    const all = coord.fetchOffsets('g', null)
    assert.deepEqual(
      all.topics.map((x) => [x.name, x.partitions.map((p) => p.committedOffset)]),
      [
        ['prices', [42, 7, 0]],
        ['orders', [5]],
      ],
    )
    assert.deepEqual(coord.fetchOffsets('unknown', null), { errorCode: 0, topics: [] })
    assert.equal(
      coord.fetchOffsets('unknown', [{ name: 'x', partitions: [0] }]).topics[0].partitions[0].committedOffset,
      -1,
    )
    assert.deepEqual(coord.listGroups(), [{ groupId: 'g', protocolType: '', groupState: 'Empty' }])
  })

  test('metadata over 4096 bytes fails that partition only', async (t) => {
    const { coord } = setup(t)
    const res = await commit(coord, {}, [
      { p: 0, offset: 1, metadata: 'x'.repeat(4097) },
      { p: 1, offset: 1, metadata: 'x'.repeat(4096) },
      { p: 2, offset: 1, metadata: 'é'.repeat(2049) }, // 4098 UTF-8 bytes
    ])
    assert.deepEqual(codes(res), [KafkaError.OFFSET_METADATA_TOO_LARGE, 0, KafkaError.OFFSET_METADATA_TOO_LARGE])
    assert.equal(
      coord.fetchOffsets('g', [{ name: 'prices', partitions: [0] }]).topics[0].partitions[0].committedOffset,
      -1,
    )
  })

  test('member commits check member id, generation and group state', async (t) => {
    const { coord } = setup(t)
    assert.deepEqual(
      codes(await commit(coord, { groupId: 'new', generationId: 1, memberId: 'm' }, [{ p: 0, offset: 1 }])),
      [KafkaError.ILLEGAL_GENERATION],
    )
    const [a, b] = ['a', 'b'].map((n) => new TestMember(coord, 'g', n))
    await stabilize([a, b])
    const gen = a.generationId
    const ok = await commit(coord, { generationId: gen, memberId: a.memberId }, [{ p: 0, offset: 10 }])
    assert.deepEqual(codes(ok), [KafkaError.NONE])
    assert.deepEqual(
      codes(await commit(coord, { generationId: gen + 1, memberId: a.memberId }, [{ p: 0, offset: 11 }])),
      [KafkaError.ILLEGAL_GENERATION],
    )
    assert.deepEqual(codes(await commit(coord, { generationId: gen, memberId: 'ghost' }, [{ p: 0, offset: 11 }])), [
      KafkaError.UNKNOWN_MEMBER_ID,
    ])
    assert.deepEqual(
      codes(await commit(coord, {}, [{ p: 0, offset: 11 }])),
      [KafkaError.UNKNOWN_MEMBER_ID],
      'standalone',
    )

    // PreparingRebalance still accepts the old generation's commits (members own their partitions).
    const joiner = track(coord.join(joinReq('g', { clientId: 'c' })))
    assert.deepEqual(
      codes(await commit(coord, { generationId: gen, memberId: b.memberId }, [{ p: 1, offset: 3 }])),
      [0],
    )
    // CompletingRebalance answers REBALANCE_IN_PROGRESS.
    coord.join(joinReq('g', { memberId: a.memberId }))
    coord.join(joinReq('g', { memberId: b.memberId }))
    await tick()
    assert.equal(joiner.value!.generationId, gen + 1)
    assert.equal(coord.describeGroup('g').groupState, 'CompletingRebalance')
    assert.deepEqual(
      codes(await commit(coord, { generationId: gen + 1, memberId: a.memberId }, [{ p: 0, offset: 12 }])),
      [KafkaError.REBALANCE_IN_PROGRESS],
    )
    assert.equal(
      coord.fetchOffsets('g', [{ name: 'prices', partitions: [0] }]).topics[0].partitions[0].committedOffset,
      10,
    )
  })

  test('commits are durable: fsynced journal, shared fsyncs, survive a restart with the generation', async (t) => {
    const dir = tempDir(t)
    const first = setup(t, { dataDir: dir, fsync: true })
    const members = ['a', 'b'].map((n) => new TestMember(first.coord, 'g', n))
    await stabilize(members)
    const gen = members[0].generationId
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        commit(first.coord, { generationId: gen, memberId: members[i % 2].memberId }, [
          { p: i, offset: 100 + i, metadata: `m${i}` },
        ]),
      ),
    )
    assert.ok(results.every((r) => codes(r)[0] === KafkaError.NONE))
    await commit(first.coord, { groupId: 'standalone' }, [{ p: 0, offset: 9 }], 'orders')
    await first.coord.close()

    const second = setup(t, { dataDir: dir, fsync: true })
    const f = second.coord.fetchOffsets('g', [{ name: 'prices', partitions: [0, 19] }])
    assert.deepEqual(
      f.topics[0].partitions.map((p) => [p.committedOffset, p.metadata]),
      [
        [100, 'm0'],
        [119, 'm19'],
      ],
    )
    assert.deepEqual(
      second.coord.listGroups().sort((x, y) => x.groupId.localeCompare(y.groupId)),
      [
        { groupId: 'g', protocolType: 'consumer', groupState: 'Empty' },
        { groupId: 'standalone', protocolType: '', groupState: 'Empty' },
      ],
    )
    // Old members must rejoin; the new generation continues after the old one.
    const stale = { groupId: 'g', generationId: gen, memberId: members[0].memberId, groupInstanceId: null }
    assert.equal(second.coord.heartbeat(stale).errorCode, KafkaError.UNKNOWN_MEMBER_ID)
    const j = await second.coord.join(joinReq('g'))
    assert.equal(j.generationId, gen + 1)
  })

  test('OffsetDelete: empty groups delete, active consumer groups keep subscribed topics', async (t) => {
    const { coord } = setup(t)
    assert.equal(coord.deleteOffsets('nope', []).errorCode, KafkaError.GROUP_ID_NOT_FOUND)
    await commit(coord, {}, [
      { p: 0, offset: 1 },
      { p: 1, offset: 2 },
    ])
    await commit(coord, {}, [{ p: 0, offset: 3 }], 'orders')
    const del = coord.deleteOffsets('g', [{ name: 'prices', partitions: [0, 5] }])
    assert.deepEqual(del, {
      errorCode: 0,
      topics: [
        {
          name: 'prices',
          partitions: [
            { partitionIndex: 0, errorCode: 0 },
            { partitionIndex: 5, errorCode: 0 },
          ],
        },
      ],
    })
    assert.equal(
      coord.fetchOffsets('g', [{ name: 'prices', partitions: [0] }]).topics[0].partitions[0].committedOffset,
      -1,
    )

    const m = new TestMember(coord, 'g', 'a', { protocols: [{ name: 'range', metadata: subscription(['prices']) }] })
    await stabilize([m])
    const busy = coord.deleteOffsets('g', [
      { name: 'prices', partitions: [1] },
      { name: 'orders', partitions: [0] },
    ])
    assert.deepEqual(
      busy.topics.map((x) => x.partitions[0].errorCode),
      [KafkaError.GROUP_SUBSCRIBED_TO_TOPIC, KafkaError.NONE],
    )
    assert.equal(
      coord.fetchOffsets('g', [{ name: 'prices', partitions: [1] }]).topics[0].partitions[0].committedOffset,
      2,
    )
    assert.deepEqual(
      coord.fetchOffsets('g', null).topics.map((x) => x.name),
      ['prices'],
    )

    const other = new TestMember(coord, 'c', 'a', { protocolType: 'connect' })
    await stabilize([other])
    assert.equal(coord.deleteOffsets('c', [{ name: 'prices', partitions: [0] }]).errorCode, KafkaError.NON_EMPTY_GROUP)
  })

  test('forgetTopic drops a deleted topic from every group, also after a restart', async (t) => {
    const dir = tempDir(t)
    const first = setup(t, { dataDir: dir })
    await commit(first.coord, { groupId: 'g1' }, [{ p: 0, offset: 1 }])
    await commit(first.coord, { groupId: 'g2' }, [{ p: 0, offset: 1 }])
    await commit(first.coord, { groupId: 'g2' }, [{ p: 0, offset: 4 }], 'orders')
    first.coord.forgetTopic('prices')
    assert.deepEqual(first.coord.fetchOffsets('g1', null).topics, [])
    await first.coord.close()
    const second = setup(t, { dataDir: dir })
    assert.deepEqual(second.coord.fetchOffsets('g1', null).topics, [])
    assert.deepEqual(
      second.coord.fetchOffsets('g2', null).topics.map((x) => x.name),
      ['orders'],
    )
  })
})

describe('admin', () => {
  test('listGroups and describeGroup', async (t) => {
    const { coord } = setup(t)
    const a = new TestMember(coord, 'stable', 'a', { protocols: [{ name: 'rr', metadata: Buffer.from('sub') }] })
    await stabilize([a])
    await coord.join(joinReq('completing'))
    await coord.commitOffsets({
      groupId: 'offsets-only',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [
        {
          name: 't',
          partitions: [{ partitionIndex: 0, committedOffset: 1, committedLeaderEpoch: -1, committedMetadata: null }],
        },
      ],
    })
    const byId = (xs: { groupId: string }[]) => xs.map((x) => x.groupId).sort()
    assert.deepEqual(byId(coord.listGroups()), ['completing', 'offsets-only', 'stable'])
    assert.deepEqual(byId(coord.listGroups(['Stable', 'empty'])), ['offsets-only', 'stable'])
    assert.deepEqual(byId(coord.listGroups(['CompletingRebalance'])), ['completing'])

    const d = coord.describeGroup('stable')
    assert.equal(d.errorCode, KafkaError.NONE)
    assert.equal(d.groupState, 'Stable')
    assert.equal(d.protocolType, 'consumer')
    assert.equal(d.protocolData, 'rr')
    assert.deepEqual(d.members, [
      {
        memberId: a.memberId,
        groupInstanceId: null,
        clientId: 'a',
        clientHost: '/127.0.0.1',
        memberMetadata: Buffer.from('sub'),
        memberAssignment: a.assignment,
      },
    ])
    const p = coord.describeGroup('completing')
    assert.equal(p.protocolData, '')
    assert.deepEqual(p.members[0].memberMetadata, EMPTY, 'no metadata unless Stable')
    assert.deepEqual(coord.describeGroup('missing'), {
      errorCode: KafkaError.NONE,
      groupId: 'missing',
      groupState: 'Dead',
      protocolType: '',
      protocolData: '',
      members: [],
    })
  })

  test('deleteGroups deletes empty groups with their offsets, refuses active ones', async (t) => {
    const dir = tempDir(t)
    const first = setup(t, { dataDir: dir })
    const a = new TestMember(first.coord, 'busy', 'a')
    await stabilize([a])
    await first.coord.commitOffsets({
      groupId: 'idle',
      generationId: -1,
      memberId: '',
      groupInstanceId: null,
      topics: [
        {
          name: 't',
          partitions: [{ partitionIndex: 0, committedOffset: 5, committedLeaderEpoch: -1, committedMetadata: null }],
        },
      ],
    })
    assert.deepEqual(first.coord.deleteGroups(['busy', 'idle', 'missing']), [
      { groupId: 'busy', errorCode: KafkaError.NON_EMPTY_GROUP },
      { groupId: 'idle', errorCode: KafkaError.NONE },
      { groupId: 'missing', errorCode: KafkaError.GROUP_ID_NOT_FOUND },
    ])
    assert.equal(
      first.coord.fetchOffsets('idle', [{ name: 't', partitions: [0] }]).topics[0].partitions[0].committedOffset,
      -1,
    )
    assert.deepEqual(
      first.coord.listGroups().map((g) => g.groupId),
      ['busy'],
    )
    first.coord.leave({ groupId: 'busy', members: [{ memberId: a.memberId, groupInstanceId: null }] })
    assert.equal(first.coord.describeGroup('busy').groupState, 'Empty')
    assert.deepEqual(first.coord.deleteGroups(['busy']), [{ groupId: 'busy', errorCode: KafkaError.NONE }])
    await first.coord.close()
    const second = setup(t, { dataDir: dir })
    assert.deepEqual(second.coord.listGroups(), [])
    // A group created again after deletion starts over.
    assert.equal((await second.coord.join(joinReq('busy'))).generationId, 1)
  })
})

describe('lifecycle', () => {
  test('close answers parked calls, cancels every timer and refuses later calls', async (t) => {
    const { coord, clock } = setup(t, { initialRebalanceDelayMs: 100 })
    const a = track(coord.join(joinReq('g1')))
    clock.advance(100)
    await tick()
    assert.equal(a.value!.generationId, 1)
    const parked = track(coord.join(joinReq('g2')))
    await tick()
    assert.equal(parked.done, false)
    assert.ok(clock.timerCount > 0)
    await coord.close()
    await tick()
    assert.equal(parked.value!.errorCode, KafkaError.NOT_COORDINATOR)
    assert.equal(clock.timerCount, 0)
    const hb = coord.heartbeat({ groupId: 'g1', generationId: 1, memberId: a.value!.memberId, groupInstanceId: null })
    assert.equal(hb.errorCode, KafkaError.NOT_COORDINATOR)
    assert.equal((await coord.join(joinReq('g3'))).errorCode, KafkaError.NOT_COORDINATOR)
    await coord.close() // idempotent
  })

  test('with real timers, an expired session is evicted', async (t) => {
    const dir = tempDir(t)
    const coord = new GroupCoordinator({ dataDir: dir, fsync: false, minSessionTimeoutMs: 10 })
    t.after(() => coord.close())
    const [a, b] = ['a', 'b'].map((n) => new TestMember(coord, 'g', n, { sessionTimeoutMs: 30 }))
    await stabilize([a, b])
    // Keep a alive; b goes silent. Poll (ref'd sleeps keep the process up; the coordinator's timers are unref'd).
    for (let i = 0; i < 500 && coord.describeGroup('g').members.length === 2; i++) {
      a.heartbeat()
      await sleep(5)
    }
    assert.equal(b.heartbeat(), KafkaError.UNKNOWN_MEMBER_ID)
  })
})
