/**
 * `tickflow tail TOPIC` end to end: records produced with KafkaJS to a tickflow broker are printed
 * by the command (a child process), pretty or as JSON, from the beginning or live.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { createTopic } from '../../helpers/admin.ts'
import { startTestBroker, tempDir } from '../../helpers/broker.ts'
import {
  closedAddress,
  cliEnv,
  lines,
  produceWithKafkajs,
  runCli,
  startCli,
  type CliResult,
} from '../../helpers/cli.ts'
import { listTopics } from '../../helpers/records.ts'

type Options = { env: NodeJS.ProcessEnv; cwd: string }

/** Commands find the broker as the local one (TICKFLOW_LOCAL_BROKER), with their own data dir. */
function envFor(t: TestContext, address: string): Options {
  const dir = tempDir(t)
  return { env: cliEnv({ TICKFLOW_LOCAL_BROKER: address, TICKFLOW_DATA_DIR: dir }), cwd: dir }
}

async function ok(args: string[], options: Options): Promise<CliResult> {
  const r = await runCli(args, options)
  assert.equal(r.code, 0, `tickflow ${args.join(' ')} exits 0: ${r.stderr}`)
  return r
}

const priceValue = (i: number, symbol: string) =>
  `{"ts":"2024-03-01 09:30:${String(i).padStart(2, '0')}.000","symbol":"${symbol}","price":${100 + i}.25}`

/** `prices` with 3 partitions: 3, 2 and 1 records. */
async function pricesBroker(t: TestContext): Promise<string> {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'prices', 3)
  await produceWithKafkajs(broker.address, 'prices', [
    { key: 'AAPL', value: priceValue(0, 'AAPL'), partition: 0 },
    { key: 'MSFT', value: priceValue(1, 'MSFT'), partition: 1 },
    { key: 'AAPL', value: priceValue(2, 'AAPL'), partition: 0 },
    { key: 'GOOG', value: priceValue(3, 'GOOG'), partition: 2 },
    { key: 'AAPL', value: priceValue(4, 'AAPL'), partition: 0 },
    { key: 'MSFT', value: priceValue(5, 'MSFT'), partition: 1 },
  ])
  return broker.address
}

/** `partition@offset` of each pretty line, checking that each partition's offsets run 0, 1, 2, ... */
function positions(out: string[]): [number, number][] {
  const next = new Map<number, number>()
  return out.map((line) => {
    const m = /^(\d+)@(\d+) /.exec(line)
    assert.ok(m, `starts with partition@offset: ${line}`)
    const [p, o] = [Number(m[1]), Number(m[2])]
    assert.equal(o, next.get(p) ?? 0, `offset order in partition ${p}`)
    next.set(p, o + 1)
    return [p, o]
  })
}

test('tail --from-beginning --count N prints exactly N records, in offset order per partition', async (t) => {
  const address = await pricesBroker(t)
  const options = envFor(t, address)
  const all = await ok(['tail', 'prices', '--from-beginning', '--count', '6'], options)
  assert.deepEqual(lines(all.stderr), [`tickflow: using the broker listening on ${address}`])
  const out = lines(all.stdout)
  assert.equal(out.length, 6, all.stdout)
  assert.deepEqual(positions(out).sort(), [
    [0, 0],
    [0, 1],
    [0, 2],
    [1, 0],
    [1, 1],
    [2, 0],
  ])
  // The prices layout: position, ts, symbol, price with two decimals.
  const expected = new Map([
    ['0@0', ['2024-03-01 09:30:00.000', 'AAPL', '100.25']],
    ['0@1', ['2024-03-01 09:30:02.000', 'AAPL', '102.25']],
    ['0@2', ['2024-03-01 09:30:04.000', 'AAPL', '104.25']],
    ['1@0', ['2024-03-01 09:30:01.000', 'MSFT', '101.25']],
    ['1@1', ['2024-03-01 09:30:05.000', 'MSFT', '105.25']],
    ['2@0', ['2024-03-01 09:30:03.000', 'GOOG', '103.25']],
  ])
  for (const line of out) {
    const [where, ...rest] = line.trim().split(/\s+/)
    assert.deepEqual([rest.slice(0, 2).join(' '), ...rest.slice(2)], expected.get(where), line)
  }

  // Fewer than there are: exactly that many, still in offset order per partition.
  const some = await ok(['tail', 'prices', '--from-beginning', '--count', '4'], options)
  assert.equal(lines(some.stdout).length, 4, some.stdout)
  positions(lines(some.stdout))

  // One partition.
  const one = await ok(['tail', 'prices', '--from-beginning', '--count', '2', '--partition', '1'], options)
  assert.deepEqual(positions(lines(one.stdout)), [
    [1, 0],
    [1, 1],
  ])
})

test('tail --json: one object per record with topic, partition, offset, timestamp, key and value', async (t) => {
  const address = await pricesBroker(t)
  const before = Date.now()
  const r = await ok(['tail', 'prices', '--from-beginning', '--count', '6', '--json'], envFor(t, address))
  const records = lines(r.stdout).map(
    (l) =>
      JSON.parse(l) as {
        topic: string
        partition: number
        offset: number
        timestamp: string
        key: string | null
        value: { ts: string; symbol: string; price: number }
        headers: Record<string, string>
      },
  )
  assert.equal(records.length, 6)
  const byPosition = new Map(records.map((x) => [`${x.partition}@${x.offset}`, x]))
  assert.equal(byPosition.size, 6)
  const gotAt = byPosition.get('0@2')
  assert.deepEqual(
    { ...gotAt, timestamp: undefined },
    {
      topic: 'prices',
      partition: 0,
      offset: 2,
      timestamp: undefined,
      key: 'AAPL',
      value: { ts: '2024-03-01 09:30:04.000', symbol: 'AAPL', price: 104.25 },
      headers: {},
    },
  )
  for (const x of records) {
    assert.equal(x.key, x.value.symbol)
    const ms = Date.parse(x.timestamp)
    assert.ok(ms <= Date.now() && ms >= before - 60_000, `the broker timestamp: ${x.timestamp}`)
  }
})

