/**
 * The embedded driver: PGlite, PostgreSQL compiled to WebAssembly, on files in a directory of its
 * own. One connection by nature: statements run one at a time, and a transaction holds it. COPY
 * FROM STDIN is PGlite's `COPY … FROM '/dev/blob'` with the data as a Blob.
 */
import fs from 'node:fs'
import { PGlite, type Transaction } from '@electric-sql/pglite'
import { databaseError, type Database, type DatabaseLock, type QueryResult, type Sql } from './database.ts'

export async function openPglite(dir: string, schema: string): Promise<Database> {
  fs.mkdirSync(dir, { recursive: true })
  let db: PGlite
  try {
    db = await PGlite.create(dir)
  } catch (err) {
    throw databaseError(`opening the embedded database in ${dir}`, err)
  }
  return new PgliteDatabase(db, `embedded PGlite in ${dir}`, schema)
}

class PgliteSql implements Sql {
  protected readonly target: PGlite | Transaction

  constructor(target: PGlite | Transaction) {
    this.target = target
  }

  async query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    try {
      const r = await this.target.query<R>(text, params as unknown[] | undefined)
      return { rows: r.rows, rowCount: r.affectedRows ?? 0 }
    } catch (err) {
      throw databaseError(text.trim().split('\n')[0].slice(0, 80), err)
    }
  }

  async copyFrom(target: string, data: string): Promise<number> {
    try {
      const r = await this.target.query(`COPY ${target} FROM '/dev/blob'`, [], { blob: new Blob([data]) })
      return r.affectedRows ?? 0
    } catch (err) {
      throw databaseError(`COPY ${target}`, err)
    }
  }
}

class PgliteDatabase extends PgliteSql implements Database {
  readonly kind = 'pglite' as const
  readonly description: string
  readonly schema: string
  private readonly db: PGlite
  private readonly locks = new Set<string>()

  constructor(db: PGlite, description: string, schema: string) {
    super(db)
    this.db = db
    this.description = description
    this.schema = schema
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    try {
      return await this.db.transaction((tx) => fn(new PgliteSql(tx)))
    } catch (err) {
      throw databaseError('transaction', err)
    }
  }

  async tryLock(key: string): Promise<DatabaseLock | undefined> {
    // One session for everything in this process: advisory locks are re-entrant within it, so
    // the process keeps its own set of the keys it holds.
    if (this.locks.has(key)) return undefined
    this.locks.add(key)
    let held = true
    return {
      get held() {
        return held
      },
      release: async () => {
        held = false
        this.locks.delete(key)
      },
    }
  }

  async close(): Promise<void> {
    if (!this.db.closed) await this.db.close()
  }
}
