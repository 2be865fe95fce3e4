/**
 * Transactions through real clients, beyond what the per-client conformance suite checks (whole
 * transactions committed or aborted, then read back): KafkaJS 2.2.4 and @platformatic/kafka
 * transactional producers and consumers and kcat (librdkafka) readers against the broker over TCP.
 *
 * - consume-transform-produce exactly once: the input offsets travel in the transaction
 *   (AddOffsetsToTxn + TxnOffsetCommit) and become the group's committed offsets only when it
 *   commits; an aborted transaction leaves neither outputs (for read_committed readers) nor offsets;
 * - fencing: a second producer with the same transactional id aborts the first one's open
 *   transaction, and every later request of the first fails with the error each client gets for
 *   its request versions, as Kafka answers (Produce: INVALID_PRODUCER_EPOCH; InitProducerId v4+,
 *   AddPartitionsToTxn, AddOffsetsToTxn and EndTxn v2+: PRODUCER_FENCED, older versions
 *   INVALID_PRODUCER_EPOCH — KafkaJS speaks the older versions, platformatic the newer ones);
 * - read_committed readers of a partition holding committed, aborted, open and non-transactional
 *   records of two producers stop at the open transaction's first offset, see it once it commits
 *   and never once it aborts, while read_uncommitted readers see every record;
 * - a transaction open longer than the producer's transaction timeout is aborted by the broker
 *   and its producer fenced.
 */
import assert from 'node:assert/strict'
import { describe, test, type TestContext } from 'node:test'
import {
  Admin,
  Consumer,
  MessagesStreamFallbackModes,
  MessagesStreamModes,
  Producer as PlatformaticProducer,
  findErrorBy,
  stringDeserializers,
  stringSerializers,
  type Message,
} from '@platformatic/kafka'
import kafkajs, { type Producer as KafkaJsProducer } from 'kafkajs'
import type { Broker } from '../../../src/broker/index.ts'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { readOffsetFetchResponse, writeOffsetFetchRequest } from '../../../src/protocol/messages/index.ts'
import { createTopic, produceRaw } from '../../helpers/admin.ts'
import { eventually, startTestBroker } from '../../helpers/broker.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { connect, fetchOne } from '../../helpers/wire.ts'
import { kcatRead, type Isolation } from '../../helpers/txn-kcat.ts'
import {
  expectRecords,
  ResponseLog,
  startKafkaJsReader,
  startPlatformaticReader,
  type LiveReader,
} from '../../helpers/txn-readers.ts'
import { logEntries, markerProducers } from '../../helpers/txn-wire.ts'

const { Kafka, KafkaJSProtocolError, logLevel } = kafkajs
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

type StringMessage = Message<string, string, string, string>
type StringProducer = PlatformaticProducer<string, string, string, string>

// ------------------------------------------------------------------------------------------------
// Fixture: a broker logging what it answers to each client (for the readers, and the API versions
// clients use), a raw connection, and clients closed after the test while the broker still answers.

interface Fixture {
  broker: Broker
  brokers: string
  /** What the broker answered to each client: Fetch responses (for the readers), API versions. */
  responses: ResponseLog
  raw: RawClient
  /** Closes a client after the test (last deferred, first closed), before the broker closes. */
  defer(close: () => Promise<unknown>): void
}

async function setup(t: TestContext): Promise<Fixture> {
  const closers: Array<() => Promise<unknown>> = []
  // Registered before the broker's own hook: after hooks run in order, so clients leave first.
  t.after(async () => {
    for (const close of closers.reverse()) await close().catch(() => {})
  })
  const responses = new ResponseLog()
  const broker = await startTestBroker(t, { hooks: responses.hooks })
  const raw = await connect(t, broker)
  return { broker, brokers: broker.address, responses, raw, defer: (close) => closers.push(close) }
}

let clients = 0

const kafka = (brokers: string) =>
  new Kafka({
    brokers: [brokers],
    clientId: `kafkajs-txn-${++clients}`,
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  })

/** A connected KafkaJS transactional producer (KafkaJS sends InitProducerId at its first transaction). */
async function kafkajsProducer(
  f: Fixture,
  transactionalId: string,
  transactionTimeout?: number,
): Promise<KafkaJsProducer> {
  const producer = kafka(f.brokers).producer({
    transactionalId,
    transactionTimeout,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  })
  await producer.connect()
  f.defer(() => producer.disconnect())
  return producer
}

/**
 * A @platformatic/kafka transactional producer. Its `timeout` option (the request timeout) is also
 * the transaction timeout it asks for in InitProducerId.
 */
function platformaticProducer(f: Fixture, transactionalId: string, timeout?: number): StringProducer {
  const producer = new PlatformaticProducer({
    clientId: `platformatic-txn-${++clients}`,
    bootstrapBrokers: [f.brokers],
    serializers: stringSerializers,
    autocreateTopics: false,
    idempotent: true,
    transactionalId,
    retryDelay: 200,
    ...(timeout === undefined ? {} : { timeout }),
  })
  f.defer(() => producer.close())
  return producer
}

/**
 * What a new platformatic instance presents in InitProducerId: no previous id and epoch (without
 * it the client presents producer 0 at epoch 0, which KIP-360 takes for a stale incarnation).
 * Only used by the first transaction of a producer; later ones keep the id and epoch.
 */
const NEW_INSTANCE = { producerId: -1n, producerEpoch: -1 }

/** The transactional id's state at the coordinator. */
function txnState(f: Fixture, transactionalId: string) {
  const state = f.broker.context.transactions.describe(transactionalId)
  assert.ok(state, `the coordinator knows ${transactionalId}`)
  return state
}

