/**
 * Live readers for the transaction conformance tests: a KafkaJS and a @platformatic/kafka consumer
 * that read one topic from its first offset at an isolation level and keep reading, so that a test
 * can check what they have seen after each step of a scenario.
 *
 * "Has seen exactly these records" needs to know that the reader is caught up, without waiting for
 * some time: {@link ResponseLog} counts the broker's Fetch responses per client id (a broker hook), and {@link expectRecords} waits, once the reader has as many records as expected, until it
 * got two more Fetch responses. Both clients send the next fetch of a partition only after the
 * records of the previous one were delivered (KafkaJS drains its worker queue first; platformatic
 * pushes them into its stream before it fetches again), so by then every record the broker
 * returned before that point has been delivered, and an extra one would show.
 */
import assert from 'node:assert/strict'
import { randomUUID } from 'node:crypto'
import {
  Consumer,
  FetchIsolationLevels,
  MessagesStreamModes,
  stringDeserializers,
  type GroupPartitionsAssigner,
  type Message,
} from '@platformatic/kafka'
import kafkajs from 'kafkajs'
import type { BrokerHooks } from '../../src/broker/config.ts'
import { eventually } from './broker.ts'
import type { Isolation } from './txn-kcat.ts'

const { Kafka, logLevel } = kafkajs

/** One record as a reader got it. */
export interface ReadRecord {
  partition: number
  offset: number
  value: string | null
}

export interface LiveReader {
  /** For assertion messages, e.g. "kafkajs read_committed". */
  name: string
  clientId: string
  /** Every record delivered so far, in delivery order. */
  records: ReadRecord[]
  /** The reader's first error (a consumer crash or a stream error), if any. */
  failure: Error | undefined
  close(): Promise<void>
}

const FETCH = 1

/**
 * What the broker answered to each client (a broker hook): how many Fetch responses each client id
 * got, and which version of each API clients used.
 */
export class ResponseLog {
  private readonly fetchCounts = new Map<string, number>()
  /** apiKey -> clientId -> versions. */
  private readonly seen = new Map<number, Map<string, Set<number>>>()

  /** The broker hooks to start the broker with. */
  readonly hooks: BrokerHooks = {
    beforeResponse: ({ apiKey, apiVersion, clientId }) => {
      if (clientId === null) return
      if (apiKey === FETCH) this.fetchCounts.set(clientId, (this.fetchCounts.get(clientId) ?? 0) + 1)
      let byClient = this.seen.get(apiKey)
      if (byClient === undefined) this.seen.set(apiKey, (byClient = new Map()))
      let versions = byClient.get(clientId)
      if (versions === undefined) byClient.set(clientId, (versions = new Set()))
      versions.add(apiVersion)
    },
  }

  /** Fetch responses sent to the client so far. */
  fetches(clientId: string): number {
    return this.fetchCounts.get(clientId) ?? 0
  }

  /** The versions of `apiKey` answered to clients whose id starts with `prefix`, ascending. */
  versions(apiKey: number, prefix: string): number[] {
    const all = new Set<number>()
    for (const [clientId, versions] of this.seen.get(apiKey) ?? []) {
      if (clientId.startsWith(prefix)) for (const v of versions) all.add(v)
    }
    return [...all].sort((a, b) => a - b)
  }
}

/** Short long-polls: a caught-up reader gets a Fetch response at least this often. */
const MAX_WAIT_MS = 100

let readers = 0

/**
 * A KafkaJS consumer of every partition of `topic` from the start, in a group of its own (KafkaJS
 * reads through groups only), committing nothing.
 */
