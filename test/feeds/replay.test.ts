/**
 * `replayFile` against a real broker: rows of a CSV or JSON-lines file land on the topic in the
 * topic's format and in file order; malformed rows land in `dlq.<topic>` with their reason, their
 * `file:line` source and their original text; pacing and stopping work. Everything is read back
 * with KafkaJS.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { test, type TestContext } from 'node:test'
import { ensureTopic, openAdmin } from '../../src/bus/admin.ts'
import type { BusConfig } from '../../src/bus/client.ts'
import { DLQ_HEADERS, dlqTopicOf } from '../../src/bus/dlq.ts'
import { TopicWriter } from '../../src/bus/producer.ts'
import { ordersTopic, pricesTopic, type TopicType } from '../../src/bus/topics/index.ts'
import { formatOfFile, replayFile, type ReplayOptions, type ReplayResult } from '../../src/feeds/replay.ts'
import { eventually, startTestBroker, tempDir } from '../helpers/broker.ts'
import { topicSize } from '../helpers/cli.ts'
import { readRecords, type FullRecord } from '../helpers/records.ts'

const INVALID = { code: 'TICKFLOW_ERR_INVALID_ARGUMENT' }

interface Rig {
  address: string
  dir: string
  topic: string
  writer: TopicWriter
  dlq: TopicWriter
}

/** A broker with `topic` (and its dead-letter topic) and writers of both. */
async function rig(t: TestContext, topic: string, partitions = 3): Promise<Rig> {
  // Hooks run in the order registered: the writers close first, while the broker still serves.
  const writers: TopicWriter[] = []
  t.after(() => Promise.all(writers.map((w) => w.close().catch(() => {}))))
  const broker = await startTestBroker(t)
  const bus: BusConfig = { bootstrapBrokers: [broker.address], clientId: 'replay-test' }
  const admin = openAdmin(bus)
  try {
    await ensureTopic(admin, topic, partitions)
    await ensureTopic(admin, dlqTopicOf(topic), 1)
  } finally {
    await admin.close()
  }
  const writer = new TopicWriter(bus, { topic })
  const dlq = new TopicWriter(bus, { topic: dlqTopicOf(topic) })
  writers.push(writer, dlq)
  return { address: broker.address, dir: tempDir(t), topic, writer, dlq }
}

/** Writes `name` in the rig's directory; returns its path. */
function file(r: Rig, name: string, text: string | Buffer): string {
  const p = path.join(r.dir, name)
  fs.writeFileSync(p, text)
  return p
}

/** Replays `p` as fast as possible; returns the result and the malformed rows reported. */
async function replay(
  r: Rig,
  p: string,
  type: TopicType<unknown> | undefined,
  extra: Partial<ReplayOptions> = {},
): Promise<{ result: ReplayResult; bad: [number, string][] }> {
  const bad: [number, string][] = []
  const result = await replayFile({
    file: p,
    format: formatOfFile(p),
    topic: r.topic,
    type,
    speed: Infinity,
    writer: r.writer,
    dlq: r.dlq,
    onBadRow: (line, reason) => bad.push([line, reason]),
    ...extra,
  })
  return { result, bad }
}

/** Checks the reported bad rows: their lines, in order, and reasons matching `expected`. */
function assertBadRows(bad: [number, string][], expected: [number, RegExp][]): void {
  assert.deepEqual(
    bad.map(([line]) => line),
    expected.map(([line]) => line),
    `bad rows at the right lines: ${JSON.stringify(bad)}`,
  )
  for (let i = 0; i < expected.length; i++) assert.match(bad[i][1], expected[i][1], `line ${expected[i][0]}`)
}

/**
 * Checks the dead-letter topic: one record per bad row, in file order, whose value is the row's
 * original text and whose headers carry the reported reason, the source topic and `file:line`.
 */
async function assertDeadLetters(
  r: Rig,
  fileName: string,
  bad: [number, string][],
  rawOfLine: (line: number) => string,
): Promise<FullRecord[]> {
  const dead = await readRecords(r.address, dlqTopicOf(r.topic))
  assert.equal(dead.length, bad.length, 'one dead letter per bad row')
  for (let i = 0; i < bad.length; i++) {
    const [line, reason] = bad[i]
    const d = dead[i]
    assert.equal(d.offset, i, 'dead letters in file order')
    assert.equal(d.headers[DLQ_HEADERS.reason], reason, `the reason of line ${line}`)
    assert.equal(d.headers[DLQ_HEADERS.source], `${fileName}:${line}`)
    assert.equal(d.headers[DLQ_HEADERS.topic], r.topic)
    assert.equal(d.value, rawOfLine(line), `the original text of line ${line}`)
  }
  return dead
}