function partitionOf(f: Fixture, topic: string, partition: number) {
  const p = f.broker.context.topics.getPartition(topic, partition)
  assert.ok(p, `partition ${topic}-${partition} exists`)
  return p
}

/** A partition's whole log, read_uncommitted: records as `value@offset`, markers as `COMMIT@offset`/`ABORT@offset`. */
async function logOf(f: Fixture, topic: string, partition: number): Promise<string[]> {
  return logEntries((await fetchOne(f.raw, 12, { topic, partition, offset: 0 })).records)
}

/** The producer id and epoch of every marker in a partition. */
async function markersOf(f: Fixture, topic: string, partition: number) {
  return markerProducers((await fetchOne(f.raw, 12, { topic, partition, offset: 0 })).records)
}

/** The values kcat reads from a partition at `isolation`, from the start to the end. */
async function kcatValues(f: Fixture, topic: string, partition: number, isolation: Isolation): Promise<string[]> {
  const records = await kcatRead({ brokers: f.brokers, topic, partition, isolation })
  return records.map((r) => {
    assert.equal(r.partition, partition)
    return r.value ?? '<null>'
  })
}

/** A group's committed offset of a partition, as OffsetFetch v7 answers with and without require_stable. */
interface OffsetView {
  offset: number
  /** The partition's error with require_stable: UNSTABLE_OFFSET_COMMIT while a transaction holds an offset. */
  stableError: number
}

async function offsetView(f: Fixture, groupId: string, topic: string, partition: number): Promise<OffsetView> {
  const ask = async (requireStable: boolean) => {
    const res = await f.raw.request(9, 7, writeOffsetFetchRequest, readOffsetFetchResponse, {
      groupId,
      topics: [{ name: topic, partitionIndexes: [partition] }],
      requireStable,
    })
    assert.equal(res.errorCode, KafkaError.NONE, 'OffsetFetch')
    const p = res.topics[0].partitions[0]
    return { offset: Number(p.committedOffset), errorCode: p.errorCode }
  }
  const plain = await ask(false)
  assert.equal(plain.errorCode, KafkaError.NONE, 'OffsetFetch without require_stable always answers')
  return { offset: plain.offset, stableError: (await ask(true)).errorCode }
}

// ------------------------------------------------------------------------------------------------
// Error matchers: the error each client surfaces, and the Kafka code it carries.

/** KafkaJS surfaces a broker error as a KafkaJSProtocolError with the error's name and code. */
function kafkajsError(type: string, code: number): (err: unknown) => boolean {
  return (err) => {
    assert.ok(err instanceof KafkaJSProtocolError, `a KafkaJSProtocolError, got ${String(err)}`)
    assert.deepEqual([err.type, err.code, err.retriable], [type, code, false])
    return true
  }
}

/** platformatic surfaces a broker error as a ProtocolError (possibly inside aggregate errors). */
function platformaticError(apiId: string, apiCode: number): (err: unknown) => boolean {
  return (err) => {
    const found = findErrorBy(err as Error, 'apiId', apiId)
    assert.ok(found, `a ProtocolError ${apiId}, got ${String(err)}`)
    assert.deepEqual([found.code, found.apiCode, found.canRetry], ['PLT_KFK_PROTOCOL', apiCode, false])
    return true
  }
}

// ------------------------------------------------------------------------------------------------
// Consume-transform-produce.

const CTP_IN = 'ctp-in'
const CTP_OUT = 'ctp-out'
const CTP_PARTITIONS = [0, 1]

const transform = (value: string | null | undefined): string => `out(${value ?? '<null>'})`

/** One transaction of a processor: the input offsets [from, to) of one partition. */
interface ProcessedTxn {
  partition: number
  from: number
  to: number
  committed: boolean
  /** The group's offset of the partition once the offsets were sent, before the transaction ended. */
  pending: OffsetView
  /** ... and once it ended. */
  ended: OffsetView
  /** The client's admin view of the group's offsets while the transaction was pending, when asked for. */
  pendingAdmin?: number[]
}

interface ProcessorOptions {
  groupId: string
  /** Abort the first transaction and stop, or commit every one. */
  abortFirst: boolean
  /** Until the processed input reaches these end offsets (ignored with abortFirst). */
  ends: number[]
  /** Asks the client's admin API for the group's offsets while each transaction is pending. */
  pendingAdmin?: () => Promise<number[]>
}

/** Appends `count` input records to each input partition, and their values to `input[partition]`. */
async function produceInput(f: Fixture, input: string[][], prefix: string, count: number): Promise<void> {
  for (const p of CTP_PARTITIONS) {
    const start = input[p].length
    const values = Array.from({ length: count }, (_, i) => `${prefix}-p${p}-${start + i}`)
    await produceRaw(f.broker, CTP_IN, p, [values.map((value, i) => ({ key: `k${start + i}`, value }))])
    input[p].push(...values)
  }
}

/** Whether the committed transactions reach the end offsets of every input partition. */
function reachedEnds(txns: ProcessedTxn[], ends: number[]): boolean {
  return CTP_PARTITIONS.every((p) => txns.some((x) => x.committed && x.partition === p && x.to === ends[p]))
}

/**
 * KafkaJS processor: a consumer group member; each batch becomes one transaction of `producer`
 * with the transformed records (same partition of the output topic) and, through
 * `transaction.sendOffsets`, the batch's next input offset.
 */
