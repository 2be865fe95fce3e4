/**
 * `tickflow replay FILE --topic T` end to end: the command runs as a child process against a
 * tickflow broker over TCP; the topic and its dead-letter topic are read back with KafkaJS.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import zlib from 'node:zlib'
import { test, type TestContext } from 'node:test'
import { eventually, startTestBroker, tempDir } from '../../helpers/broker.ts'
import { closedAddress, cliEnv, lines, runCli, startCli, topicSize, type CliResult } from '../../helpers/cli.ts'
import { listTopics, readRecords, type FullRecord } from '../../helpers/records.ts'

const REASON = 'tickflow.dlq.reason'
const SOURCE = 'tickflow.dlq.source'

interface Env {
  dir: string
  options: { env: NodeJS.ProcessEnv; cwd: string }
  write(name: string, text: string | Buffer): string
}

/** A temporary working directory and the environment of commands run in it against `local`. */
function envFor(t: TestContext, local: string): Env {
  const dir = tempDir(t)
  return {
    dir,
    options: { env: cliEnv({ TICKFLOW_LOCAL_BROKER: local, TICKFLOW_DATA_DIR: dir }), cwd: dir },
    write(name, text) {
      fs.writeFileSync(path.join(dir, name), text)
      return name
    },
  }
}

/** Runs a command that must succeed. */
async function ok(args: string[], env: Env): Promise<CliResult> {
  const r = await runCli(args, env.options)
  assert.equal(r.code, 0, `tickflow ${args.join(' ')} exits 0: ${r.stderr}`)
  return r
}

/** Runs a command that must fail with `code` and one `tickflow replay: ...` line (after the connection line, if any). */
async function fails(args: string[], env: Env, code: number, message: RegExp): Promise<CliResult> {
  const r = await runCli(args, env.options)
  assert.equal(r.code, code, `tickflow ${args.join(' ')} exits ${code}: ${r.stderr}`)
  const errors = lines(r.stderr).filter((l) => !l.startsWith('tickflow: using '))
  assert.equal(errors.length, 1, `one line: ${r.stderr}`)
  assert.match(errors[0], /^tickflow replay: /)
  assert.match(errors[0], message)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
  return r
}

const price = (ts: string, symbol: string, p: string): string => `{"ts":"${ts}","symbol":"${symbol}","price":${p}}`

/** Values of `records` sorted by partition and offset, as a per-partition order check. */
function assertFileOrder(records: FullRecord[], expected: string[]): void {
  assert.deepEqual(records.map((r) => r.value).sort(), [...expected].sort())
  const last = new Map<number, number>()
  for (const r of records) {
    const index = expected.indexOf(r.value ?? '')
    assert.ok(index > (last.get(r.partition) ?? -1), `file order within partition ${r.partition}`)
    last.set(r.partition, index)
  }
}

/** Checks the dead letters: per bad line, in order, the reason printed and `file:line`, the original text. */
function assertDeadLetters(
  dead: FullRecord[],
  printed: string[],
  file: string,
  expected: { line: number; raw: string; reason: RegExp }[],
): void {
  assert.equal(dead.length, expected.length, 'one dead letter per bad row')
  assert.deepEqual(
    printed,
    expected.map((e, i) => `  line ${e.line}: ${dead[i].headers[REASON]}`),
    'stdout lists each bad line with the reason in its dead letter',
  )
  for (let i = 0; i < expected.length; i++) {
    assert.equal(dead[i].headers[SOURCE], `${file}:${expected[i].line}`)
    assert.match(dead[i].headers[REASON], expected[i].reason, `line ${expected[i].line}`)
    assert.equal(dead[i].value, expected[i].raw)
  }
}

const HISTORY = [
  'Date,Ticker,Close', // 1
  '2024-03-01 09:30:00,AAPL,180.5', // 2
  '2024-03-01 09:30:01,MSFT,abc', // 3: not a number
  '2024-03-01 09:30:02,AAPL,-3', // 4: negative
  '', // 5: blank
  '2024-13-01 09:30:03,AAPL,181', // 6: month 13
  '2024-03-01 09:30:04,AAPL,181,extra', // 7: four fields
  '2024-03-01 09:30:05,GOOG,140.25', // 8
  '2024-03-01 09:30:06,MSFT,410.125', // 9: more than two decimals are kept
  '"2024-03-01 09:30:07,AAPL,182', // 10: an unterminated quote to the end
]

