import assert from 'node:assert/strict'
import crypto from 'node:crypto'
import net from 'node:net'
import { test, type TestContext } from 'node:test'
import { FETCH_VERSION, FetchConnection } from '../../src/bus/fetch-connection.ts'
import { ErrorCodes } from '../../src/errors.ts'
import { decompress } from '../../src/protocol/compression/index.ts'
import type { FetchRequestInput } from '../../src/protocol/messages/index.ts'
import {
  Attributes,
  BATCH_HEADER_SIZE,
  decodeRecords,
  LOG_OVERHEAD,
  readBatchHeader,
  type RecordInput,
} from '../../src/protocol/record-batch.ts'
import { createTopic, produceRaw } from '../helpers/admin.ts'
import { startTestBroker } from '../helpers/broker.ts'
import { closedAddress } from '../helpers/cli.ts'

/** A connection to `address`, closed after the test. */
async function connect(t: TestContext, address: string, clientId = 'fetch-test'): Promise<FetchConnection> {
  const [host, port] = address.split(':')
  const connection = await FetchConnection.connect(host, Number(port), clientId)
  t.after(() => connection.close())
  return connection
}

/** A read_uncommitted fetch of one partition from `offset`. */
function fetchOf(topic: string, partition: number, offset: number, partitionMaxBytes = 64 << 20): FetchRequestInput {
  return {
    maxWaitMs: 0,
    minBytes: 1,
    maxBytes: 64 << 20,
    isolationLevel: 0,
    topics: [{ topic, partitions: [{ partition, fetchOffset: BigInt(offset), partitionMaxBytes }] }],
  }
}

interface Decoded {
  /** Base offset of every batch, in order. */
  bases: number[]
  records: { offset: number; value: Buffer | null }[]
}

/** The batches of a records field, decoded independently of scan.ts. */
function decode(data: Buffer | null): Decoded {
  const out: Decoded = { bases: [], records: [] }
  if (data === null) return out
  let at = 0
  while (at < data.length) {
    const header = readBatchHeader(data, at)
    const end = at + LOG_OVERHEAD + header.batchLength
    assert.ok(end <= data.length, 'whole batches only')
    const payload = decompress(
      header.attributes & Attributes.compressionMask,
      data.subarray(at + BATCH_HEADER_SIZE, end),
    )
    out.bases.push(header.baseOffset)
    for (const r of decodeRecords(header, payload)) out.records.push({ offset: r.offset, value: r.value })
    at = end
  }
  return out
}

const text = (d: Decoded) => d.records.map((r) => [r.offset, r.value?.toString() ?? null])

test('fetch returns the records the broker holds, and partition errors as data', async (t) => {
  const seen: { apiVersion: number; clientId: string | null }[] = []
  const broker = await startTestBroker(t, {
    hooks: {
      beforeResponse: ({ apiKey, apiVersion, clientId }) => void (apiKey === 1 && seen.push({ apiVersion, clientId })),
    },
  })
  await createTopic(broker, 'f', 2)
  const values = (from: number, n: number) => Array.from({ length: n }, (_, i) => ({ value: `f-${from + i}` }))
  await produceRaw(broker, 'f', 0, [values(0, 5)])
  await produceRaw(broker, 'f', 0, [values(5, 4)], { compression: 'gzip' })
  await produceRaw(broker, 'f', 0, [values(9, 3)])
  await produceRaw(broker, 'f', 1, [[{ value: null }, { value: 'one' }]])
  const connection = await connect(t, broker.address, 'fetch-test-basic')

  const response = await connection.fetch({
    maxWaitMs: 0,
    minBytes: 1,
    isolationLevel: 1,
    topics: [
      {
        topic: 'f',
        partitions: [
          { partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 },
          { partition: 1, fetchOffset: 0n, partitionMaxBytes: 1 << 20 },
        ],
      },
    ],
  })
  assert.deepEqual(seen, [{ apiVersion: FETCH_VERSION, clientId: 'fetch-test-basic' }])
  assert.equal(FETCH_VERSION, 12)
  assert.equal(response.errorCode, 0)
  assert.equal(response.responses.length, 1)
  assert.equal(response.responses[0].topic, 'f')
  const [p0, p1] = response.responses[0].partitions
  assert.deepEqual(
    [p0.partitionIndex, p0.errorCode, p0.highWatermark, p0.lastStableOffset, p0.logStartOffset],
    [0, 0, 12n, 12n, 0n],
  )
  assert.deepEqual(p0.abortedTransactions, [])
  const d0 = decode(p0.records)
  assert.deepEqual(d0.bases, [0, 5, 9])
  assert.deepEqual(
    text(d0),
    Array.from({ length: 12 }, (_, i) => [i, `f-${i}`]),
  )
  assert.deepEqual(text(decode(p1.records)), [
    [0, null],
    [1, 'one'],
  ])

  // From the middle of a batch: whole batches from the one holding the offset.
  assert.deepEqual(
    decode((await connection.fetch(fetchOf('f', 0, 6))).responses[0].partitions[0].records).bases,
    [5, 9],
  )
  // At the end: no records; past it, and an unknown topic: errors in the partition.
  const atEnd = (await connection.fetch(fetchOf('f', 0, 12))).responses[0].partitions[0]
  assert.equal(atEnd.errorCode, 0)
  assert.equal(atEnd.records?.length ?? 0, 0)
  assert.equal((await connection.fetch(fetchOf('f', 0, 13))).responses[0].partitions[0].errorCode, 1)
  assert.equal((await connection.fetch(fetchOf('nope', 0, 0))).responses[0].partitions[0].errorCode, 3)

  // Many fetches in flight on the one connection: each gets its own answer.
  const offsets = Array.from({ length: 40 }, (_, i) => (i * 7) % 12)
  const answers = await Promise.all(offsets.map((o) => connection.fetch(fetchOf('f', 0, o, 1))))
  answers.forEach((answer, i) => {
    const d = decode(answer.responses[0].partitions[0].records)
    const base = offsets[i] < 5 ? 0 : offsets[i] < 9 ? 5 : 9
    assert.deepEqual(d.bases, [base], `fetch from ${offsets[i]}`)
  })
})

