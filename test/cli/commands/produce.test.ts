/**
 * `tickflow produce prices|orders` end to end: the command runs as a child process against a
 * tickflow broker over TCP, and every record is read back with KafkaJS.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import { test, type TestContext } from 'node:test'
import { startTestBroker, tempDir } from '../../helpers/broker.ts'
import {
  closedAddress,
  cliEnv,
  lines,
  readTopic,
  runCli,
  startCli,
  topicSize,
  type CliResult,
  type ReadRecord,
} from '../../helpers/cli.ts'

const SYMBOLS = ['AAPL', 'MSFT', 'GOOG', 'AMZN', 'TSLA']
const PRICE_VALUE = /^\{"ts":"(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3})","symbol":"([A-Z]+)","price":(\d+\.\d{2})\}$/
const START = '2024-03-01 09:30:00.000'
const START_MS = Date.parse('2024-03-01T09:30:00.000Z')

/** An environment for commands against `address` (TICKFLOW_LOCAL_BROKER), with its own data dir. */
function envFor(t: TestContext, address: string): { env: NodeJS.ProcessEnv; cwd: string } {
  const dir = tempDir(t)
  return { env: cliEnv({ TICKFLOW_LOCAL_BROKER: address, TICKFLOW_DATA_DIR: dir }), cwd: dir }
}

/** Runs a command that must succeed; returns its result. */
async function ok(args: string[], options: { env: NodeJS.ProcessEnv; cwd: string }): Promise<CliResult> {
  const r = await runCli(args, options)
  assert.equal(r.code, 0, `tickflow ${args.join(' ')} exits 0: ${r.stderr}`)
  return r
}

/** The number in "produced 1,234 prices to ...". */
function producedCount(stdout: string): number {
  const m = /produced ([\d,]+) (prices|orders) to /.exec(stdout)
  assert.ok(m, `the command says how many it produced: ${stdout}`)
  return Number(m[1].replaceAll(',', ''))
}

/** Epoch ms of a `yyyy-mm-dd hh:mm:ss.fff` UTC text, checking it is a real time. */
function tsMs(ts: string): number {
  const iso = ts.replace(' ', 'T') + 'Z'
  const ms = Date.parse(iso)
  assert.ok(Number.isFinite(ms) && new Date(ms).toISOString() === iso, `${ts} is a real UTC time`)
  return ms
}

/** Checks one prices record; returns its parsed value. */
function checkPrice(r: ReadRecord, symbols = SYMBOLS): { ts: string; symbol: string; price: number } {
  assert.ok(r.value !== null)
  const m = PRICE_VALUE.exec(r.value)
  assert.ok(m, `canonical layout with a two-decimal price: ${r.value}`)
  const v = JSON.parse(r.value) as { ts: string; symbol: string; price: number }
  assert.deepEqual(Object.keys(v), ['ts', 'symbol', 'price'])
  assert.equal(v.symbol, m[2])
  assert.ok(symbols.includes(v.symbol), `known symbol ${v.symbol}`)
  assert.equal(r.key, v.symbol, 'the key is the symbol')
  assert.ok(v.price > 0)
  assert.equal(v.price.toFixed(2), m[3])
  tsMs(v.ts)
  return v
}

/** Per partition, the values in offset order. */
function byPartition(records: ReadRecord[]): Map<number, (string | null)[]> {
  const out = new Map<number, (string | null)[]>()
  for (const r of records) out.set(r.partition, [...(out.get(r.partition) ?? []), r.value])
  return out
}

function assertNoDuplicates(records: ReadRecord[]): void {
  const values = new Set(records.map((r) => r.value))
  assert.equal(values.size, records.length, 'no value appears twice')
}