test('replay of a file with bad rows: good rows on the topic, bad rows in dlq.<topic> with their line', async (t) => {
  const broker = await startTestBroker(t)
  const env = envFor(t, broker.address)
  const file = env.write('history.csv', HISTORY.join('\n') + '\n')
  const r = await ok(['replay', file, '--topic', 'prices'], env)
  assert.deepEqual(lines(r.stderr), [`tickflow: using the broker listening on ${broker.address}`])
  const out = lines(r.stdout)
  assert.match(
    out[0],
    /^replayed 3 rows of history\.csv to prices in \d+\.\d\d s; 5 malformed rows sent to dlq\.prices:$/,
  )
  assert.equal(out.length, 6, r.stdout)

  assertFileOrder(await readRecords(broker.address, 'prices'), [
    price('2024-03-01 09:30:00.000', 'AAPL', '180.50'),
    price('2024-03-01 09:30:05.000', 'GOOG', '140.25'),
    price('2024-03-01 09:30:06.000', 'MSFT', '410.125'),
  ])
  for (const rec of await readRecords(broker.address, 'prices')) {
    assert.equal(rec.key, (JSON.parse(rec.value ?? '') as { symbol: string }).symbol, 'key = symbol')
  }
  assertDeadLetters(await readRecords(broker.address, 'dlq.prices'), out.slice(1), 'history.csv', [
    { line: 3, raw: HISTORY[2], reason: /^price: not a number: "abc"$/ },
    { line: 4, raw: HISTORY[3], reason: /^price: / },
    { line: 6, raw: HISTORY[5], reason: /^ts: not a timestamp: / },
    { line: 7, raw: HISTORY[6], reason: /^expected 3 fields, got 4$/ },
    { line: 10, raw: `${HISTORY[9]}\n`, reason: /^unterminated quoted field$/ },
  ])
})

test('JSON lines (.jsonl) likewise, each line by its own keys', async (t) => {
  const broker = await startTestBroker(t)
  const env = envFor(t, broker.address)
  const rows = [
    '{"time":"2024-03-01T09:30:00Z","ticker":"AAPL","last":180.5}', // 1
    '{"time":"2024-03-01T09:30:01Z","ticker":"AAPL","last":"n/a"}', // 2: not a number
    '{"time":"2024-03-01T09:30:02Z","ticker":"AAPL"', // 3: truncated JSON
    '', // 4
    '{"time":"2024-03-01T09:30:03+01:00","ticker":"MSFT","last":410}', // 5: with an offset
    '{"time":"2024-03-01T09:30:04Z","last":1}', // 6: no symbol
    '"just a string"', // 7
  ]
  const file = env.write('ticks.jsonl', rows.join('\r\n'))
  const r = await ok(['replay', file, '--topic', 'prices', '--brokers', broker.address], env)
  assert.deepEqual(lines(r.stderr), [`tickflow: using the Kafka brokers ${broker.address} (--brokers)`])
  const out = lines(r.stdout)
  assert.match(out[0], /^replayed 2 rows of ticks\.jsonl to prices in .*; 4 malformed rows sent to dlq\.prices:$/)
  assertFileOrder(await readRecords(broker.address, 'prices'), [
    price('2024-03-01 09:30:00.000', 'AAPL', '180.50'),
    price('2024-03-01 08:30:03.000', 'MSFT', '410.00'),
  ])
  assertDeadLetters(await readRecords(broker.address, 'dlq.prices'), out.slice(1), 'ticks.jsonl', [
    { line: 2, raw: rows[1], reason: /^price: not a number: "n\/a"$/ },
    { line: 3, raw: rows[2], reason: /^invalid JSON: / },
    { line: 6, raw: rows[5], reason: /^symbol: missing$/ },
    { line: 7, raw: rows[6], reason: /^expected a JSON object$/ },
  ])
})

