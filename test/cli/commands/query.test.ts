/**
 * `tickflow query` as a child process, on the embedded database of a data dir and (when
 * TICKFLOW_TEST_DATABASE_URL is set) a schema on the server: rows written the archiver's way, read
 * back as tables and as JSON; bad arguments and an empty archive end with one line.
 * (`tickflow up`'s test queries the embedded database while `up` holds and serves it.)
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { parseQueryTime } from '../../../src/cli/commands/query.ts'
import { ArchiveBatch, type ArchiveRecord } from '../../../src/store/archive-batch.ts'
import { writeBatch } from '../../../src/store/archiver.ts'
import { migrate } from '../../../src/store/migrations.ts'
import { cliDatabaseTargets, embedded, scene, sql, testDatabaseUrl, type Workspace } from '../../helpers/archive-cli.ts'
import { closedAddress, cliEnv, lines, runCli } from '../../helpers/cli.ts'
import { testSchema } from '../../helpers/store.ts'

let offset = 0
const rec = (topic: string, value: object): ArchiveRecord => ({
  topic,
  partition: 0,
  offset: offset++,
  timestamp: 0,
  key: null,
  value: Buffer.from(JSON.stringify(value)),
  headers: [],
})

const RECORDS: ArchiveRecord[] = [
  rec('prices', { ts: '2024-01-02 09:30:00.000', symbol: 'AAPL', price: 190 }),
  rec('prices', { ts: '2024-01-02 09:30:02.250', symbol: 'AAPL', price: 191.5 }),
  rec('prices', { ts: '2024-01-02 09:30:01.000', symbol: 'AAPL', price: 189 }),
  rec('prices', { ts: '2024-01-02 09:30:00.000', symbol: 'MSFT', price: 370 }),
  ...[0, 1, 2].map((m) =>
    rec('bars.1m', {
      symbol: 'AAPL',
      interval: '1m',
      start: `2024-01-02 09:3${m}:00.000`,
      end: `2024-01-02 09:3${m + 1}:00.000`,
      open: 190 + m,
      high: 191 + m,
      low: 189 + m,
      close: 190.5 + m,
      volume: 10 * (m + 1),
      vwap: 190.25 + m,
      trades: 4 + m,
    }),
  ),
  rec('bars.5m', {
    symbol: 'AAPL',
    interval: '5m',
    start: '2024-01-02 09:30:00.000',
    end: '2024-01-02 09:35:00.000',
    open: 190,
    high: 193,
    low: 189,
    close: 192.5,
    volume: 60,
    vwap: null,
    trades: 15,
  }),
  ...[1, 2, 3].map((seq) =>
    rec('trades', {
      seq,
      ts: `2024-01-02 09:30:0${seq}.000`,
      instrument: 'TCS',
      price: 15 + seq / 100,
      quantity: seq,
      buy_order_id: 100 + seq,
      sell_order_id: 200 + seq,
      buyer: seq === 2 ? 'B' : 'A',
      seller: seq === 2 ? 'A' : 'C',
      aggressor: 'BUY',
    }),
  ),
  rec('pnl', {
    ts: '2024-01-02 09:30:01.000',
    trader: 'A',
    instrument: 'TCS',
    position: 1,
    avg_price: 15.01,
    realized: 0,
    unrealized: 0,
    fees: 0.01,
    last_price: 15.01,
  }),
  rec('pnl', {
    ts: '2024-01-02 09:30:03.000',
    trader: 'A',
    instrument: 'TCS',
    position: 2,
    avg_price: 15.02,
    realized: 0.5,
    unrealized: 0.1,
    fees: 0.03,
    last_price: 15.03,
  }),
  rec('pnl', {
    ts: '2024-01-02 09:30:02.000',
    trader: 'B',
    instrument: 'TCS',
    position: 2,
    avg_price: null,
    realized: 0,
    unrealized: 0.02,
    fees: 0,
    last_price: null,
  }),
]

test('times on the command line: a date, minutes, seconds, milliseconds; UTC unless a zone is given; epoch ms', () => {
  const utc = (iso: string) => Date.parse(iso)
  assert.equal(parseQueryTime('2024-01-02'), utc('2024-01-02T00:00:00Z'))
  assert.equal(parseQueryTime('2024-01-02 09:31'), utc('2024-01-02T09:31:00Z'))
  assert.equal(parseQueryTime('2024-01-02T09:31:05'), utc('2024-01-02T09:31:05Z'))
  assert.equal(parseQueryTime('2024-01-02 09:31:05.5'), utc('2024-01-02T09:31:05.500Z'))
  assert.equal(parseQueryTime('2024-01-02 09:31:05.123Z'), utc('2024-01-02T09:31:05.123Z'))
  assert.equal(parseQueryTime('2024-01-02T09:31:00+01:00'), utc('2024-01-02T08:31:00Z'))
  assert.equal(parseQueryTime('2024-01-02T09:31-0530'), utc('2024-01-02T15:01:00Z'))
  assert.equal(parseQueryTime('1704187860000'), 1704187860000)
  for (const bad of [
    'yesterday',
    '2024-02-30',
    '2024-01-02 25:00',
    '2024-01-02 09:61',
    '2024-1-2',
    '2024-01-02T09:31+24:00',
  ]) {
    assert.equal(parseQueryTime(bad), undefined, bad)
  }
})

/** A working directory whose commands reach no broker (query needs none). */
async function bareWorkspace(dir: string): Promise<Workspace> {
  const env = cliEnv({ TICKFLOW_LOCAL_BROKER: await closedAddress(), TICKFLOW_DATA_DIR: dir })
  return { dir, env, options: { env, cwd: dir } }
}

