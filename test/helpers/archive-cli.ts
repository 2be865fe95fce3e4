/**
 * Helpers for end-to-end tests of `tickflow archive` and `tickflow query` as child processes:
 * a `tickflow broker` child to archive from, and the database those commands use — the embedded
 * PGlite of a data dir, or (when TICKFLOW_TEST_DATABASE_URL is set) a schema of its own on the
 * PostgreSQL server, dropped afterwards — as the test sees it.
 *
 * The test sees the embedded database the way another command would: through the local port the
 * running archiver serves it on (named in `<data dir>/db/db.lock`), else — only while no command
 * holds it — by opening the directory itself.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import pg from 'pg'
import { DB_LOCK } from '../../src/cli/database.ts'
import { DataDirLock, readLock } from '../../src/files/dir-lock.ts'
import { openDatabase, type Database } from '../../src/store/database.ts'
import { eventually, tempDir } from './broker.ts'
import { closedAddress, cliEnv, startCli, type RunningCli } from './cli.ts'
import { testSchema } from './store.ts'

/** A test's child processes, all killed (and waited for) before its directories are removed. */
export interface Scene {
  t: TestContext
  /** A temporary directory, removed after the test. */
  dir(prefix?: string): string
  /** Starts `tickflow args...`; SIGKILLed after the test if it still runs. */
  start(args: string[], options: { env: NodeJS.ProcessEnv; cwd: string }): RunningCli
}

export function scene(t: TestContext): Scene {
  const running = new Set<RunningCli>()
  // Registered before any directory: hooks run in order, so the processes are gone first.
  t.after(async () => {
    for (const run of running)
      if (run.child.exitCode === null && run.child.signalCode === null) run.child.kill('SIGKILL')
    await Promise.all([...running].map((r) => r.exited.catch(() => undefined)))
  })
  return {
    t,
    dir: (prefix) => tempDir(t, prefix),
    start(args, options) {
      const run = startCli(args, options)
      running.add(run)
      return run
    },
  }
}

/** A `tickflow broker` child process. */
export interface BrokerProcess {
  /** Its `127.0.0.1:PORT`. */
  address: string
  run: RunningCli
}

/** Starts `tickflow broker` on a free port and a fresh data dir; waits for its address. */
export async function startBrokerProcess(s: Scene): Promise<BrokerProcess> {
  const dir = s.dir('tickflow-broker-')
  const env = cliEnv({ TICKFLOW_LOCAL_BROKER: await closedAddress(), TICKFLOW_DATA_DIR: dir })
  const run = s.start(['broker', '--listen', '127.0.0.1:0', '--data-dir', dir, '--log-level', 'warn'], {
    env,
    cwd: dir,
  })
  const line = await eventually(
    () => {
      if (run.child.exitCode !== null) throw new Error(`tickflow broker exited: ${run.stderr()}`)
      return /^tickflow broker listening on (127\.0\.0\.1:\d+) /m.exec(run.stdout())
    },
    30_000,
    'tickflow broker to listen',
  )
  return { address: line[1], run }
}

/** Where a test's commands run: a working directory and data dir, against a broker child. */
export interface Workspace {
  /** The working directory, also TICKFLOW_DATA_DIR (the embedded database is `<dir>/db`). */
  dir: string
  env: NodeJS.ProcessEnv
  options: { env: NodeJS.ProcessEnv; cwd: string }
}

/** A fresh working directory whose commands use `broker` (TICKFLOW_BROKERS) and no local broker. */
export async function workspace(s: Scene, broker: BrokerProcess): Promise<Workspace> {
  const dir = s.dir()
  const env = cliEnv({ TICKFLOW_LOCAL_BROKER: await closedAddress(), TICKFLOW_DATA_DIR: dir })
  env.TICKFLOW_BROKERS = broker.address
  return { dir, env, options: { env, cwd: dir } }
}

/** The database `tickflow archive` and `tickflow query` use in a test. */
export interface CliDatabase {
  name: 'pglite' | 'postgres'
  /** The options of archive and query that choose it (none for the embedded database). */
  args: string[]
  /**
   * Runs `fn` on the database: the server; for PGlite, the embedded database through the port
   * of the command serving it, else opened here for the call (nothing else may be opening it).
   */
  use<T>(fn: (db: Database) => Promise<T>): Promise<T>
}

export interface CliDatabaseTarget {
  name: 'pglite' | 'postgres'
  /** The database of a workspace (its data dir for PGlite, a fresh schema on the server). */
  open(s: Scene, w: Workspace): Promise<CliDatabase>
}

