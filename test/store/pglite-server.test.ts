/**
 * The embedded database served over PostgreSQL's wire protocol: `pg` clients and psql use it;
 * clients and the owner take turns on the one session, never seeing each other's open
 * transactions; a client that disconnects mid-transaction is rolled back; a bad frame closes only
 * its connection. COPY FROM STDIN, which the server runs for PGlite (it cannot read STDIN), in
 * every format, with its errors and the forms it refuses rather than hang on.
 */
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import net from 'node:net'
import { Readable } from 'node:stream'
import { pipeline } from 'node:stream/promises'
import { test, type TestContext } from 'node:test'
import { promisify } from 'node:util'
import pg from 'pg'
import { from as copyFrom, to as copyTo } from 'pg-copy-streams'
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

/** Runs `COPY … FROM STDIN` on `c` with `chunks` as its data; the rows copied. */
async function copyIn(c: pg.Client, sql: string, chunks: Array<string | Buffer>): Promise<number> {
  const stream = c.query(copyFrom(sql))
  await pipeline(Readable.from(chunks), stream)
  return Number(stream.rowCount)
}

test('COPY FROM STDIN through the port: text, csv and binary, in parts, inside a transaction the others wait for', async (t) => {
  const { db, url } = await served(t)
  await db.query('CREATE TABLE tickflow.c (id int PRIMARY KEY, name text, at timestamptz)')
  const a = await client(t, url)
  assert.equal(await copyIn(a, 'COPY tickflow.c FROM STDIN', ['1\tone\t2024-01-02 09:30:00+00\n2\t', 'two\t\\N\n']), 2)
  assert.equal(
    await copyIn(a, '-- a comment\nCOPY tickflow.c (id, name) FROM STDIN WITH (FORMAT csv);', ['3,"th,ree"\n']),
    1,
  )
  // Binary rows as the server writes them, read back in.
  const out = a.query(copyTo('COPY (SELECT id + 10, name, at FROM tickflow.c) TO STDOUT WITH (FORMAT binary)'))
  const parts: Buffer[] = []
  for await (const chunk of out) parts.push(chunk as Buffer)
  assert.equal(await copyIn(a, 'COPY tickflow.c FROM STDIN WITH (FORMAT binary)', [Buffer.concat(parts)]), 3)
  const rows = await db.query<{ id: number; name: string | null; at: string | null }>(
    `SELECT id, name, at::text AS at FROM tickflow.c ORDER BY id`,
  )
  assert.deepEqual(
    rows.rows.map((r) => [r.id, r.name, r.at]),
    [
      [1, 'one', '2024-01-02 09:30:00+00'],
      [2, 'two', null],
      [3, 'th,ree', null],
      [11, 'one', '2024-01-02 09:30:00+00'],
      [12, 'two', null],
      [13, 'th,ree', null],
    ],
  )

  // Inside a transaction, with the data arriving slowly: the owner waits for the commit.
  await a.query('BEGIN')
  const stream = a.query(copyFrom('COPY tickflow.c (id, name) FROM STDIN'))
  stream.write('20\ttwenty\n')
  let ownerSaw: number | undefined
  const ownerQuery = db
    .query<{ n: number }>('SELECT count(*)::int AS n FROM tickflow.c')
    .then((r) => (ownerSaw = r.rows[0].n))
  await new Promise((r) => setTimeout(r, 100))
  stream.end('21\ttwenty-one\n')
  await new Promise<void>((resolve, reject) => stream.on('finish', resolve).on('error', reject))
  assert.equal(ownerSaw, undefined, 'the owner waits during the transaction')
  await a.query('COMMIT')
  await ownerQuery
  assert.equal(ownerSaw, 8)
})

test('COPY FROM STDIN errors through the port: bad data, no such table, a failed transaction, refused forms; the session goes on', async (t) => {
  const { db, url } = await served(t)
  await db.query('CREATE TABLE tickflow.c (id int PRIMARY KEY, name text)')
  const a = await client(t, url)
  await assert.rejects(copyIn(a, 'COPY tickflow.c FROM STDIN', ['1\tone\nx\ttwo\n']), (err: { code?: string }) => {
    assert.equal(err.code, '22P02', 'invalid input syntax')
    return true
  })
  await assert.rejects(
    copyIn(a, 'COPY tickflow.c FROM STDIN', ['1\tone\n1\tagain\n']),
    (err: { code?: string; constraint?: string }) => {
      assert.equal(err.code, '23505')
      assert.equal(err.constraint, 'c_pkey', 'the error keeps its fields')
      return true
    },
  )
  await assert.rejects(copyIn(a, 'COPY tickflow.nope FROM STDIN', ['1\n']), /relation "tickflow.nope" does not exist/)
  await assert.rejects(copyIn(a, 'COPY tickflow.c (nope) FROM STDIN', ['1\n']), /column "nope" does not exist/)
  assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM tickflow.c')).rows[0].n, 0)

  await a.query('BEGIN')
  await a.query('INSERT INTO tickflow.c VALUES (5, $1)', ['five'])
  await assert.rejects(copyIn(a, 'COPY tickflow.c FROM STDIN', ['5\tdup\n']), /duplicate key/)
  await assert.rejects(a.query('SELECT 1'), /current transaction is aborted/)
  await a.query('ROLLBACK')
  assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM tickflow.c')).rows[0].n, 0)

  // Forms PGlite would wait on forever are refused, not run.
  await assert.rejects(a.query('SELECT 1; COPY tickflow.c FROM STDIN'), /must be a simple query of that one statement/)
  await assert.rejects(
    a.query({ name: 'copy', text: 'COPY tickflow.c FROM STDIN' }),
    (err: { code?: string }) => err.code === '0A000',
  )
  assert.deepEqual((await a.query('SELECT 2 AS two')).rows, [{ two: 2 }])
  assert.deepEqual((await db.query('SELECT 3 AS three')).rows, [{ three: 3 }], 'the owner too')
})

