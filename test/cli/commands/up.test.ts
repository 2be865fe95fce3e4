/**
 * `tickflow up` end to end: the command runs as a child process with its embedded broker (or
 * against a test broker); other clients see the feeds grow, the summary is printed, and Ctrl-C
 * stops it cleanly.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { DEFAULT_SYMBOLS } from '../../../src/feeds/synthetic-prices.ts'
import { eventually, startTestBroker, tempDir } from '../../helpers/broker.ts'
import { closedAddress, cliEnv, lines, runCli, startCli, topicSize, type RunningCli } from '../../helpers/cli.ts'

type Options = { env: NodeJS.ProcessEnv; cwd: string }

/** No local broker (TICKFLOW_LOCAL_BROKER names a closed port), a temporary working directory. */
async function envFor(t: TestContext): Promise<Options & { dir: string }> {
  const dir = tempDir(t)
  return { env: cliEnv({ TICKFLOW_LOCAL_BROKER: await closedAddress(), TICKFLOW_DATA_DIR: dir }), cwd: dir, dir }
}

/** Starts `tickflow up ...`; killed after the test if still running. */
function up(t: TestContext, args: string[], options: Options): RunningCli {
  const cli = startCli(['up', ...args], options)
  t.after(() => cli.child.kill('SIGKILL'))
  return cli
}

/** Waits until both topics have grown past what they held at the call. */
async function assertGrowing(address: string): Promise<void> {
  const prices = await topicSize(address, 'prices')
  const orders = await topicSize(address, 'orders')
  await eventually(
    async () => (await topicSize(address, 'prices')) > prices + 10 && (await topicSize(address, 'orders')) > orders + 2,
    30_000,
    'prices and orders to grow',
  )
}

test('up runs a broker with price and order feeds, prints a summary every 10 s, and stops on SIGINT', async (t) => {
  const options = await envFor(t)
  const dataDir = path.join(options.dir, 'data')
  const cli = up(
    t,
    ['--listen', '127.0.0.1:0', '--data-dir', dataDir, '--price-rate', '100', '--order-rate', '20'],
    options,
  )
  const start = await cli.waitForStderr(/^tickflow up: /)
  const m =
    /^tickflow up: embedded broker on (127\.0\.0\.1:(\d+)) \(data dir (.+)\); prices 100\/s, orders 20\/s, seed \d+\. Ctrl-C to stop\.$/.exec(
      start,
    )
  assert.ok(m, `the start line names the broker: ${start}`)
  const address = m[1]
  assert.notEqual(m[2], '0', 'the port actually listened on')
  assert.equal(m[3], dataDir)

  // Other clients see both topics grow, twice over.
  await eventually(async () => (await topicSize(address, 'prices')) > 0, 30_000, 'prices')
  await assertGrowing(address)
  await assertGrowing(address)

  // Another command finds the broker by its address.
  const topics = await runCli(['topics', '--brokers', address], options)
  assert.equal(topics.code, 0, topics.stderr)
  const listed = new Map(
    lines(topics.stdout)
      .slice(1)
      .map((l) => l.split(/\s+/))
      .map(([name, partitions, messages]) => [name, [Number(partitions), Number(messages.replaceAll(',', ''))]]),
  )
  assert.deepEqual(
    [...listed.keys()].filter((n) => n === 'orders' || n === 'prices'),
    ['orders', 'prices'],
  )
  assert.equal(listed.get('prices')?.[0], 3)
  assert.ok((listed.get('prices')?.[1] ?? 0) > 0 && (listed.get('orders')?.[1] ?? 0) > 0, topics.stdout)

  // stdout is not a terminal: a one-line summary every 10 s, with every symbol and both counts.
  const summary = await eventually(() => lines(cli.stdout())[0], 60_000, 'the summary line')
  assert.ok(!cli.stdout().includes('\x1b'), 'no terminal control codes')
  for (const symbol of DEFAULT_SYMBOLS) {
    assert.match(
      summary,
      new RegExp(`\\| ${symbol} \\d+\\.\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} [\\d,]+ \\d+\\.\\d/s `),
      symbol,
    )
  }
  assert.match(
    summary,
    /\| prices: [\d,]+ messages \| orders: [\d,]+ messages, \d+\.\d\/s \| analyze: [\d,]+ ticks → volatility, bars\.1m, signals \(partitions \[0,1,2\]\) \| exchange: [\d,]+ orders → trades, order-events, book, pnl, trade-stats \(partitions \[0,1,2\]\) \| archive: [\d,]+ records from \d+ partitions → the embedded database in .+, served on 127\.0\.0\.1:\d+ while this runs$/,
  )
  assert.ok(!/prices: 0 messages/.test(summary), summary)
  // The analytics processor runs beside the feeds: its outputs grow.
  await eventually(async () => (await topicSize(address, 'volatility')) > 0, 60_000, 'volatility records')
  // And the matching engine: trades and P&L from the order feed.
  await eventually(async () => (await topicSize(address, 'trades')) > 0, 60_000, 'trades')
  await eventually(async () => (await topicSize(address, 'pnl')) > 0, 60_000, 'pnl records')
  const after = await runCli(['topics', '--brokers', address], options)
  for (const topic of [
    'volatility',
    'signals',
    'bars.1m',
    'dlq.prices',
    'tickflow-analyze.checkpoints',
    'order-events',
    'book',
    'trade-stats',
    'tickflow-exchange.checkpoints',
  ]) {
    assert.match(after.stdout, new RegExp(`^${topic.replaceAll('.', '\\.')} `, 'm'), topic)
  }

  // The archiver fills the embedded database, which another command reads meanwhile.
  const latest = await eventually(
    async () => {
      const q = await runCli(['query', 'latest', '--data-dir', dataDir, '--json'], options)
      assert.equal(q.code, 0, q.stderr)
      const rows = JSON.parse(q.stdout) as { symbol: string }[]
      return rows.length === DEFAULT_SYMBOLS.length ? q : undefined
    },
    60_000,
    'the latest price of every symbol in the archive',
  )
  assert.match(latest.stderr, /using the embedded database of process \d+ on 127\.0\.0\.1:\d+/)

  cli.child.kill('SIGINT')
  const r = await cli.exited
  assert.equal(r.code, 0, r.stderr)
  assert.equal(lines(r.stderr).at(-1), 'tickflow up: stopped')
  // Between the start and stop lines, only the database's line and the processors' lines.
  assert.match(
    lines(r.stderr)[1],
    /^tickflow up: using the embedded database in .+, served on 127\.0\.0\.1:\d+ while this runs$/,
  )
  assert.ok(
    lines(r.stderr)
      .slice(2, -1)
      .every((l) => l.startsWith('analyze: ') || l.startsWith('exchange: ') || l.startsWith('archive: ')),
    r.stderr,
  )
  assert.ok(fs.existsSync(dataDir), 'the data is kept')
})

