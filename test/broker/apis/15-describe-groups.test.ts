/** DescribeGroups (key 15): a Stable group's members with metadata and assignment; unknown groups. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { readDescribeGroupsResponse, writeDescribeGroupsRequest } from '../../../src/protocol/messages/index.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { assignedPartitions, assignment, join, subscription, sync } from '../../helpers/group-wire.ts'
import { connect } from '../../helpers/wire.ts'

test('describes members of a Stable group and unknown groups as Dead (v0 and v5)', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const j = await join(c, 'desc', { topics: ['x'] })
  await sync(c, 'desc', j.generationId, j.memberId, { [j.memberId]: assignment({ x: [0] }) })
  for (const version of [0, 5]) {
    const res = await c.request(15, version, writeDescribeGroupsRequest, readDescribeGroupsResponse, {
      groups: ['desc', 'unknown'],
      includeAuthorizedOperations: false,
    })
    const [g, unknown] = res.groups
    assert.deepEqual(
      [g.errorCode, g.groupId, g.groupState, g.protocolType, g.protocolData],
      [0, 'desc', 'Stable', 'consumer', 'range'],
    )
    assert.equal(g.members.length, 1)
    const m = g.members[0]
    assert.equal(m.memberId, j.memberId)
    assert.equal(m.clientId, 'raw-test')
    assert.equal(m.clientHost, '127.0.0.1')
    // Metadata and assignment are reported for Stable groups only, as Kafka does.
    assert.deepEqual(m.memberMetadata, subscription(['x']))
    assert.deepEqual(assignedPartitions(m.memberAssignment), { x: [0] })
    assert.deepEqual([unknown.errorCode, unknown.groupState, unknown.members], [KafkaError.NONE, 'Dead', []])
  }
})
