/** ListGroups (key 16): every group, and the state (v4+) and type (v5) filters. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { readListGroupsResponse, writeListGroupsRequest } from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { commit, join, sync } from '../../helpers/group-wire.ts'
import { connect, mustCreateTopic } from '../../helpers/wire.ts'

const list = async (c: RawClient, version: number, statesFilter: string[] = [], typesFilter: string[] = []) => {
  const res = await c.request(16, version, writeListGroupsRequest, readListGroupsResponse, {
    statesFilter,
    typesFilter,
  })
  assert.equal(res.errorCode, 0)
  return res.groups.map((g) => [g.groupId, g.protocolType, g.groupState]).sort()
}

test('lists every group, filtered by state (v4+) and type (v5)', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 't')
  // A standalone commit creates an Empty group without a protocol type.
  await commit(c, 'empty', [{ topic: 't', partition: 0, offset: 1 }])
  const j = await join(c, 'stable')
  await sync(c, 'stable', j.generationId, j.memberId, {})
  // Before v4 the state is not on the wire (the decoder's default).
  const old = await list(c, 0)
  assert.deepEqual(
    old.map((x) => x.slice(0, 2)),
    [
      ['empty', ''],
      ['stable', 'consumer'],
    ],
  )
  assert.deepEqual(await list(c, 4), [
    ['empty', '', 'Empty'],
    ['stable', 'consumer', 'Stable'],
  ])
  assert.deepEqual(await list(c, 4, ['stable']), [['stable', 'consumer', 'Stable']])
  assert.deepEqual(await list(c, 5, ['Empty', 'Dead']), [['empty', '', 'Empty']])
  assert.equal((await list(c, 5, [], ['Classic'])).length, 2)
  assert.deepEqual(await list(c, 5, [], ['consumer']), [])
})
