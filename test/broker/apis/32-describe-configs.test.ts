/**
 * DescribeConfigs (key 32): topic configs with their sources, the keys filter, synonyms and
 * documentation, and the broker's read-only settings.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ConfigSource, ConfigType, DEFAULT_TOPIC_CONFIG, TOPIC_CONFIG_DEFS } from '../../../src/broker/config.ts'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readDescribeConfigsResponse,
  writeDescribeConfigsRequest,
  type DescribeConfigsRequestInput,
} from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { connect, mustCreateTopic } from '../../helpers/wire.ts'

const TOPIC = 2
const BROKER = 4

const describe = (c: RawClient, version: number, body: DescribeConfigsRequestInput) =>
  c.request(32, version, writeDescribeConfigsRequest, readDescribeConfigsResponse, body)

test('topic configs: every known key, with topic or default source', async (t) => {
  const broker = await startTestBroker(t, { topicDefaults: { 'retention.bytes': 1 << 30 } })
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'conf', 1, { 'retention.ms': '60000' })
  for (const version of [1, 4]) {
    const res = await describe(c, version, {
      resources: [{ resourceType: TOPIC, resourceName: 'conf', configurationKeys: null }],
      includeSynonyms: false,
      includeDocumentation: true,
    })
    const r = res.results[0]
    assert.deepEqual([r.errorCode, r.errorMessage, r.resourceType, r.resourceName], [0, null, TOPIC, 'conf'])
    const byName = new Map(r.configs.map((x) => [x.name, x]))
    assert.deepEqual([...byName.keys()].sort(), Object.keys(TOPIC_CONFIG_DEFS).sort())
    const retention = byName.get('retention.ms')
    assert.deepEqual(
      [retention?.value, retention?.configSource, retention?.readOnly, retention?.isSensitive],
      ['60000', ConfigSource.topic, false, false],
    )
    // A broker-level topic default is still the topic's default source here.
    const bytes = byName.get('retention.bytes')
    assert.deepEqual([bytes?.value, bytes?.configSource], [String(1 << 30), ConfigSource.default])
    const segment = byName.get('segment.bytes')
    assert.deepEqual(
      [segment?.value, segment?.configSource],
      [DEFAULT_TOPIC_CONFIG['segment.bytes'], ConfigSource.default],
    )
    if (version >= 3) {
      assert.equal(retention?.configType, ConfigType.long)
      assert.equal(byName.get('cleanup.policy')?.configType, ConfigType.list)
      assert.equal(typeof retention?.documentation, 'string')
    }
    for (const x of r.configs) assert.deepEqual(x.synonyms, [])
  }
})

test('keys filter, synonyms and documentation flags', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'filtered')
  const res = await describe(c, 4, {
    resources: [
      { resourceType: TOPIC, resourceName: 'filtered', configurationKeys: ['segment.ms', 'no.such', 'retention.ms'] },
      { resourceType: TOPIC, resourceName: 'filtered', configurationKeys: [] },
    ],
    includeSynonyms: true,
    includeDocumentation: false,
  })
  const [some, all] = res.results
  assert.deepEqual(some.configs.map((x) => x.name).sort(), ['retention.ms', 'segment.ms'])
  // An empty key list means every key, as null does.
  assert.equal(all.configs.length, Object.keys(TOPIC_CONFIG_DEFS).length)
  for (const x of some.configs) {
    assert.equal(x.documentation, null)
    assert.deepEqual(x.synonyms, [{ name: x.name, value: x.value, source: ConfigSource.default }])
  }
})

test('broker configs are read-only static settings; unknown topics, brokers and resource types are errors', async (t) => {
  const broker = await startTestBroker(t, { autoCreateTopics: false, defaultPartitions: 3 })
  const c = await connect(t, broker)
  const res = await describe(c, 4, {
    resources: [
      { resourceType: BROKER, resourceName: '0', configurationKeys: null },
      { resourceType: BROKER, resourceName: '', configurationKeys: ['num.partitions', 'auto.create.topics.enable'] },
      { resourceType: BROKER, resourceName: '7', configurationKeys: null },
      { resourceType: TOPIC, resourceName: 'missing', configurationKeys: null },
      { resourceType: 99, resourceName: 'x', configurationKeys: null },
    ],
    includeSynonyms: false,
    includeDocumentation: false,
  })
  const [full, some, other, missing, weird] = res.results
  assert.equal(full.errorCode, KafkaError.NONE)
  const byName = new Map(full.configs.map((x) => [x.name, x]))
  assert.equal(byName.get('broker.id')?.value, '0')
  assert.equal(byName.get('advertised.listeners')?.value, `PLAINTEXT://127.0.0.1:${broker.port}`)
  for (const x of full.configs) {
    assert.equal(x.readOnly, true)
    assert.equal(x.configSource, ConfigSource.staticBroker)
  }
  assert.deepEqual(some.configs.map((x) => [x.name, x.value]).sort(), [
    ['auto.create.topics.enable', 'false'],
    ['num.partitions', '3'],
  ])
  assert.equal(other.errorCode, KafkaError.INVALID_REQUEST)
  assert.equal(missing.errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION)
  assert.equal(weird.errorCode, KafkaError.INVALID_REQUEST)
  for (const r of [other, missing, weird]) assert.deepEqual(r.configs, [])
})
