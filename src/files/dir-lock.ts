/**
 * Directory locks: `<dir>/broker.lock` so that two brokers never open one data directory at once,
 * `<dir>/db.lock` likewise for the embedded database. The file is created exclusively and names
 * its owner — pid, the address clients should use and the start time — as one JSON object:
 *
 *   { "pid": 4242, "host": "127.0.0.1", "port": 9092, "startedAt": "2025-01-01T00:00:00.000Z" }
 *
 * A lock whose pid is no longer running (a SIGKILLed broker) or whose file is not a lock is stale
 * and taken over. Within one process, brokers on different directories coexist, so the pid alone
 * cannot tell ours from a leftover: an in-process set of locked directories decides, and a lock
 * file carrying our own pid that is not in that set is a leftover (in a container, a restarted
 * broker often gets the same pid as the killed one).
 *
 * Known limits: liveness is `kill(pid, 0)`, so a dead owner whose pid was reused by an unrelated
 * process still holds the lock until that process exits (or the file is deleted by hand). Worker
 * threads share the pid but not the in-process set: brokers must not run in two threads of one
 * process on the same directory.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { ErrorCodes, TickflowError } from '../errors.ts'
import { writeFileAtomic } from './atomic-file.ts'

/** What a lock is for: its file name in the directory, and what holds it (for messages). */
export interface LockKind {
  file: string
  /** `broker`, `database`: "in use by another broker of this process". */
  holder: string
}

/** The broker's data-directory lock. */
export const BROKER_LOCK: LockKind = { file: 'broker.lock', holder: 'broker' }

/** The lock file's name inside a broker's data directory. */
export const LOCK_FILE = BROKER_LOCK.file

/** The owner of a locked directory, as its lock file states it. */
export interface LockInfo {
  pid: number
  /** The advertised address: where clients reach the owning broker. */
  host: string
  /** 0 while the owner is still starting (recovering its logs, not listening yet). */
  port: number
  /** ISO 8601 time at which the owner took the lock. */
  startedAt: string
}

/**
 * Real paths of the lock files held by this process. Kept on globalThis under a
 * registered symbol so that two loaded copies of this module (two installs, two import URLs) share
 * it: with separate sets, each would take the other's lock, which carries our pid, for a leftover.
 */
const registry = globalThis as unknown as Record<symbol, Set<string> | undefined>
const LOCKED_HERE = Symbol.for('tickflow.lockedDirectories')
const lockedHere = (registry[LOCKED_HERE] ??= new Set<string>())

/**
 * An unparsable lock file younger than this may be one another process has just created and not
 * yet written (exclusive creation and the write are two steps): not stale yet.
 */
const UNWRITTEN_GRACE_MS = 2000

/** A held data-directory lock. Obtain one with {@link DataDirLock.acquire}. */
export class DataDirLock {
  /** The lock file's path (in the directory's real path). */
  readonly file: string
  /** The data directory's real path: symlinks and relative paths resolved. */
  readonly dir: string
  private info: LockInfo
  private released = false

  private constructor(dir: string, file: string, info: LockInfo) {
    this.dir = dir
    this.file = file
    this.info = info
  }

  /**
   * Locks `dataDir` (created when missing) for this process, replacing a stale lock. `host` is
   * written as the address until {@link setAddress} gives the real one. Throws
   * TICKFLOW_ERR_DATA_DIR_LOCKED when a live broker holds it, in this process or another.
   */
  static acquire(dataDir: string, host: string, kind: LockKind = BROKER_LOCK): DataDirLock {
    fs.mkdirSync(dataDir, { recursive: true })
    const dir = fs.realpathSync(dataDir)
    const file = path.join(dir, kind.file)
    if (lockedHere.has(file)) {
      const owner = parseLock(readText(file) ?? '')
      throw new TickflowError(
        ErrorCodes.DATA_DIR_LOCKED,
        `data directory ${dir} is in use by another ${kind.holder} of this process (pid ${process.pid}` +
          `${owner === undefined ? '' : `, ${describeAddress(owner)}`})`,
      )
    }
    // A few rounds: each failed exclusive create meets a lock that is live (throw), stale (removed,
    // then retried) or gone meanwhile (retried). Endless churn means others are racing for it.
    for (let round = 0; round < 5; round++) {
      const info: LockInfo = { pid: process.pid, host, port: 0, startedAt: new Date().toISOString() }
      if (createExclusive(file, info)) {
        lockedHere.add(file)
        return new DataDirLock(dir, file, info)
      }
      const state = inspect(file)
      if (state.kind === 'live') {
        const o = state.owner
        throw new TickflowError(
          ErrorCodes.DATA_DIR_LOCKED,
          `data directory ${dir} is in use by process ${o.pid} (${describeAddress(o)}, since ${o.startedAt}); ` +
            `if that is not a tickflow ${kind.holder}, delete ${file}`,
        )
      }
      if (state.kind === 'unwritten') {
        throw new TickflowError(
          ErrorCodes.DATA_DIR_LOCKED,
          `data directory ${dir} is being locked by another process (${file} is not written yet)`,
          { retriable: true },
        )
      }
      if (state.kind === 'stale') removeStale(file, state.text)
    }
    throw new TickflowError(
      ErrorCodes.DATA_DIR_LOCKED,
      `data directory ${dir}: could not take ${file}, other processes keep changing it`,
      { retriable: true },
    )
  }

