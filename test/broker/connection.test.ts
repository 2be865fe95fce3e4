/**
 * Connection handling: in-order responses behind a parked Fetch, backpressure past the in-flight
 * limit, what closes a connection (unknown keys, unsupported versions, bad sizes, malformed
 * bodies) and that only that connection closes, and arbitrary frame boundaries.
 */
import assert from 'node:assert/strict'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import { test, type TestContext } from 'node:test'
import { FETCH_CHANNEL, type FetchEvent } from '../../src/broker/apis/01-fetch.ts'
import type { Logger } from '../../src/broker/index.ts'
import { KafkaError } from '../../src/protocol/error-codes.ts'
import {
  readApiVersionsResponse,
  readFetchResponse,
  readMetadataResponse,
  writeApiVersionsRequest,
  writeFetchRequest,
  writeMetadataRequest,
  writeProduceRequest,
} from '../../src/protocol/messages/index.ts'
import { startTestBroker } from '../helpers/broker.ts'
import { decodeResponseFrame, encodeRequestFrame, type RawClient } from '../helpers/raw-client.ts'
import { batchOf, connect, fetchBody, mustCreateTopic, produce, recordsOf } from '../helpers/wire.ts'

const apiVersionsBody = { clientSoftwareName: 'conn-test', clientSoftwareVersion: '1' }

/** Resolves at the next time a Fetch parks on `topic`. */
function nextPark(t: TestContext, topic: string): Promise<void> {
  return new Promise((resolve) => {
    const onMessage = (msg: unknown): void => {
      const e = msg as FetchEvent
      if (e.type === 'parked' && e.topics.includes(topic)) {
        unsubscribe(FETCH_CHANNEL, onMessage)
        resolve()
      }
    }
    subscribe(FETCH_CHANNEL, onMessage)
    t.after(() => unsubscribe(FETCH_CHANNEL, onMessage))
  })
}

/** A logger keeping error-level entries. */
function capturingLogger(): Logger & { errors: Array<{ obj: object; msg?: string }> } {
  const errors: Array<{ obj: object; msg?: string }> = []
  const noop = (): void => {}
  return { errors, debug: noop, info: noop, warn: noop, error: (obj, msg) => errors.push({ obj, msg }) }
}

async function assertStillServes(c: RawClient): Promise<void> {
  const res = await c.request(18, 3, writeApiVersionsRequest, readApiVersionsResponse, apiVersionsBody)
  assert.equal(res.errorCode, KafkaError.NONE)
}

test('responses come back in request order although an earlier Fetch is parked', async (t) => {
  let metadataAnswered: () => void = () => {}
  const answered = new Promise<void>((resolve) => (metadataAnswered = resolve))
  const broker = await startTestBroker(t, {
    hooks: {
      beforeResponse: (info) => {
        if (info.apiKey === 3 && info.clientId === 'pipelined') metadataAnswered()
      },
    },
  })
  const admin = await connect(t, broker)
  await mustCreateTopic(admin, 'order')
  const c = await connect(t, broker)
  const fetchId = c.takeCorrelationId()
  const metadataId = c.takeCorrelationId()
  const parked = nextPark(t, 'order')
  const fetched = c.sendFrame(
    encodeRequestFrame(
      1,
      12,
      fetchId,
      writeFetchRequest,
      fetchBody(12, [{ topic: 'order', offset: 0 }], { minBytes: 1, maxWaitMs: 60_000 }),
      'pipelined',
    ),
    fetchId,
  )
  const described = c.sendFrame(
    encodeRequestFrame(3, 12, metadataId, writeMetadataRequest, { topics: null }, 'pipelined'),
    metadataId,
  )
  // The Metadata answer is ready while the Fetch still waits for data.
  await Promise.all([parked, answered])
  await produce(admin, 'order', 0, batchOf(['wake']))
  const [f, m] = await Promise.all([fetched, described])
  assert.deepEqual(c.arrivals, [fetchId, metadataId])
  const fetch = decodeResponseFrame(f, 1, 12, readFetchResponse)
  assert.deepEqual(
    recordsOf(fetch.responses[0].partitions[0].records).map((r) => r.value),
    ['wake'],
  )
  assert.equal(decodeResponseFrame(m, 3, 12, readMetadataResponse).topics[0].name, 'order')
})

