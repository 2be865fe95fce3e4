/**
 * IncrementalAlterConfigs (key 44): SET and DELETE of single keys, unsupported operations,
 * persistence, and the change reaching the partition logs.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigSource, DEFAULT_TOPIC_CONFIG } from '../../../src/broker/config.ts'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readIncrementalAlterConfigsResponse,
  writeIncrementalAlterConfigsRequest,
} from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { brokerHome, connect, listOffset, mustCreateTopic, produce, topicConfigs } from '../../helpers/wire.ts'
import { buildRecordBatch } from '../../../src/protocol/record-batch.ts'

const SET = 0
const DELETE = 1
const APPEND = 2
const SUBTRACT = 3

const alter = async (
  c: RawClient,
  version: number,
  resourceName: string,
  ops: Array<[string, number, string | null]>,
  o: { validateOnly?: boolean; resourceType?: number } = {},
) => {
  const res = await c.request(44, version, writeIncrementalAlterConfigsRequest, readIncrementalAlterConfigsResponse, {
    resources: [
      {
        resourceType: o.resourceType ?? 2,
        resourceName,
        configs: ops.map(([name, configOperation, value]) => ({ name, configOperation, value })),
      },
    ],
    validateOnly: o.validateOnly ?? false,
  })
  return res.responses[0]
}

test('SET changes one key and keeps the others; DELETE reverts to the default; persisted', async (t) => {
  const home = brokerHome(t)
  let broker = await home.start()
  let c = await connect(t, broker)
  await mustCreateTopic(c, 'inc', 1, { 'segment.bytes': '1048576', 'retention.bytes': '999999' })
  assert.equal((await alter(c, 0, 'inc', [['retention.ms', SET, '123456']])).errorCode, KafkaError.NONE)
  assert.equal((await alter(c, 1, 'inc', [['retention.bytes', DELETE, null]])).errorCode, KafkaError.NONE)
  const check = async () => {
    const configs = await topicConfigs(c, 'inc')
    assert.deepEqual(configs.get('retention.ms'), ['123456', ConfigSource.topic])
    assert.deepEqual(configs.get('segment.bytes'), ['1048576', ConfigSource.topic])
    assert.deepEqual(configs.get('retention.bytes'), [DEFAULT_TOPIC_CONFIG['retention.bytes'], ConfigSource.default])
  }
  await check()
  c.close()
  await broker.close()
  broker = await home.start()
  c = await connect(t, broker)
  await check()
})

test('APPEND/SUBTRACT, invalid values, unknown topics and validateOnly change nothing', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'keep', 1, { 'retention.ms': '1000' })
  const codes = [
    await alter(c, 1, 'keep', [['cleanup.policy', APPEND, 'delete']]),
    await alter(c, 1, 'keep', [['cleanup.policy', SUBTRACT, 'delete']]),
    await alter(c, 1, 'keep', [
      ['retention.ms', SET, '5'],
      ['segment.ms', SET, '0'],
    ]),
    await alter(c, 1, 'keep', [['made.up', SET, '1']]),
    await alter(c, 1, 'missing', [['retention.ms', SET, '5']]),
    await alter(c, 1, '0', [['retention.ms', SET, '5']], { resourceType: 4 }),
  ].map((r) => r.errorCode)
  assert.deepEqual(codes, [
    KafkaError.INVALID_CONFIG,
    KafkaError.INVALID_CONFIG,
    KafkaError.INVALID_CONFIG,
    KafkaError.INVALID_CONFIG,
    KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
    KafkaError.INVALID_REQUEST,
  ])
  assert.equal((await alter(c, 1, 'keep', [['retention.ms', SET, '7']], { validateOnly: true })).errorCode, 0)
  assert.deepEqual((await topicConfigs(c, 'keep')).get('retention.ms'), ['1000', ConfigSource.topic])
})

test('a retention.ms change reaches the partition logs at once', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'aging')
  const hourAgo = Date.now() - 3_600_000
  await produce(c, 'aging', 0, buildRecordBatch([{ value: 'old', timestamp: hourAgo }]))
  // Under the default (7 days) the record stays.
  assert.equal(broker.context.enforceRetention(), 0)
  assert.equal((await alter(c, 1, 'aging', [['retention.ms', SET, '60000']])).errorCode, KafkaError.NONE)
  assert.ok(broker.context.enforceRetention() > 0)
  assert.equal((await listOffset(c, 'aging', 0, -2)).offset, 1n)
})
