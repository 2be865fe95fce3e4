/**
 * `tickflow stats` end to end: prices produced by the CLI plus hand-made records (outliers, odd but
 * valid layouts, invalid messages) written with KafkaJS; the command's output must equal an
 * independent two-pass computation over the records read back with KafkaJS.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import kafkajs from 'kafkajs'
import { startTestBroker, tempDir } from '../../helpers/broker.ts'
import {
  cliEnv,
  lines,
  produceWithKafkajs,
  readTopic,
  runCli,
  topicSize,
  type CliResult,
  type ReadRecord,
} from '../../helpers/cli.ts'

const START = '2024-03-01 09:30:00.000'

interface Summary {
  count: number
  min: number | null
  max: number | null
  mean: number | null
  std: number | null
}
interface StatsJson {
  count: number
  symbols: Record<string, Summary>
  outliers: { ts: string; symbol: string; price: number }[]
  invalid: number
}

/** The value of a valid `prices` message, checked independently of src/: undefined when invalid. */
function parsePrice(value: string | null): { ts: string; symbol: string; price: number } | undefined {
  if (value === null) return undefined
  let v: unknown
  try {
    v = JSON.parse(value)
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return undefined
  const { ts, symbol, price } = v as Record<string, unknown>
  if (typeof ts !== 'string' || !/^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3}$/.test(ts)) return undefined
  const iso = ts.replace(' ', 'T') + 'Z'
  const ms = Date.parse(iso)
  if (!Number.isFinite(ms) || new Date(ms).toISOString() !== iso) return undefined
  if (typeof symbol !== 'string' || symbol.length < 1 || symbol.length > 64) return undefined
  if (typeof price !== 'number' || !(price > 0)) return undefined
  return { ts, symbol, price }
}

/** Neumaier-compensated sum. */
function sum(xs: number[]): number {
  let s = 0
  let c = 0
  for (const x of xs) {
    const t = s + x
    c += Math.abs(s) >= Math.abs(x) ? s - t + x : x - t + s
    s = t
  }
  return s + c
}

/**
 * What `stats --json` must print: two-pass mean and sample std (ddof = 1) per symbol, outliers
 * |x − mean| > k·std ordered by ts, partition, offset. Also the smallest relative distance of any
 * value from its threshold, to check that no value sits on the edge.
 */
function expectedStats(records: ReadRecord[], k: number): StatsJson & { closestToEdge: number } {
  const prices = new Map<string, number[]>()
  const valid: { ts: string; symbol: string; price: number; partition: number; offset: number }[] = []
  let invalid = 0
  for (const r of records) {
    const v = parsePrice(r.value)
    if (v === undefined) {
      invalid++
      continue
    }
    valid.push({ ...v, partition: r.partition, offset: r.offset })
    if (!prices.has(v.symbol)) prices.set(v.symbol, [])
    prices.get(v.symbol)!.push(v.price)
  }
  const symbols: Record<string, Summary> = {}
  for (const [symbol, xs] of prices) {
    const n = xs.length
    const mean = sum(xs) / n
    const std = n < 2 ? null : Math.sqrt(sum(xs.map((x) => (x - mean) ** 2)) / (n - 1))
    Object.defineProperty(symbols, symbol, {
      value: { count: n, min: Math.min(...xs), max: Math.max(...xs), mean, std },
      enumerable: true,
      writable: true,
      configurable: true,
    })
  }
  let closestToEdge = Infinity
  const outliers = valid
    .filter((v) => {
      const s = Object.getOwnPropertyDescriptor(symbols, v.symbol)!.value as Summary
      if (s.std === null || s.std === 0) return false
      const distance = Math.abs(v.price - s.mean!)
      closestToEdge = Math.min(closestToEdge, Math.abs(distance - k * s.std) / (k * s.std))
      return distance > k * s.std
    })
    .sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : a.partition - b.partition || a.offset - b.offset))
    .map((v) => ({ ts: v.ts, symbol: v.symbol, price: v.price }))
  return { count: records.length, symbols, outliers, invalid, closestToEdge }
}

function close(actual: number | null, expected: number | null, what: string, rel = 1e-9): void {
  if (expected === null || actual === null) {
    assert.equal(actual, expected, what)
    return
  }
  assert.ok(
    actual === expected || Math.abs(actual - expected) <= rel * Math.abs(expected),
    `${what}: ${actual} vs ${expected}`,
  )
}

