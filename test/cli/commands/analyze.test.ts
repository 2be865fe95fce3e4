/**
 * `tickflow analyze` end to end, over TCP, with separate processes: exactly-once output across
 * kill -9 crashes and takeovers (compared record for record with an uninterrupted run on the same
 * input, read back by kcat as a read_committed consumer), and dead letters for late and
 * malformed records.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import type { Broker } from '../../../src/broker/index.ts'
import { createTopic, fetchCommittedOffsets, listEndOffsets } from '../../helpers/admin.ts'
import { eventually, startTestBroker, tempDir } from '../../helpers/broker.ts'
import { cliEnv, produceWithKafkajs, startCli } from '../../helpers/cli.ts'
import { readCommitted, readCommittedPartition } from '../../helpers/committed.ts'
import { consumedAll, crashRuns, fedBroker, stopProcessor, type FedBroker } from '../../helpers/processor-cli.ts'

const GROUP = 'tickflow-analyze'
const SYMBOLS = 'AAPL,MSFT,GOOG,AMZN,TSLA,NVDA,META,NFLX,IBM,ORCL,INTC,AMD'
const TICKS = 240_000
// Fixed seed, rate and simulated clock: every broker gets byte-identical prices, whenever they are
// produced. The rate spreads the input over ~16 s, so the kills below land while it flows.
const PRODUCE = ['produce', 'prices', '--count', String(TICKS), '--rate', '15000', '--seed', '11']
PRODUCE.push('--start', '2024-01-02 09:30:00', '--symbols', SYMBOLS, '--partitions', '3', '--quiet')
// Snapshots every second: crashes land between two, so restores replay the input after a snapshot.
const ANALYZE = ['analyze', '--quiet', '--session-timeout', '2s', '--checkpoint-interval', '1s', '--bars', '1s,1m']

const setup = (t: TestContext): Promise<FedBroker> => fedBroker(t, 'prices', PRODUCE)
const done = (s: FedBroker): Promise<boolean> => consumedAll(s, GROUP)
const stop = stopProcessor

/** The committed `volatility` records of each partition, as text. */
async function volatility(broker: Broker): Promise<string[][]> {
  const ends = await listEndOffsets(broker, 'volatility')
  return Promise.all(
    ends.map(async (_, p) => (await readCommittedPartition(broker.address, 'volatility', p)).map((r) => r.value ?? '')),
  )
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))

let reference: Promise<string[][]> | undefined

/** The output of one uninterrupted run over the input (computed once per file, beside the first test). */
function uninterrupted(t: TestContext): Promise<string[][]> {
  reference ??= (async () => {
    const s = await setup(t)
    const run = startCli(ANALYZE, s)
    await eventually(() => done(s), 120_000, 'the uninterrupted run to finish')
    await stop(run)
    const out = await volatility(s.broker)
    assert.equal(
      out.reduce((n, p) => n + p.length, 0),
      TICKS,
      'one volatility record per tick',
    )
    return out
  })()
  return reference
}

function assertSameOutput(got: string[][], expected: string[][]): void {
  assert.equal(got.length, expected.length)
  for (let p = 0; p < expected.length; p++) {
    assert.equal(got[p].length, expected[p].length, `partition ${p}: record count`)
    // Record for record: a gap or a duplicate shifts every record after it.
    assert.deepEqual(got[p], expected[p], `partition ${p}: records`)
  }
}

test('analyze killed with SIGKILL at random points and restarted gives the output of an uninterrupted run', async (t) => {
  const expected = uninterrupted(t)
  const s = await setup(t)
  // At most 300 ms after each run's mark (longer, and the input would be done before the last
  // kills): most often between two snapshots, so restores replay input.
  const crashed = await crashRuns(t, s, GROUP, ANALYZE, { runs: 5, total: TICKS, jitterMs: 300 })
  const killedMidStream = crashed.killedMidStream
  let stderr = crashed.stderr
  // The kills must have hit the processing, or the test proves nothing.
  assert.ok(killedMidStream >= 3, `only ${killedMidStream} of 5 kills came before the end of the input`)
  const last = startCli(ANALYZE, s)
  await eventually(() => done(s), 120_000, 'the last run to finish')
  await stop(last)
  stderr += last.stderr()
  // Restores happened from snapshots, replaying the input that followed them.
  const replays = [...stderr.matchAll(/restored \d+ snapshot bytes and replayed (\d+) records/g)].map((m) =>
    Number(m[1]),
  )
  assert.ok(
    replays.some((n) => n > 0),
    `some restore replayed input after its snapshot: ${replays.join(',')}\n${stderr}`,
  )
  assertSameOutput(await volatility(s.broker), await expected)
})