async function kafkajsProcessor(f: Fixture, producer: KafkaJsProducer, o: ProcessorOptions): Promise<ProcessedTxn[]> {
  const consumer = kafka(f.brokers).consumer({ groupId: o.groupId, maxWaitTimeInMs: 100 })
  f.defer(() => consumer.disconnect())
  const txns: ProcessedTxn[] = []
  let failure: unknown
  let stopped = false
  await consumer.connect()
  await consumer.subscribe({ topic: CTP_IN, fromBeginning: true })
  await consumer.run({
    autoCommit: false,
    eachBatchAutoResolve: false,
    eachBatch: async ({ batch, resolveOffset, heartbeat }) => {
      if (stopped || batch.messages.length === 0) return
      try {
        const partition = batch.partition
        const from = Number(batch.messages[0].offset)
        const to = Number(batch.messages[batch.messages.length - 1].offset) + 1
        const transaction = await producer.transaction()
        await transaction.send({
          topic: CTP_OUT,
          messages: batch.messages.map((m) => ({ partition, key: m.key, value: transform(m.value?.toString()) })),
        })
        await transaction.sendOffsets({
          consumerGroupId: o.groupId,
          topics: [{ topic: CTP_IN, partitions: [{ partition, offset: String(to) }] }],
        })
        const pending = await offsetView(f, o.groupId, CTP_IN, partition)
        const pendingAdmin = await o.pendingAdmin?.()
        if (o.abortFirst) await transaction.abort()
        else await transaction.commit()
        const ended = await offsetView(f, o.groupId, CTP_IN, partition)
        txns.push({ partition, from, to, committed: !o.abortFirst, pending, ended, pendingAdmin })
        if (o.abortFirst) stopped = true
        else for (const m of batch.messages) resolveOffset(m.offset)
        await heartbeat()
      } catch (err) {
        failure ??= err
        stopped = true
      }
    },
  })
  await eventually(
    () => failure !== undefined || (o.abortFirst ? txns.length > 0 : reachedEnds(txns, o.ends)),
    30_000,
    'the KafkaJS processor',
  )
  stopped = true
  await consumer.disconnect()
  if (failure !== undefined) throw failure
  return txns
}

/**
 * platformatic processor: a consumer group member (a MessagesStream from the committed offsets);
 * each message becomes one transaction of `producer`: `addConsumer` (AddOffsetsToTxn), the
 * transformed record, and `addOffset` (TxnOffsetCommit with the member's generation).
 */
async function platformaticProcessor(
  f: Fixture,
  producer: StringProducer,
  o: ProcessorOptions,
): Promise<ProcessedTxn[]> {
  const consumer = new Consumer({
    clientId: `platformatic-txn-${++clients}`,
    bootstrapBrokers: [f.brokers],
    groupId: o.groupId,
    deserializers: stringDeserializers,
    autocommit: false,
    maxWaitTime: 100,
    heartbeatInterval: 500,
  })
  f.defer(() => consumer.close(true))
  const stream = await consumer.consume({
    topics: [CTP_IN],
    mode: MessagesStreamModes.COMMITTED,
    fallbackMode: MessagesStreamFallbackModes.EARLIEST,
    autocommit: false,
  })
  const txns: ProcessedTxn[] = []
  let failure: unknown
  let stopped = false
  let processing = Promise.resolve()
  stream.on('error', (err: Error) => (failure ??= err))
  // One message at a time, in order.
  stream.on('data', (m: StringMessage) => {
    processing = processing.then(async () => {
      if (stopped) return
      try {
        const offset = Number(m.offset)
        const transaction = await producer.beginTransaction(NEW_INSTANCE)
        await transaction.addConsumer(consumer)
        await transaction.send({
          messages: [{ topic: CTP_OUT, partition: m.partition, key: m.key, value: transform(m.value) }],
        })
        await transaction.addOffset(m)
        const pending = await offsetView(f, o.groupId, CTP_IN, m.partition)
        const pendingAdmin = await o.pendingAdmin?.()
        if (o.abortFirst) await transaction.abort()
        else await transaction.commit()
        const ended = await offsetView(f, o.groupId, CTP_IN, m.partition)
        txns.push({
          partition: m.partition,
          from: offset,
          to: offset + 1,
          committed: !o.abortFirst,
          pending,
          ended,
          pendingAdmin,
        })
        if (o.abortFirst) stopped = true
      } catch (err) {
        failure ??= err
        stopped = true
      }
    })
  })
  await eventually(
    () => failure !== undefined || (o.abortFirst ? txns.length > 0 : reachedEnds(txns, o.ends)),
    30_000,
    'the platformatic processor',
  )
  stopped = true
  await processing
  await stream.close()
  await consumer.close(true)
  if (failure !== undefined) throw failure
  return txns
}

/** Checks the transactions of one processor run against the committed offsets before it. */
function checkTxns(txns: ProcessedTxn[], committedBefore: number[], firstOffsets: number[] | undefined): void {
  const committed = [...committedBefore]
  for (const x of txns) {
    const what = `transaction of ${CTP_IN}-${x.partition} [${x.from}, ${x.to})`
    assert.equal(
      x.from,
      committed[x.partition] < 0 ? 0 : committed[x.partition],
      `${what} starts where the last commit ended`,
    )
    assert.deepEqual(
      x.pending,
      { offset: committed[x.partition], stableError: KafkaError.UNSTABLE_OFFSET_COMMIT },
      `${what}: the sent offset is not committed before EndTxn, and require_stable reports it pending`,
    )
    if (x.pendingAdmin !== undefined) {
      assert.deepEqual(x.pendingAdmin, committed, `${what}: the client's admin API does not report it either`)
    }
    if (x.committed) committed[x.partition] = x.to
    assert.deepEqual(
      x.ended,
      { offset: committed[x.partition], stableError: KafkaError.NONE },
      x.committed ? `${what}: committed with the transaction` : `${what}: the abort dropped the offset`,
    )
  }
  if (firstOffsets !== undefined) {
    for (const p of CTP_PARTITIONS) {
      assert.equal(txns.find((x) => x.partition === p)?.from, firstOffsets[p], `${CTP_IN}-${p}: first offset processed`)
    }
  }
}