/** `actual` equals `expected`: counts, min, max and outliers exactly; mean and std to `rel`. */
function assertStats(actual: StatsJson, expected: StatsJson, rel = 1e-9): void {
  assert.deepEqual(Object.keys(actual).sort(), ['count', 'invalid', 'outliers', 'symbols'])
  assert.equal(actual.count, expected.count, 'count')
  assert.equal(actual.invalid, expected.invalid, 'invalid')
  assert.deepEqual(Object.keys(actual.symbols).sort(), Object.keys(expected.symbols).sort(), 'symbols')
  for (const symbol of Object.keys(expected.symbols)) {
    const a = Object.getOwnPropertyDescriptor(actual.symbols, symbol)!.value as Summary
    const e = Object.getOwnPropertyDescriptor(expected.symbols, symbol)!.value as Summary
    assert.deepEqual(Object.keys(a).sort(), ['count', 'max', 'mean', 'min', 'std'])
    assert.equal(a.count, e.count, `${symbol} count`)
    assert.equal(a.min, e.min, `${symbol} min`)
    assert.equal(a.max, e.max, `${symbol} max`)
    close(a.mean, e.mean, `${symbol} mean`, rel)
    close(a.std, e.std, `${symbol} std`, rel)
  }
  assert.deepEqual(actual.outliers, expected.outliers, 'outliers')
}

/** Hand-made records: valid ones in other layouts, outliers, and invalid ones. */
function handMade(): { key: string | null; value: string | null }[] {
  const tick = (ts: string, symbol: string, price: string) => `{"ts":"${ts}","symbol":"${symbol}","price":${price}}`
  const valid = [
    // Far outliers of the default symbols; two share a timestamp (ordered by partition then offset).
    { key: 'AAPL', value: tick('2024-03-01 09:30:05.000', 'AAPL', '260.00') },
    { key: 'MSFT', value: tick('2024-03-01 09:30:05.000', 'MSFT', '300.50') },
    { key: 'TSLA', value: tick('2024-03-01 09:30:01.500', 'TSLA', '400.00') },
    // Other layouts of valid messages: key order, spaces, exponent, more decimals, extra fields.
    { key: 'GOOG', value: '{"price":1000.25,"symbol":"GOOG","ts":"2024-03-01 09:30:02.000"}' },
    { key: 'AMZN', value: '{ "ts" : "2024-03-01 09:30:03.000", "symbol" : "AMZN", "price" : 1.855e2 }' },
    { key: 'MSFT', value: '{"ts":"2024-03-01 09:30:04.000","symbol":"MSFT","price":405.125,"venue":"X"}' },
    // A symbol with one message (no std), one with equal prices (std 0), a non-ASCII one, and
    // names that are also Object.prototype's.
    { key: 'ONE', value: tick('2024-03-01 09:30:06.000', 'ONE', '12.34') },
    ...[0, 1, 2].map((i) => ({ key: 'FLAT', value: tick(`2024-03-01 09:30:07.00${i}`, 'FLAT', '10.00') })),
    ...[0, 1, 2, 3].map((i) => ({ key: 'ÅBC', value: tick(`2024-03-01 09:30:08.00${i}`, 'ÅBC', `${50 + i}.00`) })),
    ...Array.from({ length: 40 }, (_, i) => ({
      key: '__proto__',
      value: tick(`2024-03-01 09:30:09.${String(i).padStart(3, '0')}`, '__proto__', i === 39 ? '200.00' : '100.00'),
    })),
    { key: 'constructor', value: tick('2024-03-01 09:30:10.000', 'constructor', '7.00') },
    { key: 'constructor', value: tick('2024-03-01 09:30:10.001', 'constructor', '8.00') },
  ]
  const invalid = [
    { key: 'junk', value: 'not json' },
    { key: 'AAPL', value: '{"ts":"2024-03-01 09:30:00.000","symbol":"AAPL"}' },
    { key: 'AAPL', value: tick('2024-03-01 09:30:00.000', 'AAPL', '-5.00') },
    { key: 'AAPL', value: tick('2024-03-01 09:30:00.000', 'AAPL', '0') },
    { key: 'AAPL', value: tick('2024-03-01 09:30:00.000', 'AAPL', '0.00') },
    { key: 'AAPL', value: '{"ts":"2024-03-01 09:30:00.000","symbol":"AAPL","price":"190.00"}' },
    { key: 'AAPL', value: tick('2024-02-30 09:30:00.000', 'AAPL', '190.00') },
    { key: 'AAPL', value: tick('2024-03-01 09:30:00', 'AAPL', '190.00') },
    { key: 'AAPL', value: tick('2024-03-01 09:30:00.000', '', '190.00') },
    { key: 'AAPL', value: '[1,2,3]' },
    { key: 'AAPL', value: '' },
    { key: 'AAPL', value: null },
  ]
  return [...valid, ...invalid]
}

