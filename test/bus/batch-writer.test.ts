/**
 * BatchWriter, tickflow's own idempotent writer: its murmur2 partitioner and RecordBatch encoder
 * against independent references (Kafka's test vectors, KafkaJS's Java-compatible partitioner,
 * the protocol's batch builder, checker and decoder), then whole writes to a tickflow broker over
 * TCP, read back with KafkaJS and checked down to the stored batches' producer id and sequences,
 * also while the broker closes Produce connections and loses a response.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { pathToFileURL } from 'node:url'
import kafkajs from 'kafkajs'
import { BatchWriter, encodeBatch, murmur2 } from '../../src/bus/batch-writer.ts'
import type { BusConfig } from '../../src/bus/client.ts'
import { FetchConnection } from '../../src/bus/fetch-connection.ts'
import { ErrorCodes, TickflowError } from '../../src/errors.ts'
import type { Broker } from '../../src/broker/index.ts'
import { decodeBatch, decodeBatches, type DecodedBatch } from '../../src/protocol/batch-decoder.ts'
import { buildRecordBatch, checkBatch, type RecordInput } from '../../src/protocol/record-batch.ts'
import { createTopic } from '../helpers/admin.ts'
import { startTestBroker } from '../helpers/broker.ts'
import { readTopic, topicOffsets, type ReadRecord } from '../helpers/cli.ts'
import { connect, fetchOne, newProducerId, produce, topicNames } from '../helpers/wire.ts'

const { Partitioners } = kafkajs

let clients = 0
function busOf(address: string): BusConfig {
  return { bootstrapBrokers: [address], clientId: `batch-writer-test-${++clients}` }
}

/** A deterministic PRNG (mulberry32): the same keys and values on every run. */
function random(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0
    let x = Math.imul(seed ^ (seed >>> 15), 1 | seed)
    x = (x + Math.imul(x ^ (x >>> 7), 61 | x)) ^ x
    return ((x ^ (x >>> 14)) >>> 0) / 2 ** 32
  }
}

