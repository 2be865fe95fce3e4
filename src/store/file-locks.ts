/**
 * Locks that also hold across processes through files, for the embedded database. PGlite is one
 * session, which the process holding it serves to every other tickflow process over its local
 * port: an advisory lock taken through that port is re-entrant for all of them, so it cannot keep
 * a second archiver of the same name out. A lock file in the database's directory can, since every
 * process using that database is on this machine:
 *
 *   <db dir>/locks/<key>.lock      { "pid": 4242, "host": "127.0.0.1", "port": 0, "startedAt": … }
 *
 * A lock file whose process has died (kill -9) is stale and taken over (see dir-lock.ts). The
 * database's own lock is still taken after the file, so the database alone decides where it can.
 */
import { createHash } from 'node:crypto'
import path from 'node:path'
import { isTickflowError, ErrorCodes } from '../errors.ts'
import { DataDirLock } from '../files/dir-lock.ts'
import type { CopyFormat, Database, DatabaseLock, QueryResult, Sql } from './database.ts'

/** `db`, whose {@link Database.tryLock} first takes a lock file in `dir`/locks. */
export function withFileLocks(db: Database, dir: string): Database {
  return new FileLockedDatabase(db, path.join(dir, 'locks'))
}

/** The lock file's name for `key`: readable, and unique through a hash of the whole key. */
export function lockFileName(key: string): string {
  const readable = key.replace(/[^A-Za-z0-9._-]+/g, '_').slice(0, 80)
  const hash = createHash('sha256').update(key).digest('hex').slice(0, 12)
  return `${readable}-${hash}.lock`
}

class FileLockedDatabase implements Database {
  private readonly db: Database
  private readonly dir: string

  constructor(db: Database, dir: string) {
    this.db = db
    this.dir = dir
  }

  get kind(): Database['kind'] {
    return this.db.kind
  }

  get description(): string {
    return this.db.description
  }

  get schema(): string {
    return this.db.schema
  }

  query<R = Record<string, unknown>>(text: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
    return this.db.query<R>(text, params)
  }

  copyFrom(target: string, data: string | Buffer, format?: CopyFormat): Promise<number> {
    return this.db.copyFrom(target, data, format)
  }

  transaction<T>(fn: (tx: Sql) => Promise<T>): Promise<T> {
    return this.db.transaction(fn)
  }

  async tryLock(key: string): Promise<DatabaseLock | undefined> {
    let file: DataDirLock
    try {
      file = DataDirLock.acquire(this.dir, '127.0.0.1', { file: lockFileName(key), holder: 'lock holder' })
    } catch (err) {
      // Held by a live process (this one included), or being taken right now.
      if (isTickflowError(err, ErrorCodes.DATA_DIR_LOCKED)) return undefined
      throw err
    }
    let inner: DatabaseLock | undefined
    try {
      inner = await this.db.tryLock(key)
    } finally {
      if (inner === undefined) file.release()
    }
    if (inner === undefined) return undefined
    const held = inner
    return {
      get held() {
        return held.held
      },
      release: async () => {
        try {
          await held.release()
        } finally {
          file.release()
        }
      },
    }
  }

  close(): Promise<void> {
    return this.db.close()
  }
}
