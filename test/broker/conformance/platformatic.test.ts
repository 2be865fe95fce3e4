/**
 * The conformance suite driven by @platformatic/kafka 2.x. Every codec is the client's own
 * (gzip and zstd from node:zlib, snappy and lz4 from its wasm helpers); idempotence, acks and
 * topic auto-creation are producer options; `consume` is a MessagesStream in MANUAL mode (explicit
 * start offsets, no committed offsets) and `joinGroup` a COMMITTED-mode stream with manual commits.
 */
import { randomUUID } from 'node:crypto'
import {
  Admin,
  Consumer,
  FetchIsolationLevels,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  Producer,
  ProduceAcks,
  stringDeserializers,
  stringSerializers,
  type GroupPartitionsAssigner,
  type Message,
  type MessagesStream,
} from '@platformatic/kafka'
import { conformanceSuite, type ConformanceClient, type ConsumedRecord, type ProduceOptions } from './suite.ts'

type StringMessage = Message<string, string, string, string>
type StringStream = MessagesStream<string, string, string, string>

/** Records per `send`: big enough to batch well, small enough to stay far below the request size limit. */
const SEND_CHUNK = 5000

let clients = 0
const base = (brokers: string) => ({
  clientId: `platformatic-conformance-${++clients}`,
  bootstrapBrokers: [brokers],
  // The suite drops connections and restarts the broker on purpose: retry often, not slowly.
  retryDelay: 200,
})

async function produce(o: ProduceOptions, autocreateTopics: boolean): Promise<void> {
  const producer = new Producer({
    ...base(o.brokers),
    serializers: stringSerializers,
    autocreateTopics,
    compression: o.compression ?? 'none',
    // An idempotent producer forces one request in flight and unlimited retries itself.
    idempotent: o.idempotent ?? false,
  })
  try {
    for (let i = 0; i < o.records.length; i += SEND_CHUNK) {
      await producer.send({
        // Per send: the client defaults to acks=1 whatever the constructor says.
        acks: o.acks ?? ProduceAcks.ALL,
        messages: o.records
          .slice(i, i + SEND_CHUNK)
          .map((r) => ({ topic: o.topic, key: r.key, value: r.value, partition: r.partition })),
      })
    }
  } finally {
    await producer.close()
  }
}

/** One transaction of a new transactional producer: send every record, then commit or abort. */
async function produceInTransaction(o: ProduceOptions & { transactionalId: string; commit: boolean }): Promise<void> {
  const producer = new Producer({
    ...base(o.brokers),
    serializers: stringSerializers,
    autocreateTopics: false,
    compression: o.compression ?? 'none',
    idempotent: true,
    transactionalId: o.transactionalId,
  })
  try {
    // Without an id and epoch given, the client presents producer 0 at epoch 0 in InitProducerId,
    // which a broker takes as a previous instance (KIP-360) and fences unless it matches. A new
    // instance presents none (-1/-1), as the Java client does.
    const transaction = await producer.beginTransaction({ producerId: -1n, producerEpoch: -1 })
    try {
      for (let i = 0; i < o.records.length; i += SEND_CHUNK) {
        await transaction.send({
          acks: ProduceAcks.ALL,
          messages: o.records
            .slice(i, i + SEND_CHUNK)
            .map((r) => ({ topic: o.topic, key: r.key, value: r.value, partition: r.partition })),
        })
      }
    } catch (err) {
      await transaction.abort()
      throw err
    }
    if (o.commit) await transaction.commit()
    else await transaction.abort()
  } finally {
    await producer.close()
  }
}

function toRecord(m: StringMessage): ConsumedRecord {
  return {
    partition: m.partition,
    offset: Number(m.offset),
    // The string deserializers map absent keys/values to undefined.
    key: m.key ?? null,
    value: m.value ?? null,
    timestamp: Number(m.timestamp),
  }
}

/** Never resolves; rejects with the stream's first error (to race against the reading). */
function streamError(stream: StringStream): Promise<never> {
  return new Promise((_, reject) => stream.once('error', reject))
}

/** Whether the consumer's current group assignment includes the partition. */
function owns(consumer: Consumer<string, string, string, string>, topic: string, partition: number): boolean {
  return consumer.assignments?.some((a) => a.topic === topic && a.partitions.includes(partition)) ?? false
}