interface CtpClient {
  name: string
  /** The client's transactional producer (one for every processor run of a test). */
  start(f: Fixture): Promise<{ process(o: ProcessorOptions): Promise<ProcessedTxn[]> }>
  /** The group's committed offsets of the input topic as the client's admin API reports them. */
  adminOffsets(f: Fixture, groupId: string): Promise<number[]>
  /** A live read_committed reader of the output topic, of the same client. */
  reader(f: Fixture): Promise<LiveReader>
}

const ctpClients: CtpClient[] = [
  {
    name: 'KafkaJS (transaction.sendOffsets)',
    async start(f) {
      const producer = await kafkajsProducer(f, 'ctp-kafkajs')
      return { process: (o) => kafkajsProcessor(f, producer, o) }
    },
    async adminOffsets(f, groupId) {
      const admin = kafka(f.brokers).admin()
      await admin.connect()
      try {
        const [topic] = await admin.fetchOffsets({ groupId, topics: [CTP_IN] })
        return CTP_PARTITIONS.map((p) => Number(topic.partitions.find((x) => x.partition === p)?.offset))
      } finally {
        await admin.disconnect()
      }
    },
    reader: (f) => startKafkaJsReader({ brokers: f.brokers, topic: CTP_OUT, isolation: 'read_committed' }),
  },
  {
    name: '@platformatic/kafka (transaction.addConsumer + addOffset)',
    async start(f) {
      const producer = platformaticProducer(f, 'ctp-platformatic')
      return { process: (o) => platformaticProcessor(f, producer, o) }
    },
    async adminOffsets(f, groupId) {
      const admin = new Admin({ clientId: `platformatic-txn-${++clients}`, bootstrapBrokers: [f.brokers] })
      try {
        const [group] = await admin.listConsumerGroupOffsets({
          groups: [{ groupId, topics: [{ name: CTP_IN, partitionIndexes: CTP_PARTITIONS }] }],
        })
        const topic = group.topics.find((x) => x.name === CTP_IN)
        return CTP_PARTITIONS.map((p) => Number(topic?.partitions.find((x) => x.partitionIndex === p)?.committedOffset))
      } finally {
        await admin.close()
      }
    },
    reader: (f) =>
      startPlatformaticReader({
        brokers: f.brokers,
        topic: CTP_OUT,
        partitions: CTP_PARTITIONS,
        isolation: 'read_committed',
      }),
  },
]

describe('consume-transform-produce, exactly once', () => {
  for (const client of ctpClients) {
    test(`${client.name}: input offsets are committed with the outputs; an aborted transaction leaves neither`, async (t) => {
      const f = await setup(t)
      const groupId = `ctp-group-${clients}`
      await createTopic(f.broker, CTP_IN, CTP_PARTITIONS.length)
      await createTopic(f.broker, CTP_OUT, CTP_PARTITIONS.length)
      const input: string[][] = CTP_PARTITIONS.map(() => [])
      await produceInput(f, input, 'in', 10)
      const none = CTP_PARTITIONS.map(() => -1)
      const processor = await client.start(f)

      // 1. The first transaction is aborted: its outputs were written, but no read_committed reader
      //    sees them, and the group has no committed offset.
      const [aborted, ...rest] = await processor.process({
        groupId,
        abortFirst: true,
        ends: [],
        pendingAdmin: () => client.adminOffsets(f, groupId),
      })
      assert.deepEqual(rest, [])
      assert.equal(aborted.committed, false)
      checkTxns([aborted], none, undefined)
      for (const p of CTP_PARTITIONS) {
        assert.equal((await offsetView(f, groupId, CTP_IN, p)).offset, -1, `${CTP_IN}-${p}: nothing committed`)
        assert.deepEqual(await kcatValues(f, CTP_OUT, p, 'read_committed'), [], `${CTP_OUT}-${p} read_committed`)
      }
      const abortedOutputs = input[aborted.partition].slice(aborted.from, aborted.to).map(transform)
      assert.deepEqual(
        await kcatValues(f, CTP_OUT, aborted.partition, 'read_uncommitted'),
        abortedOutputs,
        'the aborted outputs are in the log',
      )
      assert.deepEqual(
        (await logOf(f, CTP_OUT, aborted.partition)).slice(abortedOutputs.length),
        [`ABORT@${abortedOutputs.length}`],
        'followed by the ABORT marker',
      )
      assert.deepEqual(await client.adminOffsets(f, groupId), none, 'the client reports no committed offset')

      // 2. A new member starts over from the beginning (nothing was committed) and commits every
      //    transaction: each input record is transformed once for read_committed readers.
      const committed = await processor.process({ groupId, abortFirst: false, ends: [10, 10] })
      checkTxns(committed, none, [0, 0])
      assert.deepEqual(await client.adminOffsets(f, groupId), [10, 10], 'the client reports the committed offsets')

      // 3. More input; a new member resumes at the committed offsets: only the new input is processed.
      await produceInput(f, input, 'more', 3)
      const resumed = await processor.process({
        groupId,
        abortFirst: false,
        ends: [13, 13],
        pendingAdmin: () => client.adminOffsets(f, groupId),
      })
      checkTxns(resumed, [10, 10], [10, 10])
      assert.deepEqual(await client.adminOffsets(f, groupId), [13, 13])

      for (const p of CTP_PARTITIONS) {
        const outputs = input[p].map(transform)
        assert.deepEqual(await kcatValues(f, CTP_OUT, p, 'read_committed'), outputs, `${CTP_OUT}-${p} read_committed`)
        assert.deepEqual(
          await kcatValues(f, CTP_OUT, p, 'read_uncommitted'),
          p === aborted.partition ? [...abortedOutputs, ...outputs] : outputs,
          `${CTP_OUT}-${p} read_uncommitted: the aborted attempt, then every output once`,
        )
        const p0 = partitionOf(f, CTP_OUT, p)
        assert.equal(p0.lastStableOffset, p0.highWatermark, `${CTP_OUT}-${p}: no transaction left open`)
      }
      const reader = await client.reader(f)
      f.defer(() => reader.close())
      await expectRecords(
        reader,
        f.responses,
        CTP_PARTITIONS.map((p) => input[p].map(transform)),
      )
    })
  }
})

