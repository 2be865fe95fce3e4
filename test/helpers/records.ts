/**
 * Reading a topic back with KafkaJS including what {@link readTopic} leaves out: each record's
 * broker timestamp and headers (dead letters carry their reason and source there).
 */
import kafkajs from 'kafkajs'
import { topicOffsets, type ReadRecord } from './cli.ts'

const { Kafka, logLevel } = kafkajs
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

/** One record as read back, with its timestamp (epoch ms) and headers as text. */
export interface FullRecord extends ReadRecord {
  timestamp: number
  headers: Record<string, string>
}

let readers = 0

/**
 * Every record of `topic` up to the end offsets seen first (a throwaway KafkaJS consumer group
 * reading from the beginning), sorted by partition and offset.
 */
export async function readRecords(address: string, topic: string): Promise<FullRecord[]> {
  const bounds = await topicOffsets(address, topic)
  const remaining = new Map(bounds.filter((b) => b.high > b.low).map((b) => [b.partition, b.high]))
  const got: FullRecord[] = []
  if (remaining.size === 0) return got
  const consumer = new Kafka({
    brokers: [address],
    clientId: `records-test-${process.pid}-${++readers}`,
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  }).consumer({ groupId: `records-test-reader-${process.pid}-${++readers}`, maxWaitTimeInMs: 100 })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = remaining.get(batch.partition)
            if (end === undefined) return
            for (const m of batch.messages) {
              const offset = Number(m.offset)
              if (offset >= end) break
              const headers: Record<string, string> = {}
              for (const [k, v] of Object.entries(m.headers ?? {})) {
                if (v !== undefined) headers[k] = (Array.isArray(v) ? v[0] : v).toString()
              }
              got.push({
                partition: batch.partition,
                offset,
                key: m.key?.toString('utf8') ?? null,
                value: m.value?.toString('utf8') ?? null,
                timestamp: Number(m.timestamp),
                headers,
              })
              if (offset === end - 1) remaining.delete(batch.partition)
            }
            if (remaining.size === 0) resolve()
          },
        })
        .catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
  return got.sort((a, b) => a.partition - b.partition || a.offset - b.offset)
}

/** The names of the topics on the cluster at `address`, sorted. */
export async function listTopics(address: string): Promise<string[]> {
  const admin = new Kafka({
    brokers: [address],
    clientId: `records-test-${process.pid}-${++readers}`,
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  }).admin()
  await admin.connect()
  try {
    return (await admin.listTopics()).sort()
  } finally {
    await admin.disconnect()
  }
}
