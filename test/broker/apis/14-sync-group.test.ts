/** SyncGroup (key 14): assignments handed out by the leader, and every error answer. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { assignedPartitions, assignment, join, sync } from '../../helpers/group-wire.ts'
import { connect } from '../../helpers/wire.ts'

test('the leader hands out assignments (oldest and newest version); members without one get an empty blob', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  for (const version of [0, 5]) {
    const group = `sync-${version}`
    const j = await join(c, group)
    const res = await sync(
      c,
      group,
      j.generationId,
      j.memberId,
      { [j.memberId]: assignment({ t: [0, 2] }) },
      { version },
    )
    assert.equal(res.errorCode, KafkaError.NONE)
    assert.deepEqual(assignedPartitions(res.assignment), { t: [0, 2] })
    if (version >= 5) assert.deepEqual([res.protocolType, res.protocolName], ['consumer', 'range'])
    // A repeated SyncGroup in Stable answers the stored assignment.
    const again = await sync(c, group, j.generationId, j.memberId, {}, { version })
    assert.deepEqual(assignedPartitions(again.assignment), { t: [0, 2] })
  }
  const j = await join(c, 'empty-assignment')
  const res = await sync(c, 'empty-assignment', j.generationId, j.memberId, {})
  assert.deepEqual([res.errorCode, res.assignment.length], [KafkaError.NONE, 0])
})

test('sync errors: unknown member or group, stale generation, inconsistent protocol (v5)', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const j = await join(c, 'errs')
  // One member in CompletingRebalance; each call below is wrong in exactly one way.
  const codes = [
    await sync(c, 'errs', j.generationId, 'stranger'),
    await sync(c, 'nope', 1, j.memberId),
    await sync(c, 'errs', j.generationId + 1, j.memberId),
    await sync(c, 'errs', j.generationId, j.memberId, {}, { protocolName: 'roundrobin' }),
    await sync(c, 'errs', j.generationId, j.memberId, {}, { protocolType: 'connect' }),
    await sync(c, '', 1, j.memberId),
  ].map((r) => r.errorCode)
  assert.deepEqual(codes, [
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.UNKNOWN_MEMBER_ID,
    KafkaError.ILLEGAL_GENERATION,
    KafkaError.INCONSISTENT_GROUP_PROTOCOL,
    KafkaError.INCONSISTENT_GROUP_PROTOCOL,
    KafkaError.INVALID_GROUP_ID,
  ])
})
