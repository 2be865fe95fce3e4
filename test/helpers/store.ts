/**
 * Store tests run against embedded PGlite always, and also against the PostgreSQL server named by
 * TICKFLOW_TEST_DATABASE_URL when it is set (`.ci/run` sets it). Each test gets a schema of its own,
 * dropped afterwards on the server; PGlite gets a fresh temporary directory.
 */
import { randomBytes } from 'node:crypto'
import type { TestContext } from 'node:test'
import { openDatabase, type Database } from '../../src/store/database.ts'
import { tempDir } from './broker.ts'

export interface StoreTarget {
  name: 'pglite' | 'postgres'
  open(t: TestContext): Promise<Database>
}

/** The databases store tests run against. */
export function storeTargets(): StoreTarget[] {
  const targets: StoreTarget[] = [
    {
      name: 'pglite',
      open: async (t) => {
        const db = await openDatabase({ dataDir: tempDir(t, 'tickflow-pglite-') })
        t.after(() => db.close())
        return db
      },
    },
  ]
  const url = process.env.TICKFLOW_TEST_DATABASE_URL
  if (url !== undefined && url !== '') {
    targets.push({
      name: 'postgres',
      open: async (t) => {
        const schema = testSchema()
        const db = await openDatabase({ url, schema })
        t.after(async () => {
          await db.query(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE`).catch(() => undefined)
          await db.close()
        })
        return db
      },
    })
  }
  return targets
}

/** A schema name no other test uses. */
export function testSchema(): string {
  return `tickflow_test_${randomBytes(5).toString('hex')}`
}