/** The embedded database always; the server too when TICKFLOW_TEST_DATABASE_URL is set. */
export function cliDatabaseTargets(): CliDatabaseTarget[] {
  const targets: CliDatabaseTarget[] = [{ name: 'pglite', open: async (_s, w) => embedded(w.dir) }]
  const url = testDatabaseUrl()
  if (url !== undefined) targets.push({ name: 'postgres', open: (s) => server(s, url) })
  return targets
}

/** TICKFLOW_TEST_DATABASE_URL, when set. */
export function testDatabaseUrl(): string | undefined {
  const url = process.env.TICKFLOW_TEST_DATABASE_URL
  return url === undefined || url === '' ? undefined : url
}

/** The embedded database of the data dir `dataDir`. */
export function embedded(dataDir: string): CliDatabase {
  const dir = path.join(dataDir, 'db')
  return {
    name: 'pglite',
    args: [],
    async use(fn) {
      const owner = await servedBy(dir)
      if (owner !== undefined) {
        const db = await openDatabase({ url: `postgres://tickflow@${owner.host}:${owner.port}/postgres` })
        try {
          return await fn(db)
        } finally {
          await db.close()
        }
      }
      // Held meanwhile, as a command holds it: one that starts now waits for it.
      const lock = DataDirLock.acquire(dir, '127.0.0.1', DB_LOCK)
      try {
        const db = await openDatabase({ dataDir: dir })
        try {
          return await fn(db)
        } finally {
          await db.close()
        }
      } finally {
        lock.release()
      }
    },
  }
}

/** The live owner of the embedded database in `dir` and the port it serves it on, if any. */
async function servedBy(dir: string): Promise<{ pid: number; host: string; port: number } | undefined> {
  if (!fs.existsSync(dir)) return undefined
  // A command still starting has the lock but no port yet: wait for it.
  return eventually(
    () => {
      const owner = readLock(dir, DB_LOCK)
      if (owner === undefined) return { none: true as const }
      return owner.port > 0 ? { none: false as const, owner } : undefined
    },
    60_000,
    `the owner of ${dir} to serve it`,
  ).then((r) => (r.none ? undefined : r.owner))
}

/**
 * A fresh schema on the server at `url`, dropped after the test; commands reach the server at
 * `commandUrl` (default `url`; e.g. through a proxy).
 */
export async function server(s: Scene, url: string, commandUrl = url): Promise<CliDatabase> {
  const schema = testSchema()
  const db = await openDatabase({ url, schema })
  s.t.after(async () => {
    await db.query(`DROP SCHEMA IF EXISTS ${db.schema} CASCADE`).catch(() => undefined)
    await db.close()
  })
  return { name: 'postgres', args: ['--database-url', commandUrl, '--schema', schema], use: (fn) => fn(db) }
}

/**
 * The next offsets `consumer_offsets` holds for `topic` and `consumer` (default `archive`), by partition (0 for a partition with no
 * row: nothing archived from it yet); all 0 before the archiver has created its tables.
 */
export async function archivedOffsets(
  db: Database,
  topic: string,
  partitions: number,
  consumer = 'archive',
): Promise<number[]> {
  const exists = await db.query<{ t: string | null }>(`SELECT to_regclass($1)::text AS t`, [
    `${db.schema}.consumer_offsets`,
  ])
  const out = new Array<number>(partitions).fill(0)
  if (exists.rows[0].t === null) return out
  const r = await db.query<{ partition: number; next: number }>(
    `SELECT partition, next_offset::float8 AS next FROM ${db.schema}.consumer_offsets WHERE consumer = $1 AND topic = $2`,
    [consumer, topic],
  )
  for (const row of r.rows) out[row.partition] = Number(row.next)
  return out
}

/** True once the archive holds every partition of `topic` up to `ends`. */
export async function archivedUpTo(store: CliDatabase, topic: string, ends: readonly number[]): Promise<boolean> {
  const at = await store.use((db) => archivedOffsets(db, topic, ends.length))
  return at.every((o, p) => o === ends[p])
}

/** One query on the server at `url` with a client of its own (no pool, no schema set-up). */
export async function sql<R extends pg.QueryResultRow>(
  url: string,
  text: string,
  params: unknown[] = [],
): Promise<R[]> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return (await client.query<R>(text, params)).rows
  } finally {
    await client.end()
  }
}