for (const target of cliDatabaseTargets()) {
  test(`${target.name}: latest, bars, trades and pnl as tables and as JSON`, async (t) => {
    const s = scene(t)
    const w = await bareWorkspace(s.dir())
    const store = await target.open(s, w)
    await store.use(async (db) => {
      await migrate(db)
      const batch = new ArchiveBatch([])
      for (const r of RECORDS) batch.add(r)
      assert.deepEqual(batch.rejected, [])
      await writeBatch(db, 'test', batch)
    })
    const query = async (...args: string[]): Promise<string> => {
      const r = await runCli(['query', ...args, ...store.args], w.options)
      assert.equal(r.code, 0, `tickflow query ${args.join(' ')}: ${r.stderr}`)
      assert.match(r.stderr, /^tickflow: using the (embedded )?database /m)
      return r.stdout
    }
    const json = async (...args: string[]): Promise<unknown> => JSON.parse(await query(...args, '--json'))

    assert.deepEqual(lines(await query('latest')), [
      'symbol  ts                       price',
      'AAPL    2024-01-02 09:30:02.250  191.5',
      'MSFT    2024-01-02 09:30:00.000    370',
    ])
    assert.deepEqual(await json('latest', '--symbols', 'MSFT,NOPE'), [
      { symbol: 'MSFT', ts: '2024-01-02 09:30:00.000', price: 370 },
    ])

    // The range is [from, to): ISO 8601 with a zone, or the prices' own format (UTC).
    const range = ['--from', '2024-01-02 09:31:00', '--to', '2024-01-02T09:33:00Z']
    assert.deepEqual(await json('bars', 'AAPL', ...range), [
      {
        symbol: 'AAPL',
        interval: '1m',
        start: '2024-01-02 09:31:00.000',
        end: '2024-01-02 09:32:00.000',
        open: 191,
        high: 192,
        low: 190,
        close: 191.5,
        volume: 20,
        vwap: 191.25,
        trades: 5,
      },
      {
        symbol: 'AAPL',
        interval: '1m',
        start: '2024-01-02 09:32:00.000',
        end: '2024-01-02 09:33:00.000',
        open: 192,
        high: 193,
        low: 191,
        close: 192.5,
        volume: 30,
        vwap: 192.25,
        trades: 6,
      },
    ])
    assert.deepEqual(lines(await query('bars', 'AAPL', '--limit', '1')), [
      'start                    open  high  low  close  volume    vwap  trades',
      '2024-01-02 09:32:00.000   192   193  191  192.5      30  192.25       6',
    ])
    assert.deepEqual(lines(await query('bars', 'AAPL', '--interval', '5m')), [
      'start                    open  high  low  close  volume  vwap  trades',
      '2024-01-02 09:30:00.000   190   193  189  192.5      60            15',
    ])
    assert.deepEqual(lines(await query('bars', 'NOPE')), ['(no rows)'])

    assert.deepEqual(lines(await query('trades', '--instrument', 'TCS', '--limit', '2')), [
      'ts                       seq  instrument  price  qty  buyer  seller  aggressor',
      '2024-01-02 09:30:03.000    3  TCS         15.03    3  A      C       BUY',
      '2024-01-02 09:30:02.000    2  TCS         15.02    2  B      A       BUY',
    ])
    assert.deepEqual(await json('trades', '--trader', 'B'), [
      {
        seq: 2,
        ts: '2024-01-02 09:30:02.000',
        instrument: 'TCS',
        price: 15.02,
        quantity: 2,
        buyOrderId: 102,
        sellOrderId: 202,
        buyer: 'B',
        seller: 'A',
        aggressor: 'BUY',
      },
    ])
    assert.deepEqual(
      ((await json('trades', '--from', '2024-01-02T09:30:02Z')) as { seq: number }[]).map((x) => x.seq),
      [3, 2],
    )

    assert.deepEqual(lines(await query('pnl', '--trader', 'A')), [
      'trader  instrument  position  avg price  realized  unrealized  fees   last  as of',
      'A       TCS                2      15.02       0.5         0.1  0.03  15.03  2024-01-02 09:30:03.000',
    ])
    assert.deepEqual(await json('pnl'), [
      {
        trader: 'A',
        instrument: 'TCS',
        ts: '2024-01-02 09:30:03.000',
        position: 2,
        avgPrice: 15.02,
        realized: 0.5,
        unrealized: 0.1,
        fees: 0.03,
        lastPrice: 15.03,
      },
      {
        trader: 'B',
        instrument: 'TCS',
        ts: '2024-01-02 09:30:02.000',
        position: 2,
        avgPrice: null,
        realized: 0,
        unrealized: 0.02,
        fees: 0,
        lastPrice: null,
      },
    ])
  })
}

