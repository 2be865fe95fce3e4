/** DeleteRecords (key 21): moving the log start offset, its limits, and its persistence. */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { readDeleteRecordsResponse, writeDeleteRecordsRequest } from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { batchOf, brokerHome, connect, fetchOne, listOffset, mustCreateTopic, produce } from '../../helpers/wire.ts'
import { startTestBroker } from '../../helpers/broker.ts'

const deleteBefore = async (c: RawClient, version: number, topic: string, partition: number, offset: bigint) => {
  const res = await c.request(21, version, writeDeleteRecordsRequest, readDeleteRecordsResponse, {
    topics: [{ name: topic, partitions: [{ partitionIndex: partition, offset }] }],
    timeoutMs: 1000,
  })
  return res.topics[0].partitions[0]
}

test('moves the log start offset forward; reads below it are out of range', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'trim')
  for (let i = 0; i < 5; i++) await produce(c, 'trim', 0, batchOf([`a${i}`, `b${i}`]))
  for (const [version, offset, low] of [
    [0, 3n, 3n],
    [2, 6n, 6n],
    // Lower than the current start: nothing changes.
    [2, 1n, 6n],
  ] as const) {
    const p = await deleteBefore(c, version, 'trim', 0, offset)
    assert.equal(p.errorCode, KafkaError.NONE)
    assert.equal(p.lowWatermark, low)
  }
  assert.equal((await listOffset(c, 'trim', 0, -2)).offset, 6n)
  assert.equal((await fetchOne(c, 12, { topic: 'trim', offset: 5 })).errorCode, KafkaError.OFFSET_OUT_OF_RANGE)
  const fromStart = await fetchOne(c, 12, { topic: 'trim', offset: 6 })
  assert.equal(fromStart.errorCode, KafkaError.NONE)
  assert.equal(fromStart.logStartOffset, 6n)
  // Produce answers carry the new log start offset too.
  assert.equal((await produce(c, 'trim', 0, batchOf(['c']))).logStartOffset, 6n)
})

test('-1 deletes up to the high watermark; beyond it is OFFSET_OUT_OF_RANGE; unknown partitions', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'all', 2)
  await produce(c, 'all', 0, batchOf(['a', 'b', 'c']))
  const beyond = await deleteBefore(c, 2, 'all', 0, 4n)
  assert.deepEqual([beyond.errorCode, beyond.lowWatermark], [KafkaError.OFFSET_OUT_OF_RANGE, -1n])
  const negative = await deleteBefore(c, 2, 'all', 0, -5n)
  assert.equal(negative.errorCode, KafkaError.OFFSET_OUT_OF_RANGE)
  // -1 stands for the high watermark: the partition is emptied but keeps its offsets.
  const everything = await deleteBefore(c, 2, 'all', 0, -1n)
  assert.deepEqual([everything.errorCode, everything.lowWatermark], [KafkaError.NONE, 3n])
  assert.equal((await listOffset(c, 'all', 0, -2)).offset, 3n)
  assert.equal((await deleteBefore(c, 2, 'all', 2, 0n)).errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION)
  assert.equal((await deleteBefore(c, 2, 'none', 0, 0n)).errorCode, KafkaError.UNKNOWN_TOPIC_OR_PARTITION)
})

test('the new log start offset survives a restart', async (t) => {
  const home = brokerHome(t)
  let broker = await home.start()
  let c = await connect(t, broker)
  await mustCreateTopic(c, 'kept')
  await produce(c, 'kept', 0, batchOf(['a', 'b', 'c', 'd']))
  assert.equal((await deleteBefore(c, 2, 'kept', 0, 2n)).lowWatermark, 2n)
  c.close()
  await broker.close()
  broker = await home.start()
  c = await connect(t, broker)
  assert.equal((await listOffset(c, 'kept', 0, -2)).offset, 2n)
  assert.equal((await listOffset(c, 'kept', 0, -1)).offset, 4n)
})
