import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import kafkajs from 'kafkajs'
import type { Consumer } from '@platformatic/kafka'
import { openAdmin } from '../../src/bus/admin.ts'
import type { BusConfig } from '../../src/bus/client.ts'
import { FetchConnection } from '../../src/bus/fetch-connection.ts'
import { COMPRESSIONS, TopicWriter, type Compression as WriterCompression } from '../../src/bus/producer.ts'
import { openReaderClient, partitionBounds, readRanges } from '../../src/bus/reader.ts'
import { scanRanges, walkBatches, walkBatchesFull, type FullRecord, type ScanRange } from '../../src/bus/scan.ts'
import { ErrorCodes } from '../../src/errors.ts'
import { compress } from '../../src/protocol/compression/index.ts'
import { crc32c } from '../../src/protocol/crc32c.ts'
import {
  Attributes,
  BATCH_HEADER_SIZE,
  buildControlBatch,
  buildRecordBatch,
  checkBatch,
  Compression,
  LOG_OVERHEAD,
  Offsets,
  readBatchHeader,
  writeInt64Number,
  type BuildBatchOptions,
  type RecordInput,
} from '../../src/protocol/record-batch.ts'
import { createTopic, produceRaw } from '../helpers/admin.ts'
import { startTestBroker } from '../helpers/broker.ts'

const { Kafka, logLevel, CompressionTypes } = kafkajs
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

let clients = 0
function busOf(address: string): BusConfig {
  return { bootstrapBrokers: [address], clientId: `scan-test-${++clients}` }
}

/** A reader client (metadata and offsets for scanRanges, everything for readRanges) closed after the test. */
function reader(t: TestContext, address: string): Consumer {
  const client = openReaderClient(busOf(address))
  t.after(() => client.close())
  return client
}

interface Read {
  partition: number
  offset: number
  value: string | null
}

/** Everything readRanges yields: the reference. */
async function readAll(client: Consumer, topic: string, ranges: ScanRange[], partitionMaxBytes?: number) {
  const got: Read[] = []
  for await (const chunk of readRanges(client, { topic, ranges, partitionMaxBytes })) {
    chunk.records.forEach((record, i) => {
      got.push({
        partition: chunk.partition,
        offset: Number(chunk.offsets[i]),
        value: record.value === null || record.value === undefined ? null : record.value.toString(),
      })
    })
  }
  return got
}

/**
 * Everything scanRanges hands out, checking on the way that its count is the number of records
 * handed out and that progress reports only grow, up to that count.
 */
async function scanAll(
  client: Consumer,
  topic: string,
  ranges: ScanRange[],
  options: { partitionMaxBytes?: number; clientId?: string } = {},
): Promise<Read[]> {
  const got: Read[] = []
  const progress: number[] = []
  const count = await scanRanges(client, {
    topic,
    ranges,
    clientId: options.clientId ?? `scan-test-${++clients}`,
    partitionMaxBytes: options.partitionMaxBytes,
    onRecord: (value, partition, offset) => {
      assert.ok(value === null || Buffer.isBuffer(value))
      got.push({ partition, offset, value: value === null ? null : value.toString() })
    },
    onProgress: (records) => progress.push(records),
  })
  assert.equal(count, got.length, 'the returned count is the number of records handed out')
  assert.deepEqual(
    progress,
    progress.slice().sort((a, b) => a - b),
    'progress only grows',
  )
  if (progress.length > 0) assert.equal(progress[progress.length - 1], count)
  for (const partition of new Set(got.map((r) => r.partition))) {
    const offsets = ofPartition(got, partition).map((r) => r.offset)
    for (let i = 1; i < offsets.length; i++) assert.ok(offsets[i] > offsets[i - 1], `offset order in ${partition}`)
  }
  return got
}

function ofPartition(got: Read[], partition: number): Read[] {
  return got.filter((r) => r.partition === partition)
}