test('two analyze processes share the work; when one is killed the other takes over with no gap and no duplicate', async (t) => {
  const expected = uninterrupted(t)
  const s = await setup(t)
  const a = startCli(ANALYZE, s)
  const b = startCli(ANALYZE, s)
  // Both members hold partitions.
  await eventually(
    () => /generation \d+: partitions \[\d/.test(a.stderr()) && /generation \d+: partitions \[\d/.test(b.stderr()),
    30_000,
    'both members to own partitions',
  )
  await sleep(300 + Math.floor(Math.random() * 1000))
  a.child.kill('SIGKILL')
  await a.exited
  assert.ok(!(await done(s)), 'the kill came before the end of the input')
  // B is told to rebalance once A's session expires, and takes every partition.
  await b.waitForStderr(/generation \d+: partitions \[0,1,2\]/)
  await eventually(() => done(s), 120_000, 'the survivor to finish')
  await stop(b)
  assertSameOutput(await volatility(s.broker), await expected)
})

test('late and malformed prices go to dlq.prices with their reasons; the others are analysed', async (t) => {
  const broker = await startTestBroker(t)
  const cwd = tempDir(t)
  const env = cliEnv({ TICKFLOW_LOCAL_BROKER: broker.address, TICKFLOW_DATA_DIR: cwd })
  await createTopic(broker, 'prices', 1)
  const tick = (ts: string, price: number | string): string => `{"ts":"${ts}","symbol":"X","price":${price}}`
  const values = [
    tick('2024-01-02 09:30:00.000', 10),
    tick('2024-01-02 09:30:30.000', 11),
    '{"ts":"2024-01-02 09:30:31.000","symbol":"X"', // truncated JSON
    tick('2024-01-02 09:31:05.000', 12), // the watermark (lateness 1 s) passes 09:31:00: the 09:30 bar closes
    tick('2024-01-02 09:30:59.000', 13), // its 1m window is closed: late
    tick('2024-01-02 09:31:04.500', 14), // out of order but within the lateness: accepted
    tick('2024-01-02 09:31:06.000', -1), // fails the schema
  ]
  await produceWithKafkajs(
    broker.address,
    'prices',
    values.map((value) => ({ key: 'X', value, partition: 0 })),
  )
  const run = startCli(['analyze', '--quiet', '--bars', '1m', '--metrics-port', '0'], { env, cwd })
  await eventually(
    async () => (await fetchCommittedOffsets(broker, GROUP, 'prices', 1)).get(0) === values.length,
    60_000,
    'analyze to consume the input',
  )
  // Prometheus metrics count what happened.
  const url = /metrics on (http:\/\/\S+)/.exec(await run.waitForStderr(/metrics on http/))![1]
  const metrics = await (await fetch(url)).text()
  const value = (name: string): number => {
    let sum = 0
    for (const m of metrics.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, 'gm'))) sum += Number(m[1])
    return sum
  }
  assert.equal(value('tickflow_stream_records_in_total'), 7, metrics)
  assert.equal(value('tickflow_stream_invalid_records_total'), 2)
  assert.equal(value('tickflow_stream_late_records_total'), 1)
  assert.ok(value('tickflow_stream_transactions_total') >= 1)
  await stop(run)
  const dead = await readCommitted(broker.address, 'dlq.prices')
  assert.deepEqual(
    dead.map((d) => d.headers['tickflow.dlq.offset']),
    ['2', '4', '6'],
  )
  assert.deepEqual(
    dead.map((d) => d.value),
    [values[2], values[4], values[6]],
  )
  assert.match(dead[0].headers['tickflow.dlq.reason'], /JSON/i)
  assert.match(dead[1].headers['tickflow.dlq.reason'], /^late: event time 2024-01-02 09:30:59\.000 .*1m window/)
  assert.match(dead[2].headers['tickflow.dlq.reason'], /price/)
  for (const d of dead) {
    assert.equal(d.headers['tickflow.dlq.topic'], 'prices')
    assert.equal(d.headers['tickflow.dlq.partition'], '0')
  }
  const vol = (await readCommitted(broker.address, 'volatility')).map((r) => JSON.parse(r.value!) as { price: number })
  assert.deepEqual(
    vol.map((v) => v.price),
    [10, 11, 12, 14],
  )
  const bars = (await readCommitted(broker.address, 'bars.1m')).map(
    (r) => JSON.parse(r.value!) as Record<string, unknown>,
  )
  // Only the 09:30 bar is final (the watermark is 09:31:04); the late 13 is not in it.
  assert.deepEqual(bars, [
    {
      symbol: 'X',
      interval: '1m',
      start: '2024-01-02 09:30:00.000',
      end: '2024-01-02 09:31:00.000',
      open: 10,
      high: 11,
      low: 10,
      close: 11,
      volume: 2,
      vwap: 10.5,
      trades: 2,
    },
  ])
})

test('bad arguments of analyze exit 2 with one line and touch nothing', async (t) => {
  const broker = await startTestBroker(t)
  const cwd = tempDir(t)
  const env = cliEnv({ TICKFLOW_LOCAL_BROKER: broker.address, TICKFLOW_DATA_DIR: cwd })
  for (const args of [
    ['--window', '1'],
    ['--bars', '1x'],
    ['--bars', ''],
    ['--from', 'middle'],
    ['--lateness', 'soon'],
    ['--z-threshold', '-1'],
    ['extra'],
  ]) {
    const r = await startCli(['analyze', ...args], { env, cwd }).exited
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr)
    assert.match(r.stderr, /^tickflow analyze: /)
  }
  assert.deepEqual(await listEndOffsets(broker, 'prices').catch(() => 'no topic'), 'no topic')
})