test('more than 20 bad rows: 20 listed, the rest counted; all of them in the dead-letter topic', async (t) => {
  const broker = await startTestBroker(t)
  const env = envFor(t, broker.address)
  const body = Array.from({ length: 30 }, (_, i) => (i % 6 === 0 ? `2024-03-01,A,${i + 1}` : `2024-03-01,A,x${i}`))
  const file = env.write('many.csv', 'ts,symbol,price\n' + body.join('\n') + '\n')
  const r = await ok(['replay', file, '--topic', 'prices', '-q'], env)
  const out = lines(r.stdout)
  assert.match(out[0], /^replayed 5 rows .*; 25 malformed rows sent to dlq\.prices:$/)
  assert.equal(out.length, 1 + 20 + 1)
  assert.equal(out[21], '  ... 5 more in dlq.prices')
  assert.equal(out[1], '  line 3: price: not a number: "x1"')
  assert.equal(await topicSize(broker.address, 'dlq.prices'), 25)
  assert.equal(await topicSize(broker.address, 'prices'), 5)
})

test('--map chooses the columns of fields', async (t) => {
  const broker = await startTestBroker(t)
  const env = envFor(t, broker.address)
  const file = env.write(
    'quotes.csv',
    'when,sym,close,last_trade\n2024-03-01 10:00:00,NVDA,1.00,880.25\n2024-03-01 10:00:01,NVDA,2.00,881.5\n',
  )
  // Without --map, `when` is nobody's alias: the command says which field has no column.
  await fails(['replay', file, '--topic', 'prices'], env, 2, /no column for ts .*--map ts=COLUMN/)
  await ok(['replay', file, '--topic', 'prices', '--map', 'ts=when,price=last_trade'], env)
  assert.deepEqual(
    (await readRecords(broker.address, 'prices')).map((r) => r.value),
    [price('2024-03-01 10:00:00.000', 'NVDA', '880.25'), price('2024-03-01 10:00:01.000', 'NVDA', '881.50')],
  )
})

test('bad arguments and a missing required column exit 2 with one line', async (t) => {
  const broker = await startTestBroker(t)
  const env = envFor(t, broker.address)
  const file = env.write('ok.csv', 'ts,symbol,price\n2024-03-01,AAPL,1\n')
  const noPrice = env.write('noprice.csv', 'Date,Ticker,Volume\n2024-03-01,AAPL,100\n')
  await fails(['replay', noPrice, '--topic', 'prices'], env, 2, /no column for price of prices/)
  assert.equal(await topicSize(broker.address, 'prices'), 0)
  await fails(['replay', 'nonexistent.csv', '--topic', 'prices'], env, 2, /no such file: nonexistent\.csv/)
  const cases: [string[], RegExp][] = [
    [[file], /--topic is required/],
    [[], /give one FILE/],
    [[file, file, '--topic', 'prices'], /give one FILE/],
    [[file, '--topic', 'prices', '--speed', 'fast'], /--speed/],
    [[file, '--topic', 'prices', '--speed', '0x'], /--speed/],
    [[file, '--topic', 'prices', '--type', 'bogus'], /--type must be one of/],
    [[file, '--topic', 'prices', '--format', 'xml'], /--format must be one of/],
    [[file, '--topic', 'prices', '--map', 'price'], /--map/],
    [[file, '--topic', 'prices', '--map', 'bogus=ts'], /--map: unknown field bogus/],
    [[file, '--topic', 'prices', '--partitions', '0'], /--partitions/],
    [[file, '--topic', 'prices', '--bogus'], /bogus/],
  ]
  await Promise.all(cases.map(([args, message]) => fails(['replay', ...args], env, 2, message)))
  // A missing file is found before connecting: no topic was created for it.
  assert.deepEqual(await listTopics(broker.address), ['dlq.prices', 'prices'])
})

