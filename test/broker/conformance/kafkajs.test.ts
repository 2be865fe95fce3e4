/**
 * The conformance suite driven by KafkaJS 2.2.4. KafkaJS compresses with gzip itself and takes
 * other codecs as plugins: snappy and lz4 come from @platformatic/wasm-utils (Rust's snap and
 * lz4_flex), zstd from node:zlib — implementations independent of the broker's.
 */
import zlib from 'node:zlib'
import { lz4Compress, lz4Decompress, snappyCompress, snappyDecompress } from '@platformatic/wasm-utils'
import kafkajs, { type Consumer } from 'kafkajs'
import { conformanceSuite, type ConformanceClient, type ConsumedRecord, type ProduceOptions } from './suite.ts'

const { CompressionCodecs, CompressionTypes, Kafka, logLevel } = kafkajs
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

const codec = (compress: (b: Buffer) => Buffer, decompress: (b: Buffer) => Buffer) => () => ({
  compress: async (encoder: { buffer: Buffer }) => Buffer.from(compress(encoder.buffer)),
  decompress: async (buffer: Buffer) => Buffer.from(decompress(buffer)),
})
CompressionCodecs[CompressionTypes.Snappy] = codec(snappyCompress, snappyDecompress)
CompressionCodecs[CompressionTypes.LZ4] = codec(lz4Compress, lz4Decompress)
CompressionCodecs[CompressionTypes.ZSTD] = codec(zlib.zstdCompressSync, zlib.zstdDecompressSync)

const TYPES = {
  none: CompressionTypes.None,
  gzip: CompressionTypes.GZIP,
  snappy: CompressionTypes.Snappy,
  lz4: CompressionTypes.LZ4,
  zstd: CompressionTypes.ZSTD,
} as const

let clients = 0
const kafka = (brokers: string) =>
  new Kafka({
    brokers: [brokers],
    clientId: `kafkajs-conformance-${++clients}`,
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  })

async function produce(o: ProduceOptions, allowAutoTopicCreation: boolean): Promise<void> {
  const producer = kafka(o.brokers).producer({
    idempotent: o.idempotent ?? false,
    maxInFlightRequests: o.idempotent ? 1 : undefined,
    allowAutoTopicCreation,
  })
  await producer.connect()
  try {
    for (let i = 0; i < o.records.length; i += 5000) {
      await producer.send({
        topic: o.topic,
        acks: o.acks ?? -1,
        compression: TYPES[o.compression ?? 'none'],
        messages: o.records.slice(i, i + 5000).map((r) => ({ key: r.key, value: r.value, partition: r.partition })),
      })
    }
  } finally {
    await producer.disconnect()
  }
}

/** One transaction of a new transactional producer: send every record, then commit or abort. */
async function produceInTransaction(o: ProduceOptions & { transactionalId: string; commit: boolean }): Promise<void> {
  const producer = kafka(o.brokers).producer({
    transactionalId: o.transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  })
  // connect() sends InitProducerId for the transactional id.
  await producer.connect()
  try {
    const transaction = await producer.transaction()
    try {
      for (let i = 0; i < o.records.length; i += 5000) {
        await transaction.send({
          topic: o.topic,
          compression: TYPES[o.compression ?? 'none'],
          messages: o.records.slice(i, i + 5000).map((r) => ({ key: r.key, value: r.value, partition: r.partition })),
        })
      }
    } catch (err) {
      await transaction.abort()
      throw err
    }
    if (o.commit) await transaction.commit()
    else await transaction.abort()
  } finally {
    await producer.disconnect()
  }
}

function toRecord(
  partition: number,
  m: { offset: string; key: Buffer | null; value: Buffer | null; timestamp: string },
): ConsumedRecord {
  return {
    partition,
    offset: Number(m.offset),
    key: m.key?.toString() ?? null,
    value: m.value?.toString() ?? null,
    timestamp: Number(m.timestamp),
  }
}

const client: ConformanceClient = {
  name: 'kafkajs',
  compressions: ['none', 'gzip', 'snappy', 'lz4', 'zstd'],

  produce: (o) => produce(o, false),
  produceToNewTopic: (o) => produce(o, true),
  produceInTransaction,

  async consume(o) {
    // KafkaJS reads through a consumer group only: use a throwaway group and seek each partition.
    const consumer = kafka(o.brokers).consumer({
      groupId: `kafkajs-reader-${Date.now()}-${Math.random()}`,
      maxWaitTimeInMs: o.maxWaitMs ?? 500,
      // read_committed (KafkaJS's default, set for the record): aborted records and markers are dropped.
      readUncommitted: false,
    })
    const wanted = new Map(o.start.map((s) => [s.partition, s.offset]))
    const got: ConsumedRecord[] = []
    await consumer.connect()
    try {
      await consumer.subscribe({ topic: o.topic, fromBeginning: true })
      await new Promise<void>((resolve, reject) => {
        consumer
          .run({
            autoCommit: false,
            eachMessage: async ({ partition, message }) => {
              const from = wanted.get(partition)
              if (from === undefined || Number(message.offset) < from) return
              got.push(toRecord(partition, message))
              if (got.length >= o.count) resolve()
            },
          })
          .catch(reject)
        for (const [partition, offset] of wanted) consumer.seek({ topic: o.topic, partition, offset: String(offset) })
      })
    } finally {
      await consumer.disconnect()
    }
    return got
  },

  async joinGroup(o) {
    const consumer: Consumer = kafka(o.brokers).consumer({ groupId: o.groupId, maxWaitTimeInMs: 500 })
    await consumer.connect()
    await consumer.subscribe({ topic: o.topic, fromBeginning: true })
    await consumer.run({
      autoCommit: false,
      eachBatch: async ({ batch, heartbeat, isRunning }) => {
        let last = -1
        for (const m of batch.messages) {
          if (!isRunning()) break
          o.onRecord(toRecord(batch.partition, m))
          last = Number(m.offset)
        }
        // Commit exactly what was processed before asking for more.
        if (last >= 0) {
          await consumer.commitOffsets([{ topic: o.topic, partition: batch.partition, offset: String(last + 1) }])
        }
        await heartbeat()
      },
    })
    return { leave: () => consumer.disconnect() }
  },

  async offsetForTimestamp(o) {
    const admin = kafka(o.brokers).admin()
    await admin.connect()
    try {
      const offsets = await admin.fetchTopicOffsetsByTimestamp(o.topic, o.timestamp)
      return Number(offsets.find((p) => p.partition === o.partition)?.offset)
    } finally {
      await admin.disconnect()
    }
  },
}

conformanceSuite(client)