test('orders and untyped topics print in their own layouts', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'orders', 1)
  await createTopic(broker, 'misc', 1)
  await produceWithKafkajs(broker.address, 'orders', [
    {
      key: 'TCS',
      value:
        '{"id":1000001,"instrument":"TCS","trxn_type":"BUY","quantity":5,"price":15.0,"order_timestamp":"2023/03/12, 23:48:37"}',
    },
    {
      key: 'INFY',
      value:
        '{"id":1000002,"instrument":"INFY","trxn_type":"SELL","quantity":7,"type":"market","order_timestamp":"2023/03/12, 23:48:38","trader":"bob","tif":"IOC"}',
    },
    { key: 'TCS', value: 'not an order' },
  ])
  await produceWithKafkajs(broker.address, 'misc', [
    { key: 'k1', value: 'hello' },
    { key: null, value: '{"a":1}' },
  ])
  const options = envFor(t, broker.address)
  const orders = lines((await ok(['tail', 'orders', '--from-beginning', '--count', '3'], options)).stdout)
  assert.equal(orders.length, 3)
  assert.match(orders[0], /^0@0 +2023\/03\/12, 23:48:37 +#1000001 new BUY +5 TCS +@ 15\.00$/)
  assert.match(orders[1], /^0@1 +2023\/03\/12, 23:48:38 +#1000002 new SELL +7 INFY +market {2}bob IOC$/)
  assert.match(orders[2], /^0@2 +TCS {2}not an order$/, 'an invalid order prints as key and value')
  const misc = lines((await ok(['tail', 'misc', '--from-beginning', '--count', '2'], options)).stdout)
  assert.deepEqual(misc, ['0@0        k1  hello', '0@1        {"a":1}'])
  // --type chooses the layout of a topic with another name.
  await createTopic(broker, 'old-prices', 1)
  await produceWithKafkajs(broker.address, 'old-prices', [{ key: 'NVDA', value: priceValue(7, 'NVDA') }])
  const typed = lines(
    (await ok(['tail', 'old-prices', '--from-beginning', '--count', '1', '--type', 'prices'], options)).stdout,
  )
  assert.match(typed[0], /^0@0 +2024-03-01 09:30:07\.000 +NVDA +107\.25$/)
})

test('tail without --from-beginning shows only records produced after it started', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'live', 1)
  await produceWithKafkajs(broker.address, 'live', [
    { key: 'a', value: 'old-0' },
    { key: 'a', value: 'old-1' },
    { key: 'a', value: 'old-2' },
  ])
  const cli = startCli(['tail', 'live', '--count', '2'], envFor(t, broker.address))
  t.after(() => cli.child.kill('SIGKILL'))
  await cli.waitForStderr(/^tickflow: using /)
  await new Promise((r) => setTimeout(r, 300))
  // Produce until it has printed two: a record sent before it read the end offsets is not shown,
  // and which ones those are does not matter, only that no old record is.
  let done = false
  void cli.exited.then(() => (done = true))
  for (let i = 0; !done && i < 120; i++) {
    await produceWithKafkajs(broker.address, 'live', [{ key: 'a', value: `new-${i}` }])
    await new Promise((r) => setTimeout(r, 250))
  }
  const r = await cli.exited
  assert.equal(r.code, 0, r.stderr)
  const out = lines(r.stdout)
  assert.equal(out.length, 2, r.stdout)
  const shown = out.map((l) => {
    const m = /^0@(\d+) +a {2}(new-\d+)$/.exec(l)
    assert.ok(m, `a new record: ${l}`)
    return [Number(m[1]), Number(m[2].slice(4))]
  })
  assert.ok(shown[0][0] >= 3, 'after the old records')
  assert.deepEqual(shown[1], [shown[0][0] + 1, shown[0][1] + 1], 'consecutive new records, in order')
})

test('tail of a missing topic exits 1 with one line and creates nothing; bad arguments exit 2', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'prices', 3)
  const options = envFor(t, broker.address)
  const missing = await runCli(['tail', 'nosuch', '--from-beginning'], options)
  assert.equal(missing.code, 1, missing.stderr)
  const errors = lines(missing.stderr).filter((l) => !l.startsWith('tickflow: using '))
  assert.equal(errors.length, 1, missing.stderr)
  assert.match(errors[0], /^tickflow tail: .*nosuch/)
  assert.deepEqual(await listTopics(broker.address), ['prices'], 'tail does not create the topic')

  const cases: [string[], RegExp][] = [
    [['tail'], /give one TOPIC/],
    [['tail', 'a', 'b'], /give one TOPIC/],
    [['tail', 'prices', '--count', '0'], /--count must be an integer >= 1/],
    [['tail', 'prices', '--partition', 'x'], /--partition/],
    [['tail', 'prices', '--partition', '3'], /prices has no partition 3/],
    [['tail', 'prices', '--nope'], /nope/],
  ]
  await Promise.all(
    cases.map(async ([args, message]) => {
      const r = await runCli([...args, '--brokers', broker.address], {
        ...options,
        env: cliEnv({ TICKFLOW_LOCAL_BROKER: await closedAddress(), TICKFLOW_DATA_DIR: options.cwd }),
      })
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      const errs = lines(r.stderr).filter((l) => !l.startsWith('tickflow: using '))
      assert.equal(errs.length, 1, r.stderr)
      assert.match(errs[0], /^tickflow tail: /)
      assert.match(errs[0], message)
    }),
  )
})