/** Partition 0 of `topic` gets `batches` batches of `perBatch` random values of `size` bytes; returns them. */
async function fillRandom(
  broker: { address: string },
  topic: string,
  batches: number,
  perBatch: number,
  size: number,
): Promise<Buffer[]> {
  const all: Buffer[] = []
  for (let b = 0; b < batches; b++) {
    const records: RecordInput[] = Array.from({ length: perBatch }, () => ({ value: crypto.randomBytes(size) }))
    all.push(...records.map((r) => r.value as Buffer))
    await produceRaw(broker, topic, 0, [records])
  }
  return all
}

test('a response of several megabytes, arriving in many TCP chunks, is framed whole', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'big', 1)
  // 12 batches of 40 random 12 kB values: about 5.8 MB, far more than one socket read.
  const values = await fillRandom(broker, 'big', 12, 40, 12_000)
  const connection = await connect(t, broker.address)
  const check = (records: Buffer | null, from: number) => {
    const d = decode(records)
    assert.deepEqual(
      d.records.map((r) => r.offset),
      values.map((_, i) => i).slice(from - (from % 40)),
    )
    d.records.forEach((r) => assert.ok(r.value!.equals(values[r.offset]), `value ${r.offset}`))
  }
  const whole = await connection.fetch(fetchOf('big', 0, 0))
  const records = whole.responses[0].partitions[0].records
  assert.ok(records !== null && records.length > 5_000_000, `${records?.length} bytes in one response`)
  check(records, 0)

  // Large and small responses in flight together, back to back on the socket.
  const [a, b, c, d] = await Promise.all([
    connection.fetch(fetchOf('big', 0, 0)),
    connection.fetch(fetchOf('big', 0, 475, 1)),
    connection.fetch(fetchOf('big', 0, 100)),
    connection.fetch(fetchOf('big', 0, 479, 1)),
  ])
  check(a.responses[0].partitions[0].records, 0)
  check(b.responses[0].partitions[0].records, 475)
  check(c.responses[0].partitions[0].records, 100)
  check(d.responses[0].partitions[0].records, 479)
})

/**
 * A TCP relay to `target` that passes requests through and cuts the responses into slices of
 * the given sizes, in turn, one write each with a turn of the event loop in between: a size prefix
 * split across writes, the end of one response and the start of the next in one write. Closes the
 * client's side once `cutAfter` bytes were passed back, when given.
 */
