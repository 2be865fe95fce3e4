import assert from 'node:assert/strict'
import { test } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import { migrate, MIGRATIONS } from '../../src/store/migrations.ts'
import { storeTargets } from '../helpers/store.ts'

for (const target of storeTargets()) {
  test(`${target.name}: migrations apply once, in order, and are recorded`, async (t) => {
    const db = await target.open(t)
    assert.deepEqual(
      await migrate(db),
      MIGRATIONS.map((m) => m.version),
    )
    assert.deepEqual(await migrate(db), [], 'nothing left to apply the second time')
    const rows = (
      await db.query<{ version: number; name: string }>(
        `SELECT version, name FROM ${db.schema}.schema_migrations ORDER BY version`,
      )
    ).rows
    assert.deepEqual(
      rows.map((r) => [Number(r.version), r.name]),
      MIGRATIONS.map((m) => [m.version, m.name]),
    )
    // The tables exist and take rows.
    for (const table of ['archive', 'prices', 'volatility', 'bars', 'orders', 'trades', 'pnl', 'consumer_offsets']) {
      const r = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM ${db.schema}.${table}`)
      assert.equal(r.rows[0].n, 0, table)
    }
  })

  test(`${target.name}: a failing migration leaves nothing behind; a newer database is refused`, async (t) => {
    const db = await target.open(t)
    await migrate(db)
    const broken = [
      ...MIGRATIONS,
      { version: 99, name: 'broken', sql: 'CREATE TABLE {schema}.half (a int); SELECT no_such_function()' },
    ]
    await assert.rejects(migrate(db, broken), { code: ErrorCodes.DATABASE })
    const half = await db.query<{ n: number }>(
      `SELECT count(*)::int AS n FROM information_schema.tables WHERE table_schema = $1 AND table_name = 'half'`,
      [db.schema.slice(1, -1)],
    )
    assert.equal(half.rows[0].n, 0, 'the failed migration was rolled back whole')
    await db.query(`INSERT INTO ${db.schema}.schema_migrations (version, name) VALUES (1000, 'from the future')`)
    await assert.rejects(migrate(db), (err: { code?: string; message?: string }) => {
      assert.equal(err.code, ErrorCodes.DATABASE)
      assert.match(err.message ?? '', /newer than this tickflow knows/)
      return true
    })
  })
}
