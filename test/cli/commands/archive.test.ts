/**
 * `tickflow archive` end to end, with separate processes over TCP: a `tickflow broker` child, the
 * archiver as a child process writing into the embedded database (PGlite, served on a local port
 * while it runs) or the PostgreSQL server of TICKFLOW_TEST_DATABASE_URL. Each record exactly once
 * across kill -9 crashes and across a database connection cut and restored (compared record for
 * record with the topic as kcat reads it), routes of the config file, malformed records in the
 * raw archive and dead-lettered, and the command's errors.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { test } from 'node:test'
import { parsePriceTs } from '../../../src/bus/time.ts'
import type { Database } from '../../../src/store/database.ts'
import { createTopic, listEndOffsets, produceRaw } from '../../helpers/admin.ts'
import {
  archivedOffsets,
  archivedUpTo,
  cliDatabaseTargets,
  embedded,
  scene,
  server,
  startBrokerProcess,
  testDatabaseUrl,
  workspace,
  type CliDatabase,
  type Workspace,
} from '../../helpers/archive-cli.ts'
import { eventually } from '../../helpers/broker.ts'
import { lines, runCli, type CliResult, type RunningCli } from '../../helpers/cli.ts'
import { readCommitted, type CommittedRecord } from '../../helpers/committed.ts'

// NFLX and JPM hash (murmur2) to partitions 1 and 2: with the default five symbols alone,
// partition 1 would stay empty.
const SYMBOLS = 'AAPL,MSFT,GOOG,AMZN,TSLA,NFLX,JPM'
const TOTAL = 200_000
const PRODUCE = ['produce', 'prices', '--count', String(TOTAL), '--rate', 'max', '--partitions', '3', '--seed', '1']
PRODUCE.push('--start', '2024-01-02 09:30:00', '--symbols', SYMBOLS, '--quiet')
const KILLS = 5

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms))
const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0)

/** Runs a command that must succeed. */
async function ok(args: string[], w: Workspace): Promise<CliResult> {
  const r = await runCli(args, w.options)
  assert.equal(r.code, 0, `tickflow ${args.join(' ')} exits 0: ${r.stderr}`)
  return r
}

/** Runs a command that must fail with `code` and one `tickflow archive: ...` line besides the `using` lines. */
async function fails(args: string[], w: Workspace, code: number, message: RegExp): Promise<CliResult> {
  const r = await runCli(args, w.options)
  assert.equal(r.code, code, `tickflow ${args.join(' ')} exits ${code}: ${r.stderr}`)
  const errors = lines(r.stderr).filter((l) => !l.startsWith('tickflow: using '))
  assert.equal(errors.length, 1, `one line: ${r.stderr}`)
  assert.match(errors[0], /^tickflow archive: /)
  assert.match(errors[0], message)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
  return r
}

/** Stops a running archiver with SIGINT (it must still be running); returns its stdout. */
async function stop(run: RunningCli): Promise<CliResult> {
  assert.equal(run.child.exitCode, null, `the archiver still runs: ${run.stderr()}`)
  run.child.kill('SIGINT')
  const r = await run.exited
  assert.equal(r.code, 0, `the archiver stops cleanly: ${r.signal} ${r.stderr}`)
  return r
}

/** The records committed so far (the sum of the stored next offsets: the topics have no gaps). */
async function committed(store: CliDatabase, topic: string, partitions: number): Promise<number> {
  return sum(await store.use((db) => archivedOffsets(db, topic, partitions)))
}

async function count(db: Database, table: string, topic: string): Promise<number> {
  const r = await db.query<{ n: number }>(`SELECT count(*)::float8 AS n FROM ${db.schema}.${table} WHERE topic = $1`, [
    topic,
  ])
  return Number(r.rows[0].n)
}

/**
 * `topic` (prices) is in the tables exactly once up to `ends`: as many rows as records in
 * `archive` and `prices`, one per position, every offset of every partition, the offsets stored
 * at the ends, and every record's key, value, timestamp and typed row as `reference` (kcat) has it.
 */