for (const n of [1, 5000, 100_000]) {
  test(`produce prices --count ${n} lands exactly ${n} valid messages`, async (t) => {
    const broker = await startTestBroker(t)
    const options = envFor(t, broker.address)
    const before = Date.now()
    const r = await ok(['produce', 'prices', '--count', String(n), '--seed', '42'], options)
    const after = Date.now()
    assert.equal(producedCount(r.stdout), n)
    assert.match(r.stdout, /seed 42\)/)
    const err = lines(r.stderr)
    assert.equal(err.length, 1, `one line on stderr: ${r.stderr}`)
    assert.equal(err[0], `tickflow: using the broker listening on ${broker.address}`)

    assert.equal(await topicSize(broker.address, 'prices'), n, 'the topic holds exactly n records')
    const records = await readTopic(broker.address, 'prices')
    assert.equal(records.length, n)
    const seen = new Set<string>()
    for (const record of records) {
      const v = checkPrice(record)
      seen.add(v.symbol)
      // Wall clock, UTC: within the run (ts is truncated to the millisecond).
      const ms = tsMs(v.ts)
      assert.ok(ms >= before - 1 && ms <= after, `ts ${v.ts} is the UTC wall clock of the run`)
    }
    if (n >= 5000) assert.deepEqual([...seen].sort(), [...SYMBOLS].sort(), 'every default symbol appears')
  })
}

test('the same seed with --start gives byte-identical messages; without --start only ts differ', async (t) => {
  const broker = await startTestBroker(t)
  const options = envFor(t, broker.address)
  const n = 3000
  const args = ['--count', String(n), '--seed', 'same', '--start', START]
  await ok(['produce', 'prices', '--topic', 'a', ...args], options)
  await ok(['produce', 'prices', '--topic', 'b', ...args], options)
  const a = await readTopic(broker.address, 'a')
  const b = await readTopic(broker.address, 'b')
  assert.equal(a.length, n)
  assert.deepEqual(byPartition(b), byPartition(a), 'the same bytes in the same partitions and order')
  assert.deepEqual(
    b.map((r) => r.key),
    a.map((r) => r.key),
  )
  // The simulated clock: one millisecond per message at --rate max, from --start.
  const ts = a.map((r) => tsMs(checkPrice(r).ts)).sort((x, y) => x - y)
  assert.deepEqual(
    ts,
    Array.from({ length: n }, (_, i) => START_MS + i),
  )
  assertNoDuplicates(a)

  // Another seed gives other prices.
  await ok(['produce', 'prices', '--topic', 'c', '--count', String(n), '--seed', 'other', '--start', START], options)
  const c = await readTopic(broker.address, 'c')
  assert.notDeepEqual(byPartition(c), byPartition(a))

  // Without --start: the same symbols and prices, in the same order, with wall-clock timestamps.
  await ok(['produce', 'prices', '--topic', 'd', '--count', String(n), '--seed', 'same'], options)
  const d = await readTopic(broker.address, 'd')
  const strip = (records: ReadRecord[]) =>
    records.map((r) => {
      const v = checkPrice(r)
      return [r.partition, r.offset, v.symbol, v.price]
    })
  assert.deepEqual(strip(d), strip(a))
  assert.notDeepEqual(
    d.map((r) => checkPrice(r).ts),
    a.map((r) => checkPrice(r).ts),
  )
})

test('--model gbm: small steps along each symbol path, --symbols chooses the symbols', async (t) => {
  const broker = await startTestBroker(t)
  const options = envFor(t, broker.address)
  const n = 4000
  const symbols = ['AAPL', 'NVDA', 'ZZZ']
  const common = ['--count', String(n), '--seed', '7', '--start', START, '--symbols', symbols.join(',')]
  await ok(['produce', 'prices', '--topic', 'gbm', '--model', 'gbm', ...common], options)
  await ok(['produce', 'prices', '--topic', 'normal', ...common], options)

  /** Largest |p_t / p_{t-1} - 1| over consecutive prices of one symbol (per key, order is kept). */
  const largestStep = (records: ReadRecord[]): number => {
    const last = new Map<string, number>()
    let largest = 0
    for (const r of records) {
      const v = checkPrice(r, symbols)
      const prev = last.get(v.symbol)
      if (prev !== undefined) largest = Math.max(largest, Math.abs(v.price / prev - 1))
      last.set(v.symbol, v.price)
    }
    return largest
  }
  const gbm = await readTopic(broker.address, 'gbm')
  const normal = await readTopic(broker.address, 'normal')
  assert.equal(gbm.length, n)
  assert.equal(normal.length, n)
  assert.deepEqual(new Set(gbm.map((r) => r.key)), new Set(symbols))
  // A one-second gbm step moves a price by a few hundredths of a percent; independent normal
  // draws (sd 1-4% of the mean) jump by percents.
  assert.ok(largestStep(gbm) < 0.01, `gbm steps are small: ${largestStep(gbm)}`)
  assert.ok(largestStep(normal) > 0.01, `normal draws are independent: ${largestStep(normal)}`)
})

