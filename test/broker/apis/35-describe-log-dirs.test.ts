/**
 * DescribeLogDirs (key 35): one log dir (the data directory), partition sizes that are the bytes of
 * the segment files on disk, disk space from v4, unknown topics and partitions left out; and the
 * same answer through @platformatic/kafka's Admin. (KafkaJS has no DescribeLogDirs.)
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { Admin } from '@platformatic/kafka'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readDescribeLogDirsResponse,
  writeDescribeLogDirsRequest,
  type DescribeLogDirsRequestInput,
  type DescribeLogDirsResponse,
} from '../../../src/protocol/messages/index.ts'
import type { Broker } from '../../../src/broker/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { batchOf, connect, mustCreateTopic, produce } from '../../helpers/wire.ts'

const describeLogDirs = (c: RawClient, version: number, topics: DescribeLogDirsRequestInput['topics']) =>
  c.request(35, version, writeDescribeLogDirsRequest, readDescribeLogDirsResponse, { topics })

/** topic -> partition -> size, from the one log dir of a response (which must have no error). */
function sizesOf(res: DescribeLogDirsResponse): Record<string, Record<number, number>> {
  assert.equal(res.errorCode, KafkaError.NONE)
  assert.equal(res.results.length, 1)
  const dir = res.results[0]
  assert.equal(dir.errorCode, KafkaError.NONE)
  const out: Record<string, Record<number, number>> = {}
  for (const t of dir.topics) {
    out[t.name] = {}
    for (const p of t.partitions) {
      assert.deepEqual([p.offsetLag, p.isFutureKey], [0n, false])
      out[t.name][p.partitionIndex] = Number(p.partitionSize)
    }
  }
  return out
}

/** The bytes of a partition's segment (.log) files on disk. */
function segmentBytesOnDisk(broker: Broker, topic: string, partition: number): number {
  const dir = path.join(broker.dataDir, 'topics', topic, String(partition))
  return fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.log'))
    .reduce((sum, f) => sum + fs.statSync(path.join(dir, f)).size, 0)
}

test('every version: the data directory, every partition, disk space from v4', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'a', 2)
  await mustCreateTopic(c, 'b', 1)
  assert.equal((await produce(c, 'a', 0, batchOf(['x', 'y', 'z']))).errorCode, KafkaError.NONE)
  const aSize = segmentBytesOnDisk(broker, 'a', 0)
  assert.ok(aSize > 0)

  for (const version of [1, 2, 3, 4]) {
    const res = await describeLogDirs(c, version, null)
    const dir = res.results[0]
    assert.equal(dir.logDir, path.resolve(broker.dataDir), `v${version} names the data directory`)
    assert.ok(path.isAbsolute(dir.logDir))
    assert.deepEqual(sizesOf(res), { a: { 0: aSize, 1: 0 }, b: { 0: 0 } }, `v${version} sizes`)
    if (version >= 4) {
      assert.ok(dir.totalBytes > 0n, 'total bytes of the disk')
      assert.ok(dir.usableBytes >= 0n && dir.usableBytes <= dir.totalBytes, 'usable bytes within the total')
    } else {
      // Not on the wire before v4: the decoder's defaults.
      assert.deepEqual([dir.totalBytes, dir.usableBytes], [-1n, -1n])
    }
  }
})

test('sizes grow with produced records and match the segment files, across segment rolls', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  // Small segments: the partition spreads over several files.
  await mustCreateTopic(c, 'grow', 1, { 'segment.bytes': '1024' })
  const sizeNow = async () => sizesOf(await describeLogDirs(c, 4, [{ topic: 'grow', partitions: [0] }])).grow[0]
  assert.equal(await sizeNow(), 0)
  let last = 0
  for (let i = 0; i < 10; i++) {
    assert.equal((await produce(c, 'grow', 0, batchOf([`record ${i} `.repeat(20)]))).errorCode, KafkaError.NONE)
    const size = await sizeNow()
    assert.ok(size > last, `size grows after produce ${i}: ${size} > ${last}`)
    assert.equal(size, segmentBytesOnDisk(broker, 'grow', 0), `the sum of the segment files after produce ${i}`)
    last = size
  }
  const segments = fs.readdirSync(path.join(broker.dataDir, 'topics', 'grow', '0')).filter((f) => f.endsWith('.log'))
  assert.ok(segments.length > 1, `several segments: ${segments.length}`)
})

test('listed topics only: unknown topics and partitions left out, duplicates merged, [] lists nothing', async (t) => {
  const broker = await startTestBroker(t, { autoCreateTopics: false })
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'three', 3)
  await mustCreateTopic(c, 'other', 1)
  const res = await describeLogDirs(c, 4, [
    { topic: 'three', partitions: [2, 7] },
    { topic: 'missing', partitions: [0] },
    { topic: 'other', partitions: [5] },
    { topic: 'three', partitions: [0, 2] },
  ])
  assert.deepEqual(sizesOf(res), { three: { 0: 0, 2: 0 } })
  assert.deepEqual(
    res.results[0].topics[0].partitions.map((p) => p.partitionIndex),
    [2, 0],
  )
  assert.deepEqual(sizesOf(await describeLogDirs(c, 4, [])), {})
  assert.equal((await describeLogDirs(c, 4, [])).results[0].logDir, path.resolve(broker.dataDir))
})

test('@platformatic/kafka Admin.describeLogDirs', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'admin', 2)
  await produce(c, 'admin', 1, batchOf(['one', 'two']))
  const admin = new Admin({ clientId: 'log-dirs-test', bootstrapBrokers: [broker.address] })
  t.after(() => admin.close())
  const described = await admin.describeLogDirs({ topics: [{ name: 'admin', partitions: [0, 1] }] })
  assert.equal(described.length, 1)
  assert.equal(described[0].broker, broker.context.nodeId)
  const [dir] = described[0].results
  assert.equal(dir.logDir, path.resolve(broker.dataDir))
  assert.ok(dir.totalBytes > 0n && dir.usableBytes >= 0n)
  assert.deepEqual(
    dir.topics.map((x) => [x.name, x.partitions.map((p) => [p.partitionIndex, Number(p.partitionSize)])]),
    [
      [
        'admin',
        [
          [0, 0],
          [1, segmentBytesOnDisk(broker, 'admin', 1)],
        ],
      ],
    ],
  )
  assert.ok(segmentBytesOnDisk(broker, 'admin', 1) > 0)
})