/** scanRanges and readRanges agree record for record, partition by partition. */
async function assertSameAsReader(
  client: Consumer,
  topic: string,
  ranges: ScanRange[],
  partitionMaxBytes: number | undefined,
  partitions: number,
): Promise<Read[]> {
  const want = await readAll(client, topic, ranges, partitionMaxBytes)
  const got = await scanAll(client, topic, ranges, { partitionMaxBytes })
  const what = `${topic} ${JSON.stringify(ranges, (_, v: unknown) => (typeof v === 'bigint' ? Number(v) : v))} ${partitionMaxBytes}`
  assert.equal(got.length, want.length, `count of ${what}`)
  for (let p = 0; p < partitions; p++) assert.deepEqual(ofPartition(got, p), ofPartition(want, p), `${what} p${p}`)
  return got
}

interface BatchInfo {
  base: number
  last: number
  codec: number
  control: boolean
}

/** The batches of a partition as stored (read_uncommitted), from its log start to its end. */
async function batchesOf(address: string, topic: string, partition: number): Promise<BatchInfo[]> {
  const [host, port] = address.split(':')
  const connection = await FetchConnection.connect(host, Number(port), 'scan-test-layout')
  try {
    const out: BatchInfo[] = []
    let offset = 0n
    for (;;) {
      const response = await connection.fetch({
        maxWaitMs: 0,
        minBytes: 1,
        isolationLevel: 0,
        topics: [{ topic, partitions: [{ partition, fetchOffset: offset, partitionMaxBytes: 64 << 20 }] }],
      })
      const p = response.responses[0].partitions[0]
      if (p.errorCode === 1 && offset < p.logStartOffset) {
        offset = p.logStartOffset
        continue
      }
      assert.equal(p.errorCode, 0)
      const data = p.records ?? Buffer.alloc(0)
      if (data.length === 0) return out
      for (let at = 0; at < data.length;) {
        const h = readBatchHeader(data, at)
        out.push({
          base: h.baseOffset,
          last: h.baseOffset + h.lastOffsetDelta,
          codec: h.attributes & Attributes.compressionMask,
          control: (h.attributes & Attributes.control) !== 0,
        })
        at += LOG_OVERHEAD + h.batchLength
      }
      offset = BigInt(out[out.length - 1].last + 1)
    }
  } finally {
    connection.close()
  }
}

const SYMBOLS = Array.from({ length: 30 }, (_, i) => `SYM${i}`)

/**
 * Writes 2700 records with TopicWriter: 900 in small chunks (batches of about ten records per
 * partition), then 1800 in large ones (offset deltas past 63, two-byte varints). Values vary in
 * size up to 10 kB (three-byte length varints); some records have no key, some have headers.
 */
async function writeMany(address: string, topic: string, compression: WriterCompression): Promise<string[]> {
  const values: string[] = []
  let i = 0
  for (const [chunkSize, n] of [
    [30, 900],
    [600, 1800],
  ]) {
    const writer = new TopicWriter(busOf(address), { topic, compression, chunkSize })
    for (let end = i + n; i < end; i++) {
      const pad = i % 97 === 0 ? 'x'.repeat(10_000) : i % 7 === 0 ? 'y'.repeat(200) : ''
      const value = `${compression}-${i}-${pad}`
      values.push(value)
      const wait = writer.write(
        i % 11 === 0 ? undefined : SYMBOLS[i % SYMBOLS.length],
        value,
        i % 5 === 0 ? { h: `${i}`, other: 'header' } : undefined,
      )
      if (wait !== undefined) await wait
    }
    await writer.close()
  }
  return values
}

/** Batches of `layout` that hold at least three records: a range can start and end inside them. */
function midBatchRanges(layouts: BatchInfo[][]): { across: ScanRange[]; inside: ScanRange[] } {
  const across: ScanRange[] = []
  const inside: ScanRange[] = []
  layouts.forEach((layout, partition) => {
    const roomy = layout.filter((b) => b.last - b.base >= 2)
    assert.ok(roomy.length >= 4, `partition ${partition} has batches of three or more records`)
    const a = roomy[Math.floor(roomy.length / 4)]
    const b = roomy[Math.floor((roomy.length * 3) / 4)]
    const c = roomy[Math.floor(roomy.length / 2)]
    // From the second record of a to the second record of b (to excludes b's third record).
    across.push({ partition, from: BigInt(a.base + 1), to: BigInt(b.base + 2) })
    // Strictly inside c: neither its first nor its last record.
    inside.push({ partition, from: BigInt(c.base + 1), to: BigInt(c.last) })
  })
  return { across, inside }
}