test('produce orders: unique increasing ids; a second run continues after the highest id', async (t) => {
  const broker = await startTestBroker(t)
  const options = envFor(t, broker.address)
  const ORDER_TS = /^\d{4}\/\d{2}\/\d{2}, \d{2}:\d{2}:\d{2}$/
  const check = (records: ReadRecord[]): number[] => {
    const last = new Map<number, number>()
    const ids: number[] = []
    for (const r of records) {
      const o = JSON.parse(r.value ?? '') as Record<string, unknown>
      assert.ok(Number.isSafeInteger(o.id), `integer id: ${r.value}`)
      assert.ok(o.trxn_type === 'BUY' || o.trxn_type === 'SELL', `side: ${r.value}`)
      assert.equal(r.key, o.instrument, 'the key is the instrument')
      assert.ok(Number.isInteger(o.quantity) && (o.quantity as number) > 0, `quantity: ${r.value}`)
      assert.ok(typeof o.price === 'number' && o.price > 0, `price: ${r.value}`)
      assert.match(o.order_timestamp as string, ORDER_TS)
      const id = o.id as number
      assert.ok(id > (last.get(r.partition) ?? -Infinity), 'ids increase along each partition')
      last.set(r.partition, id)
      ids.push(id)
    }
    return ids.sort((a, b) => a - b)
  }

  const first = await ok(['produce', 'orders', '--count', '3000', '--seed', '1'], options)
  assert.equal(producedCount(first.stdout), 3000)
  const ids1 = check(await readTopic(broker.address, 'orders'))
  assert.equal(ids1.length, 3000)
  assert.equal(new Set(ids1).size, 3000, 'ids are unique')
  assert.deepEqual(
    ids1,
    Array.from({ length: 3000 }, (_, i) => ids1[0] + i),
    'consecutive ids',
  )

  // The same seed again: new ids, after the highest on the topic.
  await ok(['produce', 'orders', '--count', '2000', '--seed', '1'], options)
  const all = await readTopic(broker.address, 'orders')
  assert.equal(all.length, 5000)
  const ids = check(all)
  assert.equal(new Set(ids).size, 5000, 'ids stay unique across runs')
  assert.deepEqual(
    ids,
    Array.from({ length: 5000 }, (_, i) => ids1[0] + i),
    'the second run starts one past the highest id',
  )
})

test('dropped and refused produce responses: retries land exactly N, no duplicates', async (t) => {
  let faults = false
  let produceResponses = 0
  let injected = 0
  const broker = await startTestBroker(t, {
    hooks: {
      beforeResponse: ({ apiKey, clientId }) => {
        if (!faults || apiKey !== 0 || clientId !== 'tickflow-produce-prices') return
        produceResponses++
        // The request's records are appended either way; the client never learns it and retries.
        // One response is dropped (the client times out), others close the connection.
        if (produceResponses === 2) {
          injected++
          return 'drop'
        }
        if (produceResponses % 3 === 1) {
          injected++
          return 'close'
        }
      },
    },
  })
  const options = envFor(t, broker.address)
  const n = 40_000
  const args = ['--count', String(n), '--seed', '99', '--start', START]
  // A reference run on a clean topic, without faults.
  await ok(['produce', 'prices', '--topic', 'clean', ...args], options)
  faults = true
  const r = await ok(['produce', 'prices', '--topic', 'faulty', ...args], options)
  faults = false
  assert.ok(injected >= 3, `the broker refused produce responses (${injected} of ${produceResponses})`)
  assert.equal(producedCount(r.stdout), n)
  assert.equal(await topicSize(broker.address, 'faulty'), n, 'exactly n records, no duplicate appended')
  const faulty = await readTopic(broker.address, 'faulty')
  const clean = await readTopic(broker.address, 'clean')
  assert.equal(faulty.length, n)
  assertNoDuplicates(faulty)
  assert.deepEqual(byPartition(faulty), byPartition(clean), 'the same records, in the same order')
})

