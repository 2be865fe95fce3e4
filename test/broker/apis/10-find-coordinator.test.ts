/**
 * FindCoordinator (key 10): the single-key answer of v0-3 and the batched one of v4+, both naming
 * this broker at its bound port.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { readFindCoordinatorResponse, writeFindCoordinatorRequest } from '../../../src/protocol/messages/index.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { connect } from '../../helpers/wire.ts'

const GROUP = 0
const TRANSACTION = 1

test('v0-3: one key, answered with this broker at its bound port', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  for (const version of [0, 1, 2, 3]) {
    const res = await c.request(10, version, writeFindCoordinatorRequest, readFindCoordinatorResponse, {
      key: 'some-group',
      keyType: version >= 1 ? TRANSACTION : GROUP,
    })
    assert.deepEqual([res.errorCode, res.nodeId, res.host, res.port], [KafkaError.NONE, 0, '127.0.0.1', broker.port])
    if (version >= 1) assert.equal(res.errorMessage, null)
  }
})

test('v4+: every key of the batch gets its own answer', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  for (const version of [4, 6]) {
    const res = await c.request(10, version, writeFindCoordinatorRequest, readFindCoordinatorResponse, {
      keyType: GROUP,
      coordinatorKeys: ['g1', 'g2', ''],
    })
    assert.deepEqual(
      res.coordinators.map((x) => [x.key, x.nodeId, x.host, x.port, x.errorCode]),
      ['g1', 'g2', ''].map((key) => [key, 0, '127.0.0.1', broker.port, KafkaError.NONE]),
    )
  }
})