test('scanRanges hands out exactly what readRanges yields, with every codec, from and to mid-batch', async (t) => {
  const broker = await startTestBroker(t)
  const client = reader(t, broker.address)
  assert.deepEqual(COMPRESSIONS, ['none', 'gzip', 'snappy', 'lz4', 'zstd'])
  for (const compression of COMPRESSIONS) {
    const topic = `scan-${compression}`
    await createTopic(broker, topic, 3)
    const written = await writeMany(broker.address, topic, compression)
    const bounds = await partitionBounds(client, topic)
    const layouts = await Promise.all([0, 1, 2].map((p) => batchesOf(broker.address, topic, p)))
    for (const layout of layouts) {
      assert.ok(layout.length > 20, 'many batches')
      assert.ok(
        layout.every((b) => b.codec === Compression[compression]),
        `every batch written with ${compression}`,
      )
    }
    const whole = bounds.map((b) => ({ partition: b.partition, from: b.start, to: b.end }))
    const { across, inside } = midBatchRanges(layouts)
    const cases: ScanRange[][] = [
      whole,
      across,
      inside,
      // A single record; an empty range; a partition left out.
      [
        { partition: 0, from: across[0].from, to: across[0].from + 1n },
        { partition: 1, from: 7n, to: 7n },
      ],
    ]
    // Default fetch size (everything in one or two fetches), one batch per fetch, a few batches.
    for (const partitionMaxBytes of [undefined, 1, 3000]) {
      for (const ranges of cases) {
        const got = await assertSameAsReader(client, topic, ranges, partitionMaxBytes, 3)
        if (ranges === whole) {
          assert.equal(got.length, written.length)
          assert.deepEqual(got.map((r) => r.value).sort(), written.slice().sort(), 'every record exactly once')
        }
        if (ranges === across) {
          for (const r of across) assert.equal(ofPartition(got, r.partition).length, Number(r.to - r.from))
        }
      }
    }
  }
})