  /** The lock file's current contents. */
  get owner(): LockInfo {
    return { ...this.info }
  }

  /** Rewrites the lock with the address clients should use (once the broker listens). */
  setAddress(host: string, port: number): void {
    if (this.released) throw new TickflowError(ErrorCodes.CLOSED, `the lock on ${this.dir} was released`)
    this.info = { ...this.info, host, port }
    // Atomic so that readers never see half a file; no fsync: after a power loss the pid is dead
    // and the lock stale whatever it says.
    writeFileAtomic(this.file, JSON.stringify(this.info), { fsync: false })
  }

  /** Deletes the lock file (if it is still ours) and forgets the directory. Idempotent. */
  release(): void {
    if (this.released) return
    this.released = true
    try {
      const current = parseLock(readText(this.file) ?? '')
      // Never delete a lock another process took over (it may have judged ours stale).
      if (current !== undefined && current.pid === this.info.pid && current.startedAt === this.info.startedAt) {
        fs.rmSync(this.file, { force: true })
      }
    } catch {
      // Left behind, the file carries our pid: a later broker of this process, or any process
      // once we exit, sees it as stale.
    } finally {
      lockedHere.delete(this.file)
    }
  }
}

/**
 * The owner of `dataDir`'s lock when that owner is running — a broker in another process (or in
 * this one) — else undefined (no lock, a stale one, or no such directory). Its `port` is 0 while
 * the broker is still starting.
 */
export function readBrokerLock(dataDir: string): LockInfo | undefined {
  return readLock(dataDir, BROKER_LOCK)
}

/** As {@link readBrokerLock}, for a lock of any kind. */
export function readLock(dataDir: string, kind: LockKind): LockInfo | undefined {
  let dir: string
  try {
    dir = fs.realpathSync(dataDir)
  } catch {
    return undefined
  }
  const state = inspect(path.join(dir, kind.file))
  return state.kind === 'live' ? state.owner : undefined
}

type LockState =
  { kind: 'absent' } | { kind: 'live'; owner: LockInfo } | { kind: 'unwritten' } | { kind: 'stale'; text: string }

function inspect(file: string): LockState {
  let text: string | undefined
  let mtimeMs = 0
  try {
    text = readText(file)
    if (text !== undefined) mtimeMs = fs.statSync(file).mtimeMs
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    text = undefined
  }
  if (text === undefined) return { kind: 'absent' }
  const owner = parseLock(text)
  if (owner === undefined) {
    return Date.now() - mtimeMs < UNWRITTEN_GRACE_MS ? { kind: 'unwritten' } : { kind: 'stale', text }
  }
  if (owner.pid === process.pid) return lockedHere.has(file) ? { kind: 'live', owner } : { kind: 'stale', text }
  return isAlive(owner.pid) ? { kind: 'live', owner } : { kind: 'stale', text }
}

/** True unless the process certainly does not exist (EPERM: it exists, under another user). */
function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (err) {
    return (err as NodeJS.ErrnoException).code !== 'ESRCH'
  }
}

function parseLock(text: string): LockInfo | undefined {
  let v: unknown
  try {
    v = JSON.parse(text)
  } catch {
    return undefined
  }
  if (typeof v !== 'object' || v === null) return undefined
  const { pid, host, port, startedAt } = v as Record<string, unknown>
  // pid must be positive: kill(0 or -n, 0) would probe process groups, not a process.
  if (typeof pid !== 'number' || !Number.isSafeInteger(pid) || pid <= 0) return undefined
  if (typeof host !== 'string' || typeof startedAt !== 'string') return undefined
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 0 || port > 65535) return undefined
  return { pid, host, port, startedAt }
}

/** The file's text, or undefined when it does not exist. */
function readText(file: string): string | undefined {
  try {
    return fs.readFileSync(file, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined
    throw err
  }
}

/** Creates the lock file with `info` unless it exists; false when it does. */
function createExclusive(file: string, info: LockInfo): boolean {
  let fd: number
  try {
    fd = fs.openSync(file, 'wx')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false
    throw err
  }
  try {
    fs.writeFileSync(fd, JSON.stringify(info))
  } catch (err) {
    fs.closeSync(fd)
    fs.rmSync(file, { force: true })
    throw err
  }
  fs.closeSync(fd)
  return true
}

/**
 * Removes a stale lock whose text was `text`. It is first renamed aside — atomic — and checked:
 * if another process replaced the stale lock with its own between our read and the rename, that
 * lock is put back rather than deleted (plain unlink-then-create would let two processes that
 * both saw the stale lock each delete the other's fresh one and both proceed).
 */
function removeStale(file: string, text: string): void {
  const aside = `${file}.stale-${process.pid}-${randomBytes(4).toString('hex')}`
  try {
    fs.renameSync(file, aside)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  try {
    if (readText(aside) !== text) {
      try {
        // A link never replaces: if yet another process has locked meanwhile, its lock stands.
        fs.linkSync(aside, file)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') fs.renameSync(aside, file)
      }
    }
  } finally {
    fs.rmSync(aside, { force: true })
  }
}

/** "broker at host:port", or that it is not listening yet. */
function describeAddress(o: LockInfo): string {
  return o.port === 0 ? 'broker starting, not listening yet' : `broker at ${o.host}:${o.port}`
}
