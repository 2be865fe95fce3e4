/**
 * The embedded driver: PGlite, PostgreSQL compiled to WebAssembly, on files in a directory of its
 * own. One session by nature: every use — a statement, a whole transaction, a client of the wire
 * server (pglite-server.ts) between two idle moments — takes the session's mutex, so they never
 * interleave. COPY FROM STDIN is PGlite's `COPY … FROM '/dev/blob'` with the data as a Blob.
 */
import fs from 'node:fs'
import { PGlite, type Transaction } from '@electric-sql/pglite'
import {
  databaseError,
  type CopyFormat,
  type Database,
  type DatabaseLock,
  type QueryResult,
  type Sql,
} from './database.ts'

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

/** A FIFO mutex: `run` calls their function one at a time, in call order. */
export class Mutex {
  private tail: Promise<unknown> = Promise.resolve()

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn, fn)
    this.tail = result.catch(() => undefined)
    return result
  }
}

class PgliteSql implements Sql {
  protected readonly target: PGlite | Transaction
  /** Taken by each statement outside a transaction; absent inside one (the transaction holds it). */
  protected readonly mutex: Mutex | undefined

  constructor(target: PGlite | Transaction, mutex?: Mutex) {
    this.target = target
    this.mutex = mutex
  }

  query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.mutex === undefined ? this.runQuery(text, params) : this.mutex.run(() => this.runQuery<R>(text, params))
  }

  copyFrom(target: string, data: string | Buffer, format: CopyFormat = 'binary'): Promise<number> {
    return this.mutex === undefined
      ? this.runCopy(target, data, format)
      : this.mutex.run(() => this.runCopy(target, data, format))
  }

  private async runQuery<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    try {
      const r = await this.target.query<R>(text, params as unknown[] | undefined)
      return { rows: r.rows, rowCount: r.affectedRows ?? 0 }
    } catch (err) {
      throw databaseError(text.trim().split('\n')[0].slice(0, 80), err)
    }
  }

  private async runCopy(target: string, data: string | Buffer, format: CopyFormat): Promise<number> {
    try {
      const r = await this.target.query(`COPY ${target} FROM '/dev/blob' WITH (FORMAT ${format})`, [], {
        blob: new Blob([data]),
      })
      return r.affectedRows ?? 0
    } catch (err) {
      throw databaseError(`COPY ${target}`, err)
    }
  }
}

export class PgliteDatabase extends PgliteSql implements Database {
  readonly kind = 'pglite' as const
  readonly description: string
  readonly schema: string
  /** The PGlite instance, for the wire server. */
  readonly pglite: PGlite
  /** The session's mutex, for the wire server. */
  readonly session: Mutex
  private readonly locks = new Set<string>()

  constructor(db: PGlite, description: string, schema: string) {
    const mutex = new Mutex()
    super(db, mutex)
    this.pglite = db
    this.session = mutex
    this.description = description
    this.schema = schema
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.session.run(async () => {
      try {
        return await this.pglite.transaction((tx) => fn(new PgliteSql(tx)))
      } catch (err) {
        throw databaseError('transaction', err)
      }
    })
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

  close(): Promise<void> {
    return this.session.run(async () => {
      if (!this.pglite.closed) await this.pglite.close()
    })
  }
}
