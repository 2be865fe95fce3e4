/** Heartbeat (key 12): answers for members, strangers, stale generations and bad group ids. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { heartbeat, join, sync } from '../../helpers/group-wire.ts'
import { connect } from '../../helpers/wire.ts'

test('heartbeats of members, strangers and stale generations (v0 and v4)', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const j = await join(c, 'hb')
  for (const version of [0, 4]) {
    // CompletingRebalance and Stable both accept the current generation.
    assert.equal(await heartbeat(c, 'hb', j.generationId, j.memberId, version), KafkaError.NONE)
    assert.equal(await heartbeat(c, 'hb', j.generationId + 1, j.memberId, version), KafkaError.ILLEGAL_GENERATION)
    assert.equal(await heartbeat(c, 'hb', j.generationId, 'stranger', version), KafkaError.UNKNOWN_MEMBER_ID)
    assert.equal(await heartbeat(c, 'nope', 1, j.memberId, version), KafkaError.UNKNOWN_MEMBER_ID)
    assert.equal(await heartbeat(c, '', 1, j.memberId, version), KafkaError.INVALID_GROUP_ID)
  }
  await sync(c, 'hb', j.generationId, j.memberId, {})
  assert.equal(await heartbeat(c, 'hb', j.generationId, j.memberId), KafkaError.NONE)
})