test('SIGINT stops an unbounded produce: exit 0, the count said is the count on the topic', async (t) => {
  const broker = await startTestBroker(t)
  const options = envFor(t, broker.address)
  const args = ['--rate', '2000', '--seed', '5', '--start', START]
  const run = startCli(['produce', 'prices', '--topic', 'endless', ...args], options)
  t.after(() => run.child.kill('SIGKILL'))
  await run.waitForStderr(/^tickflow: using the broker listening on /)
  // Interrupt once records are flowing, with more still to come.
  for (;;) {
    assert.equal(run.child.exitCode, null, `the unbounded produce is still running: ${run.stderr()}`)
    const size = await topicSize(broker.address, 'endless').catch(() => 0)
    if (size >= 500) break
    await new Promise((r) => setTimeout(r, 50))
  }
  run.child.kill('SIGINT')
  const r = await run.exited
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stdout, /^interrupted: produced [\d,]+ prices to endless in /)
  const m = producedCount(r.stdout)
  assert.ok(m >= 500)
  assert.equal(await topicSize(broker.address, 'endless'), m, 'the topic holds exactly what was reported')
  const got = await readTopic(broker.address, 'endless')
  assert.equal(got.length, m)
  for (const record of got) checkPrice(record)
  // Exactly the first m messages of the stream: a bounded run with the same seed, clock and rate.
  await ok(['produce', 'prices', '--topic', 'bounded', '--count', String(m), ...args], options)
  assert.deepEqual(byPartition(got), byPartition(await readTopic(broker.address, 'bounded')))
})

test('bad arguments exit 2 with one line and touch no broker', async (t) => {
  // No broker anywhere: a bad argument must be reported before any connection is tried.
  const dir = tempDir(t)
  const options = { env: cliEnv({ TICKFLOW_LOCAL_BROKER: await closedAddress(), TICKFLOW_DATA_DIR: dir }), cwd: dir }
  const cases = [
    ['produce'],
    ['produce', 'foo'],
    ['produce', 'prices', 'orders'],
    ['produce', 'prices', '--count', '0'],
    ['produce', 'prices', '--count', 'ten'],
    ['produce', 'prices', '--rate', 'fast'],
    ['produce', 'prices', '--rate', '0'],
    ['produce', 'prices', '--model', 'x'],
    ['produce', 'prices', '--symbols', ','],
    ['produce', 'prices', '--start', 'yesterday'],
    ['produce', 'prices', '--compression', 'rar'],
    ['produce', 'prices', '--bogus'],
    ['produce', 'prices', '--brokers', '::::'],
  ]
  const results = await Promise.all(cases.map((argv) => runCli(argv, options)))
  for (const [i, argv] of cases.entries()) {
    const r = results[i]
    assert.equal(r.code, 2, `${argv.join(' ')} exits 2: ${r.stderr}`)
    const err = lines(r.stderr)
    assert.equal(err.length, 1, `${argv.join(' ')} prints one line: ${r.stderr}`)
    assert.match(err[0], /^tickflow produce: /)
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
    assert.equal(r.stdout, '')
  }
  assert.deepEqual(fs.readdirSync(dir), [], 'no embedded broker was started on the data dir')
})