async function assertArchivedOnce(
  store: CliDatabase,
  topic: string,
  ends: readonly number[],
  reference: readonly CommittedRecord[],
): Promise<void> {
  const total = sum(ends)
  assert.equal(reference.length, total, 'kcat read the whole topic')
  await store.use(async (db) => {
    const s = db.schema
    for (const table of ['archive', 'prices']) {
      const r = await db.query<{ n: number; distinct: number }>(
        `SELECT count(*)::float8 AS n, count(DISTINCT (partition, "offset"))::float8 AS "distinct" FROM ${s}.${table} WHERE topic = $1`,
        [topic],
      )
      assert.deepEqual(r.rows[0], { n: total, distinct: total }, `${table}: one row per record`)
      // With one row per offset, this says every offset 0..end-1 of each partition is there.
      const partitions = await db.query<{ partition: number; n: number; first: number; last: number }>(
        `SELECT partition, count(*)::float8 AS n, min("offset")::float8 AS first, max("offset")::float8 AS last ` +
          `FROM ${s}.${table} WHERE topic = $1 GROUP BY partition ORDER BY partition`,
        [topic],
      )
      assert.deepEqual(
        partitions.rows,
        ends.map((end, partition) => ({ partition, n: end, first: 0, last: end - 1 })),
        `${table}: every offset of every partition`,
      )
    }
    const stored = await db.query<{ partition: number; next: number }>(
      `SELECT partition, next_offset::float8 AS next FROM ${s}.consumer_offsets WHERE topic = $1 ORDER BY partition`,
      [topic],
    )
    assert.deepEqual(
      stored.rows,
      ends.map((next, partition) => ({ partition, next })),
      'consumer_offsets: the end offsets',
    )

    // Record for record, against the topic as an independent client reads it.
    const rows = (
      await db.query<{
        partition: number
        offset: number
        ms: number
        key: string
        value: string
        bytes: boolean
        symbol: string
        price: number
        ts: number
      }>(
        `SELECT a.partition, a."offset"::float8 AS "offset", (extract(epoch from a.ts) * 1000)::float8 AS ms, ` +
          `convert_from(a.key, 'UTF8') AS key, a.value_json::text AS value, a.value_bytes IS NOT NULL AS bytes, ` +
          `p.symbol, p.price, (extract(epoch from p.ts) * 1000)::float8 AS ts ` +
          `FROM ${s}.archive a JOIN ${s}.prices p USING (topic, partition, "offset") WHERE a.topic = $1 ` +
          `ORDER BY a.partition, a."offset"`,
        [topic],
      )
    ).rows
    assert.equal(rows.length, total)
    let cents = 0
    for (let i = 0; i < total; i++) {
      const got = rows[i]
      const want = reference[i]
      const value = JSON.parse(want.value!) as { ts: string; symbol: string; price: number }
      cents += Math.round(value.price * 100)
      const row = {
        partition: got.partition,
        offset: got.offset,
        ms: got.ms,
        key: got.key,
        bytes: got.bytes,
        value: JSON.parse(got.value) as unknown,
        typed: [got.symbol, got.price, got.ts],
      }
      const expected = {
        partition: want.partition,
        offset: want.offset,
        ms: want.timestamp,
        key: want.key,
        bytes: false,
        value,
        typed: [value.symbol, value.price, parsePriceTs(value.ts)],
      }
      if (JSON.stringify(row) !== JSON.stringify(expected)) assert.deepEqual(row, expected, `record ${i}`)
    }
    const total$ = await db.query<{ cents: number }>(
      `SELECT sum(round(price * 100))::float8 AS cents FROM ${s}.prices WHERE topic = $1`,
      [topic],
    )
    assert.equal(total$.rows[0].cents, cents, 'the sum of the prices')
  })
}