test('up --brokers feeds that cluster and starts no broker of its own', async (t) => {
  const broker = await startTestBroker(t)
  const options = await envFor(t)
  const dataDir = path.join(options.dir, 'never')
  const cli = up(
    t,
    ['--brokers', broker.address, '--data-dir', dataDir, '--listen', '127.0.0.1:0', '--price-rate', '100'],
    options,
  )
  const start = await cli.waitForStderr(/^tickflow up: /)
  assert.match(start, new RegExp(`^tickflow up: Kafka brokers ${broker.address}; prices 100/s, orders 10/s, seed `))
  await assertGrowing(broker.address)
  cli.child.kill('SIGINT')
  const r = await cli.exited
  assert.equal(r.code, 0, r.stderr)
  assert.match(r.stderr, /tickflow up: stopped\n$/)
  assert.equal(fs.existsSync(path.join(dataDir, 'topics')), false, 'no broker data: no broker was started')
  assert.ok(fs.existsSync(path.join(dataDir, 'db')), 'the archive went to the embedded database')
  assert.ok((await topicSize(broker.address, 'prices')) > 0)
})

test('bad arguments of up exit 2 with one line and start nothing', async (t) => {
  const options = await envFor(t)
  const dataDir = path.join(options.dir, 'never')
  const cases: [string[], RegExp][] = [
    [['--price-rate', 'fast'], /--price-rate must be a number >= 1, got fast/],
    [['--price-rate', '0'], /--price-rate must be a number >= 1/],
    [['--order-rate=-1'], /--order-rate must be a number >= 0/],
    [['--listen', 'nowhere'], /--listen must be HOST:PORT/],
    [['--model', 'random'], /--model must be normal or gbm/],
    [['--partitions', '0'], /--partitions/],
    [['extra'], /unexpected argument extra/],
  ]
  await Promise.all(
    cases.map(async ([args, message]) => {
      const r = await runCli(['up', '--listen', '127.0.0.1:0', '--data-dir', dataDir, ...args], options)
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`)
      const errors = lines(r.stderr)
      assert.equal(errors.length, 1, r.stderr)
      assert.match(errors[0], /^tickflow up: /)
      assert.match(errors[0], message)
      assert.equal(r.stdout, '')
    }),
  )
  assert.equal(fs.existsSync(dataDir), false, 'no broker was started')
})