test('more pipelined requests than the in-flight limit behind a parked Fetch are all answered in order', async (t) => {
  const broker = await startTestBroker(t)
  const admin = await connect(t, broker)
  await mustCreateTopic(admin, 'deep')
  const c = await connect(t, broker)
  const parked = nextPark(t, 'deep')
  const ids: number[] = []
  const frames: Buffer[] = []
  const fetchId = c.takeCorrelationId()
  ids.push(fetchId)
  frames.push(
    encodeRequestFrame(
      1,
      12,
      fetchId,
      writeFetchRequest,
      fetchBody(12, [{ topic: 'deep', offset: 0 }], { minBytes: 1, maxWaitMs: 60_000 }),
    ),
  )
  // Past the broker's limit of 1024 pending responses it stops reading until the queue drains.
  for (let i = 0; i < 1500; i++) {
    const id = c.takeCorrelationId()
    ids.push(id)
    frames.push(encodeRequestFrame(18, 0, id, writeApiVersionsRequest, {}))
  }
  const answers = ids.map((id) => c.expect(id))
  void c.sendFrame(Buffer.concat(frames))
  await parked
  await produce(admin, 'deep', 0, batchOf(['go']))
  await Promise.all(answers)
  assert.deepEqual(c.arrivals, ids)
})

test('an unknown API key closes only that connection', async (t) => {
  const logger = capturingLogger()
  const broker = await startTestBroker(t, { logger })
  const other = await connect(t, broker)
  // 17 (SaslHandshake) has generated codecs but no handler; 1234 and -1 are not Kafka keys.
  for (const apiKey of [17, 1234, -1]) {
    const c = await connect(t, broker)
    const frame = encodeRequestFrame(18, 0, 1, writeApiVersionsRequest, {})
    frame.writeInt16BE(apiKey, 4)
    void c.sendFrame(frame, 1).catch(() => {})
    await c.closed
    await assertStillServes(other)
  }
  assert.deepEqual(logger.errors, [])
})

test('an unsupported version of an API other than ApiVersions closes the connection', async (t) => {
  const broker = await startTestBroker(t)
  const other = await connect(t, broker)
  const cases: Array<[string, Buffer]> = [
    // A deprecated version Kafka 4 refuses (Produce v0-2 are answered instead: see 00-produce.test.ts).
    ['Metadata v3', encodeRequestFrame(3, 3, 1, writeMetadataRequest, { topics: [] })],
  ]
  const future = encodeRequestFrame(3, 12, 1, writeMetadataRequest, { topics: [] })
  future.writeInt16BE(13, 6)
  cases.push(['Metadata v13', future])
  for (const [what, frame] of cases) {
    const c = await connect(t, broker)
    await assert.rejects(c.sendFrame(frame, 1), what)
    await c.closed
    await assertStillServes(other)
  }
})

test('frames over maxRequestBytes and negative sizes close the connection; one at the limit is served', async (t) => {
  const broker = await startTestBroker(t, { maxRequestBytes: 1024 })
  const other = await connect(t, broker)
  for (const size of [1025, 1 << 30, -1, -1000]) {
    const c = await connect(t, broker)
    const head = Buffer.alloc(4)
    head.writeInt32BE(size)
    void c.sendFrame(head)
    await c.closed
  }
  // A request of exactly maxRequestBytes (after the size prefix).
  let frame: Buffer = Buffer.alloc(0)
  for (let n = 0; frame.length - 4 !== 1024; n++) {
    frame = encodeRequestFrame(18, 3, 7, writeApiVersionsRequest, {
      ...apiVersionsBody,
      clientSoftwareName: 'x'.repeat(n),
    })
    assert.ok(frame.length - 4 <= 1024)
  }
  const payload = await other.sendFrame(frame, 7)
  assert.equal(decodeResponseFrame(payload, 18, 3, readApiVersionsResponse).errorCode, KafkaError.NONE)
})