// ------------------------------------------------------------------------------------------------
// Fencing.

/** Produce, InitProducerId, AddPartitionsToTxn, AddOffsetsToTxn, EndTxn (API keys). */
const TXN_APIS = [0, 22, 24, 25, 26]

describe('fencing: a new producer with the same transactional id fences the previous one', () => {
  test('KafkaJS (request versions before PRODUCER_FENCED): every request of the fenced producer fails with INVALID_PRODUCER_EPOCH', async (t) => {
    const f = await setup(t)
    const topic = 'fence-kafkajs'
    const id = 'fence-kafkajs'
    await createTopic(f.broker, topic, 2)
    const zombie = await kafkajsProducer(f, id)
    const zombieTxn = await zombie.transaction()
    await zombieTxn.send({ topic, messages: [{ partition: 0, value: 'zombie-1' }] })
    const opened = txnState(f, id)
    assert.equal(opened.state, 'Ongoing')

    // The new instance's InitProducerId bumps the epoch and aborts the open transaction.
    const current = await kafkajsProducer(f, id)
    const currentTxn = await current.transaction()
    await checkFenced(f, topic, id, opened, 'zombie-1')

    const fenced = kafkajsError('INVALID_PRODUCER_EPOCH', KafkaError.INVALID_PRODUCER_EPOCH)
    // Produce to a partition of its transaction, AddPartitionsToTxn v1 for another one,
    // AddOffsetsToTxn v1 and EndTxn v1: all refused.
    await assert.rejects(zombieTxn.send({ topic, messages: [{ partition: 0, value: 'zombie-2' }] }), fenced)
    await assert.rejects(zombieTxn.send({ topic, messages: [{ partition: 1, value: 'zombie-3' }] }), fenced)
    await assert.rejects(
      zombieTxn.sendOffsets({
        consumerGroupId: 'fence-group',
        topics: [{ topic, partitions: [{ partition: 0, offset: '1' }] }],
      }),
      fenced,
    )
    await assert.rejects(zombieTxn.commit(), fenced)

    await currentTxn.send({
      topic,
      messages: [
        { partition: 0, value: 'current-1' },
        { partition: 1, value: 'current-2' },
      ],
    })
    await currentTxn.commit()
    await checkAfterFence(f, topic, startKafkaJsReader)
    // The versions KafkaJS 2.2.4 spoke: all of the coordinator's predate PRODUCER_FENCED.
    assert.deepEqual(
      TXN_APIS.map((k) => f.responses.versions(k, 'kafkajs-txn-')),
      [[7], [1], [1], [1], [1]],
    )
  })

  test('@platformatic/kafka (current request versions): PRODUCER_FENCED from the coordinator, INVALID_PRODUCER_EPOCH from Produce', async (t) => {
    const f = await setup(t)
    const topic = 'fence-platformatic'
    const id = 'fence-platformatic'
    await createTopic(f.broker, topic, 2)
    const zombie = platformaticProducer(f, id)
    const zombieTxn = await zombie.beginTransaction(NEW_INSTANCE)
    await zombieTxn.send({ messages: [{ topic, partition: 0, value: 'zombie-1' }] })
    const opened = txnState(f, id)
    assert.equal(opened.state, 'Ongoing')

    const current = platformaticProducer(f, id)
    const currentTxn = await current.beginTransaction(NEW_INSTANCE)
    await checkFenced(f, topic, id, opened, 'zombie-1')

    // Produce v11 (a write: INVALID_PRODUCER_EPOCH, as Kafka 2.7+ answers writes).
    await assert.rejects(
      zombieTxn.send({ messages: [{ topic, partition: 0, value: 'zombie-2' }] }),
      platformaticError('INVALID_PRODUCER_EPOCH', KafkaError.INVALID_PRODUCER_EPOCH),
    )
    const fenced = platformaticError('PRODUCER_FENCED', KafkaError.PRODUCER_FENCED)
    // AddPartitionsToTxn v3, AddOffsetsToTxn v4 and EndTxn v4.
    await assert.rejects(zombieTxn.send({ messages: [{ topic, partition: 1, value: 'zombie-3' }] }), fenced)
    const groupMember = new Consumer({
      clientId: `platformatic-txn-${++clients}`,
      bootstrapBrokers: [f.brokers],
      groupId: 'fence-group',
      deserializers: stringDeserializers,
    })
    f.defer(() => groupMember.close(true))
    await assert.rejects(zombieTxn.addConsumer(groupMember), fenced)
    await assert.rejects(zombieTxn.commit(), fenced)
    // KIP-360: an instance presenting the fenced id and epoch cannot take over (InitProducerId v5).
    const ghost = platformaticProducer(f, id)
    await assert.rejects(
      ghost.beginTransaction({ producerId: BigInt(opened.producerId), producerEpoch: opened.producerEpoch }),
      fenced,
    )
    assert.equal(txnState(f, id).producerEpoch, opened.producerEpoch + 1, 'the refused InitProducerId bumped nothing')

    await currentTxn.send({
      messages: [
        { topic, partition: 0, value: 'current-1' },
        { topic, partition: 1, value: 'current-2' },
      ],
    })
    await currentTxn.commit()
    await checkAfterFence(f, topic, (o) => startPlatformaticReader({ ...o, partitions: [0, 1] }))
    // The versions platformatic spoke: the newest the broker serves, all of them with PRODUCER_FENCED.
    assert.deepEqual(
      TXN_APIS.map((k) => f.responses.versions(k, 'platformatic-txn-')),
      [[11], [5], [3], [4], [4]],
    )
  })
})