/** The partition KafkaJS's Java-compatible partitioner picks for `key` among `partitions`. */
function kafkaPartition(key: string | Buffer, partitions: number): number {
  return Partitioners.JavaCompatiblePartitioner()({
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

/** The partition BatchWriter picks for a keyed record. */
const writerPartition = (key: string, partitions: number) => (murmur2(Buffer.from(key)) & 0x7fffffff) % partitions

test('murmur2 is Kafka’s: the Java client’s test vectors, and KafkaJS’s partition for random keys', () => {
  // Apache Kafka's UtilsTest.testMurmur2.
  const vectors: [string, number][] = [
    ['21', -973932308],
    ['foobar', -790332482],
    ['a-little-bit-long-string', -985981536],
    ['a-little-bit-longer-string', -1486304829],
    ['lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8', -58897971],
    ['abc', 479470107],
  ]
  for (const [key, hash] of vectors) assert.equal(murmur2(Buffer.from(key)), hash, key)

  const next = random(20240301)
  const int = (n: number) => Math.floor(next() * n)
  // Code points of 1, 2, 3 and 4 UTF-8 bytes, so byte lengths take every remainder mod 4.
  const ranges: [number, number][] = [
    [0x20, 0x7e],
    [0x80, 0x7ff],
    [0x4e00, 0x9fff],
    [0x1f300, 0x1faff],
  ]
  const keys: string[] = []
  for (let i = 0; i < 3000; i++) {
    const length = i % 41
    const utf8 = i % 2 === 1
    let key = ''
    for (let c = 0; c < length; c++) {
      const [lo, hi] = ranges[utf8 ? int(ranges.length) : 0]
      key += String.fromCodePoint(lo + int(hi - lo + 1))
    }
    keys.push(key)
  }
  assert.ok(keys.some((k) => Buffer.byteLength(k) > 100))
  const lengthsMod4 = new Set(keys.map((k) => Buffer.byteLength(k) % 4))
  assert.equal(lengthsMod4.size, 4)
  for (const key of keys) {
    const hash = murmur2(Buffer.from(key))
    assert.ok(Number.isInteger(hash) && hash >= -(2 ** 31) && hash < 2 ** 31, 'a signed 32-bit hash')
    for (let partitions = 1; partitions <= 7; partitions++) {
      assert.equal(writerPartition(key, partitions), kafkaPartition(key, partitions), `${key} over ${partitions}`)
    }
  }
  // Raw bytes that are not UTF-8 hash the same way.
  for (let i = 0; i < 500; i++) {
    const bytes = Buffer.from(Array.from({ length: i % 41 }, () => int(256)))
    for (const partitions of [3, 7]) {
      assert.equal((murmur2(bytes) & 0x7fffffff) % partitions, kafkaPartition(bytes, partitions))
    }
  }
})

interface BatchCase {
  keys: (Buffer | null)[]
  values: Buffer[]
  indexes: number[]
  producerId: number
  producerEpoch: number
  baseSequence: number
  timestamp: number
}

/**
 * Encodes one batch and checks it against the protocol's own code: byte-identical to
 * buildRecordBatch, valid for checkBatch (CRC, framing), and decoded back to the same header and
 * records. Returns the encoded batch.
 */
function checkEncoded(c: BatchCase): Buffer {
  const batch = encodeBatch(c.keys, c.values, c.indexes, c.producerId, c.producerEpoch, c.baseSequence, c.timestamp)
  assert.deepEqual(checkBatch(batch, 0, batch.length), { problem: null, detail: '' })
  const inputs: RecordInput[] = c.indexes.map((i) => ({ key: c.keys[i], value: c.values[i] }))
  const reference = buildRecordBatch(inputs, {
    producerId: c.producerId,
    producerEpoch: c.producerEpoch,
    baseSequence: c.baseSequence,
    baseTimestamp: c.timestamp,
  })
  assert.equal(batch.length, reference.length)
  assert.ok(batch.equals(reference), 'the same bytes as buildRecordBatch')

  const { header, records } = decodeBatch(batch)
  assert.deepEqual(header, {
    baseOffset: 0,
    batchLength: batch.length - 12,
    partitionLeaderEpoch: -1,
    magic: 2,
    crc: header.crc,
    attributes: 0,
    lastOffsetDelta: c.indexes.length - 1,
    baseTimestamp: c.timestamp,
    maxTimestamp: c.timestamp,
    producerId: c.producerId,
    producerEpoch: c.producerEpoch,
    baseSequence: c.baseSequence,
    recordCount: c.indexes.length,
  })
  assert.equal(records.length, c.indexes.length)
  records.forEach((r, i) => {
    const at = c.indexes[i]
    assert.equal(r.offset, i)
    assert.equal(r.timestamp, c.timestamp)
    assert.deepEqual(r.key, c.keys[at], `key of record ${i}`)
    assert.ok(r.value !== null && r.value.equals(c.values[at]), `value of record ${i}`)
    assert.deepEqual(r.headers, [])
  })
  return batch
}

test('encodeBatch: a valid batch with the records picked, null keys, empty values, producer fields', () => {
  const keys = [null, Buffer.from(''), Buffer.from('AAPL'), null, Buffer.from('株式€😀'), Buffer.from('x'), null]
  const values = ['', 'a', '{"price":1}', 'skipped', '', 'b', 'last'].map((v) => Buffer.from(v))
  for (const c of [
    // A producer id beyond 32 bits, and a batch whose sequences wrap past 2^31 - 1.
    { indexes: [0, 1, 2, 4, 6], producerId: 2 ** 40 + 12345, producerEpoch: 7, baseSequence: 2 ** 31 - 2 },
    { indexes: [3], producerId: 0, producerEpoch: 0, baseSequence: 0 },
    { indexes: [5, 6], producerId: 1, producerEpoch: 32767, baseSequence: 1000 },
  ]) {
    checkEncoded({ keys, values, timestamp: 1_709_285_400_123, ...c })
  }
})

test('encodeBatch: varint edges of key and value lengths, record lengths and offset deltas', () => {
  const next = random(7)
  const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => Math.floor(next() * 256)))
  // Value lengths at varint edges (zigzag: 63 is one byte, 64 two, 8191 two, 8192 three), and the
  // lengths that make a lone record's body 63, 64, 8191 and 8192 bytes (5 + length + value).
  const lengths = [0, 63, 64, 8191, 8192, 1 << 20, 57, 58, 8184, 8185]
  const keys: (Buffer | null)[] = []
  const values: Buffer[] = []
  for (const n of lengths) {
    keys.push(null, bytes(n % 8193))
    values.push(bytes(n), bytes(n))
  }
  const all = keys.map((_, i) => i)
  const batches = all.map((i) =>
    checkEncoded({ keys, values, indexes: [i], producerId: 5, producerEpoch: 1, baseSequence: i, timestamp: 1 }),
  )
  batches.push(
    checkEncoded({ keys, values, indexes: all, producerId: 5, producerEpoch: 1, baseSequence: 0, timestamp: 2 }),
  )

  // Offset deltas past 63 and 8191 take two and three bytes.
  const many = Array.from({ length: 8300 }, (_, i) => Buffer.from(`m${i}`))
  const manyKeys = many.map((_, i) => (i % 3 === 0 ? null : Buffer.from(`k${i % 17}`)))
  batches.push(
    checkEncoded({
      keys: manyKeys,
      values: many,
      indexes: many.map((_, i) => i),
      producerId: 9,
      producerEpoch: 2,
      baseSequence: 77,
      timestamp: Date.now(),
    }),
  )

  // Back to back, as a Fetch returns them, with a partial batch at the end that is left out.
  const log = Buffer.concat([...batches, batches[3].subarray(0, 70)])
  const decoded = decodeBatches(log)
  assert.equal(decoded.length, batches.length)
  decoded.forEach((d, i) => assert.deepEqual(d, decodeBatch(batches[i])))
})

/** Writes the records, waiting whenever the writer asks to, then flushes. */
async function writeAll(writer: BatchWriter, records: { key: string | undefined; value: string }[]): Promise<void> {
  for (const r of records) {
    const wait = writer.write(r.key, r.value)
    if (wait !== undefined) await wait
  }
  await writer.flush()
}

// ASCII and UTF-8 keys of assorted lengths.
const KEYS = Array.from({ length: 60 }, (_, i) =>
  i % 3 === 0 ? `SYM${i}` : i % 3 === 1 ? `株${i}-${'é'.repeat(i % 5)}` : `${'x'.repeat(i % 11)}😀${i}`,
)

/** Record i: key KEYS[i % 60], value `<prefix><i>`. */
function recordsOf(n: number, prefix = 'v'): { key: string | undefined; value: string }[] {
  return Array.from({ length: n }, (_, i) => ({ key: KEYS[i % KEYS.length], value: `${prefix}${i}` }))
}

const indexOf = (r: ReadRecord, prefix = 'v') => Number((r.value as string).slice(prefix.length))

/**
 * Every record written exactly once (the values as a multiset), each keyed record in the partition
 * Kafka's partitioner picks, and each partition in write order.
 */
function checkLanded(records: ReadRecord[], n: number, partitions: number, prefix = 'v'): void {
  const seen = records.map((r) => indexOf(r, prefix)).sort((a, b) => a - b)
  assert.equal(seen.length, n, 'as many records as written')
  assert.deepEqual(
    seen,
    Array.from({ length: n }, (_, i) => i),
    'each record once',
  )
  const last = new Map<number, number>()
  for (const r of records) {
    if (r.key !== null) {
      assert.equal(r.partition, kafkaPartition(r.key, partitions), `${r.key} where Kafka's partitioner puts it`)
    }
    const index = indexOf(r, prefix)
    assert.ok(index > (last.get(r.partition) ?? -1), `partition ${r.partition} in write order at offset ${r.offset}`)
    last.set(r.partition, index)
  }
}

/** The record batches stored in one partition, fetched with the raw client from offset 0. */
async function storedBatches(t: TestContext, broker: Broker, topic: string, partition: number) {
  const c = await connect(t, broker)
  const out: DecodedBatch[] = []
  for (let offset = 0; ;) {
    const p = await fetchOne(c, 12, { topic, partition, offset, partitionMaxBytes: 8 << 20 })
    assert.equal(p.errorCode, 0)
    const batches = decodeBatches(p.records ?? Buffer.alloc(0))
    if (batches.length === 0) return out
    out.push(...batches)
    const h = batches[batches.length - 1].header
    offset = h.baseOffset + h.lastOffsetDelta + 1
  }
}

/**
 * The stored batches of every partition come from one idempotent producer and their sequences
 * follow one another from 0: no batch was stored twice and none is missing. Returns the number
 * of batches.
 */
async function checkSequences(t: TestContext, broker: Broker, topic: string, partitions: number): Promise<number> {
  let producer: { id: number; epoch: number } | undefined
  let total = 0
  for (let partition = 0; partition < partitions; partition++) {
    let next = 0
    let offset = 0
    for (const { header } of await storedBatches(t, broker, topic, partition)) {
      producer ??= { id: header.producerId, epoch: header.producerEpoch }
      assert.ok(producer.id >= 0, 'an idempotent producer id')
      assert.deepEqual({ id: header.producerId, epoch: header.producerEpoch }, producer, 'one producer')
      assert.equal(header.baseSequence, next, `sequence of the batch at ${topic}/${partition}@${header.baseOffset}`)
      assert.equal(header.baseOffset, offset)
      next += header.recordCount
      offset += header.recordCount
      total++
    }
  }
  return total
}

async function storedCount(address: string, topic: string): Promise<number> {
  return (await topicOffsets(address, topic)).reduce((a, o) => a + o.high - o.low, 0)
}

test('BatchWriter lands exactly the records written, each key where Kafka puts it, in write order', async (t) => {
  const broker = await startTestBroker(t)
  const n = 30_000
  for (const partitions of [3, 4]) {
    const topic = `batch-${partitions}`
    await createTopic(broker, topic, partitions)
    const writer = new BatchWriter(busOf(broker.address), { topic, chunkSize: 1000 })
    await writeAll(writer, recordsOf(n))
    assert.equal(writer.acked, n)
    await writer.close()
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
    checkLanded(records, n, partitions)
    assert.equal(new Set(records.map((r) => r.key)).size, KEYS.length)
    // 30 rounds of 1000: at least one batch per partition per round.
    assert.ok((await checkSequences(t, broker, topic, partitions)) >= 30 * partitions)
  }
})

test('BatchWriter spreads records without a key round-robin, across rounds too', async (t) => {
  const broker = await startTestBroker(t)
  const spread = async (topic: string) => {
    const records = await readTopic(broker.address, topic)
    const counts = [0, 0, 0]
    for (const r of records) {
      assert.equal(r.key, null)
      counts[r.partition]++
    }
    return { records, counts }
  }

  // Rounds of 100 records: 3000 records spread 1000 to a partition.
  await createTopic(broker, 'keyless', 3)
  const writer = new BatchWriter(busOf(broker.address), { topic: 'keyless', chunkSize: 100 })
  await writeAll(
    writer,
    Array.from({ length: 3000 }, (_, i) => ({ key: undefined, value: `n${i}` })),
  )
  await writer.close()
  assert.equal(writer.acked, 3000)
  const many = await spread('keyless')
  checkLanded(many.records, 3000, 3, 'n')
  assert.deepEqual(many.counts, [1000, 1000, 1000])

  // One record per round (a slow feed): still one partition after the other.
  await createTopic(broker, 'keyless-slow', 3)
  const slow = new BatchWriter(busOf(broker.address), { topic: 'keyless-slow' })
  for (let i = 0; i < 6; i++) {
    assert.equal(slow.write(undefined, `s${i}`), undefined)
    await slow.flush()
  }
  await slow.close()
  assert.equal(slow.acked, 6)
  const few = await spread('keyless-slow')
  checkLanded(few.records, 6, 3, 's')
  assert.deepEqual(few.counts, [2, 2, 2])
})

test('BatchWriter splits a round too large for one batch, in order and exactly once', async (t) => {
  const broker = await startTestBroker(t)
  // One partition, the default 10000 records a round, 200-byte values: about 2 MB a round where
  // a batch may hold 1 MiB (the broker's default max.message.bytes).
  await createTopic(broker, 'big', 1)
  const writer = new BatchWriter(busOf(broker.address), { topic: 'big' })
  const n = 25_000
  const pad = 'p'.repeat(200)
  await writeAll(
    writer,
    Array.from({ length: n }, (_, i) => ({ key: KEYS[i % KEYS.length], value: `b${i}:${pad}` })),
  )
  await writer.close()
  assert.equal(writer.acked, n)
  const records = (await readTopic(broker.address, 'big')).map((r) => ({ ...r, value: r.value!.split(':')[0] }))
  checkLanded(records, n, 1, 'b')
  assert.ok((await checkSequences(t, broker, 'big', 1)) >= 6)
})

test('the broker stores a resent encodeBatch batch once, and twice without a producer id', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await createTopic(broker, 'resend', 2)
  const keys = [Buffer.from('k'), null, Buffer.from('k2')]
  const values = ['a', 'b', 'c'].map((v) => Buffer.from(v))
  const { producerId, producerEpoch } = await newProducerId(c)

  const batch = encodeBatch(keys, values, [0, 1, 2], producerId, producerEpoch, 0, Date.now())
  const first = await produce(c, 'resend', 0, batch)
  const again = await produce(c, 'resend', 0, batch)
  assert.deepEqual([first.errorCode, again.errorCode], [0, 0])
  assert.equal(again.baseOffset, first.baseOffset, 'the resend is answered with the first append')
  const next = encodeBatch(keys, values, [2], producerId, producerEpoch, 3, Date.now())
  assert.equal((await produce(c, 'resend', 0, next)).errorCode, 0)

  const anonymous = encodeBatch(keys, values, [0, 1, 2], -1, -1, -1, Date.now())
  await produce(c, 'resend', 1, anonymous)
  await produce(c, 'resend', 1, anonymous)

  const offsets = await topicOffsets(broker.address, 'resend')
  assert.deepEqual(
    offsets.map((o) => o.high),
    [4, 6],
  )
})