/**
 * Checks that `records` (read back, any partitions) are exactly `expected` (values in file order)
 * with the right keys, and that each partition holds its values in file order.
 */
function assertInFileOrder(records: FullRecord[], expected: { key: string | null; value: string }[]): void {
  assert.deepEqual(
    records.map((r) => r.value).sort(),
    expected.map((e) => e.value).sort(),
    'exactly the good rows, in the topic format',
  )
  const last = new Map<number, number>()
  for (const r of records) {
    const index = expected.findIndex((e) => e.value === r.value)
    assert.equal(r.key, expected[index].key, `the key of ${r.value}`)
    assert.ok(index > (last.get(r.partition) ?? -1), `file order within partition ${r.partition}`)
    last.set(r.partition, index)
  }
}

const price = (ts: string, symbol: string, p: string) => ({
  key: symbol,
  value: `{"ts":"${ts}","symbol":"${symbol}","price":${p}}`,
})

test('CSV with aliased columns: good rows in the prices format, bad rows dead-lettered with their line', async (t) => {
  const r = await rig(t, 'prices')
  const lines = [
    'Date,Ticker,Close', // 1: header, by aliases
    '2024-03-01 09:30:00,AAPL,180.5', // 2
    '2024-03-01 09:30:01,MSFT,abc', // 3: not a number
    '', // 4: blank
    '2024-03-01 09:30:02,AAPL,-3\r', // 5: negative (and a CRLF line end)
    '01/03/2024 09:30:03,AAPL,181', // 6: bad date
    '2024-03-01 09:30:04,AAPL,181,extra', // 7: wrong field count
    '"2024-03-01 09:30:05",GOOG,"140.25"', // 8: quoted fields
    '2024-03-01T09:30:06.5Z,MSFT,410', // 9: ISO 8601
    '"2024-03-01 09:30:07,AAPL,182', // 10: a quote left open to the end of the file
  ]
  const p = file(r, 'hist.csv', lines.join('\n') + '\n')
  const { result, bad } = await replay(r, p, pricesTopic as TopicType<unknown>)

  assert.equal(result.written, 3)
  assert.equal(result.bad, 5)
  assert.equal(result.interrupted, false)
  assertBadRows(bad, [
    [3, /^price: not a number: "abc"$/],
    [5, /^price: /],
    [6, /^ts: not a timestamp: "01\/03\/2024 09:30:03"$/],
    [7, /^expected 3 fields, got 4$/],
    [10, /^unterminated quoted field$/],
  ])
  assertInFileOrder(await readRecords(r.address, 'prices'), [
    price('2024-03-01 09:30:00.000', 'AAPL', '180.50'),
    price('2024-03-01 09:30:05.000', 'GOOG', '140.25'),
    price('2024-03-01 09:30:06.500', 'MSFT', '410.00'),
  ])
  // The open quote takes the rest of the file as its record, final line break included.
  await assertDeadLetters(r, 'hist.csv', bad, (line) =>
    line === 10 ? `${lines[9]}\n` : lines[line - 1].replace(/\r$/, ''),
  )
})

test('JSON lines: each row maps its own keys; a row without a field is dead-lettered, even the first', async (t) => {
  const r = await rig(t, 'prices')
  const lines = [
    '{"timestamp":"2024-03-01T09:30:00Z","symbol":"AAPL"}', // 1: no price
    '{"timestamp":"2024-03-01T09:30:01Z","symbol":"AAPL","price":181.25}', // 2
    'not json', // 3
    '', // 4: blank
    '{"timestamp":1709285403,"symbol":"MSFT","price":"410.5"}', // 5: epoch seconds, price as text
    '{"ts":"2024-03-01 09:30:04.250","ticker":"GOOG","close":140}', // 6: other names for the fields
    '[1,2]', // 7: not an object
    '{"timestamp":"2024-03-01T09:30:05Z","symbol":"AAPL","price":-1}', // 8: negative
    '{"timestamp":"yesterday","symbol":"AAPL","price":1}', // 9: bad time
    '{"timestamp":"2024-03-01T09:30:06Z","symbol":"AAPL","price":182,"volume":5}', // 10: an extra key
  ]
  const p = file(r, 'ticks.jsonl', lines.join('\n'))
  const { result, bad } = await replay(r, p, pricesTopic as TopicType<unknown>)

  assert.equal(result.written, 4)
  assert.equal(result.bad, 5)
  assertBadRows(bad, [
    [1, /^price: missing$/],
    [3, /^invalid JSON: /],
    [7, /^expected a JSON object$/],
    [8, /^price: /],
    [9, /^ts: not a timestamp: "yesterday"$/],
  ])
  assertInFileOrder(await readRecords(r.address, 'prices'), [
    price('2024-03-01 09:30:01.000', 'AAPL', '181.25'),
    price('2024-03-01 09:30:03.000', 'MSFT', '410.50'),
    price('2024-03-01 09:30:04.250', 'GOOG', '140.00'),
    price('2024-03-01 09:30:06.000', 'AAPL', '182.00'),
  ])
  await assertDeadLetters(r, 'ticks.jsonl', bad, (line) => lines[line - 1])
})

