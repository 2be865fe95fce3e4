/**
 * CreateTopics (key 19): creation on disk, reported configs and sources, each validation error,
 * validateOnly, and explicit replica assignments.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { ConfigSource, DEFAULT_TOPIC_CONFIG } from '../../../src/broker/config.ts'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { connect, createTopics, topicIdOf, topicNames } from '../../helpers/wire.ts'

const OLDEST = 2
const NEWEST = 7

const topic = (
  name: string,
  numPartitions = 1,
  replicationFactor = 1,
  configs: Record<string, string | null> = {},
) => ({
  name,
  numPartitions,
  replicationFactor,
  configs: Object.entries(configs).map(([k, value]) => ({ name: k, value })),
})

test('creates topics on disk and reports id, partitions and configs with their sources', async (t) => {
  const broker = await startTestBroker(t, { defaultPartitions: 4 })
  const c = await connect(t, broker)
  const res = await createTopics(c, [topic('made', 3, 1, { 'retention.ms': '1000' }), topic('default', -1, -1)])
  const [made, dflt] = res.topics
  assert.equal(made.errorCode, KafkaError.NONE)
  assert.equal(made.errorMessage, null)
  assert.equal(made.numPartitions, 3)
  assert.equal(made.replicationFactor, 1)
  assert.deepEqual(made.topicId, await topicIdOf(c, 'made'))
  const configs = new Map((made.configs ?? []).map((x) => [x.name, x]))
  assert.deepEqual(new Set(configs.keys()), new Set(Object.keys(DEFAULT_TOPIC_CONFIG)))
  assert.equal(configs.get('retention.ms')?.value, '1000')
  assert.equal(configs.get('retention.ms')?.configSource, ConfigSource.topic)
  assert.equal(configs.get('segment.bytes')?.value, DEFAULT_TOPIC_CONFIG['segment.bytes'])
  assert.equal(configs.get('segment.bytes')?.configSource, ConfigSource.default)
  // -1 partitions and replication factor take the broker's defaults.
  assert.equal(dflt.errorCode, KafkaError.NONE)
  assert.equal(dflt.numPartitions, 4)
  for (const p of [0, 1, 2]) assert.ok(fs.existsSync(path.join(broker.dataDir, 'topics', 'made', String(p))))
  assert.ok(fs.existsSync(path.join(broker.dataDir, 'topics', 'made', 'topic.json')))

  // The oldest version served.
  const old = await createTopics(c, [topic('old', 2)], { version: OLDEST })
  assert.equal(old.topics[0].errorCode, KafkaError.NONE)
  assert.deepEqual(await topicNames(c), ['default', 'made', 'old'])
})

test('validation errors, each reported on its own topic', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  assert.equal((await createTopics(c, [topic('exists')])).topics[0].errorCode, KafkaError.NONE)
  for (const version of [OLDEST, NEWEST]) {
    const res = await createTopics(
      c,
      [
        topic('exists'),
        topic('bad name'),
        topic('x'.repeat(250)),
        topic('zero', 0),
        topic('negative', -5),
        topic('replicated', 1, 2),
        topic('unknown-config', 1, 1, { 'no.such.config': '1' }),
        topic('bad-value', 1, 1, { 'retention.ms': 'soon' }),
        topic('null-value', 1, 1, { 'retention.ms': null }),
        topic('unsupported-value', 1, 1, { 'cleanup.policy': 'compact' }),
      ],
      { version },
    )
    assert.deepEqual(
      res.topics.map((x) => [x.name.slice(0, 20), x.errorCode]),
      [
        ['exists', KafkaError.TOPIC_ALREADY_EXISTS],
        ['bad name', KafkaError.INVALID_TOPIC_EXCEPTION],
        ['x'.repeat(20), KafkaError.INVALID_TOPIC_EXCEPTION],
        ['zero', KafkaError.INVALID_PARTITIONS],
        ['negative', KafkaError.INVALID_PARTITIONS],
        ['replicated', KafkaError.INVALID_REPLICATION_FACTOR],
        ['unknown-config', KafkaError.INVALID_CONFIG],
        ['bad-value', KafkaError.INVALID_CONFIG],
        ['null-value', KafkaError.INVALID_CONFIG],
        ['unsupported-value', KafkaError.INVALID_CONFIG],
      ],
    )
    for (const x of res.topics) assert.equal(typeof x.errorMessage, 'string')
  }
  assert.deepEqual(await topicNames(c), ['exists'])
})

test('config names that are Object.prototype members are unknown configs, not handler failures', async (t) => {
  // config.ts looks names up in a plain object, so these reach its prototype (a TypeError).
  const broker = await startTestBroker(t)
  for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty']) {
    await t.test(name, async (t) => {
      const c = await connect(t, broker)
      const res = await createTopics(c, [topic(`proto-${name.replace(/_/g, 'u')}`, 1, 1, { [name]: '1' })])
      assert.equal(res.topics[0].errorCode, KafkaError.INVALID_CONFIG)
      assert.deepEqual(await topicNames(c), [])
    })
  }
})

test('validateOnly validates and reports, but creates nothing', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const res = await createTopics(c, [topic('dry', 2, 1, { 'retention.bytes': '4096' }), topic('dry bad')], {
    validateOnly: true,
  })
  assert.equal(res.topics[0].errorCode, KafkaError.NONE)
  assert.equal(res.topics[0].numPartitions, 2)
  assert.deepEqual(res.topics[0].topicId, Buffer.alloc(16))
  assert.equal(res.topics[0].configs?.find((x) => x.name === 'retention.bytes')?.value, '4096')
  assert.equal(res.topics[1].errorCode, KafkaError.INVALID_TOPIC_EXCEPTION)
  assert.deepEqual(await topicNames(c), [])
  assert.deepEqual(fs.readdirSync(path.join(broker.dataDir, 'topics')), [])
})

test('a topic named twice in one request is INVALID_REQUEST', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  // The first is created; the repetition is refused rather than silently merged.
  const res = await createTopics(c, [topic('twice'), topic('twice')])
  assert.equal(res.topics[1].errorCode, KafkaError.INVALID_REQUEST)
})

test('explicit assignments must place partitions 0..n-1 on this broker', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const assigned = (name: string, assignments: Array<[number, number[]]>, numPartitions = -1) => ({
    name,
    numPartitions,
    replicationFactor: -1,
    assignments: assignments.map(([partitionIndex, brokerIds]) => ({ partitionIndex, brokerIds })),
    configs: [],
  })
  const res = await createTopics(c, [
    assigned('ok', [
      [1, [0]],
      [0, [0]],
    ]),
    assigned('elsewhere', [[0, [1]]]),
    assigned('gap', [
      [0, [0]],
      [2, [0]],
    ]),
    assigned('two-replicas', [[0, [0, 0]]]),
    assigned('both', [[0, [0]]], 1),
  ])
  assert.deepEqual(
    res.topics.map((x) => [x.name, x.errorCode]),
    [
      ['ok', KafkaError.NONE],
      ['elsewhere', KafkaError.INVALID_REPLICA_ASSIGNMENT],
      ['gap', KafkaError.INVALID_REPLICA_ASSIGNMENT],
      ['two-replicas', KafkaError.INVALID_REPLICA_ASSIGNMENT],
      ['both', KafkaError.INVALID_REQUEST],
    ],
  )
  assert.equal(res.topics[0].numPartitions, 2)
  assert.deepEqual(await topicNames(c), ['ok'])
})
