import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import kafkajs from 'kafkajs'
import type { Consumer } from '@platformatic/kafka'
import { openAdmin } from '../../src/bus/admin.ts'
import type { BusConfig } from '../../src/bus/client.ts'
import { openReaderClient, partitionBounds, readRanges, type PartitionRange } from '../../src/bus/reader.ts'
import { ErrorCodes } from '../../src/errors.ts'
import { createTopic, produceRaw } from '../helpers/admin.ts'
import { startTestBroker } from '../helpers/broker.ts'

const { Kafka, logLevel } = kafkajs
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

let clients = 0
function busOf(address: string): BusConfig {
  return { bootstrapBrokers: [address], clientId: `reader-test-${++clients}` }
}

/** A reader client closed after the test. */
function reader(t: TestContext, address: string): Consumer {
  const client = openReaderClient(busOf(address))
  t.after(() => client.close())
  return client
}

interface Read {
  partition: number
  offset: number
  value: string | null
  timestamp: number
}

/** Everything readRanges yields, checking each chunk's shape on the way. */
async function readAll(client: Consumer, topic: string, ranges: PartitionRange[], partitionMaxBytes?: number) {
  const got: Read[] = []
  for await (const chunk of readRanges(client, { topic, ranges, partitionMaxBytes })) {
    assert.ok(chunk.records.length > 0, 'no empty chunks')
    assert.equal(chunk.offsets.length, chunk.records.length)
    assert.equal(chunk.firstTimestamps.length, chunk.records.length)
    chunk.records.forEach((record, i) => {
      got.push({
        partition: chunk.partition,
        offset: Number(chunk.offsets[i]),
        value: record.value?.toString() ?? null,
        timestamp: Number(chunk.firstTimestamps[i] + record.timestampDelta),
      })
    })
  }
  return got
}

/** Records of one partition in the order read. */
function ofPartition(got: Read[], partition: number): Read[] {
  return got.filter((r) => r.partition === partition)
}

const BASE_TS = Date.UTC(2024, 0, 2, 3, 4, 5)

/**
 * Partition p gets `batches` batches of `size` records, values `p<p>-<offset>`, timestamps
 * BASE_TS + offset; every other batch compressed.
 */
async function fill(broker: { address: string }, topic: string, partition: number, batches: number, size: number) {
  for (let b = 0; b < batches; b++) {
    const records = Array.from({ length: size }, (_, i) => {
      const offset = b * size + i
      return { key: `k${offset % 7}`, value: `p${partition}-${offset}`, timestamp: BASE_TS + offset }
    })
    await produceRaw(broker, topic, partition, [records], b % 2 === 1 ? { compression: 'gzip' } : {})
  }
}

function expected(partition: number, from: number, to: number): Read[] {
  return Array.from({ length: to - from }, (_, i) => ({
    partition,
    offset: from + i,
    value: `p${partition}-${from + i}`,
    timestamp: BASE_TS + from + i,
  }))
}

test('readRanges returns exactly the records of [from, to) of each partition, in offset order', async (t) => {
  const broker = await startTestBroker(t)
  const topic = 'ranges'
  await createTopic(broker, topic, 3)
  await fill(broker, topic, 0, 6, 10) // offsets 0..59
  await fill(broker, topic, 1, 4, 25) // 0..99
  await fill(broker, topic, 2, 3, 7) // 0..20
  const client = reader(t, broker.address)

  const cases: PartitionRange[][] = [
    // Whole partitions.
    [
      { partition: 0, from: 0n, to: 60n },
      { partition: 1, from: 0n, to: 100n },
      { partition: 2, from: 0n, to: 21n },
    ],
    // From and to in the middle of batches (a plain one and a compressed one), and a single record.
    [
      { partition: 0, from: 13n, to: 47n },
      { partition: 1, from: 37n, to: 38n },
      { partition: 2, from: 9n, to: 16n },
    ],
    // Empty ranges read nothing; a partition may be left out.
    [
      { partition: 0, from: 5n, to: 5n },
      { partition: 2, from: 20n, to: 21n },
    ],
  ]
  for (const ranges of cases) {
    for (const maxBytes of [undefined, 300]) {
      const got = await readAll(client, topic, ranges, maxBytes)
      for (const partition of [0, 1, 2]) {
        const range = ranges.find((r) => r.partition === partition)
        const want = range === undefined ? [] : expected(partition, Number(range.from), Number(range.to))
        assert.deepEqual(ofPartition(got, partition), want, `partition ${partition} ${JSON.stringify(maxBytes)}`)
      }
    }
  }
  // Nothing at all to read ends at once.
  assert.deepEqual(await readAll(client, topic, []), [])
})

