/**
 * The embedded database served over PostgreSQL's wire protocol: `pg` clients and psql use it;
 * clients and the owner take turns on the one session, never seeing each other's open
 * transactions; a client that disconnects mid-transaction is rolled back; a bad frame closes only
 * its connection.
 */
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import net from 'node:net'
import { test, type TestContext } from 'node:test'
import { promisify } from 'node:util'
import pg from 'pg'
import { openDatabase } from '../../src/store/database.ts'
import { PgliteDatabase } from '../../src/store/pglite-driver.ts'
import { servePglite } from '../../src/store/pglite-server.ts'
import { tempDir } from '../helpers/broker.ts'

async function served(t: TestContext) {
  const db = await openDatabase({ dataDir: tempDir(t, 'tickflow-pglite-') })
  assert.ok(db instanceof PgliteDatabase)
  const server = await servePglite(db)
  t.after(async () => {
    await server.close()
    await db.close()
  })
  await db.query(`CREATE TABLE ${db.schema}.t (a int)`)
  return { db, server, url: `postgres://tickflow@127.0.0.1:${server.port}/postgres` }
}

async function client(t: TestContext, url: string): Promise<pg.Client> {
  const c = new pg.Client({ connectionString: url })
  c.on('error', () => undefined)
  await c.connect()
  t.after(() => c.end().catch(() => undefined))
  return c
}

test('pg clients query the embedded database; turns never interleave open transactions', async (t) => {
  const { db, url } = await served(t)
  const a = await client(t, url)
  const b = await client(t, url)
  assert.deepEqual((await a.query('SELECT 1 + 1 AS two')).rows, [{ two: 2 }])
  await a.query('BEGIN')
  await a.query('INSERT INTO tickflow.t VALUES (1)')
  // b and the owner wait for a's transaction to end, then see its outcome.
  let bSaw: number | undefined
  const bQuery = b.query('SELECT count(*)::int AS n FROM tickflow.t').then((r) => (bSaw = r.rows[0].n as number))
  let ownerSaw: number | undefined
  const ownerQuery = db
    .query<{ n: number }>('SELECT count(*)::int AS n FROM tickflow.t')
    .then((r) => (ownerSaw = r.rows[0].n))
  await new Promise((r) => setTimeout(r, 100))
  assert.equal(bSaw, undefined, 'b waits while a is in a transaction')
  assert.equal(ownerSaw, undefined, 'so does the owner')
  await a.query('INSERT INTO tickflow.t VALUES (2)')
  await a.query('COMMIT')
  await Promise.all([bQuery, ownerQuery])
  assert.equal(bSaw, 2)
  assert.equal(ownerSaw, 2)
  // Parameters and types through the extended protocol.
  const r = await b.query('SELECT $1::text AS s, $2::int8 AS n, now() IS NOT NULL AS ok', ['x', '9007199254740993'])
  assert.deepEqual(r.rows, [{ s: 'x', n: '9007199254740993', ok: true }])
  await assert.rejects(b.query('SELECT * FROM no_such_table'), /does not exist/)
  assert.deepEqual((await b.query('SELECT 3 AS three')).rows, [{ three: 3 }], 'usable after an error')
})

test('a client gone mid-transaction is rolled back; a bad frame closes only its connection', async (t) => {
  const { db, url } = await served(t)
  const a = await client(t, url)
  await a.query('BEGIN')
  await a.query('INSERT INTO tickflow.t VALUES (42)')
  ;(a as unknown as { connection: { stream: net.Socket } }).connection.stream.destroy()
  const n = await db.query<{ n: number }>('SELECT count(*)::int AS n FROM tickflow.t')
  assert.equal(n.rows[0].n, 0, 'the open transaction was rolled back')

  const port = Number(new URL(url).port)
  const bad = net.connect(port, '127.0.0.1')
  await new Promise((r) => bad.once('connect', r))
  bad.write(Buffer.from([0xff, 0xff, 0xff, 0xff, 0, 0, 0, 0]))
  await new Promise((r) => bad.once('close', r))
  const b = await client(t, url)
  assert.deepEqual((await b.query('SELECT 1 AS one')).rows, [{ one: 1 }])
})

test('psql talks to it', async (t) => {
  const { url } = await served(t)
  const { stdout } = await promisify(execFile)('psql', [
    url,
    '-At',
    '-c',
    'INSERT INTO tickflow.t VALUES (7)',
    '-c',
    'SELECT sum(a) FROM tickflow.t',
  ])
  assert.equal(stdout.trim().split('\n').at(-1), '7')
})