test('a truncated request body closes only that connection and logs no error', async (t) => {
  const logger = capturingLogger()
  const broker = await startTestBroker(t, { logger })
  const other = await connect(t, broker)
  await mustCreateTopic(other, 'cut')
  const c = await connect(t, broker)
  const full = encodeRequestFrame(3, 12, 1, writeMetadataRequest, { topics: [{ name: 'cut' }] })
  // The size prefix agrees with the bytes sent; the body ends inside the topic name.
  const cut = full.subarray(0, full.length - 6)
  cut.writeInt32BE(cut.length - 4, 0)
  await assert.rejects(c.sendFrame(cut, 1))
  await c.closed
  await assertStillServes(other)
  assert.deepEqual(logger.errors, [])
})

test('a frame written one byte at a time is served', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'bytes')
  const frames = [
    encodeRequestFrame(18, 3, 100, writeApiVersionsRequest, apiVersionsBody),
    encodeRequestFrame(3, 12, 101, writeMetadataRequest, { topics: [{ name: 'bytes' }] }),
  ]
  const answers = [c.expect(100), c.expect(101)]
  for (const frame of frames) {
    for (const byte of frame) {
      await c.sendFrame(Buffer.from([byte]))
      // Let each byte leave as its own segment.
      await new Promise((resolve) => setImmediate(resolve))
    }
  }
  const [api, md] = await Promise.all(answers)
  assert.equal(decodeResponseFrame(api, 18, 3, readApiVersionsResponse).errorCode, KafkaError.NONE)
  assert.equal(decodeResponseFrame(md, 3, 12, readMetadataResponse).topics[0].errorCode, KafkaError.NONE)
})

test('many frames in one write are all served, in order', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'burst')
  const frames: Buffer[] = []
  const expected: number[] = []
  for (let i = 0; i < 60; i++) {
    const id = 1000 + i
    if (i % 3 === 0) {
      frames.push(encodeRequestFrame(18, i % 2 === 0 ? 0 : 3, id, writeApiVersionsRequest, apiVersionsBody))
      expected.push(id)
    } else if (i % 3 === 1) {
      frames.push(encodeRequestFrame(3, 12, id, writeMetadataRequest, { topics: [] }))
      expected.push(id)
    } else {
      // acks=0: appended, never answered.
      frames.push(
        encodeRequestFrame(0, 9, id, writeProduceRequest, {
          acks: 0,
          timeoutMs: 1,
          topicData: [{ name: 'burst', partitionData: [{ index: 0, records: batchOf([`r${i}`]) }] }],
        }),
      )
    }
  }
  const answers = expected.map((id) => c.expect(id))
  await c.sendFrame(Buffer.concat(frames))
  await Promise.all(answers)
  assert.deepEqual(
    c.arrivals.filter((id) => id >= 1000),
    expected,
  )
  assert.deepEqual(c.unmatched, [])
  const f = await c.request(1, 12, writeFetchRequest, readFetchResponse, fetchBody(12, [{ topic: 'burst', offset: 0 }]))
  assert.equal(recordsOf(f.responses[0].partitions[0].records).length, 20)
})

test('test hooks: a dropped response leaves later ones flowing; close ends the connection', async (t) => {
  const broker = await startTestBroker(t, {
    hooks: {
      beforeResponse: (info) =>
        info.clientId === 'drop-me' ? 'drop' : info.clientId === 'close-me' ? 'close' : undefined,
    },
  })
  const c = await connect(t, broker)
  const dropped = c.takeCorrelationId()
  void c.sendFrame(encodeRequestFrame(18, 3, dropped, writeApiVersionsRequest, apiVersionsBody, 'drop-me'))
  await assertStillServes(c)
  assert.ok(!c.arrivals.includes(dropped))
  await assert.rejects(c.request(18, 3, writeApiVersionsRequest, readApiVersionsResponse, apiVersionsBody, 'close-me'))
  await c.closed
})