test('orders replay into orders, keyed by instrument, timestamps in the orders format', async (t) => {
  const broker = await startTestBroker(t)
  const env = envFor(t, broker.address)
  const file = env.write(
    'orders.csv',
    [
      'id,instrument,side,quantity,price,time,trader,tif',
      '1000001,TCS,BUY,5,15.0,2023-03-12T23:48:37Z,alice,GTC',
      '1000002,INFY,sell,10,1520.5,2023-03-12 23:48:38,bob,IOC',
      '1000003,INFY,HOLD,10,1520.5,2023-03-12 23:48:39,bob,IOC', // 4: bad side
      '1000004,TCS,BUY,0,15.0,2023-03-12 23:48:40,alice,GTC', // 5: zero quantity
    ].join('\n'),
  )
  const r = await ok(['replay', file, '--topic', 'orders'], env)
  const out = lines(r.stdout)
  assert.match(out[0], /^replayed 2 rows of orders\.csv to orders .*; 2 malformed rows sent to dlq\.orders:$/)
  assert.match(out[1], /^ {2}line 4: trxn_type: expected one of BUY, SELL: "HOLD"$/)
  assert.match(out[2], /^ {2}line 5: quantity: /)
  const records = await readRecords(broker.address, 'orders')
  assert.deepEqual(records.map((x) => [x.key, x.value]).sort(), [
    [
      'INFY',
      '{"id":1000002,"instrument":"INFY","trxn_type":"SELL","quantity":10,"price":1520.5,"order_timestamp":"2023/03/12, 23:48:38","trader":"bob","tif":"IOC"}',
    ],
    [
      'TCS',
      '{"id":1000001,"instrument":"TCS","trxn_type":"BUY","quantity":5,"price":15,"order_timestamp":"2023/03/12, 23:48:37","trader":"alice","tif":"GTC"}',
    ],
  ])
  assert.equal(await topicSize(broker.address, 'dlq.orders'), 2)
})

test('a topic of no known type takes rows as they are, keyed by --key', async (t) => {
  const broker = await startTestBroker(t)
  const env = envFor(t, broker.address)
  const file = env.write('events.csv', 'id;venue;note\n1;XNAS;"a; b"\n2;XLON;plain\n3;XNAS\n')
  const r = await ok(['replay', file, '--topic', 'venue-events', '--key', 'venue', '--partitions', '2'], env)
  assert.match(lines(r.stdout)[0], /^replayed 2 rows of events\.csv to venue-events .*; 1 malformed rows? sent to/)
  assert.equal(lines(r.stdout)[1], '  line 4: expected 3 fields, got 2')
  const records = await readRecords(broker.address, 'venue-events')
  assert.deepEqual(records.map((x) => [x.key, x.value]).sort(), [
    ['XLON', '{"id":"2","venue":"XLON","note":"plain"}'],
    ['XNAS', '{"id":"1","venue":"XNAS","note":"a; b"}'],
  ])
  const dead = await readRecords(broker.address, 'dlq.venue-events')
  assert.deepEqual(
    dead.map((d) => [d.value, d.headers[SOURCE]]),
    [['3;XNAS', 'events.csv:4']],
  )
})

test('gzip input (.csv.gz) is read through', async (t) => {
  const broker = await startTestBroker(t)
  const env = envFor(t, broker.address)
  const n = 5000
  const body = Array.from(
    { length: n },
    (_, i) => `${Date.UTC(2024, 2, 1, 9, 30) + i * 10},S${i % 4},${100 + (i % 50)}`,
  )
  const file = env.write('big.csv.gz', zlib.gzipSync(`timestamp,symbol,price\n${body.join('\n')}\n2024-03-01,S1\n`))
  const r = await ok(['replay', file, '--topic', 'prices'], env)
  assert.match(
    lines(r.stdout)[0],
    new RegExp(`^replayed ${n.toLocaleString('en-US')} rows of big\\.csv\\.gz to prices`),
  )
  assert.equal(lines(r.stdout)[1], `  line ${n + 2}: expected 3 fields, got 2`)
  const records = await readRecords(broker.address, 'prices')
  assert.equal(records.length, n)
  // Per symbol (one key, one partition) the timestamps are in file order.
  const last = new Map<string, string>()
  for (const rec of records) {
    const v = JSON.parse(rec.value ?? '') as { ts: string; symbol: string }
    assert.match(v.ts, /^2024-03-01 09:3\d:\d\d\.\d\d0$/)
    assert.ok(v.ts > (last.get(v.symbol) ?? ''), 'file order per symbol')
    last.set(v.symbol, v.ts)
  }
})