export async function startKafkaJsReader(o: {
  brokers: string
  topic: string
  isolation: Isolation
}): Promise<LiveReader> {
  const clientId = `kafkajs-txn-reader-${++readers}`
  const kafka = new Kafka({ brokers: [o.brokers], clientId, logLevel: logLevel.NOTHING })
  const consumer = kafka.consumer({
    groupId: `kafkajs-txn-reader-${randomUUID()}`,
    maxWaitTimeInMs: MAX_WAIT_MS,
    readUncommitted: o.isolation === 'read_uncommitted',
  })
  const reader: LiveReader = {
    name: `kafkajs ${o.isolation}`,
    clientId,
    records: [],
    failure: undefined,
    close: () => consumer.disconnect(),
  }
  consumer.on(consumer.events.CRASH, (e) => (reader.failure ??= e.payload.error))
  await consumer.connect()
  await consumer.subscribe({ topic: o.topic, fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachMessage: async ({ partition, message }) => {
      reader.records.push({ partition, offset: Number(message.offset), value: message.value?.toString() ?? null })
    },
  })
  return reader
}

/**
 * A @platformatic/kafka consumer of the partitions of `topic` from offset 0: a MessagesStream in
 * MANUAL mode, the only member of a throwaway group whose assigner hands it those partitions.
 */
export async function startPlatformaticReader(o: {
  brokers: string
  topic: string
  partitions: number[]
  isolation: Isolation
}): Promise<LiveReader> {
  const clientId = `platformatic-txn-reader-${++readers}`
  const assigner: GroupPartitionsAssigner = (current) => [
    { memberId: current, assignments: new Map([[o.topic, { topic: o.topic, partitions: o.partitions }]]) },
  ]
  const consumer = new Consumer({
    clientId,
    bootstrapBrokers: [o.brokers],
    groupId: `platformatic-txn-reader-${randomUUID()}`,
    deserializers: stringDeserializers,
    autocommit: false,
    maxWaitTime: MAX_WAIT_MS,
    partitionAssigner: assigner,
    isolationLevel:
      o.isolation === 'read_committed' ? FetchIsolationLevels.READ_COMMITTED : FetchIsolationLevels.READ_UNCOMMITTED,
  })
  const stream = await consumer.consume({
    topics: [o.topic],
    mode: MessagesStreamModes.MANUAL,
    offsets: o.partitions.map((partition) => ({ topic: o.topic, partition, offset: 0n })),
    autocommit: false,
  })
  const reader: LiveReader = {
    name: `platformatic ${o.isolation}`,
    clientId,
    records: [],
    failure: undefined,
    async close() {
      try {
        await stream.close()
      } finally {
        await consumer.close(true)
      }
    },
  }
  stream.on('error', (err: Error) => (reader.failure ??= err))
  stream.on('data', (m: Message<string, string, string, string>) => {
    reader.records.push({ partition: m.partition, offset: Number(m.offset), value: m.value ?? null })
  })
  return reader
}

/**
 * Asserts that the reader, caught up, has seen exactly `expected[p]` in partition p (values, in
 * order, offsets increasing). Waits for the count, then for two more Fetch responses to the reader.
 */
export async function expectRecords(
  reader: LiveReader,
  responses: ResponseLog,
  expected: ReadonlyArray<readonly string[]>,
): Promise<void> {
  const total = expected.reduce((n, values) => n + values.length, 0)
  const seen = () => expected.map((_, p) => reader.records.filter((r) => r.partition === p))
  await eventually(
    () => reader.failure !== undefined || reader.records.length >= total,
    30_000,
    `${reader.name} to receive ${total} records (has ${JSON.stringify(reader.records)})`,
  )
  if (reader.failure) throw reader.failure
  const mark = responses.fetches(reader.clientId)
  await eventually(() => responses.fetches(reader.clientId) >= mark + 2, 30_000, `${reader.name} to fetch again`)
  if (reader.failure) throw reader.failure
  assert.equal(reader.records.length, total, `${reader.name}: no record beyond the expected ones`)
  seen().forEach((records, p) => {
    assert.deepEqual(
      records.map((r) => r.value),
      expected[p],
      `${reader.name} sees exactly these records in partition ${p}`,
    )
    const offsets = records.map((r) => r.offset)
    assert.deepEqual(
      offsets,
      [...offsets].sort((a, b) => a - b),
      `${reader.name} gets the offsets of partition ${p} in order`,
    )
  })
}