test('closed Produce connections and a lost response: still exactly N records, none twice', async (t) => {
  // The writer's connections answer a lost response after 3 s instead of 30 (FetchConnection's
  // requestTimeoutMs, set on each connection as it is made).
  const connectOriginal = FetchConnection.connect.bind(FetchConnection)
  FetchConnection.connect = async (host, port, clientId) => {
    const connection = await connectOriginal(host, port, clientId)
    connection.requestTimeoutMs = 3000
    return connection
  }
  t.after(() => {
    FetchConnection.connect = connectOriginal
  })

  let faults = false
  let produceResponses = 0
  const injected = { drop: 0, close: 0 }
  const broker = await startTestBroker(t, {
    hooks: {
      // The request's records are appended either way; the writer never hears so and resends the
      // same batches, which the broker must recognise by producer id and sequence.
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
  const n = 30_000
  await createTopic(broker, topic, 3)
  const writer = new BatchWriter(busOf(broker.address), { topic, chunkSize: 1000 })
  faults = true
  await writeAll(writer, recordsOf(n))
  faults = false
  await writer.close()
  assert.ok(injected.close >= 10 && injected.drop === 1, `faults injected: ${JSON.stringify(injected)}`)
  assert.equal(writer.acked, n)
  assert.equal(await storedCount(broker.address, topic), n, 'no duplicate was appended')
  checkLanded(await readTopic(broker.address, topic), n, 3)
  await checkSequences(t, broker, topic, 3)
})

test('a missing topic rejects flush with UNKNOWN_TOPIC; close still releases the writer', async (t) => {
  const broker = await startTestBroker(t)
  const writer = new BatchWriter(busOf(broker.address), { topic: 'missing' })
  assert.equal(writer.write('k', 'v'), undefined)
  await assert.rejects(writer.flush(), (err: unknown) => {
    assert.ok(err instanceof TickflowError)
    assert.equal(err.code, ErrorCodes.UNKNOWN_TOPIC)
    return true
  })
  assert.throws(() => writer.write('k', 'again'), { code: ErrorCodes.UNKNOWN_TOPIC })
  await assert.rejects(writer.close(), { code: ErrorCodes.UNKNOWN_TOPIC })
  assert.equal(writer.acked, 0)
  assert.ok(!(await topicNames(await connect(t, broker))).includes('missing'), 'nothing created the topic')
})

test('a batch the topic refuses (MESSAGE_TOO_LARGE) rejects flush with a TickflowError', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'small', 1, { 'max.message.bytes': '1000' })
  const writer = new BatchWriter(busOf(broker.address), { topic: 'small' })
  writer.write('k', 'fits')
  await writer.flush()
  assert.equal(writer.acked, 1)
  writer.write('k', 'x'.repeat(2000))
  await assert.rejects(writer.flush(), (err: unknown) => {
    assert.ok(err instanceof TickflowError)
    assert.equal(err.code, ErrorCodes.PROTOCOL_UNSUPPORTED)
    assert.match(err.message, /Kafka error 10\b/)
    return true
  })
  assert.throws(() => writer.write('k', 'after'), TickflowError)
  await assert.rejects(writer.close(), TickflowError)
  assert.equal(writer.acked, 1)
  assert.equal(await storedCount(broker.address, 'small'), 1)
})

test('close() releases everything: a process that wrote and closed its writers exits by itself', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'exit', 3)
  const module = pathToFileURL(path.join(import.meta.dirname, '../../src/bus/batch-writer.ts')).href
  // A good writer closed after a flush, one closed without it, and one whose flush failed.
  const script = `
    const { BatchWriter } = await import(process.argv[1])
    const bus = { bootstrapBrokers: [process.argv[2]], clientId: 'batch-writer-exit' }
    const flushed = new BatchWriter(bus, { topic: 'exit', chunkSize: 100 })
    for (let i = 0; i < 1000; i++) await flushed.write('k' + (i % 7), 'e' + i)
    await flushed.flush()
    await flushed.close()
    const unflushed = new BatchWriter(bus, { topic: 'exit', lingerMs: 60000 })
    unflushed.write(undefined, 'last')
    await unflushed.close()
    const failed = new BatchWriter(bus, { topic: 'missing' })
    failed.write('k', 'v')
    const code = await failed.close().then(() => 'none', (err) => err.code)
    console.log(JSON.stringify({ acked: flushed.acked + unflushed.acked, code }))
  `
  const child = spawn(process.execPath, ['--input-type=module', '-e', script, module, broker.address], {
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d))
  const code = await new Promise<number | null>((resolve) => child.on('close', resolve))
  assert.equal(code, 0, stderr)
  assert.deepEqual(JSON.parse(stdout), { acked: 1001, code: ErrorCodes.UNKNOWN_TOPIC })
  assert.equal(await storedCount(broker.address, 'exit'), 1001)
})