const client: ConformanceClient = {
  name: 'platformatic',
  compressions: ['none', 'gzip', 'snappy', 'lz4', 'zstd'],

  produce: (o) => produce(o, false),
  produceToNewTopic: (o) => produce(o, true),
  produceInTransaction,

  async consume(o) {
    // A MessagesStream always belongs to a group member, so this reader is the only member of a
    // throwaway group. The assigner gives it exactly the requested partitions, MANUAL mode starts
    // them at the requested offsets, and nothing is ever committed.
    const partitions = o.start.map((s) => s.partition)
    const assigner: GroupPartitionsAssigner = (current) => [
      { memberId: current, assignments: new Map([[o.topic, { topic: o.topic, partitions }]]) },
    ]
    const consumer = new Consumer({
      ...base(o.brokers),
      groupId: `platformatic-reader-${randomUUID()}`,
      deserializers: stringDeserializers,
      autocommit: false,
      maxWaitTime: o.maxWaitMs ?? 500,
      partitionAssigner: assigner,
      // read_committed (the client's default, set for the record): aborted records and markers are dropped.
      isolationLevel: FetchIsolationLevels.READ_COMMITTED,
    })
    const got: ConsumedRecord[] = []
    try {
      const stream = await consumer.consume({
        topics: [o.topic],
        mode: MessagesStreamModes.MANUAL,
        offsets: o.start.map((s) => ({ topic: o.topic, partition: s.partition, offset: BigInt(s.offset) })),
        autocommit: false,
      })
      try {
        await Promise.race([
          streamError(stream),
          new Promise<void>((resolve) => {
            stream.on('data', (m: StringMessage) => {
              if (got.length >= o.count) return
              got.push(toRecord(m))
              if (got.length >= o.count) resolve()
            })
          }),
        ])
      } finally {
        await stream.close()
      }
    } finally {
      await consumer.close()
    }
    return got
  },

  async joinGroup(o) {
    const consumer = new Consumer({
      ...base(o.brokers),
      groupId: o.groupId,
      deserializers: stringDeserializers,
      autocommit: false,
      maxWaitTime: 500,
      // Members learn about a rebalance from their heartbeat: keep that short so joins and leaves settle quickly.
      heartbeatInterval: 500,
    })
    const stream = await consumer.consume({
      topics: [o.topic],
      mode: MessagesStreamModes.COMMITTED,
      fallbackMode: MessagesStreamFallbackModes.EARLIEST,
      autocommit: false,
    })
    let failure: Error | undefined
    stream.once('error', (err: Error) => (failure = err))
    // The commit of the last processed record of each partition; the client coalesces the
    // per-record commits into one in-flight OffsetCommit per stream.
    const lastCommits = new Map<number, Promise<void>>()
    let leaving = false
    stream.on('data', (m: StringMessage) => {
      // After a rebalance, a fetch sent before it can still deliver partitions now owned by
      // another member: processing (and committing) those would move that member's offsets back.
      if (leaving || !owns(consumer, o.topic, m.partition)) return
      o.onRecord(toRecord(m))
      const committing = m.commit() as Promise<void>
      // Awaited by leave() for the partitions still owned; a failure of any other is not ours to report.
      committing.catch(() => {})
      lastCommits.set(m.partition, committing)
    })
    return {
      async leave() {
        leaving = true
        try {
          if (failure) throw failure
          const owned = [...lastCommits].filter(([partition]) => owns(consumer, o.topic, partition))
          await Promise.all(owned.map(([, committing]) => committing))
          await stream.close()
        } finally {
          // Closing the consumer sends LeaveGroup.
          await consumer.close(true)
        }
      },
    }
  },

  async offsetForTimestamp(o) {
    const admin = new Admin(base(o.brokers))
    try {
      const topics = await admin.listOffsets({
        topics: [{ name: o.topic, partitions: [{ partitionIndex: o.partition, timestamp: BigInt(o.timestamp) }] }],
      })
      const listed = topics.find((t) => t.name === o.topic)?.partitions.find((p) => p.partitionIndex === o.partition)
      if (!listed) throw new Error(`ListOffsets returned no offset for ${o.topic}-${o.partition}`)
      return Number(listed.offset)
    } finally {
      await admin.close()
    }
  },
}

conformanceSuite(client)