test('an explicit mapping wins over names and aliases', async (t) => {
  const r = await rig(t, 'prices')
  const p = file(r, 'm.csv', 'when,sym,close,last_trade\n2024-03-01 10:00:00,NVDA,1.5,880.25\n')
  const { result } = await replay(r, p, pricesTopic as TopicType<unknown>, { map: { ts: 'when', price: 'last_trade' } })
  assert.equal(result.written, 1)
  assertInFileOrder(await readRecords(r.address, 'prices'), [price('2024-03-01 10:00:00.000', 'NVDA', '880.25')])
})

test('JSON lines with an explicit mapping: a row without the mapped key is a bad row', async (t) => {
  const r = await rig(t, 'prices')
  const lines = [
    '{"at":"2024-03-01 10:00:00","symbol":"NVDA","close":1,"px":880.25}',
    '{"at":"2024-03-01 10:00:01","symbol":"NVDA","close":2}', // no px: not filled from close
    '{"at":"2024-03-01 10:00:02","symbol":"NVDA","px":881}',
  ]
  const p = file(r, 'm.jsonl', lines.join('\n') + '\n')
  const { result, bad } = await replay(r, p, pricesTopic as TopicType<unknown>, { map: { ts: 'at', price: 'px' } })
  assert.equal(result.written, 2)
  assertBadRows(bad, [[2, /^--map price=px: no such column/]])
  assertInFileOrder(await readRecords(r.address, 'prices'), [
    price('2024-03-01 10:00:00.000', 'NVDA', '880.25'),
    price('2024-03-01 10:00:02.000', 'NVDA', '881.00'),
  ])
  await assertDeadLetters(r, 'm.jsonl', bad, (line) => lines[line - 1])
})

test('a required field with no column fails the replay and writes nothing', async (t) => {
  const r = await rig(t, 'prices')
  const p = file(r, 'nocol.csv', 'Date,Ticker,Volume\n2024-03-01,AAPL,100\n')
  await assert.rejects(replay(r, p, pricesTopic as TopicType<unknown>), (err: Error & { code?: string }) => {
    assert.equal(err.code, INVALID.code)
    assert.match(err.message, /no column for price/)
    return true
  })
  // An --map of a field the topic does not have is refused before any row, for JSON lines too.
  const j = file(r, 'x.jsonl', '{"ts":"2024-03-01","symbol":"A","price":1}\n')
  await assert.rejects(replay(r, j, pricesTopic as TopicType<unknown>, { map: { bogus: 'ts' } }), INVALID)
  assert.equal(await topicSize(r.address, 'prices'), 0)
  assert.equal(await topicSize(r.address, 'dlq.prices'), 0)
})

test('a missing file and a .gz that is not gzip are INVALID_ARGUMENT', async (t) => {
  const r = await rig(t, 'prices')
  await assert.rejects(replay(r, path.join(r.dir, 'nope.csv'), pricesTopic as TopicType<unknown>), INVALID)
  const p = file(r, 'plain.csv.gz', 'ts,symbol,price\n2024-03-01,AAPL,1\n')
  await assert.rejects(replay(r, p, pricesTopic as TopicType<unknown>), INVALID)
})

test('gzip input is read through', async (t) => {
  const r = await rig(t, 'prices')
  const rows = Array.from({ length: 2000 }, (_, i) => `${1709285400 + i},SYM${i % 7},${(100 + i / 100).toFixed(2)}`)
  const p = file(r, 'big.csv.gz', zlib.gzipSync('time,symbol,last\n' + rows.join('\n') + '\nbad,row\n'))
  const { result, bad } = await replay(r, p, pricesTopic as TopicType<unknown>)
  assert.equal(result.written, 2000)
  assertBadRows(bad, [[2002, /^expected 3 fields, got 2$/]])
  const records = await readRecords(r.address, 'prices')
  assert.equal(records.length, 2000)
  const first = records.find((x) => x.key === 'SYM0')
  assert.equal(first?.value, '{"ts":"2024-03-01 09:30:00.000","symbol":"SYM0","price":100.00}')
})