/** Runs a query expected to fail: exit `code`, one line on stderr besides the database choice. */
async function fails(w: Workspace, args: string[], code: number, message: RegExp): Promise<void> {
  const r = await runCli(['query', ...args], w.options)
  assert.equal(r.code, code, `tickflow query ${args.join(' ')} exits ${code}: ${r.stderr}`)
  const errors = lines(r.stderr).filter((l) => !l.startsWith('tickflow: using '))
  assert.equal(errors.length, 1, `one line: ${r.stderr}`)
  assert.match(errors[0], /^tickflow query: /)
  assert.match(errors[0], message)
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace')
  assert.equal(r.stdout, '')
}

test('bad arguments exit 2 with one line; an empty archive or an unreachable server exit 1', async (t) => {
  const s = scene(t)
  const w = await bareWorkspace(s.dir())
  await fails(w, [], 2, /query what\? one of latest, bars, trades, pnl$/)
  await fails(w, ['prices'], 2, /query what\? one of latest, bars, trades, pnl$/)
  await fails(w, ['bars'], 2, /query bars takes one SYMBOL$/)
  await fails(w, ['bars', 'AAPL', 'MSFT'], 2, /query bars takes one SYMBOL$/)
  await fails(w, ['latest', 'AAPL'], 2, /unexpected argument AAPL$/)
  await fails(w, ['bars', 'AAPL', '--from', 'yesterday'], 2, /--from: not a time: yesterday$/)
  await fails(w, ['trades', '--to', '2024-13-45 99:00:00'], 2, /--to: not a time: /)
  await fails(w, ['trades', '--limit', '0'], 2, /--limit must be an integer >= 1/)
  await fails(w, ['latest', '--bogus'], 2, /Unknown option '--bogus'/)

  // Nothing archived: said plainly, and the query creates nothing.
  await fails(
    w,
    ['latest'],
    1,
    /there is no embedded database in .*db: nothing is archived yet \(run tickflow archive or tickflow up\)$/,
  )
  assert.equal(fs.existsSync(path.join(w.dir, 'db')), false, 'no embedded database was created')
  // An embedded database without tickflow's tables (another schema).
  await embedded(w.dir).use(async (db) => {
    await migrate(db)
  })
  await fails(w, ['pnl', '--schema', 'elsewhere'], 1, /nothing is archived in .*, schema "elsewhere": run tickflow/)

  const closed = await closedAddress()
  await fails(w, ['latest', '--database-url', `postgres://tickflow@${closed}/x`], 1, /ECONNREFUSED/)
  const url = testDatabaseUrl()
  if (url !== undefined) {
    const schema = testSchema()
    await fails(w, ['trades', '--database-url', url, '--schema', schema], 1, /nothing is archived in /)
    const left = await sql<{ n: string }>(url, `SELECT count(*)::text AS n FROM pg_namespace WHERE nspname = $1`, [
      schema,
    ])
    assert.equal(left[0].n, '0', 'the query created no schema on the server')
  }
})