/** A raw protocol 3.0 connection: startup done, then messages out and whole replies in. */
async function rawSession(url: string) {
  const socket = net.connect(Number(new URL(url).port), '127.0.0.1')
  await new Promise((r) => socket.once('connect', r))
  let received = Buffer.alloc(0)
  socket.on('data', (d: Buffer) => (received = Buffer.concat([received, d])))
  const frame = (type: string, body: Buffer = Buffer.alloc(0)): Buffer => {
    const head = Buffer.alloc(5)
    head.write(type, 0, 'latin1')
    head.writeInt32BE(body.length + 4, 1)
    return Buffer.concat([head, body])
  }
  // Message types received until one of type `last`, then cleared.
  const until = async (last: string): Promise<string> => {
    for (let i = 0; i < 500; i++) {
      const types: string[] = []
      let at = 0
      while (at + 5 <= received.length) {
        const length = received.readInt32BE(at + 1)
        if (at + 1 + length > received.length) break
        types.push(String.fromCharCode(received[at]))
        at += 1 + length
      }
      if (types.includes(last)) {
        received = received.subarray(at)
        return types.join('')
      }
      await new Promise((r) => setTimeout(r, 10))
    }
    throw new Error(`no ${last} message: ${received.toString('latin1')}`)
  }
  const startup = Buffer.alloc(8)
  const params = Buffer.from('user\0tickflow\0database\0postgres\0\0')
  startup.writeInt32BE(8 + params.length, 0)
  startup.writeInt32BE(196608, 4)
  socket.write(Buffer.concat([startup, params]))
  await until('Z')
  const text = (s: string): Buffer => Buffer.from(`${s}\0`)
  return { socket, frame, until, text }
}

test('COPY FROM STDIN through the port: CopyFail and a stray message end the COPY with an error', async (t) => {
  const { db, url } = await served(t)
  const raw = await rawSession(url)
  t.after(() => raw.socket.destroy())
  raw.socket.write(raw.frame('Q', raw.text('COPY tickflow.t FROM STDIN')))
  assert.equal(await raw.until('G'), 'G')
  raw.socket.write(Buffer.concat([raw.frame('d', Buffer.from('1\n')), raw.frame('f', raw.text('changed my mind'))]))
  assert.equal(await raw.until('Z'), 'EZ')
  raw.socket.write(raw.frame('Q', raw.text('COPY tickflow.t FROM STDIN')))
  assert.equal(await raw.until('G'), 'G')
  raw.socket.write(Buffer.concat([raw.frame('d', Buffer.from('2\n')), raw.frame('Q', raw.text('SELECT 1'))]))
  assert.equal(await raw.until('Z'), 'EZ')
  raw.socket.write(raw.frame('Q', raw.text('SELECT 1')))
  assert.equal(await raw.until('Z'), 'TDCZ', 'the session answers queries again')
  // A client gone in the middle of a COPY gives the session back.
  raw.socket.write(
    Buffer.concat([raw.frame('Q', raw.text('COPY tickflow.t FROM STDIN')), raw.frame('d', Buffer.from('3\n'))]),
  )
  assert.equal(await raw.until('G'), 'G')
  raw.socket.destroy()
  assert.equal((await db.query<{ n: number }>('SELECT count(*)::int AS n FROM tickflow.t')).rows[0].n, 0)
})

test('psql \\copy from stdin through the port', async (t) => {
  const { db, url } = await served(t)
  const child = spawn('psql', [url, '-At', '-v', 'ON_ERROR_STOP=1', '-c', '\\copy tickflow.t from stdin'])
  child.stdin.end('4\n5\n6\n')
  let stdout = ''
  let stderr = ''
  child.stdout.on('data', (d) => (stdout += d))
  child.stderr.on('data', (d) => (stderr += d))
  const [code] = await once(child, 'exit')
  assert.equal(code, 0, stderr)
  assert.match(stdout, /COPY 3/)
  assert.equal((await db.query<{ s: number }>('SELECT sum(a)::int AS s FROM tickflow.t')).rows[0].s, 15)
})