/** After the new instance's InitProducerId: the epoch was bumped and the open transaction aborted. */
async function checkFenced(
  f: Fixture,
  topic: string,
  id: string,
  opened: { producerId: number; producerEpoch: number },
  zombieValue: string,
): Promise<void> {
  const state = txnState(f, id)
  assert.deepEqual(
    [state.state, state.producerId, state.producerEpoch],
    ['Empty', opened.producerId, opened.producerEpoch + 1],
    'same producer id, next epoch, no transaction open',
  )
  assert.deepEqual(await logOf(f, topic, 0), [`${zombieValue}@0`, 'ABORT@1'], 'the open transaction was aborted')
  assert.deepEqual(await markersOf(f, topic, 0), [
    { offset: 1, producerId: opened.producerId, epoch: opened.producerEpoch + 1 },
  ])
  const p0 = partitionOf(f, topic, 0)
  assert.equal(p0.lastStableOffset, p0.highWatermark, 'nothing holds back read_committed readers')
}

/** The fenced producer's records never reach read_committed readers; the new one's do. */
async function checkAfterFence(
  f: Fixture,
  topic: string,
  startReader: (o: { brokers: string; topic: string; isolation: Isolation }) => Promise<LiveReader>,
): Promise<void> {
  assert.deepEqual(await logOf(f, topic, 0), ['zombie-1@0', 'ABORT@1', 'current-1@2', 'COMMIT@3'])
  assert.deepEqual(await logOf(f, topic, 1), ['current-2@0', 'COMMIT@1'], 'nothing of the fenced producer')
  assert.deepEqual(await kcatValues(f, topic, 0, 'read_committed'), ['current-1'])
  assert.deepEqual(await kcatValues(f, topic, 1, 'read_committed'), ['current-2'])
  assert.deepEqual(await kcatValues(f, topic, 0, 'read_uncommitted'), ['zombie-1', 'current-1'])
  const reader = await startReader({ brokers: f.brokers, topic, isolation: 'read_committed' })
  f.defer(() => reader.close())
  await expectRecords(reader, f.responses, [['current-1'], ['current-2']])
}

// ------------------------------------------------------------------------------------------------
// Readers of a partition with interleaved transactions.

