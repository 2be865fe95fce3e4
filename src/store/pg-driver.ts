/**
 * The PostgreSQL-server driver: a small `pg` pool; COPY through pg-copy-streams. bigint (int8)
 * columns come back as strings, as pg returns them; SQL should cast where numbers are wanted.
 */
import pg from 'pg'
import { from as copyFromStream } from 'pg-copy-streams'
import { pipeline } from 'node:stream/promises'
import { Readable } from 'node:stream'
import {
  databaseError,
  redactUrl,
  type CopyFormat,
  type Database,
  type DatabaseLock,
  type QueryResult,
  type Sql,
} from './database.ts'

export async function openPostgres(url: string, schema: string): Promise<Database> {
  const pool = new pg.Pool({
    connectionString: url,
    max: 4,
    idleTimeoutMillis: 10_000,
    connectionTimeoutMillis: 10_000,
  })
  // An idle client's connection dropping (server restart) must not crash the process: the pool
  // discards the client and the next query reconnects.
  pool.on('error', () => undefined)
  // Nor a checked-out client's (the embedded database's owner gone mid-COPY, say): its queries
  // fail with the error, which is what the caller sees.
  pool.on('connect', (client) => client.on('error', () => undefined))
  const description = redactUrl(url)
  try {
    const client = await pool.connect()
    client.release()
  } catch (err) {
    await pool.end().catch(() => undefined)
    throw databaseError(`connecting to ${description}`, err)
  }
  return new PostgresDatabase(pool, url, description, schema)
}

class ClientSql implements Sql {
  protected readonly client: pg.PoolClient | pg.Pool

  constructor(client: pg.PoolClient | pg.Pool) {
    this.client = client
  }

  async query<R>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    try {
      const r = await this.client.query(text, params as unknown[] | undefined)
      return { rows: r.rows as R[], rowCount: r.rowCount ?? 0 }
    } catch (err) {
      throw databaseError(firstLine(text), err)
    }
  }

  async copyFrom(target: string, data: string | Buffer, format: CopyFormat = 'binary'): Promise<number> {
    const client = this.client instanceof pg.Pool ? await this.client.connect() : this.client
    try {
      const stream = client.query(copyFromStream(`COPY ${target} FROM STDIN WITH (FORMAT ${format})`))
      await pipeline(Readable.from([data]), stream)
      return Number(stream.rowCount ?? 0)
    } catch (err) {
      throw databaseError(`COPY ${target}`, err)
    } finally {
      if (client !== this.client) (client as pg.PoolClient).release()
    }
  }
}

class PostgresDatabase extends ClientSql implements Database {
  readonly kind = 'postgres' as const
  readonly description: string
  readonly schema: string
  private readonly pool: pg.Pool
  private readonly url: string

  constructor(pool: pg.Pool, url: string, description: string, schema: string) {
    super(pool)
    this.pool = pool
    this.url = url
    this.description = description
    this.schema = schema
  }

  async transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (err) {
      throw databaseError(`connecting to ${this.description}`, err)
    }
    let broken = false
    try {
      await client.query('BEGIN')
      const result = await fn(new ClientSql(client))
      await client.query('COMMIT')
      return result
    } catch (err) {
      try {
        await client.query('ROLLBACK')
      } catch {
        broken = true
      }
      throw databaseError('transaction', err)
    } finally {
      // A client whose connection failed is destroyed rather than returned to the pool.
      client.release(broken ? true : undefined)
    }
  }

  async tryLock(key: string): Promise<DatabaseLock | undefined> {
    // A session of its own: a pooled client would drop the lock when it is released or recycled.
    const client = new pg.Client({ connectionString: this.url })
    let held = false
    client.on('error', () => (held = false))
    client.on('end', () => (held = false))
    try {
      await client.connect()
      const r = await client.query<{ ok: boolean }>('SELECT pg_try_advisory_lock(hashtext($1)) AS ok', [key])
      held = r.rows[0]?.ok === true
    } catch (err) {
      await client.end().catch(() => undefined)
      throw databaseError(`locking ${key}`, err)
    }
    if (!held) {
      await client.end().catch(() => undefined)
      return undefined
    }
    return {
      get held() {
        return held
      },
      release: async () => {
        held = false
        await client.end().catch(() => undefined)
      },
    }
  }

  async close(): Promise<void> {
    await this.pool.end()
  }
}

function firstLine(sql: string): string {
  const line = sql.trim().split('\n')[0]
  return line.length > 80 ? `${line.slice(0, 77)}...` : line
}
