import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CopyBinary, storableTime } from '../../src/store/copy-binary.ts'
import { fieldValue, readCopyBinary, type FieldType } from '../helpers/copy-binary.ts'
import { storeTargets } from '../helpers/store.ts'

const YEAR_1 = new Date(0).setUTCFullYear(1, 0, 1)
const YEAR_9999_END = Date.UTC(9999, 11, 31, 23, 59, 59, 999)

const values = (types: FieldType[], data: Buffer) =>
  readCopyBinary(data).map((row) => row.map((f, i) => fieldValue(types[i], f)))

test('rows: a field count, then each field by its length; NULL as length -1; a trailer', () => {
  const c = new CopyBinary()
  c.text('x\ty')
    .int4(-7)
    .int8(2 ** 53 - 1)
    .float8(1.5)
    .bool(true)
    .timestamptz(0)
    .jsonb('{"a":1}')
    .bytea(Buffer.from([0, 255]))
  c.end()
  c.null().text(null).jsonb(undefined).bytea(null).timestamptz(NaN).end()
  assert.equal(c.rows, 2)
  const types: FieldType[] = ['text', 'int4', 'int8', 'float8', 'bool', 'timestamptz', 'jsonb', 'bytea']
  const rows = values(types, c.data())
  assert.deepEqual(rows, [
    ['x\ty', -7, 2 ** 53 - 1, 1.5, true, 0, '{"a":1}', '00ff'],
    [null, null, null, null, null],
  ])
})

test('int8 and timestamptz across their ranges; times PostgreSQL cannot store are NULL', () => {
  const ints = [0, 1, -1, 2 ** 32, -(2 ** 32), 2 ** 32 + 5, -(2 ** 53 - 1), 2 ** 53 - 1, 1_700_000_000_123]
  const c = new CopyBinary()
  for (const n of ints) c.int8(n)
  c.end()
  assert.deepEqual(values(Array(ints.length).fill('int8'), c.data()), [ints])

  const times = [YEAR_1, YEAR_9999_END, -1, 1_700_000_000_123.456, 946_684_800_000]
  const t = new CopyBinary()
  for (const ms of times) t.timestamptz(ms)
  t.timestamptz(YEAR_1 - 1)
    .timestamptz(YEAR_9999_END + 1)
    .end()
  const [row] = values(Array(times.length + 2).fill('timestamptz'), t.data())
  assert.deepEqual(row.slice(0, 2), [YEAR_1, YEAR_9999_END])
  assert.equal(row[2], -1)
  assert.ok(Math.abs((row[3] as number) - 1_700_000_000_123.456) < 1e-6, 'microseconds kept')
  assert.equal(row[4], 946_684_800_000)
  assert.deepEqual(row.slice(5), [null, null])
  assert.equal(storableTime(YEAR_1), true)
  assert.equal(storableTime(YEAR_1 - 1), false)
  assert.equal(storableTime('0'), false)
})

test('the buffer grows past its first size without losing what was written', () => {
  const c = new CopyBinary(64)
  const long = 'ü'.repeat(10_000)
  for (let i = 0; i < 500; i++)
    c.text(i % 50 === 0 ? long : `row ${i}`)
      .int4(i)
      .end()
  const rows = values(['text', 'int4'], c.data())
  assert.equal(rows.length, 500)
  rows.forEach((r, i) => assert.deepEqual(r, [i % 50 === 0 ? long : `row ${i}`, i]))
})

for (const target of storeTargets()) {
  test(`${target.name}: what binary COPY writes reads back the same`, async (t) => {
    const db = await target.open(t)
    await db.query(
      `CREATE TABLE ${db.schema}.c (s text, i integer, n bigint, d float8, b boolean, x bytea, ts timestamptz, j jsonb)`,
    )
    const strings = ['', 'tab\there', 'line\nbreak', 'cr\rlf', 'back\\slash', '\\N', 'ünï 😀', '"quoted",comma']
    const c = new CopyBinary()
    for (const [i, s] of strings.entries()) {
      c.text(s)
        .int4(i - 2 ** 31)
        .int8(i * 2 ** 40 - 2 ** 50)
        .float8(i / 3)
        .bool(i % 2 === 0)
        .bytea(Buffer.from(s))
        .timestamptz(1_700_000_000_123 + i)
        .jsonb(JSON.stringify({ s }))
        .end()
    }
    c.null().null().null().null().null().null().null().null().end()
    c.text('edges')
      .int4(2 ** 31 - 1)
      .int8(2 ** 53 - 1)
      .float8(-0)
      .bool(false)
      .bytea(Buffer.alloc(0))
    c.timestamptz(YEAR_1).jsonbUtf8(Buffer.from('[1, "ü", {"k": null}]')).end()
    c.text('end of time').null().null().null().null().null().timestamptz(YEAR_9999_END).null().end()
    assert.equal(await db.copyFrom(`${db.schema}.c (s, i, n, d, b, x, ts, j)`, c.data()), strings.length + 3)
    const rows = (
      await db.query<{
        s: string | null
        i: number | null
        n: string | null
        d: number | null
        b: boolean | null
        x: Uint8Array | null
        ms: number | null
        iso: string | null
        j: unknown
      }>(
        `SELECT s, i, n::text AS n, d, b, x, (extract(epoch from ts) * 1000)::float8 AS ms, ` +
          `to_char(ts AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.MS') AS iso, j FROM ${db.schema}.c`,
      )
    ).rows
    strings.forEach((s, i) => {
      assert.equal(rows[i].s, s)
      assert.equal(rows[i].i, i - 2 ** 31)
      assert.equal(rows[i].n, String(i * 2 ** 40 - 2 ** 50))
      assert.equal(rows[i].d, i / 3)
      assert.equal(rows[i].b, i % 2 === 0)
      assert.equal(Buffer.from(rows[i].x!).toString(), s)
      assert.equal(rows[i].ms, 1_700_000_000_123 + i)
      assert.deepEqual(rows[i].j, { s })
    })
    const k = strings.length
    assert.deepEqual(rows[k], { s: null, i: null, n: null, d: null, b: null, x: null, ms: null, iso: null, j: null })
    assert.equal(rows[k + 1].i, 2 ** 31 - 1)
    assert.equal(rows[k + 1].n, String(2 ** 53 - 1))
    assert.equal(Object.is(rows[k + 1].d, -0), true)
    assert.equal(rows[k + 1].b, false)
    assert.equal(Buffer.from(rows[k + 1].x!).length, 0)
    assert.equal(rows[k + 1].iso, '0001-01-01 00:00:00.000')
    assert.deepEqual(rows[k + 1].j, [1, 'ü', { k: null }])
    assert.equal(rows[k + 2].iso, '9999-12-31 23:59:59.999')
  })

  test(`${target.name}: binary COPY data the column cannot take is refused by the database`, async (t) => {
    const db = await target.open(t)
    await db.query(`CREATE TABLE ${db.schema}.j (j jsonb)`)
    const bad = new CopyBinary().jsonb('{"unclosed": ').end()
    await assert.rejects(db.copyFrom(`${db.schema}.j (j)`, bad.data()), /COPY/)
    const good = new CopyBinary().jsonb('{"ok": true}').end()
    assert.equal(await db.copyFrom(`${db.schema}.j (j)`, good.data()), 1)
  })
}
