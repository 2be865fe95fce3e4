/**
 * DeleteTopics (key 20): by name (v1) and by id (v6), data directories removed, committed offsets
 * forgotten.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readDeleteTopicsResponse,
  readOffsetCommitResponse,
  readOffsetFetchResponse,
  writeDeleteTopicsRequest,
  writeOffsetCommitRequest,
  writeOffsetFetchRequest,
  type DeleteTopicsRequestInput,
} from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { batchOf, connect, mustCreateTopic, produce, topicNames } from '../../helpers/wire.ts'

const deleteTopics = (c: RawClient, version: number, body: Omit<DeleteTopicsRequestInput, 'timeoutMs'>) =>
  c.request(20, version, writeDeleteTopicsRequest, readDeleteTopicsResponse, { ...body, timeoutMs: 1000 })

test('v1: deletes by name and removes the data directory', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'gone', 2)
  await mustCreateTopic(c, 'kept')
  await produce(c, 'gone', 1, batchOf(['x']))
  const dir = path.join(broker.dataDir, 'topics', 'gone')
  assert.ok(fs.existsSync(dir))
  const res = await deleteTopics(c, 1, { topicNames: ['gone', 'never'] })
  assert.deepEqual(
    res.responses.map((r) => [r.name, r.errorCode]),
    [
      ['gone', KafkaError.NONE],
      ['never', KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
    ],
  )
  assert.ok(!fs.existsSync(dir))
  assert.deepEqual(fs.readdirSync(path.join(broker.dataDir, 'topics')), ['kept'])
  assert.deepEqual(await topicNames(c), ['kept'])
  // Producing to it now fails; a recreated topic starts empty.
  assert.equal((await produce(c, 'gone', 0, batchOf(['y']))).errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION)
  await mustCreateTopic(c, 'gone', 2)
  assert.equal((await produce(c, 'gone', 1, batchOf(['z']))).baseOffset, 0n)
})

test('v6: deletes by id or by name; an unknown id is UNKNOWN_TOPIC_ID', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const id = await mustCreateTopic(c, 'by-id')
  await mustCreateTopic(c, 'by-name')
  const unknown = Buffer.alloc(16, 5)
  const res = await deleteTopics(c, 6, {
    topics: [
      { name: null, topicId: id },
      { name: 'by-name', topicId: Buffer.alloc(16) },
      { name: null, topicId: unknown },
    ],
  })
  assert.deepEqual(
    res.responses.map((r) => [r.name, r.topicId, r.errorCode]),
    [
      ['by-id', id, KafkaError.NONE],
      ['by-name', res.responses[1].topicId, KafkaError.NONE],
      [null, unknown, KafkaError.UNKNOWN_TOPIC_ID],
    ],
  )
  assert.notDeepEqual(res.responses[1].topicId, Buffer.alloc(16))
  assert.deepEqual(await topicNames(c), [])
})

test('committed offsets of a deleted topic are forgotten', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'offsets')
  await produce(c, 'offsets', 0, batchOf(['a', 'b', 'c']))
  const commit = await c.request(8, 9, writeOffsetCommitRequest, readOffsetCommitResponse, {
    groupId: 'g',
    generationIdOrMemberEpoch: -1,
    memberId: '',
    topics: [{ name: 'offsets', partitions: [{ partitionIndex: 0, committedOffset: 2n, committedMetadata: 'm' }] }],
  })
  assert.equal(commit.topics[0].partitions[0].errorCode, KafkaError.NONE)
  const committed = async () => {
    const res = await c.request(9, 7, writeOffsetFetchRequest, readOffsetFetchResponse, {
      groupId: 'g',
      topics: [{ name: 'offsets', partitionIndexes: [0] }],
    })
    return res.topics[0].partitions[0].committedOffset
  }
  assert.equal(await committed(), 2n)
  assert.equal(
    (await deleteTopics(c, 6, { topics: [{ name: 'offsets', topicId: Buffer.alloc(16) }] })).responses[0].errorCode,
    0,
  )
  // A new topic of the same name must not inherit the old topic's offsets.
  await mustCreateTopic(c, 'offsets')
  assert.equal(await committed(), -1n)
})

test('a topic with the longest legal name can be deleted', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const name = 'n'.repeat(249)
  await mustCreateTopic(c, name)
  const res = await deleteTopics(c, 6, { topics: [{ name, topicId: Buffer.alloc(16) }] })
  assert.equal(res.responses[0].errorCode, KafkaError.NONE)
  assert.deepEqual(await topicNames(c), [])
  assert.deepEqual(fs.readdirSync(path.join(broker.dataDir, 'topics')), [])
})