test('an untyped topic takes rows as JSON objects, keyed by the --key column', async (t) => {
  const r = await rig(t, 'ticks')
  const lines = [
    'id,venue,note', // 1
    '1,XNAS,plain', // 2
    '2,XNYS,"two', // 3: a quoted field across two lines
    'lines"', // 4
    '3,XNAS', // 5: too few fields
    '4,XLON,"a ""quoted"" word"', // 6
  ]
  const p = file(r, 'raw.csv', lines.join('\r\n') + '\r\n')
  const { result, bad } = await replay(r, p, undefined, { keyColumn: 'venue' })
  assert.equal(result.written, 3)
  assertBadRows(bad, [[5, /^expected 3 fields, got 2$/]])
  assertInFileOrder(await readRecords(r.address, 'ticks'), [
    { key: 'XNAS', value: '{"id":"1","venue":"XNAS","note":"plain"}' },
    { key: 'XNYS', value: '{"id":"2","venue":"XNYS","note":"two\\r\\nlines"}' },
    { key: 'XLON', value: '{"id":"4","venue":"XLON","note":"a \\"quoted\\" word"}' },
  ])
  await assertDeadLetters(r, 'raw.csv', bad, (line) => lines[line - 1])
})

test('orders: aliased columns become orders keyed by instrument', async (t) => {
  const r = await rig(t, 'orders')
  const p = file(
    r,
    'orders.csv',
    [
      'order_id,symbol,side,qty,limit,timestamp',
      '17,TCS,buy,5,15.5,2023-03-12 23:48:37',
      '18,INFY,SELL,2,,2023-03-12 23:48:38', // a limit order needs a price
      '19,INFY,SELL,x,10,2023-03-12 23:48:39',
      '20,INFY,SELL,3,12,2023-03-12 23:48:40',
    ].join('\n'),
  )
  const { result, bad } = await replay(r, p, ordersTopic as TopicType<unknown>)
  assert.equal(result.written, 2)
  assertBadRows(bad, [
    [3, /price/],
    [4, /^quantity: not an integer: "x"$/],
  ])
  assertInFileOrder(await readRecords(r.address, 'orders'), [
    {
      key: 'TCS',
      value:
        '{"id":17,"instrument":"TCS","trxn_type":"BUY","quantity":5,"price":15.5,"order_timestamp":"2023/03/12, 23:48:37"}',
    },
    {
      key: 'INFY',
      value:
        '{"id":20,"instrument":"INFY","trxn_type":"SELL","quantity":3,"price":12,"order_timestamp":"2023/03/12, 23:48:40"}',
    },
  ])
})

test('speed 10x paces rows by their timestamps: in order, spread over a tenth of the recorded time', async (t) => {
  const r = await rig(t, 'prices', 1)
  const n = 8
  const rows = Array.from({ length: n }, (_, i) => `2024-03-01 09:30:0${i},AAPL,${100 + i}`)
  const p = file(r, 'paced.csv', 'ts,symbol,price\n' + rows.join('\n') + '\n')
  const { result } = await replay(r, p, pricesTopic as TopicType<unknown>, { speed: 10 })
  const expectedMs = ((n - 1) * 1000) / 10
  assert.equal(result.written, n)
  assert.ok(result.seconds * 1000 >= expectedMs * 0.95, `took at least the paced time: ${result.seconds} s`)
  const records = await readRecords(r.address, 'prices')
  assert.deepEqual(
    records.map((x) => JSON.parse(x.value ?? '') as { price: number }).map((v) => v.price),
    Array.from({ length: n }, (_, i) => 100 + i),
    'in file order',
  )
  for (let i = 1; i < n; i++) assert.ok(records[i].timestamp >= records[i - 1].timestamp, 'timestamps never go back')
  const spread = records[n - 1].timestamp - records[0].timestamp
  assert.ok(spread >= expectedMs * 0.8, `records sent over the paced time: ${spread} ms`)
})

test('stopping while a paced replay waits writes nothing more and reports the interruption', async (t) => {
  const r = await rig(t, 'prices', 1)
  // The second row is due a minute after the first: the replay is waiting for it when stopped.
  const p = file(
    r,
    'slow.csv',
    'ts,symbol,price\n2024-03-01 09:30:00,AAPL,100\n2024-03-01 09:31:00,AAPL,101\n2024-03-01 09:31:01,AAPL,102\n',
  )
  const abort = new AbortController()
  const running = replay(r, p, pricesTopic as TopicType<unknown>, { speed: 1, signal: abort.signal })
  await eventually(async () => (await topicSize(r.address, 'prices')) === 1, 30_000, 'the first row')
  abort.abort()
  const { result } = await running
  assert.equal(result.interrupted, true)
  assert.equal(result.written, 1, 'the row being waited for is not sent')
  const records = await readRecords(r.address, 'prices')
  assert.deepEqual(
    records.map((x) => x.value),
    ['{"ts":"2024-03-01 09:30:00.000","symbol":"AAPL","price":100.00}'],
  )
})
