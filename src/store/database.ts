/**
 * One interface over PostgreSQL, with two drivers: PGlite (Postgres compiled to WebAssembly,
 * running in this process on files under the data directory — the default, nothing to install)
 * and `pg` against a PostgreSQL server (`--database-url` / TICKFLOW_DATABASE_URL). Every table
 * lives in one schema (default `tickflow`), so tickflow shares a server's database with others.
 *
 * The archiver's exactly-once commits need `transaction` (one connection for the whole
 * transaction) and `copyFrom` (COPY … FROM STDIN in binary format, the fastest way in on both
 * drivers); queries need `query`. Errors come out as TICKFLOW_ERR_DATABASE, `retriable` when the
 * connection failed or the server is going away (the caller may try again).
 */
import { ErrorCodes, TickflowError } from '../errors.ts'

/** Rows as the driver returns them; bigint columns should be cast (`::float8`, `::text`) in SQL. */
export interface QueryResult<R> {
  rows: R[]
  /** Rows inserted, updated or deleted (0 for a SELECT). */
  rowCount: number
}

/** COPY's data formats: binary (the default) and text. */
export type CopyFormat = 'binary' | 'text'

/** What a statement runs on: the database, or one transaction of it. */
export interface Sql {
  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>>
  /**
   * Runs `COPY <target> FROM STDIN` with `data` in COPY's binary format (see copy-binary.ts), or
   * in its text format when `format` says so; `target` is `table (col, …)`. Returns the rows
   * copied.
   */
  copyFrom(target: string, data: string | Buffer, format?: CopyFormat): Promise<number>
}

export interface Database extends Sql {
  readonly kind: 'pglite' | 'postgres'
  /** Where the data is, for messages: `embedded PGlite in data/db`, or the URL without password. */
  readonly description: string
  /** The schema holding tickflow's tables (a quoted identifier, safe to put in SQL). */
  readonly schema: string
  /** Runs `fn` in one transaction: committed when it resolves, rolled back when it throws. */
  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T>
  /**
   * Takes the advisory lock named `key` for as long as it is held (a session of its own on a
   * server), or returns undefined when someone else holds it.
   */
  tryLock(key: string): Promise<DatabaseLock | undefined>
  close(): Promise<void>
}

/** An advisory lock held by {@link Database.tryLock}. */
export interface DatabaseLock {
  /** False once the session holding it is gone (the server restarted): the lock may be anyone's. */
  readonly held: boolean
  release(): Promise<void>
}

export interface DatabaseOptions {
  /** A `postgres://` URL: use that server. Absent: embedded PGlite in `dataDir`. */
  url?: string
  /** The PGlite directory (default `./data/db`). */
  dataDir?: string
  /** The schema of tickflow's tables (default `tickflow`). */
  schema?: string
  /** Create the schema when missing (default true; false for commands that only read). */
  createSchema?: boolean
}

/** The default schema. */
export const DEFAULT_SCHEMA = 'tickflow'

/** Opens the database `options` name; the schema is created when missing. */
export async function openDatabase(options: DatabaseOptions = {}): Promise<Database> {
  const schema = quoteIdentifier(options.schema ?? DEFAULT_SCHEMA)
  let db: Database
  if (options.url !== undefined) {
    const { openPostgres } = await import('./pg-driver.ts')
    db = await openPostgres(options.url, schema)
  } else {
    const { openPglite } = await import('./pglite-driver.ts')
    db = await openPglite(options.dataDir ?? 'data/db', schema)
  }
  try {
    if (options.createSchema !== false) await db.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`)
  } catch (err) {
    await db.close()
    throw err
  }
  return db
}

/** `name` as a quoted SQL identifier. @throws TICKFLOW_ERR_INVALID_ARGUMENT for an empty or NUL name */
export function quoteIdentifier(name: string): string {
  if (name.length === 0 || name.length > 63 || name.includes('\0')) {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `not a usable SQL identifier: ${JSON.stringify(name)}`)
  }
  return `"${name.replaceAll('"', '""')}"`
}

// SQLSTATE classes and codes after which the same statement may work once the server is back:
// connection exceptions, admin shutdown / crash shutdown / cannot connect now, and too many
// connections.
const RETRIABLE_SQLSTATE = /^(08|57P0[1-3]|53300|40001|40P01)/
const RETRIABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENOTFOUND'])

/** A driver error as TICKFLOW_ERR_DATABASE, naming `what` was being done. */
export function databaseError(what: string, err: unknown): TickflowError {
  if (err instanceof TickflowError) return err
  const e = err as { code?: unknown; message?: unknown }
  const code = typeof e?.code === 'string' ? e.code : undefined
  const message = typeof e?.message === 'string' && e.message !== '' ? e.message : String(err)
  const connectionLost = /Connection terminated|connection.*(closed|lost|ended)|Client has encountered/i.test(message)
  const retriable =
    (code !== undefined && (RETRIABLE_SQLSTATE.test(code) || RETRIABLE_NODE_CODES.has(code))) || connectionLost
  return new TickflowError(ErrorCodes.DATABASE, `${what}: ${message}${code ? ` (${code})` : ''}`, {
    cause: err,
    retriable,
  })
}

/** The SQLSTATE of a database error (`23505` for a unique violation), if it has one. */
export function sqlState(err: unknown): string | undefined {
  const cause =
    err instanceof TickflowError ? (err.cause as { code?: unknown } | undefined) : (err as { code?: unknown })
  return typeof cause?.code === 'string' ? cause.code : undefined
}

/** A `postgres://user:secret@host/db` URL with the password masked, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url)
    if (u.password !== '') u.password = '***'
    return u.toString()
  } catch {
    return 'a database URL'
  }
}
