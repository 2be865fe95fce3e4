/** LeaveGroup (key 13): the single-member form (v0-2) and the batched form (v3+). */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { readLeaveGroupResponse, writeLeaveGroupRequest } from '../../../src/protocol/messages/index.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { heartbeat, join, leave, sync } from '../../helpers/group-wire.ts'
import { connect } from '../../helpers/wire.ts'

test('v0-2 carry one member and report its outcome as the top-level error', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const j = await join(c, 'single')
  for (const version of [0, 2]) {
    const stranger = await c.request(13, version, writeLeaveGroupRequest, readLeaveGroupResponse, {
      groupId: 'single',
      memberId: 'stranger',
    })
    assert.equal(stranger.errorCode, KafkaError.UNKNOWN_MEMBER_ID)
  }
  const ok = await c.request(13, 0, writeLeaveGroupRequest, readLeaveGroupResponse, {
    groupId: 'single',
    memberId: j.memberId,
  })
  assert.equal(ok.errorCode, KafkaError.NONE)
  assert.equal(await heartbeat(c, 'single', j.generationId, j.memberId), KafkaError.UNKNOWN_MEMBER_ID)
})

test('v3+ batches members with per-member errors; the rest rebalance', async (t) => {
  const broker = await startTestBroker(t)
  const a = await connect(t, broker)
  const b = await connect(t, broker)
  const ja = await join(a, 'batch')
  await sync(a, 'batch', ja.generationId, ja.memberId, {})
  const jbPending = join(b, 'batch')
  let hb: number
  do hb = await heartbeat(a, 'batch', ja.generationId, ja.memberId)
  while (hb === KafkaError.NONE)
  // The first member rejoins after its heartbeat tells it a rebalance started.
  const ja2 = await join(a, 'batch', { memberId: ja.memberId })
  const jb = await jbPending
  await Promise.all([
    sync(a, 'batch', ja2.generationId, ja.memberId, {}),
    sync(b, 'batch', jb.generationId, jb.memberId),
  ])

  assert.deepEqual(await leave(a, 'batch', [jb.memberId, 'ghost']), [
    KafkaError.NONE,
    [KafkaError.NONE, KafkaError.UNKNOWN_MEMBER_ID],
  ])
  // The member left behind is told to rejoin.
  assert.equal(await heartbeat(a, 'batch', ja2.generationId, ja.memberId), KafkaError.REBALANCE_IN_PROGRESS)
  // An unknown group is not an error for the request, only for each member.
  const unknownGroup = await leave(a, 'no-group', ['x'])
  assert.deepEqual(unknownGroup, [KafkaError.NONE, [KafkaError.UNKNOWN_MEMBER_ID]])
  assert.deepEqual(await leave(a, '', ['x']), [KafkaError.INVALID_GROUP_ID, []])
})
