/** DeleteGroups (key 42): empty groups go with their offsets; others are refused. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { readDeleteGroupsResponse, writeDeleteGroupsRequest } from '../../../src/protocol/messages/index.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { commit, committed, join } from '../../helpers/group-wire.ts'
import { brokerHome, connect, mustCreateTopic } from '../../helpers/wire.ts'

test('deletes empty groups with their offsets; others are NON_EMPTY_GROUP or GROUP_ID_NOT_FOUND (v0 and v2)', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 't')
  for (const version of [0, 2]) {
    const empty = `empty-${version}`
    await commit(c, empty, [{ topic: 't', partition: 0, offset: 9 }])
    // A joined member keeps its group from being deleted.
    const active = `active-${version}`
    await join(c, active)
    const res = await c.request(42, version, writeDeleteGroupsRequest, readDeleteGroupsResponse, {
      groupsNames: [empty, active, 'never'],
    })
    assert.deepEqual(
      res.results.map((r) => [r.groupId, r.errorCode]),
      [
        [empty, KafkaError.NONE],
        [active, KafkaError.NON_EMPTY_GROUP],
        ['never', KafkaError.GROUP_ID_NOT_FOUND],
      ],
    )
    assert.equal((await committed(c, empty, 't', 0)).offset, -1)
  }
})

test('a deleted group stays deleted after a restart', async (t) => {
  const home = brokerHome(t)
  let broker = await home.start()
  let c = await connect(t, broker)
  await mustCreateTopic(c, 't')
  await commit(c, 'g', [{ topic: 't', partition: 0, offset: 9 }])
  await c.request(42, 2, writeDeleteGroupsRequest, readDeleteGroupsResponse, { groupsNames: ['g'] })
  c.close()
  await broker.close()
  broker = await home.start()
  c = await connect(t, broker)
  // The deletion is journaled: the offsets do not come back from the journal replay.
  assert.equal((await committed(c, 'g', 't', 0)).offset, -1)
})