test('--speed 10x replays rows one second apart at ten per second, in order', async (t) => {
  const broker = await startTestBroker(t)
  const env = envFor(t, broker.address)
  const n = 11
  const body = Array.from({ length: n }, (_, i) => `2024-03-01 09:30:${String(i).padStart(2, '0')},AAPL,${100 + i}`)
  const file = env.write('paced.csv', 'ts,symbol,price\n' + body.join('\n') + '\n')
  const r = await ok(['replay', file, '--topic', 'prices', '--speed', '10x', '--partitions', '1'], env)
  const expectedMs = ((n - 1) * 1000) / 10
  const m = /in (\d+\.\d+) s/.exec(r.stdout)
  assert.ok(m && Number(m[1]) * 1000 >= expectedMs * 0.95, `at least the paced time: ${r.stdout}`)
  const records = await readRecords(broker.address, 'prices')
  assert.deepEqual(
    records.map((x) => (JSON.parse(x.value ?? '') as { price: number }).price),
    Array.from({ length: n }, (_, i) => 100 + i),
  )
  for (let i = 1; i < n; i++) assert.ok(records[i].timestamp >= records[i - 1].timestamp, 'timestamps never go back')
  const spread = records[n - 1].timestamp - records[0].timestamp
  assert.ok(spread >= expectedMs * 0.8, `sent over the paced time: ${spread} ms`)
})

test('SIGINT during a paced replay exits 130 with the rows so far on the topic', async (t) => {
  const broker = await startTestBroker(t)
  const env = envFor(t, broker.address)
  // Three rows a second apart, then one a minute later: the replay waits for it when stopped.
  const body = [
    '2024-03-01 09:30:00,AAPL,100',
    '2024-03-01 09:30:01,AAPL,101',
    '2024-03-01 09:30:02,AAPL,102',
    '2024-03-01 09:31:02,AAPL,103',
    '2024-03-01 09:31:03,AAPL,104',
  ]
  const file = env.write('slow.csv', 'ts,symbol,price\n' + body.join('\n') + '\n')
  const cli = startCli(['replay', file, '--topic', 'prices', '--speed', '1x'], env.options)
  t.after(() => cli.child.kill('SIGKILL'))
  await cli.waitForStderr(/^tickflow: using /)
  await eventually(async () => (await topicSize(broker.address, 'prices')) >= 3, 30_000, 'three rows')
  cli.child.kill('SIGINT')
  const r = await cli.exited
  assert.equal(r.code, 130, r.stderr)
  assert.match(r.stdout, /^interrupted: replayed 3 rows of slow\.csv to prices in \d+\.\d\d s\n$/)
  const records = await readRecords(broker.address, 'prices')
  assert.deepEqual(
    records.map((x) => (JSON.parse(x.value ?? '') as { price: number }).price),
    [100, 101, 102],
    'the rows before the stop, in order; nothing after it',
  )
  const spread = records[2].timestamp - records[0].timestamp
  assert.ok(spread >= 2000 * 0.8, `paced a second apart: ${spread} ms`)
})

test('without any broker, replay runs an embedded one on the data dir, which later commands read', async (t) => {
  const env = envFor(t, await closedAddress())
  const file = env.write('history.csv', HISTORY.join('\n') + '\n')
  const dataDir = path.join(env.dir, 'data')
  const r = await ok(['replay', file, '--topic', 'prices', '--data-dir', dataDir], env)
  assert.match(lines(r.stderr)[0], /^tickflow: no broker on 127\.0\.0\.1:\d+: started an embedded broker on data dir /)
  assert.match(r.stdout, /^replayed 3 rows .* 5 malformed rows/)
  const tail = await ok(
    ['tail', 'dlq.prices', '--from-beginning', '--count', '5', '--json', '--data-dir', dataDir],
    env,
  )
  const dead = lines(tail.stdout).map((l) => JSON.parse(l) as { headers: Record<string, string> })
  assert.deepEqual(
    dead.map((d) => d.headers[SOURCE]),
    ['history.csv:3', 'history.csv:4', 'history.csv:6', 'history.csv:7', 'history.csv:10'],
  )
})
