/**
 * Which database a command uses, in order:
 *   1. `--database-url` or TICKFLOW_DATABASE_URL: that PostgreSQL server;
 *   2. the embedded database of another tickflow command that holds `<data dir>/db` (its
 *      `db.lock` names the local port it serves the PostgreSQL protocol on);
 *   3. otherwise the embedded PGlite database in `<data dir>/db`, opened in this process — and,
 *      for long-running commands, served on a local port so that others can use it meanwhile.
 *      Locks on an embedded database are also lock files in its directory (see file-locks.ts).
 * The choice is said in one line on stderr.
 */
import fs from 'node:fs'
import path from 'node:path'
import { isTickflowError, ErrorCodes, TickflowError } from '../errors.ts'
import { DataDirLock, readLock, type LockKind } from '../files/dir-lock.ts'
import { DEFAULT_SCHEMA, openDatabase, redactUrl, type Database } from '../store/database.ts'
import { withFileLocks } from '../store/file-locks.ts'
import type { OptionSpec } from './command.ts'

/** The embedded database's lock in its directory. */
export const DB_LOCK: LockKind = { file: 'db.lock', holder: 'database' }

export const DATABASE_OPTIONS: Record<string, OptionSpec> = {
  'database-url': {
    type: 'string',
    value: 'URL',
    description:
      'PostgreSQL server, postgres://user@host/db (default: TICKFLOW_DATABASE_URL, else embedded PGlite in <data dir>/db)',
  },
  schema: { type: 'string', value: 'NAME', default: DEFAULT_SCHEMA, description: 'Schema of the tables' },
}

export interface Store {
  db: Database
  /** How the database was found: one line for the user. */
  description: string
  kind: 'server' | 'shared' | 'embedded'
  /** The local port the embedded database is served on (when this process serves it). */
  port?: number
  close(): Promise<void>
}

export interface OpenStoreOptions {
  url?: string
  dataDir?: string
  schema?: string
  /** Serve the embedded database on a local port while it is open (long-running commands). */
  serve?: boolean
  /**
   * Commands that only read: the database must hold tickflow's tables already; nothing is created
   * (no embedded database directory, no schema).
   */
  readOnly?: boolean
  env?: NodeJS.ProcessEnv
  say?: (line: string) => void
}

/** Resolves and opens the database as described above. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const env = options.env ?? process.env
  const schema = options.schema ?? DEFAULT_SCHEMA
  const url = options.url ?? (env.TICKFLOW_DATABASE_URL === '' ? undefined : env.TICKFLOW_DATABASE_URL)
  const store = await resolve(url, options.url !== undefined, options, env, schema)
  options.say?.(`tickflow: ${store.description}`)
  return store
}

async function resolve(
  url: string | undefined,
  fromFlag: boolean,
  options: OpenStoreOptions,
  env: NodeJS.ProcessEnv,
  schema: string,
): Promise<Store> {
  const createSchema = options.readOnly !== true
  if (url !== undefined) {
    const db = await openDatabase({ url, schema, createSchema })
    return {
      db,
      description: `using the database ${redactUrl(url)} (${fromFlag ? '--database-url' : 'TICKFLOW_DATABASE_URL'})`,
      kind: 'server',
      close: () => db.close(),
    }
  }
  const dir = path.join(options.dataDir ?? (env.TICKFLOW_DATA_DIR || './data'), 'db')
  for (let attempt = 0; ; attempt++) {
    const owner = readLock(dir, DB_LOCK)
    if (owner !== undefined && owner.port > 0) {
      const db = withFileLocks(
        await openDatabase({ url: `postgres://tickflow@${owner.host}:${owner.port}/postgres`, schema, createSchema }),
        dir,
      )
      return {
        db,
        description: `using the embedded database of process ${owner.pid} on ${owner.host}:${owner.port} (${dir})`,
        kind: 'shared',
        close: () => db.close(),
      }
    }
    if (options.readOnly === true && !fs.existsSync(path.join(dir, 'PG_VERSION'))) {
      throw new TickflowError(
        ErrorCodes.NOTHING_ARCHIVED,
        `there is no embedded database in ${dir}: nothing is archived yet (run tickflow archive or tickflow up)`,
      )
    }
    let lock: DataDirLock
    try {
      lock = DataDirLock.acquire(dir, '127.0.0.1', DB_LOCK)
    } catch (err) {
      // Another command is opening it (its lock has no port yet): wait for its address.
      if (isTickflowError(err, ErrorCodes.DATA_DIR_LOCKED) && attempt < 100) {
        await new Promise((r) => setTimeout(r, 100))
        continue
      }
      throw err
    }
    try {
      const pglite = await openDatabase({ dataDir: dir, schema, createSchema })
      const db = withFileLocks(pglite, dir)
      let port: number | undefined
      let stopServing = async (): Promise<void> => undefined
      if (options.serve === true) {
        const { servePglite } = await import('../store/pglite-server.ts')
        const { PgliteDatabase } = await import('../store/pglite-driver.ts')
        if (pglite instanceof PgliteDatabase) {
          const server = await servePglite(pglite)
          port = server.port
          lock.setAddress(server.host, server.port)
          stopServing = () => server.close()
        }
      }
      return {
        db,
        description:
          `using the embedded database in ${dir}` +
          (port === undefined ? '' : `, served on 127.0.0.1:${port} while this runs`),
        kind: 'embedded',
        port,
        close: async () => {
          try {
            await stopServing()
            await db.close()
          } finally {
            lock.release()
          }
        },
      }
    } catch (err) {
      lock.release()
      throw err
    }
  }
}

/** `openStore` with the command's --database-url/--schema/--data-dir values, saying the choice on stderr. */
export function openStoreFromOptions(
  values: Record<string, string | boolean | undefined>,
  say: (line: string) => void,
  serve = false,
  readOnly = false,
): Promise<Store> {
  return openStore({
    readOnly,
    url: values['database-url'] as string | undefined,
    dataDir: values['data-dir'] as string | undefined,
    schema: values.schema as string | undefined,
    serve,
    say,
  })
}
