import assert from 'node:assert/strict'
import { test } from 'node:test'
import zlib from 'node:zlib'
import kafkajs from 'kafkajs'
import type { BusConfig } from '../../src/bus/client.ts'
import { TopicWriter } from '../../src/bus/producer.ts'
import { createTopic } from '../helpers/admin.ts'
import { startTestBroker } from '../helpers/broker.ts'
import { readTopic, topicOffsets, type ReadRecord } from '../helpers/cli.ts'

const { CompressionCodecs, CompressionTypes, Partitioners } = kafkajs
// KafkaJS reads gzip itself; zstd comes from node:zlib, an implementation independent of the client's.
CompressionCodecs[CompressionTypes.ZSTD] = () => ({
  compress: async (encoder: { buffer: Buffer }) => zlib.zstdCompressSync(encoder.buffer),
  decompress: async (buffer: Buffer) => zlib.zstdDecompressSync(buffer),
})

let clients = 0
function busOf(address: string): BusConfig {
  return { bootstrapBrokers: [address], clientId: `producer-test-${++clients}` }
}

/** The partition Kafka's default partitioner (murmur2, as the Java client and KafkaJS) picks for `key`. */
function kafkaPartition(key: string, partitions: number): number {
  const partitioner = Partitioners.DefaultPartitioner()
  return partitioner({
    topic: 't',
    partitionMetadata: Array.from({ length: partitions }, (_, partitionId) => ({
      partitionId,
      leader: 0,
      partitionErrorCode: 0,
      replicas: [0],
      isr: [0],
    })),
    message: { key, value: null },
  })
}

const SYMBOLS = Array.from({ length: 60 }, (_, i) => `SYM${i}-${'x'.repeat(i % 7)}`)

/** Writes `n` records (value `v<i>`, key one of SYMBOLS), waiting whenever the writer asks to. */
async function writeAll(writer: TopicWriter, n: number, prefix = 'v'): Promise<void> {
  for (let i = 0; i < n; i++) {
    const wait = writer.write(SYMBOLS[i % SYMBOLS.length], `${prefix}${i}`)
    if (wait !== undefined) await wait
  }
  await writer.close()
}

function sortedValues(records: ReadRecord[]): string[] {
  return records.map((r) => r.value as string).sort()
}

function expectedValues(n: number, prefix = 'v'): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`).sort()
}

/** Every key in one partition, the one Kafka's partitioner picks, and per key in write order. */
function checkPlacement(records: ReadRecord[], partitions: number, prefix = 'v'): void {
  const partitionOf = new Map<string, number>()
  const lastIndex = new Map<string, number>()
  for (const r of records) {
    const key = r.key as string
    const seen = partitionOf.get(key)
    if (seen === undefined) partitionOf.set(key, r.partition)
    else assert.equal(r.partition, seen, `key ${key} is in one partition`)
    assert.equal(r.partition, kafkaPartition(key, partitions), `key ${key} where Kafka's partitioner puts it`)
    const index = Number((r.value as string).slice(prefix.length))
    assert.ok(index > (lastIndex.get(key) ?? -1), `records of ${key} in write order`)
    lastIndex.set(key, index)
  }
  assert.equal(partitionOf.size, SYMBOLS.length)
}

test('TopicWriter lands exactly the records written, each key in the partition Kafka picks', async (t) => {
  const broker = await startTestBroker(t)
  const n = 20_000
  for (const partitions of [3, 4]) {
    const topic = `writer-${partitions}`
    await createTopic(broker, topic, partitions)
    const writer = new TopicWriter(busOf(broker.address), { topic, chunkSize: 1500 })
    await writeAll(writer, n)
    assert.equal(writer.acked, n)
    const offsets = await topicOffsets(broker.address, topic)
    assert.equal(
      offsets.reduce((a, o) => a + o.high - o.low, 0),
      n,
    )
    assert.ok(
      offsets.every((o) => o.high > 0),
      'every partition got some keys',
    )
    const records = await readTopic(broker.address, topic)
    assert.deepEqual(sortedValues(records), expectedValues(n))
    checkPlacement(records, partitions)
  }
})

test('TopicWriter writes one record, and a partial chunk on close', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'one', 2)
  const writer = new TopicWriter(busOf(broker.address), { topic: 'one' })
  assert.equal(writer.write('AAPL', Buffer.from('{"x":1}'), { h: 'v' }), undefined)
  assert.equal(writer.write(undefined, 'no key'), undefined)
  await writer.close()
  assert.equal(writer.acked, 2)
  const records = await readTopic(broker.address, 'one')
  assert.deepEqual(
    records.map((r) => [r.key, r.value]).sort((a, b) => (a[1] as string).localeCompare(b[1] as string)),
    [
      ['AAPL', '{"x":1}'],
      [null, 'no key'],
    ],
  )
  assert.equal(records.find((r) => r.key === 'AAPL')?.partition, kafkaPartition('AAPL', 2))
})

test('TopicWriter compresses, and the records read back the same', async (t) => {
  const broker = await startTestBroker(t)
  for (const compression of ['gzip', 'zstd'] as const) {
    const topic = `compressed-${compression}`
    await createTopic(broker, topic, 3)
    const writer = new TopicWriter(busOf(broker.address), { topic, compression, chunkSize: 700 })
    await writeAll(writer, 3000)
    assert.equal(writer.acked, 3000)
    const records = await readTopic(broker.address, topic)
    assert.deepEqual(sortedValues(records), expectedValues(3000))
    checkPlacement(records, 3)
  }
})

test('interrupted and retried produces do not duplicate: exactly N records land', async (t) => {
  let faults = false
  let produceResponses = 0
  const injected = { drop: 0, close: 0 }
  const broker = await startTestBroker(t, {
    hooks: {
      // The request's records are appended either way; the writer never hears so and retries the
      // chunk, which the broker must recognise by its producer id and sequence.
      beforeResponse: ({ apiKey }) => {
        if (!faults || apiKey !== 0) return
        produceResponses++
        if (produceResponses === 3) {
          injected.drop++
          return 'drop'
        }
        if (produceResponses % 3 === 1) {
          injected.close++
          return 'close'
        }
      },
    },
  })
  const topic = 'faulty'
  const n = 20_000
  await createTopic(broker, topic, 3)
  const writer = new TopicWriter(busOf(broker.address), { topic, chunkSize: 1000 })
  faults = true
  await writeAll(writer, n)
  faults = false
  assert.ok(injected.close >= 5 && injected.drop === 1, `faults injected: ${JSON.stringify(injected)}`)
  assert.equal(writer.acked, n)
  const offsets = await topicOffsets(broker.address, topic)
  assert.equal(
    offsets.reduce((a, o) => a + o.high - o.low, 0),
    n,
    'no duplicate was appended',
  )
  const records = await readTopic(broker.address, topic)
  assert.deepEqual(sortedValues(records), expectedValues(n))
  checkPlacement(records, 3)
})
