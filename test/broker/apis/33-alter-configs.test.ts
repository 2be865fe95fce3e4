/** AlterConfigs (key 33): whole-set replacement of topic overrides, validation, persistence. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigSource, DEFAULT_TOPIC_CONFIG } from '../../../src/broker/config.ts'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { readAlterConfigsResponse, writeAlterConfigsRequest } from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { brokerHome, connect, mustCreateTopic, topicConfigs } from '../../helpers/wire.ts'
import { startTestBroker } from '../../helpers/broker.ts'

const TOPIC = 2

const alter = async (
  c: RawClient,
  version: number,
  resourceName: string,
  configs: Record<string, string | null>,
  o: { validateOnly?: boolean; resourceType?: number } = {},
) => {
  const res = await c.request(33, version, writeAlterConfigsRequest, readAlterConfigsResponse, {
    resources: [
      {
        resourceType: o.resourceType ?? TOPIC,
        resourceName,
        configs: Object.entries(configs).map(([name, value]) => ({ name, value })),
      },
    ],
    validateOnly: o.validateOnly ?? false,
  })
  return res.responses[0]
}

test('replaces the whole set of overrides (v0 and v2); persisted across a restart', async (t) => {
  const home = brokerHome(t)
  let broker = await home.start()
  let c = await connect(t, broker)
  await mustCreateTopic(c, 'alt', 1, { 'segment.bytes': '1048576' })
  const set = await alter(c, 0, 'alt', { 'retention.ms': '3600000' })
  assert.deepEqual([set.errorCode, set.errorMessage, set.resourceName], [KafkaError.NONE, null, 'alt'])
  let configs = await topicConfigs(c, 'alt')
  assert.deepEqual(configs.get('retention.ms'), ['3600000', ConfigSource.topic])
  // Not named in the request: back to the default.
  assert.deepEqual(configs.get('segment.bytes'), [DEFAULT_TOPIC_CONFIG['segment.bytes'], ConfigSource.default])
  assert.equal((await alter(c, 2, 'alt', { 'retention.ms': '7200000' })).errorCode, KafkaError.NONE)
  c.close()
  await broker.close()

  broker = await home.start()
  c = await connect(t, broker)
  configs = await topicConfigs(c, 'alt')
  assert.deepEqual(configs.get('retention.ms'), ['7200000', ConfigSource.topic])
})

test('invalid values, unknown topics, broker resources and validateOnly change nothing', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'strict', 1, { 'retention.ms': '1000' })
  assert.equal((await alter(c, 2, 'strict', { 'retention.ms': 'never' })).errorCode, KafkaError.INVALID_CONFIG)
  assert.equal((await alter(c, 2, 'strict', { 'unknown.key': '1' })).errorCode, KafkaError.INVALID_CONFIG)
  assert.equal((await alter(c, 2, 'missing', { 'retention.ms': '5' })).errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION)
  const onBroker = await alter(c, 2, '0', { 'log.retention.ms': '5' }, { resourceType: 4 })
  assert.equal(onBroker.errorCode, KafkaError.INVALID_REQUEST)
  // validateOnly answers as the change would, and changes nothing.
  const dry = await alter(c, 2, 'strict', { 'retention.ms': '2000' }, { validateOnly: true })
  assert.equal(dry.errorCode, KafkaError.NONE)
  assert.deepEqual((await topicConfigs(c, 'strict')).get('retention.ms'), ['1000', ConfigSource.topic])
  // A null value removes the override.
  assert.equal((await alter(c, 2, 'strict', { 'retention.ms': null })).errorCode, KafkaError.NONE)
  assert.deepEqual((await topicConfigs(c, 'strict')).get('retention.ms'), [
    DEFAULT_TOPIC_CONFIG['retention.ms'],
    ConfigSource.default,
  ])
})