for (const target of cliDatabaseTargets()) {
  test(`${target.name}: archive killed with SIGKILL at random points and restarted holds every record exactly once`, async (t) => {
    const s = scene(t)
    const broker = await startBrokerProcess(s)
    const w = await workspace(s, broker)
    await ok(PRODUCE, w)
    const ends = await listEndOffsets(broker, 'prices')
    assert.equal(sum(ends), TOTAL)
    assert.ok(
      ends.every((e) => e > 0),
      `every partition has records: ${ends.join(',')}`,
    )
    const reference = readCommitted(broker.address, 'prices')
    const store = await target.open(s, w)
    const archive = ['archive', '--topics', 'prices', '--quiet', ...store.args]

    let progress = 0
    let midway = 0
    for (let kill = 0; kill < KILLS; kill++) {
      const run = s.start(archive, w.options)
      const reading = await run.waitForStderr(/^archive: reading 3 partition\(s\)/)
      if (progress > 0) assert.match(reading, /: 3 from stored offsets, 0 from the start$/)
      // Kill it once it has committed past a random point of what is left, a random moment later
      // (often while it writes the next batch).
      // (At the end of the topic already, the kill finds it idle.)
      const target = Math.min(TOTAL, progress + 1 + Math.floor((Math.random() * (TOTAL - progress)) / 4))
      await eventually(
        async () => {
          if (run.child.exitCode !== null) throw new Error(`the archiver exited: ${run.stderr()}`)
          return (await committed(store, 'prices', 3)) >= target
        },
        120_000,
        `the archiver to commit ${target} records`,
      )
      // A batch takes about a tenth of a second to write: up to 150 ms lands anywhere in one.
      await sleep(Math.random() * 150)
      run.child.kill('SIGKILL')
      const r = await run.exited
      assert.equal(r.signal, 'SIGKILL', r.stderr)
      // Whatever the moment, the tables hold exactly the records before the stored offsets.
      const state = await store.use(async (db) => ({
        offsets: sum(await archivedOffsets(db, 'prices', 3)),
        archive: await count(db, 'archive', 'prices'),
        prices: await count(db, 'prices', 'prices'),
      }))
      assert.equal(state.archive, state.offsets, `kill ${kill}: archive rows = stored offsets`)
      assert.equal(state.prices, state.offsets, `kill ${kill}: prices rows = stored offsets`)
      assert.ok(state.offsets >= target, `kill ${kill}: nothing committed is lost`)
      if (state.offsets < TOTAL) midway++
      progress = state.offsets
    }
    // The kills must have hit the archiving, or the test proves nothing.
    assert.ok(midway >= 3, `only ${midway} of ${KILLS} kills came before the end of the topic`)

    const last = s.start(archive, w.options)
    // Started (and so stopping on SIGINT) before the check, which may already hold.
    await last.waitForStderr(/^archive: reading 3 partition\(s\)/)
    await eventually(() => archivedUpTo(store, 'prices', ends), 120_000, 'the last run to archive the rest')
    const r = await stop(last)
    const archived = /^archived ([\d,]+) records from 3 partitions/.exec(r.stdout)
    assert.ok(archived, r.stdout)
    assert.equal(Number(archived[1].replaceAll(',', '')), TOTAL - progress, 'the last run archived only the rest')
    await assertArchivedOnce(store, 'prices', ends, await reference)
  })
}

/** A TCP proxy to `upstream` that can be cut (every connection destroyed, none accepted) and restored. */
class TcpProxy {
  port = 0
  private server: net.Server | undefined
  private readonly sockets = new Set<net.Socket>()
  private readonly upstream: { host: string; port: number }

  constructor(upstream: { host: string; port: number }) {
    this.upstream = upstream
  }

  /** Listens (again) on its port, or a free one at first. */
  async listen(): Promise<void> {
    const server = net.createServer((client) => {
      const up = net.connect(this.upstream.port, this.upstream.host)
      const drop = (): void => {
        client.destroy()
        up.destroy()
        this.sockets.delete(client)
        this.sockets.delete(up)
      }
      for (const socket of [client, up]) {
        this.sockets.add(socket)
        socket.on('error', drop).on('close', drop)
      }
      client.pipe(up)
      up.pipe(client)
    })
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(this.port, '127.0.0.1', () => resolve())
    })
    this.server = server
    this.port = (server.address() as net.AddressInfo).port
  }

  /** Stops accepting and destroys every connection, both ends. */
  async cut(): Promise<void> {
    const server = this.server
    this.server = undefined
    if (server === undefined) return
    const closed = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const socket of this.sockets) socket.destroy()
    this.sockets.clear()
    await closed
  }
}

