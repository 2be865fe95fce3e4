import assert from 'node:assert/strict'
import { test } from 'node:test'
import { CopyText, escapeCopy } from '../../src/store/copy-text.ts'
import { storeTargets } from '../helpers/store.ts'

test('escapeCopy escapes exactly backslash, tab, newline and carriage return', () => {
  assert.equal(escapeCopy('plain'), 'plain')
  assert.equal(escapeCopy('a\\b\tc\nd\re'), 'a\\\\b\\tc\\nd\\re')
  assert.equal(escapeCopy('ünïcödé 😀 "quotes" ,;'), 'ünïcödé 😀 "quotes" ,;')
})

test('rows: fields by tab, rows by newline, NULL as \\N', () => {
  const c = new CopyText()
  c.text('x')
    .number(1.5)
    .bool(true)
    .bytes(Buffer.from([0, 255]))
    .time(0)
    .end()
  c.text(null).number(NaN).bool(undefined).bytes(null).time(NaN).end()
  assert.equal(c.rows, 2)
  assert.equal(c.toString(), 'x\t1.5\tt\t\\\\x00ff\t1970-01-01 00:00:00.000+00\n\\N\t\\N\t\\N\t\\N\t\\N\n')
  // Times PostgreSQL cannot store are NULL: before year 1, after 9999.
  const edges = new CopyText().time(new Date(0).setUTCFullYear(1, 0, 1)).time(Date.UTC(9999, 11, 31, 23, 59, 59, 999))
  assert.equal(
    edges.time(-62_200_000_000_000).time(253_402_300_800_000).end().toString(),
    '0001-01-01 00:00:00.000+00\t9999-12-31 23:59:59.999+00\t\\N\t\\N\n',
  )
})

for (const target of storeTargets()) {
  test(`${target.name}: what COPY reads back is what was written`, async (t) => {
    const db = await target.open(t)
    await db.query(`CREATE TABLE ${db.schema}.c (s text, d float8, b boolean, x bytea, ts timestamptz, j jsonb)`)
    const strings = ['', 'tab\there', 'line\nbreak', 'cr\rlf', 'back\\slash', '\\N', 'ünï 😀', '"quoted",comma']
    const c = new CopyText()
    for (const [i, s] of strings.entries()) {
      c.text(s)
        .number(i / 3)
        .bool(i % 2 === 0)
        .bytes(Buffer.from(s))
        .time(1_700_000_000_123 + i)
        .text(JSON.stringify({ s }))
      c.end()
    }
    c.text(null).number(null).bool(null).bytes(null).time(null).text(null).end()
    assert.equal(await db.copyFrom(`${db.schema}.c (s, d, b, x, ts, j)`, c.toString()), strings.length + 1)
    const rows = (
      await db.query<{
        s: string | null
        d: number | null
        b: boolean | null
        x: Uint8Array | null
        ms: number | null
        j: { s: string } | null
      }>(`SELECT s, d, b, x, (extract(epoch from ts) * 1000)::float8 AS ms, j FROM ${db.schema}.c`)
    ).rows
    assert.deepEqual(
      rows.map((r) => r.s),
      [...strings, null],
    )
    strings.forEach((s, i) => {
      assert.equal(rows[i].d, i / 3)
      assert.equal(rows[i].b, i % 2 === 0)
      assert.equal(Buffer.from(rows[i].x!).toString(), s)
      assert.equal(rows[i].ms, 1_700_000_000_123 + i)
      assert.deepEqual(rows[i].j, { s })
    })
    assert.deepEqual(rows.at(-1), { s: null, d: null, b: null, x: null, ms: null, j: null })
  })
}
