import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaCluster } from '../../src/bus/cluster.ts'
import { assignRange, GroupMember } from '../../src/bus/group-member.ts'
import { createTopic } from '../helpers/admin.ts'
import { eventually, startTestBroker } from '../helpers/broker.ts'

test('range assignment cuts each topic into contiguous runs over the members sorted by id', () => {
  const a = assignRange(
    [
      { memberId: 'b', topics: ['t', 'u'] },
      { memberId: 'a', topics: ['t'] },
      { memberId: 'c', topics: ['t'] },
    ],
    {
      partitionsOf: new Map([
        ['t', 7],
        ['u', 2],
      ]),
    },
  )
  assert.deepEqual(a.get('a')?.get('t'), [0, 1, 2])
  assert.deepEqual(a.get('b')?.get('t'), [3, 4])
  assert.deepEqual(a.get('c')?.get('t'), [5, 6])
  assert.deepEqual(a.get('b')?.get('u'), [0, 1])
  assert.equal(a.get('a')?.get('u'), undefined)
  // More members than partitions: the last ones get none, still with a (empty) entry.
  const few = assignRange(
    ['m1', 'm2', 'm3'].map((memberId) => ({ memberId, topics: ['t'] })),
    { partitionsOf: new Map([['t', 2]]) },
  )
  assert.deepEqual(
    [...few.values()].map((m) => m.get('t')),
    [[0], [1], []],
  )
})

test('members share the partitions, rejoin on a rebalance, and take over what a leaving member had', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'input', 4)
  const bus = { bootstrapBrokers: [broker.address], clientId: 'group-test' }
  const c1 = await KafkaCluster.connect(bus)
  const c2 = await KafkaCluster.connect(bus)
  t.after(async () => {
    await c1.close()
    await c2.close()
  })
  const options = {
    groupId: 'g',
    topics: ['input'],
    sessionTimeoutMs: 6000,
    rebalanceTimeoutMs: 10_000,
    heartbeatIntervalMs: 100,
  }
  const m1 = new GroupMember(c1, options)
  const m2 = new GroupMember(c2, options)
  t.after(async () => {
    await m1.leave()
    await m2.leave()
  })
  const first = await m1.join()
  assert.deepEqual(first.partitions.get('input'), [0, 1, 2, 3])
  // m2's join completes once m1, told by its heartbeat, has rejoined too.
  const joining = m2.join()
  await eventually(() => m1.rebalanceNeeded, 10_000, 'm1 to be asked to rejoin')
  const [a1, a2] = await Promise.all([m1.join(), joining])
  assert.equal(a1.generationId, a2.generationId)
  assert.ok(a1.generationId > first.generationId)
  const owned = [...(a1.partitions.get('input') ?? []), ...(a2.partitions.get('input') ?? [])].sort()
  assert.deepEqual(owned, [0, 1, 2, 3], 'every partition owned exactly once')
  assert.equal(a1.partitions.get('input')?.length, 2)
  // m2 leaves: m1 is asked to rejoin and gets everything.
  await m2.leave()
  await eventually(() => m1.rebalanceNeeded, 10_000, 'm1 to be asked to rejoin after the leave')
  const last = await m1.join()
  assert.deepEqual(last.partitions.get('input'), [0, 1, 2, 3])
})