test(
  `postgres: the database going away for seconds while records arrive, then coming back: the archiver retries and every record is archived once` +
    (testDatabaseUrl() === undefined ? ' (skipped: TICKFLOW_TEST_DATABASE_URL is not set)' : ''),
  async (t) => {
    const url = testDatabaseUrl()
    if (url === undefined) {
      t.skip('TICKFLOW_TEST_DATABASE_URL is not set')
      return
    }
    const s = scene(t)
    const upstream = new URL(url)
    const proxy = new TcpProxy({ host: upstream.hostname || '127.0.0.1', port: Number(upstream.port || 5432) })
    await proxy.listen()
    t.after(() => proxy.cut())
    const proxied = new URL(url)
    proxied.hostname = '127.0.0.1'
    proxied.port = String(proxy.port)

    const broker = await startBrokerProcess(s)
    const w = await workspace(s, broker)
    const store = await server(s, url, proxied.toString())
    await createTopic(broker, 'prices', 3)
    const archiver = s.start(['archive', '--topics', 'prices', '--quiet', ...store.args], w.options)
    await archiver.waitForStderr(/^archive: reading 3 partition\(s\)/)
    // About 6 s of prices at 2,500/s, the cut in the middle of it.
    const producer = s.start(
      ['produce', 'prices', '--count', '15000', '--rate', '2500', '--seed', '7', '--symbols', SYMBOLS, '--quiet'],
      w.options,
    )
    await eventually(async () => (await committed(store, 'prices', 3)) > 0, 60_000, 'a first commit')

    await proxy.cut()
    const sizeAtCut = sum(await listEndOffsets(broker, 'prices'))
    await archiver.waitForStderr(/retrying \(attempt 1\)$/)
    const committedInCut = await committed(store, 'prices', 3)
    await sleep(3000)
    assert.ok(sum(await listEndOffsets(broker, 'prices')) > sizeAtCut, 'records kept arriving during the cut')
    assert.equal(await committed(store, 'prices', 3), committedInCut, 'nothing reached the database during the cut')
    assert.equal(archiver.child.exitCode, null, `the archiver waits for the database: ${archiver.stderr()}`)
    await proxy.listen()

    const produced = await producer.exited
    assert.equal(produced.code, 0, produced.stderr)
    const ends = await listEndOffsets(broker, 'prices')
    assert.equal(sum(ends), 15_000)
    await eventually(() => archivedUpTo(store, 'prices', ends), 120_000, 'the archiver to catch up')
    assert.match(
      archiver.stderr(),
      /^archive: (writing a batch of \d+ records|taking the archiver lock again): .*; retrying \(attempt 1\)$/m,
    )
    assert.ok(committedInCut < sum(ends), 'records were archived after the database came back')
    await stop(archiver)
    await assertArchivedOnce(store, 'prices', ends, await readCommitted(broker.address, 'prices'))
  },
)

test('pglite: one archiver per name also through the embedded database’s port; a killed holder’s name is taken over', async (t) => {
  const s = scene(t)
  const broker = await startBrokerProcess(s)
  const w = await workspace(s, broker)
  const store = embedded(w.dir)
  await createTopic(broker, 'prices', 1)
  const produce = ['produce', 'prices', '--count', '100', '--rate', 'max', '--seed', '3', '--quiet']
  await ok(produce, w)
  const first = s.start(['archive', '--topics', 'prices', '--quiet'], w.options)
  await first.waitForStderr(/^archive: reading 1 partition\(s\)/)

  // The second process reaches the database through the first one's port, PGlite's one session.
  const second = s.start(['archive', '--topics', 'prices', '--quiet'], w.options)
  const refused = await Promise.race([second.exited, sleep(60_000).then(() => undefined)])
  assert.ok(refused !== undefined, `the second archiver of the name is refused, not running: ${second.stderr()}`)
  assert.equal(refused.code, 1, refused.stderr)
  assert.match(refused.stderr, /^tickflow: using the embedded database of process \d+ on 127\.0\.0\.1:\d+/m)
  assert.match(refused.stderr, /^tickflow archive: another archiver named archive is writing to /m)
  const other = s.start(['archive', '--topics', 'prices', '--quiet', '--name', 'other'], w.options)
  await other.waitForStderr(/^archive: reading 1 partition\(s\): 0 from stored offsets/)
  await eventually(
    async () => (await store.use((db) => archivedOffsets(db, 'prices', 1, 'other')))[0] === 100,
    60_000,
    'the other name to archive',
  )
  await stop(other)

  first.child.kill('SIGKILL')
  await first.exited
  await ok(produce, w)
  const third = s.start(['archive', '--topics', 'prices', '--quiet'], w.options)
  await third.waitForStderr(/^archive: reading 1 partition\(s\): 1 from stored offsets/)
  await eventually(async () => (await committed(store, 'prices', 1)) === 200, 60_000, 'the restart to archive')
  await stop(third)
  assert.equal(await store.use((db) => count(db, 'archive', 'prices')), 200, 'each record once')
})

