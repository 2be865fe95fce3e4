/**
 * Metadata (key 3): all/none topic lists, the single broker at its advertised address,
 * auto-creation (request flag and broker option), name validation and topic ids.
 */
import assert from 'node:assert/strict'
import net from 'node:net'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readMetadataResponse,
  writeMetadataRequest,
  type MetadataRequestInput,
  type MetadataResponse,
} from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { brokerHome, connect, mustCreateTopic, topicNames } from '../../helpers/wire.ts'

const OLDEST = 4
const NEWEST = 12
const ZERO_UUID = Buffer.alloc(16)

const metadata = (c: RawClient, version: number, body: MetadataRequestInput): Promise<MetadataResponse> =>
  c.request(3, version, writeMetadataRequest, readMetadataResponse, body)

/** A port that was free a moment ago. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })
}

const byName = (names: string[]) => names.map((name) => ({ name, topicId: ZERO_UUID }))

test('topics = null lists every topic; [] lists none', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'alpha', 2)
  await mustCreateTopic(c, 'beta', 1)
  for (const version of [OLDEST, 9, NEWEST]) {
    const all = await metadata(c, version, { topics: null, allowAutoTopicCreation: true })
    assert.deepEqual(all.topics.map((x) => [x.name, x.errorCode, x.partitions.length]).sort(), [
      ['alpha', KafkaError.NONE, 2],
      ['beta', KafkaError.NONE, 1],
    ])
    const none = await metadata(c, version, { topics: [], allowAutoTopicCreation: true })
    assert.deepEqual(none.topics, [])
    assert.equal(none.brokers.length, 1)
  }
})

test('the only broker, leader of every partition, at the bound port', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'lead', 3)
  for (const version of [OLDEST, NEWEST]) {
    const md = await metadata(c, version, { topics: byName(['lead']), allowAutoTopicCreation: false })
    assert.deepEqual(
      md.brokers.map((b) => [b.nodeId, b.host, b.port]),
      [[0, '127.0.0.1', broker.port]],
    )
    assert.notEqual(broker.port, 0)
    assert.equal(md.controllerId, 0)
    assert.equal(typeof md.clusterId, 'string')
    assert.ok((md.clusterId ?? '').length > 0)
    const topic = md.topics[0]
    assert.equal(topic.isInternal, false)
    for (const [i, p] of topic.partitions.entries()) {
      assert.equal(p.partitionIndex, i)
      assert.equal(p.errorCode, KafkaError.NONE)
      assert.equal(p.leaderId, 0)
      assert.deepEqual(p.replicaNodes, [0])
      assert.deepEqual(p.isrNodes, [0])
      if (version >= 7) assert.equal(p.leaderEpoch, 0)
    }
  }
})

test('advertised host and port override the bound address', async (t) => {
  // broker.port is the advertised port: bind a known free port to be able to connect.
  const port = await freePort()
  const broker = await startTestBroker(t, { port, advertisedHost: 'broker.example', advertisedPort: port + 1 })
  assert.equal(broker.address, `broker.example:${port + 1}`)
  const c = await connect(t, { port })
  const md = await metadata(c, NEWEST, { topics: [], allowAutoTopicCreation: false })
  assert.deepEqual(
    md.brokers.map((b) => [b.host, b.port]),
    [['broker.example', port + 1]],
  )
})

test('auto-creation only when the request allows it', async (t) => {
  const broker = await startTestBroker(t, { defaultPartitions: 3 })
  const c = await connect(t, broker)
  for (const version of [OLDEST, NEWEST]) {
    const denied = await metadata(c, version, { topics: byName([`denied-${version}`]), allowAutoTopicCreation: false })
    assert.equal(denied.topics[0].errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION)
    assert.deepEqual(denied.topics[0].partitions, [])
    const made = await metadata(c, version, { topics: byName([`made-${version}`]), allowAutoTopicCreation: true })
    assert.equal(made.topics[0].errorCode, KafkaError.NONE)
    assert.equal(made.topics[0].partitions.length, 3)
  }
  assert.deepEqual(await topicNames(c), ['made-12', 'made-4'])
})

test('a broker started without auto-creation never creates topics on Metadata', async (t) => {
  const broker = await startTestBroker(t, { autoCreateTopics: false })
  const c = await connect(t, broker)
  const md = await metadata(c, NEWEST, { topics: byName(['wanted']), allowAutoTopicCreation: true })
  assert.equal(md.topics[0].errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION)
  assert.deepEqual(await topicNames(c), [])
})

test('invalid topic names are INVALID_TOPIC_EXCEPTION and never created', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  // Each breaks one rule: empty, characters outside [a-zA-Z0-9._-], '..', over 249 characters.
  const bad = ['', 'has space', 'slash/name', '..', 'x'.repeat(250), 'ünïcode']
  const md = await metadata(c, NEWEST, { topics: byName(bad), allowAutoTopicCreation: true })
  assert.deepEqual(
    md.topics.map((x) => [x.name, x.errorCode]),
    bad.map((name) => [name, KafkaError.INVALID_TOPIC_EXCEPTION]),
  )
  assert.deepEqual(await topicNames(c), [])
})

test('topic ids: v10+ reports them, v12 looks topics up by id', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const id = await mustCreateTopic(c, 'ided')
  assert.notDeepEqual(id, ZERO_UUID)
  for (const version of [10, NEWEST]) {
    const md = await metadata(c, version, { topics: byName(['ided']), allowAutoTopicCreation: false })
    assert.deepEqual(md.topics[0].topicId, id)
  }
  const found = await metadata(c, NEWEST, { topics: [{ name: null, topicId: id }], allowAutoTopicCreation: false })
  assert.deepEqual(
    found.topics.map((x) => [x.name, x.errorCode, x.topicId]),
    [['ided', KafkaError.NONE, id]],
  )
  const unknown = Buffer.alloc(16, 9)
  const missing = await metadata(c, NEWEST, {
    topics: [{ name: null, topicId: unknown }],
    allowAutoTopicCreation: true,
  })
  assert.deepEqual(
    missing.topics.map((x) => [x.name, x.errorCode, x.topicId]),
    [[null, KafkaError.UNKNOWN_TOPIC_ID, unknown]],
  )
})

test('v10 and v11 lookups by id are INVALID_REQUEST, not a closed connection', async (t) => {
  // Their responses cannot carry a null name (nullable only from v12); Kafka refuses id lookups
  // before v12 with INVALID_REQUEST.
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const id = await mustCreateTopic(c, 'early')
  for (const version of [10, 11]) {
    for (const topicId of [id, Buffer.alloc(16, 3)]) {
      const md = await metadata(c, version, { topics: [{ name: null, topicId }], allowAutoTopicCreation: false })
      assert.deepEqual(
        md.topics.map((x) => [x.errorCode, x.name]),
        [[KafkaError.INVALID_REQUEST, '']],
      )
    }
  }
})

test('the cluster id survives a restart', async (t) => {
  const home = brokerHome(t)
  let broker = await home.start()
  let c = await connect(t, broker)
  const first = (await metadata(c, NEWEST, { topics: [], allowAutoTopicCreation: false })).clusterId
  c.close()
  await broker.close()
  broker = await home.start()
  c = await connect(t, broker)
  assert.equal((await metadata(c, NEWEST, { topics: [], allowAutoTopicCreation: false })).clusterId, first)
})