test('scanRanges passes null values as null and empty values as empty buffers', async (t) => {
  const broker = await startTestBroker(t)
  const topic = 'tombstones'
  await createTopic(broker, topic, 3)
  const kafka = new Kafka({ brokers: [broker.address], clientId: 'scan-test-tombstones', logLevel: logLevel.NOTHING })
  const producer = kafka.producer({ allowAutoTopicCreation: false })
  await producer.connect()
  t.after(() => producer.disconnect())
  const want: Read[][] = [[], [], []]
  for (let round = 0; round < 6; round++) {
    for (let partition = 0; partition < 3; partition++) {
      const messages = Array.from({ length: 5 + round }, (_, i) => {
        const value = (i + round + partition) % 3 === 0 ? null : i % 4 === 1 ? '' : `v${round}-${i}`
        return { key: i % 2 === 0 ? null : `k${i}`, value, partition }
      })
      for (const m of messages) want[partition].push({ partition, offset: want[partition].length, value: m.value })
      await producer.send({
        topic,
        messages,
        compression: round % 2 === 1 ? CompressionTypes.GZIP : CompressionTypes.None,
      })
    }
  }
  const client = reader(t, broker.address)
  const bounds = await partitionBounds(client, topic)
  const ranges = bounds.map((b) => ({ partition: b.partition, from: b.start, to: b.end }))
  for (const partitionMaxBytes of [undefined, 1]) {
    const got = await assertSameAsReader(client, topic, ranges, partitionMaxBytes, 3)
    for (let p = 0; p < 3; p++) assert.deepEqual(ofPartition(got, p), want[p])
    assert.ok(got.some((r) => r.value === null) && got.some((r) => r.value === ''))
  }
  // Mid-batch, with the range ending on a tombstone.
  const tombstone = want[1].findLast((r) => r.value === null && r.offset > 10)!
  const ranges2 = [{ partition: 1, from: 3n, to: BigInt(tombstone.offset + 1) }]
  const got = await assertSameAsReader(client, topic, ranges2, undefined, 3)
  assert.deepEqual(got, want[1].slice(3, tombstone.offset + 1))
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

test('read_committed: scanRanges skips aborted records and markers, like readRanges', async (t) => {
  const broker = await startTestBroker(t)
  const topic = 'txn'
  await createTopic(broker, topic, 2)
  const kafka = new Kafka({ brokers: [broker.address], clientId: 'scan-test-plain', logLevel: logLevel.NOTHING })
  const plain = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
  await plain.connect()
  t.after(() => plain.disconnect())
  const committer = await transactional(t, broker.address, 'committer')
  const aborter = await transactional(t, broker.address, 'aborter')
  const wanted: string[] = []
  let sends = 0
  const send = async (
    to: {
      send: (r: {
        topic: string
        messages: { value: string; partition: number }[]
        compression?: kafkajs.CompressionTypes
      }) => Promise<unknown>
    },
    values: string[],
    keep: boolean,
  ) => {
    for (const partition of [0, 1]) {
      // Every third send compressed: aborted and committed records inside compressed batches too.
      const compression = ++sends % 3 === 0 ? CompressionTypes.GZIP : CompressionTypes.None
      await to.send({
        topic,
        compression,
        messages: values.map((value) => ({ value: `${value}/${partition}`, partition })),
      })
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
  await send(a1, ['a1-y', 'a1-z', 'a1-zz'], false)
  await c1.commit()
  await send(plain, ['plain-c'], true)
  await send(a1, ['a1-last'], false)
  await a1.abort()
  // The same producers again: an aborted producer's next transaction commits, and the other way round.
  const a2 = await committer.transaction()
  const c2 = await aborter.transaction()
  await send(a2, ['a2-x', 'a2-y'], false)
  await send(c2, ['c2-x'], true)
  await send(plain, ['plain-d'], true)
  await a2.abort()
  await send(c2, ['c2-y', 'c2-z'], true)
  await c2.commit()
  await send(plain, ['plain-e'], true)
  // An open transaction: the end (the last stable offset) stays at its first record.
  const open = await committer.transaction()
  await send(open, ['open'], false)
  await send(plain, ['plain-after-open'], false)

  const client = reader(t, broker.address)
  const bounds = await partitionBounds(client, topic)
  const ranges = bounds.map((b) => ({ partition: b.partition, from: b.start, to: b.end }))
  const layout = await batchesOf(broker.address, topic, 0)
  assert.equal(layout.filter((b) => b.control).length, 4, 'four markers in partition 0')
  for (const partitionMaxBytes of [undefined, 1, 200]) {
    const got = await assertSameAsReader(client, topic, ranges, partitionMaxBytes, 2)
    assert.equal(got.length, wanted.length)
    for (const partition of [0, 1]) {
      assert.deepEqual(
        ofPartition(got, partition).map((r) => r.value),
        wanted.filter((v) => v.endsWith(`/${partition}`)),
        `partition ${partition}`,
      )
    }
    // No marker's offset is ever handed out.
    const markers = new Set(layout.filter((b) => b.control).map((b) => b.base))
    assert.ok(ofPartition(got, 0).every((r) => !markers.has(r.offset)))
  }

  // From every offset of partition 0, inside aborted and committed transactions and on markers.
  const all = await scanAll(client, topic, [ranges[0]])
  for (let from = Number(bounds[0].start); from <= Number(bounds[0].end); from++) {
    for (const partitionMaxBytes of [undefined, 1]) {
      const got = await assertSameAsReader(
        client,
        topic,
        [{ partition: 0, from: BigInt(from), to: bounds[0].end }],
        partitionMaxBytes,
        2,
      )
      assert.deepEqual(
        got,
        all.filter((r) => r.offset >= from),
        `from ${from}`,
      )
    }
  }
  await open.abort()
})

test('a range whose start was deleted continues from the log start', async (t) => {
  const broker = await startTestBroker(t)
  const topic = 'deleted'
  await createTopic(broker, topic, 3)
  for (const partition of [0, 1, 2]) {
    for (let b = 0; b < 4; b++) {
      const records = Array.from({ length: 10 }, (_, i) => ({ value: `p${partition}-${b * 10 + i}` }))
      await produceRaw(broker, topic, partition, [records], b % 2 === 1 ? { compression: 'gzip' } : {})
    }
  }
  const admin = openAdmin(busOf(broker.address))
  t.after(() => admin.close())
  // Mid-batch in partition 0, on a batch boundary in partition 1.
  await admin.deleteRecords({
    topics: [
      {
        name: topic,
        partitions: [
          { partition: 0, offset: 12n },
          { partition: 1, offset: 20n },
        ],
      },
    ],
  })
  const client = reader(t, broker.address)
  const values = (partition: number, from: number, to: number): Read[] =>
    Array.from({ length: to - from }, (_, i) => ({ partition, offset: from + i, value: `p${partition}-${from + i}` }))
  const cases: [ScanRange[], Read[]][] = [
    [[{ partition: 0, from: 3n, to: 40n }], values(0, 12, 40)],
    [[{ partition: 0, from: 11n, to: 17n }], values(0, 12, 17)],
    // With partitions without an error in the same fetch.
    [
      [
        { partition: 0, from: 0n, to: 15n },
        { partition: 1, from: 5n, to: 33n },
        { partition: 2, from: 1n, to: 4n },
      ],
      [...values(0, 12, 15), ...values(1, 20, 33), ...values(2, 1, 4)],
    ],
    // Ranges deleted entirely read nothing, and end.
    [[{ partition: 0, from: 0n, to: 10n }], []],
    [
      [
        { partition: 0, from: 0n, to: 12n },
        { partition: 1, from: 2n, to: 20n },
      ],
      [],
    ],
  ]
  for (const [ranges, want] of cases) {
    for (const partitionMaxBytes of [undefined, 1]) {
      const got = await assertSameAsReader(client, topic, ranges, partitionMaxBytes, 3)
      assert.deepEqual(
        got.slice().sort((a, b) => a.partition - b.partition || a.offset - b.offset),
        want,
      )
    }
  }
})

test('scanRanges rejects an unknown topic and reads nothing for no ranges', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'some', 1)
  await produceRaw(broker, 'some', 0, [[{ value: 'a' }]])
  const client = reader(t, broker.address)
  await assert.rejects(scanAll(client, 'no-such-topic', [{ partition: 0, from: 0n, to: 1n }]), {
    code: ErrorCodes.UNKNOWN_TOPIC,
  })
  assert.deepEqual(await scanAll(client, 'some', []), [])
  assert.deepEqual(await scanAll(client, 'some', [{ partition: 0, from: 1n, to: 1n }]), [])
})

test('scanRanges gives up on an error that keeps coming back', async (t) => {
  let fetches = 0
  const broker = await startTestBroker(t, {
    hooks: {
      beforeResponse: ({ apiKey, clientId }) => void (apiKey === 1 && clientId === 'scan-giving-up' && fetches++),
    },
  })
  await createTopic(broker, 'short', 2)
  await produceRaw(broker, 'short', 0, [[{ value: 'a' }, { value: 'b' }]])
  await produceRaw(broker, 'short', 1, [[{ value: 'c' }]])
  const client = reader(t, broker.address)
  // Offsets past the end: OFFSET_OUT_OF_RANGE every time, and the log start is no way forward.
  const handed: number[] = []
  await assert.rejects(
    scanRanges(client, {
      topic: 'short',
      ranges: [
        { partition: 0, from: 5n, to: 10n },
        { partition: 1, from: 0n, to: 1n },
      ],
      clientId: 'scan-giving-up',
      onRecord: (_value, partition) => handed.push(partition),
    }),
    { name: 'TickflowError', code: ErrorCodes.PROTOCOL_UNSUPPORTED, message: /short\/0 failed with Kafka error 1$/ },
  )
  // The partition without an error was read in the first round; 20 rounds in all (MAX_FAILED_ROUNDS).
  assert.deepEqual(handed, [1])
  assert.equal(fetches, 20)
})

test('scanRanges recovers from a connection the broker closes, handing out every record once', async (t) => {
  let scanFetches = 0
  let closeAt = 0
  let closed = 0
  const broker = await startTestBroker(t, {
    hooks: {
      // Only the scan's fetches (its own client id), not readRanges' nor metadata requests.
      beforeResponse: ({ apiKey, clientId }) => {
        if (apiKey !== 1 || clientId !== 'scan-closing') return
        if (++scanFetches === closeAt) {
          closed++
          return 'close'
        }
      },
    },
  })
  const topic = 'closing'
  await createTopic(broker, topic, 3)
  for (const partition of [0, 1, 2]) {
    for (let b = 0; b < 5; b++) {
      const records = Array.from({ length: 8 }, (_, i) => ({ value: `p${partition}-${b * 8 + i}` }))
      await produceRaw(broker, topic, partition, [records], b % 2 === 1 ? { compression: 'zstd' } : {})
    }
  }
  const client = reader(t, broker.address)
  const ranges = [
    { partition: 0, from: 0n, to: 40n },
    { partition: 1, from: 3n, to: 37n },
    { partition: 2, from: 9n, to: 40n },
  ]
  // The first fetch, and one in the middle of a scan of one batch per fetch (records handed out before it).
  for (const [at, partitionMaxBytes] of [
    [1, undefined],
    [3, 1],
  ]) {
    scanFetches = 0
    closed = 0
    closeAt = at!
    const got = await scanAll(client, topic, ranges, { partitionMaxBytes, clientId: 'scan-closing' })
    assert.equal(closed, 1, 'one connection was closed')
    assert.ok(scanFetches > at!, 'fetched again after the close')
    const want = await readAll(client, topic, ranges, partitionMaxBytes)
    assert.equal(got.length, 40 + 34 + 31)
    for (const partition of [0, 1, 2]) assert.deepEqual(ofPartition(got, partition), ofPartition(want, partition))
  }
})

// ---------------------------------------------------------------------------------------------
// walkBatches on hand-built bytes

/** `batch` with its baseOffset set (outside the CRC, as the broker assigns it). */
function at(batch: Buffer, baseOffset: number): Buffer {
  const out = Buffer.from(batch)
  writeInt64Number(out, baseOffset, Offsets.baseOffset)
  return out
}

/** An uncompressed batch rewritten with `codec` (buildRecordBatch compresses with gzip and zstd only). */
function withCodec(batch: Buffer, codec: 'snappy' | 'lz4'): Buffer {
  const payload = compress(Compression[codec], batch.subarray(BATCH_HEADER_SIZE))
  const out = Buffer.concat([batch.subarray(0, BATCH_HEADER_SIZE), payload])
  out.writeInt32BE(out.length - LOG_OVERHEAD, Offsets.batchLength)
  out.writeInt16BE(
    (out.readInt16BE(Offsets.attributes) & ~Attributes.compressionMask) | Compression[codec],
    Offsets.attributes,
  )
  out.writeUInt32BE(crc32c(out, Offsets.attributes), Offsets.crc)
  assert.equal(checkBatch(out, 0, out.length).problem, null)
  return out
}

/** A batch of records at `base`..: value `v<offset>`, except where `values` says otherwise. */
function batch(
  base: number,
  count: number,
  options: BuildBatchOptions = {},
  values: Record<number, string | null> = {},
) {
  const records: RecordInput[] = Array.from({ length: count }, (_, i) => ({
    key: i % 2 === 0 ? null : `key-${base + i}`,
    value: base + i in values ? values[base + i] : `v${base + i}`,
    timestamp: 1_700_000_000_000 + (base + i) * 1000,
    headers: i % 3 === 0 ? [['h', `${base + i}`]] : [],
  }))
  return buildRecordBatch(records, { ...options, baseOffset: base })
}

type Walked = { got: [number, string | null][]; next: number; records: number }

function walk(
  data: Buffer | null,
  from: number,
  to: number,
  aborted: { producerId: number; firstOffset: number }[] = [],
): Walked {
  const got: [number, string | null][] = []
  const { next, records } = walkBatches(data, from, to, aborted, 4, (value, partition, offset) => {
    assert.equal(partition, 4)
    got.push([offset, value === null ? null : value.toString()])
  })
  assert.equal(records, got.length)
  return { got, next, records }
}

// Offsets 0..17 in five batches, one per codec; 2 is a tombstone, 5 an empty value, 14 a long one.
const VALUES = { 2: null, 5: '', 14: 'z'.repeat(300) }
const BATCHES = [
  batch(0, 4, {}, VALUES),
  batch(4, 4, { compression: 'gzip' }, VALUES),
  withCodec(batch(8, 3, {}, VALUES), 'snappy'),
  withCodec(batch(11, 2, {}, VALUES), 'lz4'),
  batch(13, 5, { compression: 'zstd' }, VALUES),
]
const DATA = Buffer.concat(BATCHES)
const ALL: [number, string | null][] = Array.from({ length: 18 }, (_, o) => [
  o,
  o in VALUES ? VALUES[o as keyof typeof VALUES] : `v${o}`,
])

test('walkBatches hands out the records of [from, to) of every codec, and the next offset', () => {
  assert.deepEqual(walk(DATA, 0, 100), { got: ALL, next: 18, records: 18 })
  for (let from = 0; from <= 18; from++) {
    for (let to = from; to <= 19; to++) {
      const { got, next } = walk(DATA, from, to)
      assert.deepEqual(
        got,
        ALL.filter(([o]) => o >= from && o < to),
        `[${from}, ${to})`,
      )
      // Past every whole batch read (scanRanges caps it at `to`).
      assert.equal(next, 18)
    }
  }
  // Nothing fetched: stay.
  assert.deepEqual(walk(null, 7, 20), { got: [], next: 7, records: 0 })
  assert.deepEqual(walk(Buffer.alloc(0), 7, 20), { got: [], next: 7, records: 0 })
  // Values of an uncompressed batch are views of the fetched bytes, not copies.
  walkBatches(DATA, 0, 1, [], 0, (value) => assert.equal(value!.buffer, DATA.buffer))
})

test('walkBatches leaves a truncated last batch for the next fetch', () => {
  const ends: number[] = []
  BATCHES.reduce((end, b) => (ends.push(end + b.length), end + b.length), 0)
  // Every cut of the bytes: within a header, within the records, exactly between two batches.
  for (let cut = 0; cut <= DATA.length; cut++) {
    const whole = ends.filter((e) => e <= cut).length
    const next = whole === 0 ? 3 : [4, 8, 11, 13, 18][whole - 1]
    const { got, next: nextGot } = walk(DATA.subarray(0, cut), 3, 100)
    assert.equal(nextGot, next, `cut at ${cut}`)
    assert.deepEqual(
      got,
      ALL.filter(([o]) => o >= 3 && o < next),
      `cut at ${cut}`,
    )
  }
})

test('walkBatches skips control batches and the records of aborted transactions', () => {
  const P = 7 // aborts its first transaction, commits its second
  const Q = 8 // commits its first transaction, aborts its second
  const txn = (producerId: number, base: number, count: number, compression: 'none' | 'gzip' = 'none') =>
    batch(base, count, { producerId, producerEpoch: 0, transactional: true, compression })
  const marker = (producerId: number, base: number, commit: boolean) =>
    at(buildControlBatch({ producerId, producerEpoch: 0, commit }), base)
  const parts = [
    txn(P, 0, 2), // 0..1 aborted
    txn(Q, 2, 2), // 2..3 committed
    batch(4, 1), // 4 plain
    txn(P, 5, 1, 'gzip'), // 5 aborted
    marker(P, 6, false),
    marker(Q, 7, true),
    txn(P, 8, 2), // 8..9 committed
    marker(P, 10, true),
    txn(Q, 11, 2, 'gzip'), // 11..12 aborted
    batch(13, 1, { producerId: Q, producerEpoch: 0 }), // 13: Q idempotent, not transactional: kept
    marker(Q, 14, false),
    batch(15, 2), // 15..16 plain
  ]
  const data = Buffer.concat(parts)
  const aborted = [
    { producerId: Q, firstOffset: 11 },
    { producerId: P, firstOffset: 0 },
    // Listed but beyond these bytes: no effect.
    { producerId: 99, firstOffset: 40 },
  ]
  const kept = [2, 3, 4, 8, 9, 13, 15, 16]
  for (let from = 0; from <= 17; from++) {
    const { got, next } = walk(data, from, 17, aborted)
    assert.deepEqual(
      got.map(([o]) => o),
      kept.filter((o) => o >= from),
      `from ${from}`,
    )
    assert.equal(next, 17)
  }
  // Without the aborted list every transactional record is handed out, but never a marker's.
  assert.deepEqual(
    walk(data, 0, 17).got.map(([o]) => o),
    [0, 1, 2, 3, 4, 5, 8, 9, 11, 12, 13, 15, 16],
  )
  // Bytes that end before the abort marker (a later fetch brings it): the aborted records are still skipped.
  const beforeAbort = parts.slice(0, 4).reduce((n, b) => n + b.length, 0)
  const upTo6 = walk(data.subarray(0, beforeAbort), 0, 17, aborted)
  assert.deepEqual(
    upTo6.got.map(([o]) => o),
    [2, 3, 4],
  )
  assert.equal(upTo6.next, 6)
})

test('walkBatches rejects corrupt bytes with PROTOCOL_MALFORMED', () => {
  const malformed = (data: Buffer) =>
    assert.throws(() => walk(data, 0, 100), { name: 'TickflowError', code: ErrorCodes.PROTOCOL_MALFORMED })
  // A batch length shorter than a header, in the first or a later batch, even negative.
  for (const index of [0, 2]) {
    for (const batchLength of [0, 10, BATCH_HEADER_SIZE - LOG_OVERHEAD - 1, -12, -1000]) {
      const data = Buffer.concat(BATCHES)
      const start = BATCHES.slice(0, index).reduce((n, b) => n + b.length, 0)
      data.writeInt32BE(batchLength, start + Offsets.batchLength)
      malformed(data)
    }
  }
  // More records counted than the batch holds.
  const counted = Buffer.from(BATCHES[0])
  counted.writeInt32BE(5, Offsets.recordCount)
  malformed(counted)
  // A record longer than the batch.
  const long = batch(0, 1)
  assert.ok(long.length - BATCH_HEADER_SIZE < 63)
  long[BATCH_HEADER_SIZE] = 0x7e // zigzag 63
  malformed(long)
  // Corrupt compressed bytes: a compression error.
  const gz = Buffer.from(BATCHES[1])
  gz.fill(0x55, BATCH_HEADER_SIZE + 10)
  assert.throws(() => walk(gz, 0, 100), { code: ErrorCodes.COMPRESSION })
})

test('walkBatchesFull hands out whole records: key, value, headers (null ones too), like walkBatches', () => {
  const records: RecordInput[] = [
    {
      key: 'k0',
      value: 'v0',
      timestamp: 1000,
      headers: [
        ['a', '1'],
        ['b', null],
      ],
    },
    { key: null, value: null, timestamp: 1001 },
    { key: Buffer.from([0, 255]), value: '', timestamp: 999, headers: [['ü', Buffer.from([9])]] },
  ]
  const data = Buffer.concat([
    buildRecordBatch(records, { baseOffset: 0 }),
    buildRecordBatch([{ key: 'z', value: 'zz', timestamp: 5 }], { baseOffset: 3, compression: 'gzip' }),
  ])
  const got: FullRecord[] = []
  const walked = walkBatchesFull(data, 1, 100, [], 2, (r) => got.push(r))
  assert.deepEqual(walked, { next: 4, records: 3 })
  assert.deepEqual(
    got.map((r) => [r.partition, r.offset, r.timestamp, r.key, r.value?.toString() ?? null, r.headers]),
    [
      [2, 1, 1001, null, null, []],
      [2, 2, 999, Buffer.from([0, 255]), '', [['ü', Buffer.from([9])]]],
      [2, 3, 5, Buffer.from('z'), 'zz', []],
    ],
  )
  const first: FullRecord[] = []
  walkBatchesFull(data, 0, 1, [], 0, (r) => first.push(r))
  assert.deepEqual(first[0].headers, [
    ['a', Buffer.from('1')],
    ['b', null],
  ])
  // The same offsets and values as the value-only walk.
  const plain: number[] = []
  walkBatches(data, 0, 100, [], 0, (_v, _p, offset) => plain.push(offset))
  const full: number[] = []
  walkBatchesFull(data, 0, 100, [], 0, (r) => full.push(r.offset))
  assert.deepEqual(full, plain)
  // A header overrunning its record is malformed.
  const bad = Buffer.from(buildRecordBatch([{ value: 'v', headers: [['h', 'x']] }]))
  assert.equal(bad[bad.length - 2], 2, 'the header value length, zigzag 1')
  bad[bad.length - 2] = 0x7e // zigzag 63
  assert.throws(
    () => walkBatchesFull(bad, 0, 10, [], 0, () => undefined),
    (err: { code?: string }) =>
      err.code === ErrorCodes.PROTOCOL_MALFORMED || err.code === ErrorCodes.INVALID_RECORD_BATCH,
  )
})
