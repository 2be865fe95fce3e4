/** CreatePartitions (key 37): growing topics, the errors, validateOnly, persistence. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readCreatePartitionsResponse,
  readMetadataResponse,
  writeCreatePartitionsRequest,
  writeMetadataRequest,
  type CreatePartitionsRequestInput,
} from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { batchOf, brokerHome, connect, mustCreateTopic, produce } from '../../helpers/wire.ts'

const createPartitions = (
  c: RawClient,
  version: number,
  topics: NonNullable<CreatePartitionsRequestInput['topics']>,
  validateOnly = false,
) =>
  c.request(37, version, writeCreatePartitionsRequest, readCreatePartitionsResponse, {
    topics,
    timeoutMs: 1000,
    validateOnly,
  })

const partitionCount = async (c: RawClient, topic: string): Promise<number> => {
  const md = await c.request(3, 12, writeMetadataRequest, readMetadataResponse, {
    topics: [{ name: topic, topicId: Buffer.alloc(16) }],
    allowAutoTopicCreation: false,
  })
  return md.topics[0].partitions.length
}

test('grows a topic; the new partitions take data at once (oldest and newest version)', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'grow')
  for (const [version, count] of [
    [0, 2],
    [3, 4],
  ]) {
    const res = await createPartitions(c, version, [{ name: 'grow', count, assignments: null }])
    assert.deepEqual(
      res.results.map((r) => [r.name, r.errorCode, r.errorMessage]),
      [['grow', KafkaError.NONE, null]],
    )
    assert.equal(await partitionCount(c, 'grow'), count)
    assert.equal((await produce(c, 'grow', count - 1, batchOf(['x']))).errorCode, KafkaError.NONE)
  }
  // An assignment naming this broker is accepted.
  const assigned = await createPartitions(c, 3, [{ name: 'grow', count: 5, assignments: [{ brokerIds: [0] }] }])
  assert.equal(assigned.results[0].errorCode, KafkaError.NONE)
})

test('errors: not larger, unknown topic, other brokers; validateOnly changes nothing', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'three', 3)
  const res = await createPartitions(c, 3, [
    // Kafka never shrinks a topic, and an unchanged count is an error too.
    { name: 'three', count: 3, assignments: null },
    { name: 'three', count: 2, assignments: null },
    { name: 'missing', count: 5, assignments: null },
    // Broker 1 does not exist in this single-node cluster.
    { name: 'three', count: 4, assignments: [{ brokerIds: [1] }] },
  ])
  assert.deepEqual(
    res.results.map((r) => r.errorCode),
    [
      KafkaError.INVALID_PARTITIONS,
      KafkaError.INVALID_PARTITIONS,
      KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
      KafkaError.INVALID_REPLICA_ASSIGNMENT,
    ],
  )
  const dry = await createPartitions(c, 3, [{ name: 'three', count: 6, assignments: null }], true)
  assert.equal(dry.results[0].errorCode, KafkaError.NONE)
  assert.equal(await partitionCount(c, 'three'), 3)
})

test('the new partition count survives a restart', async (t) => {
  const home = brokerHome(t)
  let broker = await home.start()
  let c = await connect(t, broker)
  await mustCreateTopic(c, 'persist')
  await createPartitions(c, 3, [{ name: 'persist', count: 3, assignments: null }])
  // Data in the new partition proves it is a real log, reopened after the restart.
  await produce(c, 'persist', 2, batchOf(['kept']))
  c.close()
  await broker.close()
  broker = await home.start()
  c = await connect(t, broker)
  assert.equal(await partitionCount(c, 'persist'), 3)
  assert.equal((await produce(c, 'persist', 2, batchOf(['next']))).baseOffset, 1n)
})