test('read_committed readers (kcat, KafkaJS, platformatic) stop at an open transaction, see it once committed and never once aborted', async (t) => {
  const f = await setup(t)
  const topic = 'interleaved'
  await createTopic(f.broker, topic, 1)
  const readers: LiveReader[] = []
  for (const isolation of ['read_committed', 'read_uncommitted'] as const) {
    readers.push(await startKafkaJsReader({ brokers: f.brokers, topic, isolation }))
    readers.push(await startPlatformaticReader({ brokers: f.brokers, topic, partitions: [0], isolation }))
  }
  for (const r of readers) f.defer(() => r.close())

  const kafkajsTxns = await kafkajsProducer(f, 'interleaved-kafkajs')
  const platformaticTxns = platformaticProducer(f, 'interleaved-platformatic')
  type KafkaJsTxn = Awaited<ReturnType<KafkaJsProducer['transaction']>>
  type PlatformaticTxn = Awaited<ReturnType<StringProducer['beginTransaction']>>
  const plain = async (value: string) => {
    await produceRaw(f.broker, topic, 0, [[{ value }]])
  }
  const viaKafkaJs = async (txn: KafkaJsTxn, value: string) => {
    await txn.send({ topic, messages: [{ partition: 0, value }] })
  }
  const viaPlatformatic = async (txn: PlatformaticTxn, value: string) => {
    await txn.send({ messages: [{ topic, partition: 0, value }] })
  }

  // n*: non-transactional; k*: KafkaJS transactions; p*: platformatic transactions.
  await plain('n1')
  const k1 = await kafkajsTxns.transaction()
  await viaKafkaJs(k1, 'k1')
  const p1 = await platformaticTxns.beginTransaction(NEW_INSTANCE)
  await viaPlatformatic(p1, 'p1')
  await plain('n2')
  await viaKafkaJs(k1, 'k2')
  await viaPlatformatic(p1, 'p2')
  await p1.abort()
  await plain('n3')
  await k1.commit()
  const p2 = await platformaticTxns.beginTransaction(NEW_INSTANCE)
  await viaPlatformatic(p2, 'p3')
  await p2.commit()
  // Left open: everything after its first record waits, even the committed p4.
  const k2 = await kafkajsTxns.transaction()
  await viaKafkaJs(k2, 'k3')
  const p3 = await platformaticTxns.beginTransaction(NEW_INSTANCE)
  await viaPlatformatic(p3, 'p4')
  await p3.commit()
  await plain('n4')

  const all = ['n1', 'k1', 'p1', 'n2', 'k2', 'p2', 'n3', 'p3', 'k3', 'p4', 'n4']
  await expectEveryReader(f, topic, readers, {
    committed: ['n1', 'k1', 'n2', 'k2', 'n3', 'p3'],
    uncommitted: all,
    lastStable: 'k3',
  })

  await k2.commit()
  await expectEveryReader(f, topic, readers, {
    committed: ['n1', 'k1', 'n2', 'k2', 'n3', 'p3', 'k3', 'p4', 'n4'],
    uncommitted: all,
  })

  // An open transaction that is aborted, while another producer's is open.
  const k3 = await kafkajsTxns.transaction()
  await viaKafkaJs(k3, 'k4')
  await plain('n5')
  const p4 = await platformaticTxns.beginTransaction(NEW_INSTANCE)
  await viaPlatformatic(p4, 'p5')
  await expectEveryReader(f, topic, readers, {
    committed: ['n1', 'k1', 'n2', 'k2', 'n3', 'p3', 'k3', 'p4', 'n4'],
    uncommitted: [...all, 'k4', 'n5', 'p5'],
    lastStable: 'k4',
  })
  await k3.abort()
  // The ABORT marker of k4 (offset 19) lies past the last stable offset (p5, 18): a read_committed
  // fetch holds k4 and n5 but not the marker, and lists the aborted transaction from k4 on, as
  // Kafka's does. A reader must drop k4 from that list alone, as KafkaJS and librdkafka (and the
  // Java client) do. @platformatic/kafka 2.12.1 drops an aborted transaction's records only when
  // its marker is in the same response ("open ranges" are kept "for safety"), so its
  // read_committed reader delivers k4: a client bug, asserted as such so that a fixed client shows.
  const open = await fetchOne(f.raw, 12, { topic, partition: 0, offset: 0 }, { isolationLevel: 1 })
  assert.equal(open.lastStableOffset, 18n)
  assert.deepEqual(logEntries(open.records).slice(-3), ['COMMIT@15', 'k4@16', 'n5@17'], 'no ABORT marker for k4')
  assert.deepEqual(
    open.abortedTransactions?.map((a) => [a.producerId, a.firstOffset]),
    [
      [BigInt(txnState(f, 'interleaved-platformatic').producerId), 2n],
      [BigInt(txnState(f, 'interleaved-kafkajs').producerId), 16n],
    ],
  )
  const withK4 = ['n1', 'k1', 'n2', 'k2', 'n3', 'p3', 'k3', 'p4', 'n4', 'k4', 'n5']
  await expectEveryReader(f, topic, readers, {
    committed: ['n1', 'k1', 'n2', 'k2', 'n3', 'p3', 'k3', 'p4', 'n4', 'n5'],
    uncommitted: [...all, 'k4', 'n5', 'p5'],
    lastStable: 'p5',
    platformaticCommitted: withK4,
  })
  await p4.commit()
  await expectEveryReader(f, topic, readers, {
    committed: ['n1', 'k1', 'n2', 'k2', 'n3', 'p3', 'k3', 'p4', 'n4', 'n5', 'p5'],
    uncommitted: [...all, 'k4', 'n5', 'p5'],
    platformaticCommitted: [...withK4, 'p5'],
  })
  assert.deepEqual(await logOf(f, topic, 0), [
    'n1@0',
    'k1@1',
    'p1@2',
    'n2@3',
    'k2@4',
    'p2@5',
    'ABORT@6',
    'n3@7',
    'COMMIT@8',
    'p3@9',
    'COMMIT@10',
    'k3@11',
    'p4@12',
    'COMMIT@13',
    'n4@14',
    'COMMIT@15',
    'k4@16',
    'n5@17',
    'p5@18',
    'ABORT@19',
    'COMMIT@20',
  ])
})

/**
 * Every reader sees exactly the records of its isolation level: kcat runs to the end of the
 * partition (the last stable offset for read_committed), the live readers are checked caught up.
 * `lastStable` names the first record of the oldest open transaction (none: the partition is stable).
 */
async function expectEveryReader(
  f: Fixture,
  topic: string,
  readers: LiveReader[],
  o: {
    committed: string[]
    uncommitted: string[]
    lastStable?: string
    /** What platformatic's read_committed reader gets where a client bug makes it differ. */
    platformaticCommitted?: string[]
  },
): Promise<void> {
  const log = await kcatRead({ brokers: f.brokers, topic, partition: 0, isolation: 'read_uncommitted' })
  assert.deepEqual(
    log.map((r) => r.value),
    o.uncommitted,
    'kcat read_uncommitted',
  )
  const offsets = new Map(log.map((r) => [r.value, r.offset]))
  const partition = partitionOf(f, topic, 0)
  assert.equal(
    partition.lastStableOffset,
    o.lastStable === undefined ? partition.highWatermark : offsets.get(o.lastStable),
    'the last stable offset',
  )
  const committed = await kcatRead({ brokers: f.brokers, topic, partition: 0, isolation: 'read_committed' })
  assert.deepEqual(
    committed.map((r) => r.value),
    o.committed,
    'kcat read_committed',
  )
  for (const r of committed) assert.equal(r.offset, offsets.get(r.value), `kcat read_committed: offset of ${r.value}`)
  for (const reader of readers) {
    const expected =
      reader.name === 'platformatic read_committed'
        ? (o.platformaticCommitted ?? o.committed)
        : reader.name.endsWith('read_committed')
          ? o.committed
          : o.uncommitted
    await expectRecords(reader, f.responses, [expected])
    for (const r of reader.records) assert.equal(r.offset, offsets.get(r.value), `${reader.name}: offset of ${r.value}`)
  }
}