async function statsJson(
  args: string[],
  options: { env: NodeJS.ProcessEnv; cwd: string },
): Promise<{ json: StatsJson; run: CliResult }> {
  const run = await runCli(['stats', '--json', ...args], options)
  assert.equal(run.code, 0, `stats ${args.join(' ')} exits 0: ${run.stderr}`)
  const out = lines(run.stdout)
  assert.equal(out.length, 1, 'one JSON document on one line')
  return { json: JSON.parse(out[0]) as StatsJson, run }
}

test('stats over CLI-produced and hand-made prices', async (t: TestContext) => {
  let hook: ((info: { apiKey: number; clientId: string | null }) => 'close' | void) | undefined
  const broker = await startTestBroker(t, { hooks: { beforeResponse: (info) => hook?.(info) } })
  const dir = tempDir(t)
  const options = { env: cliEnv({ TICKFLOW_LOCAL_BROKER: broker.address, TICKFLOW_DATA_DIR: dir }), cwd: dir }
  const produced = await runCli(
    ['produce', 'prices', '--count', '20000', '--seed', 'stats', '--start', START, '--quiet'],
    options,
  )
  assert.equal(produced.code, 0, produced.stderr)
  const extra = handMade()
  await produceWithKafkajs(broker.address, 'prices', extra)
  const records = await readTopic(broker.address, 'prices')
  assert.equal(records.length, 20000 + extra.length)

  const expected3 = expectedStats(records, 3)
  const expected2 = expectedStats(records, 2)
  // The data are fixed by the seed: make sure no value sits on an outlier threshold, where the
  // last bits of the mean could decide.
  assert.ok(expected3.closestToEdge > 1e-6 && expected2.closestToEdge > 1e-6)
  assert.equal(expected3.invalid, 12)
  assert.ok(expected3.outliers.length >= 5, 'the hand-made outliers are there')
  assert.ok(expected2.outliers.length > expected3.outliers.length)

  await t.test('--json equals an independent two-pass computation', async () => {
    const { json, run } = await statsJson([], options)
    assertStats(json, expected3)
    assert.ok(json.outliers.some((o) => o.symbol === 'GOOG' && o.price === 1000.25))
    assert.ok(json.outliers.some((o) => o.symbol === '__proto__' && o.price === 200))
    const err = lines(run.stderr)
    assert.equal(err.length, 1, `one line on stderr: ${run.stderr}`)
    assert.equal(err[0], `tickflow: using the broker listening on ${broker.address}`)
  })

  await t.test('--outlier-k 2', async () => {
    const { json } = await statsJson(['--outlier-k', '2'], options)
    assertStats(json, expected2)
  })

  await t.test('--workers and --cache-records do not change the result', async () => {
    for (const args of [
      ['--workers', '1'],
      ['--workers', '2'],
      ['--workers', '3'],
      ['--workers', '1', '--cache-records', '0'],
      ['--workers', '2', '--cache-records', '0'],
      ['--workers', '2', '--cache-records', '5000'],
    ]) {
      const { json } = await statsJson(args, options)
      assertStats(json, expected3)
    }
  })

  await t.test('the text report: header, one row per symbol, outliers and invalid messages', async () => {
    const run = await runCli(['stats'], options)
    assert.equal(run.code, 0, run.stderr)
    const out = run.stdout.split('\n')
    assert.match(
      out[0],
      new RegExp(
        `^prices: ${(20000 + extra.length).toLocaleString('en-US')} messages \\(3 partitions, end offsets \\d+, \\d+, \\d+\\)$`,
      ),
    )
    const header = out.findIndex((l) => /^symbol\s+count\s+min\s+max\s+mean\s+std$/.test(l))
    assert.ok(header > 0, `a header row: ${run.stdout}`)
    const rows = out.slice(header + 1, header + 1 + Object.keys(expected3.symbols).length)
    assert.deepEqual(rows.map((l) => l.split(/\s+/)[0]).sort(), Object.keys(expected3.symbols).sort())
    for (const row of rows) {
      const [symbol, count] = row.split(/\s+/)
      const e = Object.getOwnPropertyDescriptor(expected3.symbols, symbol)!.value as Summary
      assert.equal(count, e.count.toLocaleString('en-US'), row)
    }
    assert.ok(out.includes(`outliers (|price - mean| > 3 std of the symbol): ${expected3.outliers.length}`), run.stdout)
    for (const o of expected3.outliers) assert.ok(out.includes(`  ${o.ts}  ${o.symbol}  ${o.price}`), `${o.ts} listed`)
    assert.ok(out.includes(`invalid messages (not counted in the statistics): ${expected3.invalid}`), run.stdout)
    assert.ok(
      out.some((l) => /^ {2}partition \d+ offset \d+: invalid JSON/.test(l)),
      'invalid examples say why',
    )
    const limited = await runCli(['stats', '--max-outliers', '2'], options)
    assert.ok(limited.stdout.includes(`  ... ${expected3.outliers.length - 2} more (see --json)`), limited.stdout)
  })

  await t.test('only the records present at its start are counted', async () => {
    // A topic of its own; once stats has its end offsets, its first fetch is refused (the client
    // retries) until a late writer's records are on the log: stats must read past none of them.
    const topic = 'live'
    const p = await runCli(
      ['produce', 'prices', '--topic', topic, '--count', '5000', '--seed', 'live', '--start', START, '-q'],
      options,
    )
    assert.equal(p.code, 0, p.stderr)
    const before = await readTopic(broker.address, topic)
    let lateLanded = false
    let lateWrite: Promise<void> | undefined
    hook = ({ apiKey, clientId }) => {
      if (apiKey === 0 && clientId === 'late-writer') lateLanded = true
      if (apiKey !== 1 || clientId !== 'tickflow-stats' || lateLanded) return
      lateWrite ??= produceWithKafkajs(
        broker.address,
        topic,
        Array.from({ length: 300 }, (_, i) => ({
          key: 'LATE',
          value: `{"ts":"2024-03-01 10:00:00.${String(i).padStart(3, '0')}","symbol":"LATE","price":1.00}`,
        })),
        'late-writer',
      )
      return 'close'
    }
    try {
      const { json } = await statsJson(['--topic', topic], options)
      assert.ok(lateWrite !== undefined && lateLanded, 'the late records were written while stats ran')
      await lateWrite
      assertStats(json, expectedStats(before, 3))
      assert.equal(json.count, 5000)
      assert.ok(!('LATE' in json.symbols))
    } finally {
      hook = undefined
    }
    assert.equal(await topicSize(broker.address, topic), 5300)
  })

  await t.test('a missing topic exits 1 with one line and is not created', async () => {
    const run = await runCli(['stats', '--topic', 'no-such-topic'], options)
    assert.equal(run.code, 1)
    const err = lines(run.stderr)
    assert.equal(err.length, 2, `the broker line and one error line: ${run.stderr}`)
    assert.match(err[1], /^tickflow stats: .*no-such-topic/)
    assert.doesNotMatch(run.stderr, /\n\s+at /)
    assert.equal(run.stdout, '')
    const admin = new kafkajs.Kafka({ brokers: [broker.address], logLevel: kafkajs.logLevel.NOTHING }).admin()
    await admin.connect()
    try {
      assert.ok(!(await admin.listTopics()).includes('no-such-topic'))
    } finally {
      await admin.disconnect()
    }
  })

  await t.test('bad arguments exit 2 with one line', async () => {
    const cases = [
      ['stats', 'prices'],
      ['stats', '--outlier-k', '0'],
      ['stats', '--outlier-k', 'x'],
      ['stats', '--workers', '0'],
      ['stats', '--cache-records', '-1'],
      ['stats', '--bogus'],
    ]
    const results = await Promise.all(cases.map((argv) => runCli(argv, options)))
    for (const [i, argv] of cases.entries()) {
      const r = results[i]
      assert.equal(r.code, 2, `${argv.join(' ')}: ${r.stderr}`)
      const err = lines(r.stderr)
      assert.equal(err.length, 1, `${argv.join(' ')} prints one line: ${r.stderr}`)
      assert.match(err[0], /^tickflow stats: /)
    }
  })
})