test('partitionBounds gives the log start and end of every partition', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'bounds', 3)
  await fill(broker, 'bounds', 0, 2, 10)
  await fill(broker, 'bounds', 2, 1, 4)
  const client = reader(t, broker.address)
  assert.deepEqual(await partitionBounds(client, 'bounds'), [
    { partition: 0, start: 0n, end: 20n },
    { partition: 1, start: 0n, end: 0n },
    { partition: 2, start: 0n, end: 4n },
  ])

  // Deleting records moves the start; a range from before it reads from the new start.
  const admin = openAdmin(busOf(broker.address))
  t.after(() => admin.close())
  await admin.deleteRecords({ topics: [{ name: 'bounds', partitions: [{ partition: 0, offset: 12n }] }] })
  const [p0] = await partitionBounds(client, 'bounds')
  assert.deepEqual(p0, { partition: 0, start: 12n, end: 20n })
  assert.deepEqual(await readAll(client, 'bounds', [{ partition: 0, from: 3n, to: 20n }]), expected(0, 12, 20))
  // In one fetch with a partition that has no error, whose records are kept.
  const both = await readAll(client, 'bounds', [
    { partition: 0, from: 0n, to: 15n },
    { partition: 2, from: 1n, to: 4n },
  ])
  assert.deepEqual(ofPartition(both, 0), expected(0, 12, 15))
  assert.deepEqual(ofPartition(both, 2), expected(2, 1, 4))

  await assert.rejects(partitionBounds(client, 'no-such-topic'), { code: ErrorCodes.UNKNOWN_TOPIC })
})

/** A KafkaJS transactional producer (a new instance of `transactionalId`), disconnected after the test. */
async function transactional(t: TestContext, address: string, transactionalId: string) {
  const producer = new Kafka({ brokers: [address], clientId: transactionalId, logLevel: logLevel.NOTHING }).producer({
    transactionalId,
    idempotent: true,
    maxInFlightRequests: 1,
    allowAutoTopicCreation: false,
  })
  await producer.connect()
  t.after(() => producer.disconnect())
  return producer
}

test('read_committed: committed and plain records only, no aborted records and no markers', async (t) => {
  const broker = await startTestBroker(t)
  const topic = 'txn'
  await createTopic(broker, topic, 2)
  const kafka = new Kafka({ brokers: [broker.address], clientId: 'reader-test-plain', logLevel: logLevel.NOTHING })
  const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
  await plain.connect()
  t.after(() => plain.disconnect())
  const committer = await transactional(t, broker.address, 'committer')
  const aborter = await transactional(t, broker.address, 'aborter')
  const wanted: string[] = []
  const send = async (
    to: { send: (r: { topic: string; messages: { value: string; partition: number }[] }) => Promise<unknown> },
    values: string[],
    keep: boolean,
  ) => {
    for (const partition of [0, 1]) {
      await to.send({ topic, messages: values.map((value) => ({ value: `${value}/${partition}`, partition })) })
      if (keep) wanted.push(...values.map((value) => `${value}/${partition}`))
    }
  }
  await send(plain, ['plain-a1', 'plain-a2'], true)
  const c1 = await committer.transaction()
  const a1 = await aborter.transaction()
  await send(c1, ['c1-x', 'c1-y'], true)
  await send(a1, ['a1-x'], false)
  await send(plain, ['plain-b'], true)
  await send(c1, ['c1-z'], true)
  await send(a1, ['a1-y', 'a1-z'], false)
  await c1.commit()
  await send(plain, ['plain-c'], true)
  await send(a1, ['a1-last'], false)
  await a1.abort()
  // The same producers again: an aborted producer's next transaction commits, and the other way round.
  const a2 = await committer.transaction()
  const c2 = await aborter.transaction()
  await send(a2, ['a2-x'], false)
  await send(c2, ['c2-x'], true)
  await send(plain, ['plain-d'], true)
  await a2.abort()
  await send(c2, ['c2-y'], true)
  await c2.commit()
  await send(plain, ['plain-e'], true)

  const client = reader(t, broker.address)
  const bounds = await partitionBounds(client, topic)
  const ranges = bounds.map((b) => ({ partition: b.partition, from: b.start, to: b.end }))
  for (const maxBytes of [undefined, 200]) {
    const got = await readAll(client, topic, ranges, maxBytes)
    for (const partition of [0, 1]) {
      const values = ofPartition(got, partition).map((r) => r.value)
      assert.deepEqual(
        values,
        wanted.filter((v) => v.endsWith(`/${partition}`)),
        `partition ${partition}`,
      )
      const offsets = ofPartition(got, partition).map((r) => r.offset)
      assert.deepEqual(
        offsets,
        offsets.slice().sort((a, b) => a - b),
        'offset order',
      )
    }
  }

  // Starting inside an aborted transaction (after its first record) still skips the rest of it.
  const all = await readAll(client, topic, [{ partition: 0, from: 0n, to: bounds[0].end }])
  const firstC1 = all.find((r) => r.value === 'c1-x/0')!.offset
  for (let from = firstC1; from < Number(bounds[0].end); from++) {
    const got = await readAll(client, topic, [{ partition: 0, from: BigInt(from), to: bounds[0].end }])
    assert.deepEqual(
      got.map((r) => r.value),
      all.filter((r) => r.offset >= from).map((r) => r.value),
      `from ${from}`,
    )
  }

  // An open transaction holds the end (the last stable offset) at its first record.
  const open = await committer.transaction()
  await open.send({ topic, messages: [{ value: 'open/0', partition: 0 }] })
  await plain.send({ topic, messages: [{ value: 'plain-after-open/0', partition: 0 }] })
  const [held] = await partitionBounds(client, topic)
  assert.equal(held.end, bounds[0].end, 'the end stops at the open transaction')
  await open.commit()
  const [released] = await partitionBounds(client, topic)
  assert.ok(released.end > bounds[0].end + 2n)
  const tail = await readAll(client, topic, [{ partition: 0, from: bounds[0].end, to: released.end }])
  assert.deepEqual(
    tail.map((r) => r.value),
    ['open/0', 'plain-after-open/0'],
  )
})