async function slicingRelay(
  t: TestContext,
  target: string,
  sizes: number[],
  cutAfter = Infinity,
): Promise<{ address: string; writes: () => number }> {
  const [host, port] = target.split(':')
  const sockets = new Set<net.Socket>()
  let writes = 0
  const server = net.createServer((client) => {
    const upstream = net.connect({ host, port: Number(port) })
    for (const s of [client, upstream]) {
      s.setNoDelay(true)
      s.on('error', () => {})
      sockets.add(s)
    }
    client.pipe(upstream)
    client.on('close', () => upstream.destroy())
    upstream.on('close', () => client.destroy())
    let pending = Buffer.alloc(0)
    let sent = 0
    let pumping = false
    let turn = 0
    const pump = async () => {
      pumping = true
      while (pending.length > 0 && !client.destroyed) {
        const n = Math.min(sizes[turn++ % sizes.length], pending.length, cutAfter - sent)
        client.write(pending.subarray(0, n))
        writes++
        sent += n
        pending = pending.subarray(n)
        if (sent >= cutAfter) {
          client.destroy()
          break
        }
        await new Promise((resolve) => setImmediate(resolve))
      }
      pumping = false
    }
    upstream.on('data', (chunk: Buffer) => {
      pending = Buffer.concat([pending, chunk])
      if (!pumping) void pump()
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.after(() => {
    for (const s of sockets) s.destroy()
    server.close()
  })
  return { address: `127.0.0.1:${(server.address() as net.AddressInfo).port}`, writes: () => writes }
}

test('responses cut anywhere by the network are framed correctly', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'sliced', 1)
  const values = await fillRandom(broker, 'sliced', 6, 5, 300)
  const relay = await slicingRelay(t, broker.address, [1, 2, 3, 1, 4, 5, 7, 1, 1, 11, 13, 64, 250, 3, 2000, 9])
  const connection = await connect(t, relay.address)
  const offsets = Array.from({ length: 30 }, (_, i) => i)
  // One at a time, then all in flight at once.
  const one = []
  for (const o of offsets) one.push(await connection.fetch(fetchOf('sliced', 0, o, 1)))
  const all = await Promise.all(
    offsets.map((o) => connection.fetch(fetchOf('sliced', 0, o, o % 2 === 0 ? 1 : 1 << 20))),
  )
  for (const [answers, whole] of [
    [one, false],
    [all, true],
  ] as const) {
    answers.forEach((answer, i) => {
      const d = decode(answer.responses[0].partitions[0].records)
      const first = offsets[i] - (offsets[i] % 5)
      const last = whole && offsets[i] % 2 === 1 ? 30 : first + 5
      assert.deepEqual(
        d.records.map((r) => r.offset),
        Array.from({ length: last - first }, (_, k) => first + k),
      )
      d.records.forEach((r) => assert.ok(r.value!.equals(values[r.offset])))
    })
  }
  assert.ok(relay.writes() > 2 * 60, `${relay.writes()} writes`)
})

test('pending fetches reject with CLOSED when the broker closes the connection', async (t) => {
  let closes = 0
  const broker = await startTestBroker(t, {
    hooks: {
      beforeResponse: ({ apiKey, clientId }) => {
        if (apiKey === 1 && clientId === 'fetch-test-closing') {
          closes++
          return 'close'
        }
      },
    },
  })
  await createTopic(broker, 'c', 1)
  await produceRaw(broker, 'c', 0, [[{ value: 'x' }]])
  const connection = await connect(t, broker.address, 'fetch-test-closing')
  const results = await Promise.allSettled([0, 0, 1].map((o) => connection.fetch(fetchOf('c', 0, o))))
  assert.equal(closes, 1)
  for (const r of results) {
    assert.equal(r.status, 'rejected')
    assert.equal((r as PromiseRejectedResult).reason.name, 'TickflowError')
    assert.equal((r as PromiseRejectedResult).reason.code, ErrorCodes.CLOSED)
  }
  // Later fetches on the closed connection fail at once, without a request.
  await assert.rejects(connection.fetch(fetchOf('c', 0, 0)), { name: 'TickflowError', code: ErrorCodes.CLOSED })
  assert.equal(closes, 1)
  // The broker serves other connections.
  const other = await connect(t, broker.address, 'fetch-test-other')
  assert.equal(decode((await other.fetch(fetchOf('c', 0, 0))).responses[0].partitions[0].records).records.length, 1)
})

test('a connection lost in the middle of a response rejects with CLOSED', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'cut', 1)
  await fillRandom(broker, 'cut', 2, 10, 1000)
  // Cut within the size prefix, within the header, and within the records.
  for (const cutAfter of [2, 9, 5000]) {
    const relay = await slicingRelay(t, broker.address, [1, 3, 1000], cutAfter)
    const connection = await connect(t, relay.address)
    const pending = [connection.fetch(fetchOf('cut', 0, 0)), connection.fetch(fetchOf('cut', 0, 10))]
    for (const p of pending) await assert.rejects(p, { name: 'TickflowError', code: ErrorCodes.CLOSED })
  }
})

test('close() rejects pending fetches with CLOSED; connecting to nothing rejects', async (t) => {
  let dropped = 0
  const broker = await startTestBroker(t, {
    // Never answered: the fetch stays pending until the connection is closed.
    hooks: { beforeResponse: ({ apiKey }) => (apiKey === 1 ? (dropped++, 'drop') : undefined) },
  })
  await createTopic(broker, 'd', 1)
  const connection = await connect(t, broker.address)
  const pending = connection.fetch(fetchOf('d', 0, 0))
  await new Promise<void>((resolve) => {
    const poll = () => (dropped > 0 ? resolve() : setImmediate(poll))
    poll()
  })
  connection.close()
  await assert.rejects(pending, { name: 'TickflowError', code: ErrorCodes.CLOSED })
  await assert.rejects(connection.fetch(fetchOf('d', 0, 0)), { code: ErrorCodes.CLOSED })

  const [host, port] = (await closedAddress()).split(':')
  await assert.rejects(FetchConnection.connect(host, Number(port), 'fetch-test'), { code: 'ECONNREFUSED' })
})