// ------------------------------------------------------------------------------------------------
// Transaction timeout.

/**
 * The transaction timeout the producers ask for: short, but long enough for the transaction's
 * first send to complete well within it (the broker checks open transactions every second).
 */
const TXN_TIMEOUT_MS = 2000

describe('a transaction open longer than its timeout is aborted by the broker and its producer fenced', () => {
  test('KafkaJS (transactionTimeout)', async (t) => {
    const f = await setup(t)
    const topic = 'timeout-kafkajs'
    const id = 'timeout-kafkajs'
    await createTopic(f.broker, topic, 1)
    const producer = await kafkajsProducer(f, id, TXN_TIMEOUT_MS)
    const txn = await producer.transaction()
    await txn.send({ topic, messages: [{ partition: 0, value: 'expired' }] })
    const opened = await checkExpired(f, topic, id, TXN_TIMEOUT_MS)
    const fenced = kafkajsError('INVALID_PRODUCER_EPOCH', KafkaError.INVALID_PRODUCER_EPOCH)
    await assert.rejects(txn.send({ topic, messages: [{ partition: 0, value: 'late' }] }), fenced)
    await assert.rejects(txn.commit(), fenced)
    // A new instance takes over where the broker left the transactional id.
    const next = await kafkajsProducer(f, id)
    const nextTxn = await next.transaction()
    assert.equal(txnState(f, id).producerEpoch, opened.producerEpoch + 2)
    await nextTxn.send({ topic, messages: [{ partition: 0, value: 'next' }] })
    await nextTxn.commit()
    await checkAfterExpiry(f, topic, startKafkaJsReader)
  })

  test('@platformatic/kafka (its request timeout is the transaction timeout)', async (t) => {
    const f = await setup(t)
    const topic = 'timeout-platformatic'
    const id = 'timeout-platformatic'
    await createTopic(f.broker, topic, 1)
    const producer = platformaticProducer(f, id, TXN_TIMEOUT_MS)
    const txn = await producer.beginTransaction(NEW_INSTANCE)
    await txn.send({ messages: [{ topic, partition: 0, value: 'expired' }] })
    const opened = await checkExpired(f, topic, id, TXN_TIMEOUT_MS)
    await assert.rejects(
      txn.send({ messages: [{ topic, partition: 0, value: 'late' }] }),
      platformaticError('INVALID_PRODUCER_EPOCH', KafkaError.INVALID_PRODUCER_EPOCH),
    )
    await assert.rejects(txn.commit(), platformaticError('PRODUCER_FENCED', KafkaError.PRODUCER_FENCED))
    const next = platformaticProducer(f, id)
    const nextTxn = await next.beginTransaction(NEW_INSTANCE)
    assert.equal(txnState(f, id).producerEpoch, opened.producerEpoch + 2)
    await nextTxn.send({ messages: [{ topic, partition: 0, value: 'next' }] })
    await nextTxn.commit()
    await checkAfterExpiry(f, topic, (o) => startPlatformaticReader({ ...o, partitions: [0] }))
  })
})

/** Waits for the broker to abort the open transaction; checks the epoch bump and the marker. */
async function checkExpired(f: Fixture, topic: string, id: string, timeoutMs: number) {
  const opened = txnState(f, id)
  assert.deepEqual([opened.state, opened.timeoutMs], ['Ongoing', timeoutMs], 'the client asked for this timeout')
  const p0 = partitionOf(f, topic, 0)
  assert.equal(p0.lastStableOffset, 0, 'the open transaction holds back read_committed readers')
  await eventually(() => txnState(f, id).state === 'CompleteAbort', 30_000, 'the broker to abort the transaction')
  assert.equal(txnState(f, id).producerEpoch, opened.producerEpoch + 1, 'fenced by an epoch bump')
  assert.deepEqual(await logOf(f, topic, 0), ['expired@0', 'ABORT@1'])
  assert.deepEqual(await markersOf(f, topic, 0), [
    { offset: 1, producerId: opened.producerId, epoch: opened.producerEpoch + 1 },
  ])
  assert.equal(p0.lastStableOffset, p0.highWatermark)
  return opened
}

async function checkAfterExpiry(
  f: Fixture,
  topic: string,
  startReader: (o: { brokers: string; topic: string; isolation: Isolation }) => Promise<LiveReader>,
): Promise<void> {
  assert.deepEqual(await logOf(f, topic, 0), ['expired@0', 'ABORT@1', 'next@2', 'COMMIT@3'])
  assert.deepEqual(await kcatValues(f, topic, 0, 'read_committed'), ['next'])
  assert.deepEqual(await kcatValues(f, topic, 0, 'read_uncommitted'), ['expired', 'next'])
  const reader = await startReader({ brokers: f.brokers, topic, isolation: 'read_committed' })
  f.defer(() => reader.close())
  await expectRecords(reader, f.responses, [['next']])
}