test('follow mode: a range without `to` yields records produced after the start, until the signal aborts', async (t) => {
  const broker = await startTestBroker(t)
  const topic = 'follow'
  await createTopic(broker, topic, 2)
  await fill(broker, topic, 0, 1, 5)
  await fill(broker, topic, 1, 1, 3)
  const client = reader(t, broker.address)
  const controller = new AbortController()
  const got: Read[] = []
  let sawFirst!: () => void
  const first = new Promise<void>((resolve) => (sawFirst = resolve))
  const total = 5 + 2 + 40
  const reading = (async () => {
    for await (const chunk of readRanges(client, {
      topic,
      // Partition 0 is followed from its end; partition 1 is a bounded range read alongside.
      ranges: [
        { partition: 0, from: 5n },
        { partition: 1, from: 1n, to: 3n },
      ],
      maxWaitMs: 100,
      signal: controller.signal,
    })) {
      chunk.records.forEach((record, i) =>
        got.push({
          partition: chunk.partition,
          offset: Number(chunk.offsets[i]),
          value: record.value?.toString() ?? null,
          timestamp: 0,
        }),
      )
      if (got.some((r) => r.partition === 0)) sawFirst()
      if (got.length >= total) controller.abort()
    }
  })()
  // Records arrive while the reader waits: one first, then batches once it has seen that one.
  await produceRaw(broker, topic, 0, [[{ value: 'live-0' }]])
  await first
  for (let b = 0; b < 4; b++) {
    await produceRaw(broker, topic, 0, [Array.from({ length: 10 }, (_, i) => ({ value: `live-${1 + b * 10 + i}` }))])
    await produceRaw(broker, topic, 1, [[{ value: `not-read-${b}` }]])
  }
  await produceRaw(broker, topic, 0, [
    [{ value: 'live-41' }],
    [{ value: 'live-42' }],
    [{ value: 'live-43' }],
    [{ value: 'live-44' }],
  ])
  // Ends by itself once aborted.
  await reading
  assert.equal(controller.signal.aborted, true)
  assert.deepEqual(
    ofPartition(got, 1).map((r) => [r.offset, r.value]),
    [
      [1, 'p1-1'],
      [2, 'p1-2'],
    ],
  )
  const live = ofPartition(got, 0)
  assert.equal(live.length, 45)
  assert.deepEqual(
    live.map((r) => [r.offset, r.value]),
    live.map((_, i) => [5 + i, `live-${i}`]),
  )

  // Aborted before the first fetch: nothing is read.
  const none: Read[] = []
  for await (const chunk of readRanges(client, {
    topic,
    ranges: [{ partition: 0, from: 0n }],
    signal: AbortSignal.abort(),
  })) {
    none.push(...chunk.records.map(() => ({ partition: 0, offset: 0, value: null, timestamp: 0 })))
  }
  assert.deepEqual(none, [])

  // A follower at the end with nothing new stops when aborted while it waits.
  const [{ end }] = await partitionBounds(client, topic)
  const idle = new AbortController()
  const waiting = (async () => {
    let n = 0
    for await (const chunk of readRanges(client, {
      topic,
      ranges: [{ partition: 0, from: end }],
      maxWaitMs: 100,
      signal: idle.signal,
    })) {
      n += chunk.records.length
    }
    return n
  })()
  setTimeout(() => idle.abort(), 300)
  assert.equal(await waiting, 0)
})