for (const target of cliDatabaseTargets()) {
  test(`${target.name}: routes of the config file: fields (nested too) to columns, values enforced, the rest dead-lettered`, async (t) => {
    const s = scene(t)
    const broker = await startBrokerProcess(s)
    const w = await workspace(s, broker)
    const store = await target.open(s, w)
    const config = {
      archive: {
        routes: [
          {
            topic: 'tickers.crypto',
            table: 'crypto_quotes',
            columns: [
              { column: 'symbol', type: 'text', required: true },
              { column: 'price', field: 'quote.price', type: 'double', required: true },
              { column: 'venue', field: 'exchange', type: 'text', values: ['COINBASE', 'KRAKEN'] },
              { column: 'at', field: 'ticker_ts', type: 'timestamp' },
            ],
          },
        ],
      },
    }
    fs.writeFileSync(path.join(w.dir, 'tickflow.json'), JSON.stringify(config))
    await createTopic(broker, 'tickers.crypto', 1)
    const quotes = [
      { symbol: 'BTC-USD', quote: { price: 43000.5 }, exchange: 'COINBASE', ticker_ts: '2024-01-02T09:30:00Z' },
      {
        symbol: 'ETH-USD',
        quote: { price: 2300.25, bid: 2300 },
        exchange: 'KRAKEN',
        ticker_ts: '2024-01-02 09:30:01.500',
      },
      { symbol: 'SOL-USD', quote: { price: 100 }, exchange: 'BINANCE' }, // not an allowed venue
      { symbol: 'XRP-USD', price: 0.5, exchange: 'KRAKEN' }, // no quote.price
      { symbol: 'ADA-USD', quote: { price: '0.6' } }, // a string for a double
      { symbol: 'DOGE-USD', quote: { price: 0.08 }, ticker_ts: 1_704_187_800_000 }, // no venue: NULL
      { symbol: 'LTC-USD', quote: { price: 70 }, exchange: 'COINBASE', ticker_ts: 'yesterday' },
    ]
    await produceRaw(broker, 'tickers.crypto', 0, [quotes.map((q) => ({ key: q.symbol, value: JSON.stringify(q) }))])

    const run = s.start(['archive', '--topics', 'tickers.crypto', '--quiet', ...store.args], w.options)
    assert.match(await run.waitForStderr(/config from/), /^tickflow: config from tickflow\.json \(1 routes\)$/)
    await eventually(() => archivedUpTo(store, 'tickers.crypto', [quotes.length]), 60_000, 'the quotes to be archived')
    await stop(run)

    await store.use(async (db) => {
      const rows = await db.query<{ offset: number; symbol: string; price: number; venue: string | null; at: number }>(
        `SELECT "offset"::float8 AS "offset", symbol, price, venue, (extract(epoch from "at") * 1000)::float8 AS "at" ` +
          `FROM ${db.schema}.crypto_quotes ORDER BY "offset"`,
      )
      assert.deepEqual(rows.rows, [
        { offset: 0, symbol: 'BTC-USD', price: 43000.5, venue: 'COINBASE', at: Date.UTC(2024, 0, 2, 9, 30) },
        { offset: 1, symbol: 'ETH-USD', price: 2300.25, venue: 'KRAKEN', at: Date.UTC(2024, 0, 2, 9, 30, 1, 500) },
        { offset: 5, symbol: 'DOGE-USD', price: 0.08, venue: null, at: 1_704_187_800_000 },
      ])
      // The raw archive keeps every record, the rejected ones too.
      const raw = await db.query<{ value: unknown }>(
        `SELECT value_json AS value FROM ${db.schema}.archive WHERE topic = 'tickers.crypto' ORDER BY "offset"`,
      )
      assert.deepEqual(
        raw.rows.map((r) => r.value),
        quotes,
      )
      // The config's routes replace the default ones.
      const tables = await db.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [
        `${db.schema}.quotes_crypto`,
      ])
      assert.equal(tables.rows[0].t, null)
    })

    const dead = await readCommitted(broker.address, 'dlq.tickers.crypto')
    assert.deepEqual(
      dead.map((d) => [
        d.headers['tickflow.dlq.topic'],
        d.headers['tickflow.dlq.partition'],
        d.headers['tickflow.dlq.offset'],
      ]),
      [
        ['tickers.crypto', '0', '2'],
        ['tickers.crypto', '0', '3'],
        ['tickers.crypto', '0', '4'],
        ['tickers.crypto', '0', '6'],
      ],
    )
    assert.deepEqual(
      dead.map((d) => [d.key, d.value]),
      [2, 3, 4, 6].map((i) => [quotes[i].symbol, JSON.stringify(quotes[i])]),
    )
    const reasons = dead.map((d) => d.headers['tickflow.dlq.reason'])
    assert.equal(
      reasons[0],
      'archive: crypto_quotes: exchange: "BINANCE" is not one of COINBASE, KRAKEN (crypto_quotes.venue is text)',
    )
    assert.equal(reasons[1], 'archive: crypto_quotes: quote.price is missing (needed by crypto_quotes.price)')
    assert.match(reasons[2], /^archive: crypto_quotes: quote\.price: expected a finite number, got "0\.6"/)
    assert.match(reasons[3], /^archive: crypto_quotes: ticker_ts: not a timestamp/)
  })

  test(`${target.name}: malformed records are archived raw and dead-lettered with their reasons; archiving goes on`, async (t) => {
    const s = scene(t)
    const broker = await startBrokerProcess(s)
    const w = await workspace(s, broker)
    const store = await target.open(s, w)
    await createTopic(broker, 'prices', 1)
    const price = (second: number, p: number): string =>
      JSON.stringify({ ts: `2024-01-02 09:30:0${second}.000`, symbol: 'AAPL', price: p })
    const binary = Buffer.from([0x00, 0xff, 0xfe, 0x01, 0x80])
    const first: (string | Buffer | null)[] = [
      price(0, 190.5),
      'not json at all',
      '[1,2,3]',
      '"a string"',
      JSON.stringify({ ts: '2024-01-02 09:30:01.000', symbol: 'AAPL' }),
      binary,
      price(2, 191),
    ]
    // After the first batch is archived: more of them, and good ones between.
    const second: (string | Buffer | null)[] = [
      '{"ts":"2024-01-02 09:30:03.000","symbol":',
      JSON.stringify({ ts: '2024-01-02 09:30:03.000', symbol: 'AAPL', price: '191.5' }),
      null,
      price(4, 192.25),
    ]
    await produceRaw(broker, 'prices', 0, [first.map((value) => ({ key: 'AAPL', value }))])
    const run = s.start(['archive', '--topics', 'prices', '--quiet', ...store.args], w.options)
    await eventually(() => archivedUpTo(store, 'prices', [first.length]), 60_000, 'the first records to be archived')
    await produceRaw(broker, 'prices', 0, [second.map((value) => ({ key: 'AAPL', value }))])
    const all = [...first, ...second]
    await eventually(() => archivedUpTo(store, 'prices', [all.length]), 60_000, 'the later records to be archived')
    await stop(run)

    await store.use(async (db) => {
      const raw = await db.query<{ offset: number; json: unknown; bytes: Uint8Array | null }>(
        `SELECT "offset"::float8 AS "offset", value_json AS json, value_bytes AS bytes FROM ${db.schema}.archive ORDER BY "offset"`,
      )
      assert.deepEqual(
        raw.rows.map((r) => r.offset),
        all.map((_, i) => i),
      )
      raw.rows.forEach((r, i) => {
        const value = all[i]
        const parsed = typeof value === 'string' ? tryJson(value) : undefined
        if (parsed !== undefined) {
          assert.deepEqual(r.json, parsed, `offset ${i}: value_json`)
          assert.equal(r.bytes, null, `offset ${i}: no value_bytes`)
        } else {
          assert.equal(r.json, null, `offset ${i}: no value_json`)
          assert.deepEqual(
            r.bytes === null ? null : Buffer.from(r.bytes),
            value === null ? null : Buffer.from(value),
            `offset ${i}: value_bytes`,
          )
        }
      })
      const prices = await db.query<{ offset: number; price: number }>(
        `SELECT "offset"::float8 AS "offset", price FROM ${db.schema}.prices ORDER BY "offset"`,
      )
      assert.deepEqual(prices.rows, [
        { offset: 0, price: 190.5 },
        { offset: 6, price: 191 },
        { offset: 10, price: 192.25 },
      ])
    })

    const dead = await readCommitted(broker.address, 'dlq.prices')
    assert.deepEqual(
      dead.map((d) => d.headers['tickflow.dlq.offset']),
      ['1', '2', '3', '4', '5', '7', '8', '9'],
    )
    for (const d of dead) {
      assert.equal(d.headers['tickflow.dlq.topic'], 'prices')
      assert.equal(d.headers['tickflow.dlq.partition'], '0')
      assert.equal(d.key, 'AAPL')
    }
    const reason = (offset: number): string =>
      dead.find((d) => d.headers['tickflow.dlq.offset'] === String(offset))!.headers['tickflow.dlq.reason']
    assert.equal(reason(1), 'archive: prices: the value is not JSON')
    assert.equal(reason(2), 'archive: prices: not a JSON object, so not a row of prices')
    assert.equal(reason(3), 'archive: prices: not a JSON object, so not a row of prices')
    assert.equal(reason(4), 'archive: prices: price is missing (needed by prices.price)')
    assert.equal(reason(5), 'archive: prices: the value is not JSON')
    assert.equal(reason(7), 'archive: prices: the value is not JSON')
    assert.match(reason(8), /^archive: prices: price: expected a finite number, got "191\.5"/)
    assert.equal(reason(9), 'archive: prices: the record has no value')
    assert.equal(dead.find((d) => d.headers['tickflow.dlq.offset'] === '1')!.value, 'not json at all')
    assert.equal(dead.find((d) => d.headers['tickflow.dlq.offset'] === '9')!.value, null)
  })
}

function tryJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return undefined
  }
}

test('bad arguments and config files exit with one line; a missing topic too', async (t) => {
  const s = scene(t)
  const broker = await startBrokerProcess(s)
  const w = await workspace(s, broker)
  await fails(['archive', '--topics', 'a', '--all'], w, 2, /--topics and --all exclude each other/)
  await fails(['archive', '--bogus'], w, 2, /Unknown option '--bogus'/)
  await fails(['archive', 'prices'], w, 2, /unexpected argument prices \(use --topics\)/)
  await fails(['archive', '--topics', ','], w, 2, /--topics is empty/)
  await fails(['archive', '--batch-records', '0'], w, 2, /--batch-records must be an integer >= 1/)
  await fails(['archive', '--linger', 'soon'], w, 2, /--linger/)

  const write = (name: string, text: string): string => {
    fs.writeFileSync(path.join(w.dir, name), text)
    return name
  }
  const route = (column: Record<string, unknown>) =>
    JSON.stringify({ archive: { routes: [{ topic: 'x', table: 'x_quotes', columns: [column] }] } })
  await fails(
    ['archive', '--config', write('a.json', '{"archive": {')],
    w,
    1,
    /^tickflow archive: a\.json is not valid JSON: /,
  )
  await fails(
    ['archive', '--config', write('b.json', '{"archive": {"routes": [], "route": []}}')],
    w,
    1,
    /^tickflow archive: b\.json: unknown key archive\.route$/,
  )
  await fails(
    ['archive', '--config', write('c.json', '{"archiv": {}}')],
    w,
    1,
    /^tickflow archive: c\.json: unknown section "archiv"$/,
  )
  await fails(
    ['archive', '--config', write('d.json', route({ column: 'price', type: 'decimal' }))],
    w,
    1,
    /^tickflow archive: d\.json: archive\.routes\[0\]\.columns\[0\]\.type must be one of text, double, bigint, integer, boolean, timestamp, json, got "decimal"$/,
  )
  await fails(
    ['archive', '--config', write('e.json', route({ column: 'Price' }))],
    w,
    1,
    /^tickflow archive: e\.json: archive\.routes\[0\]\.columns\[0\]\.column must be a lower-case SQL name/,
  )
  await fails(
    ['archive', '--config', 'missing.json'],
    w,
    1,
    /^tickflow archive: cannot read config file missing\.json: /,
  )
  // ./tickflow.json is read when present: a bad one stops the command too.
  write('tickflow.json', '[]')
  await fails(['archive'], w, 1, /^tickflow archive: tickflow\.json must hold a JSON object$/)
  fs.rmSync(path.join(w.dir, 'tickflow.json'))
  assert.equal(fs.existsSync(path.join(w.dir, 'db')), false, 'no database was opened for a bad command line or config')

  await fails(['archive', '--topics', 'prices,nope'], w, 1, /^tickflow archive: topic prices, nope does not exist$/)
  await assert.rejects(listEndOffsets(broker, 'nope'), 'the topic was not created')
})
