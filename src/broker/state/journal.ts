/**
 * A durable append-only journal of small entries: the broker's state files (committed offsets,
 * group generations, producer ids, transactions) are each one journal that is replayed on open.
 *
 * File format, one record after another, no file header:
 *
 *   Record => crc:uint32 length:uint32 payload:bytes[length]
 *
 * `crc` is the CRC-32C of `length` and `payload` together (the bytes from offset 4 to the end of
 * the record), so a zero-filled or half-written tail fails the check. Replay stops at the first
 * record that is short, has a zero or oversized length, or fails its CRC, and truncates the file
 * there: a crash mid-append loses only the entry that was never acknowledged.
 *
 * Writes are synchronous (`writeSync`), so the order of entries in the file is the order of the
 * calls; durability is asynchronous: {@link Journal.sync} coalesces every write made before it
 * into one `fsync` (group commit), so a burst of appends costs one disk flush, not one each.
 */
import fs from 'node:fs'
import path from 'node:path'
import { crc32c } from '../../protocol/crc32c.ts'
import { ErrorCodes, TickflowError } from '../../errors.ts'

const HEADER_BYTES = 8

/** Options of {@link Journal.open}. */
export interface JournalOptions {
  /** fsync before `append`/`sync` promises resolve, and when compacting (default true). */
  fsync?: boolean
  /** A record longer than this is treated as corruption on replay and refused on append (default 16 MiB). */
  maxEntryBytes?: number
  /** {@link Journal.shouldCompact} never asks for a compaction below this file size (default 1 MiB). */
  compactMinBytes?: number
  /** {@link Journal.shouldCompact} asks once the file is this many times the live size (default 4). */
  compactRatio?: number
}

/** What {@link Journal.open} found in the file. */
export interface JournalOpenResult {
  journal: Journal
  /** The payloads of the valid records, in file order. */
  entries: Buffer[]
  /** Bytes cut from a torn or corrupt tail (0 when the file was clean). */
  truncatedBytes: number
}

interface Deferred {
  promise: Promise<void>
  resolve: () => void
  reject: (err: unknown) => void
}

function deferred(): Deferred {
  let resolve!: () => void
  let reject!: (err: unknown) => void
  const promise = new Promise<void>((res, rej) => {
    resolve = res
    reject = rej
  })
  return { promise, resolve, reject }
}

const RESOLVED = Promise.resolve()

/** A durable append-only journal; see the module comment for the format and guarantees. */
export class Journal {
  /** The journal's file. */
  readonly file: string
  private fd: number
  private bytes: number
  private records: number
  private baselineBytes: number
  private readonly fsyncEnabled: boolean
  private readonly maxEntryBytes: number
  private readonly compactMinBytes: number
  private readonly compactRatio: number
  // Bytes were written after the last fsync started: a new fsync is needed to cover them.
  private dirty = false
  private inFlight: Promise<void> | null = null
  // Waiters for the fsync after the one in flight (or for one scheduled on the next turn).
  private next: Deferred | null = null
  // Descriptors replaced by a compaction while an fsync on them was still running.
  private retired: number[] = []
  private failure: TickflowError | null = null
  private closed = false
  private fsyncs = 0

  private constructor(file: string, fd: number, bytes: number, records: number, options: JournalOptions) {
    this.file = file
    this.fd = fd
    this.bytes = bytes
    this.records = records
    this.baselineBytes = bytes
    this.fsyncEnabled = options.fsync ?? true
    this.maxEntryBytes = options.maxEntryBytes ?? 16 * 1024 * 1024
    this.compactMinBytes = options.compactMinBytes ?? 1024 * 1024
    this.compactRatio = options.compactRatio ?? 4
  }

  /**
   * Opens (creating it and its directory when missing) and replays the journal at `file`,
   * synchronously. A torn or corrupt tail is truncated, never fatal; a leftover temporary file of
   * an interrupted compaction is removed (the rename is the commit point, so the old file is whole).
   */
  static open(file: string, options: JournalOptions = {}): JournalOpenResult {
    const dir = path.dirname(file)
    fs.mkdirSync(dir, { recursive: true })
    fs.rmSync(tempPath(file), { force: true })
    const existed = fs.existsSync(file)
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT, 0o644)
    try {
      const size = fs.fstatSync(fd).size
      const data = Buffer.allocUnsafe(size)
      let read = 0
      while (read < size) {
        const n = fs.readSync(fd, data, read, size - read, read)
        if (n === 0) break
        read += n
      }
      const maxEntryBytes = options.maxEntryBytes ?? 16 * 1024 * 1024
      const { entries, validBytes } = parseRecords(data.subarray(0, read), maxEntryBytes)
      const truncatedBytes = size - validBytes
      if (truncatedBytes > 0) {
        fs.ftruncateSync(fd, validBytes)
        if (options.fsync ?? true) fs.fsyncSync(fd)
      }
      // A new file's directory entry must be durable too, or a crash could forget the whole file.
      if (!existed && (options.fsync ?? true)) fsyncDir(dir)
      const journal = new Journal(file, fd, validBytes, entries.length, options)
      return { journal, entries, truncatedBytes }
    } catch (err) {
      fs.closeSync(fd)
      throw err
    }
  }

  /** Current file size in bytes. */
  get size(): number {
    return this.bytes
  }

  /** Records in the file (replayed, appended, or written by the last compaction). */
  get entryCount(): number {
    return this.records
  }

  /** fsync calls made so far by {@link sync} (compaction's own flushes are not counted). */
  get syncCount(): number {
    return this.fsyncs
  }

  /**
   * Writes one entry synchronously, without waiting for durability; a later {@link sync} (or the
   * fsync of any later {@link append}) covers it. Throws TICKFLOW_ERR_CLOSED after close,
   * TICKFLOW_ERR_LOG_CORRUPT when the file failed before or the write fails now, and
   * TICKFLOW_ERR_INVALID_ARGUMENT for an empty entry or one over `maxEntryBytes`.
   */
  write(entry: Buffer): void {
    this.assertWritable()
    const record = this.encodeRecord(entry)
    this.writeAt(record, this.bytes)
    this.bytes += record.length
    this.records++
    this.dirty = true
  }

  /**
   * Writes `entry` synchronously (see {@link write}) and returns a promise that resolves once it
   * is on disk: after a coalesced fsync, or at once when fsync is disabled.
   */
  append(entry: Buffer): Promise<void> {
    this.write(entry)
    return this.sync()
  }

  /**
   * Resolves when everything written so far is durable. Calls made while an fsync runs share the
   * next one; calls in the same event-loop turn share one fsync started on the following turn.
   */
  sync(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure)
    if (!this.fsyncEnabled) return RESOLVED
    if (!this.dirty) return this.inFlight ?? RESOLVED
    if (this.next === null) {
      this.next = deferred()
      // setImmediate lets the rest of this turn's writes (other requests read from the same socket
      // chunk) join the same fsync.
      if (this.inFlight === null) setImmediate(() => this.startSync())
    }
    return this.next.promise
  }

  /**
   * True when the file has outgrown the live state enough to be worth a {@link compact}:
   * at least `compactMinBytes` and `compactRatio` times `liveBytes` (default: the file size right
   * after the last compaction or open, which makes compaction cost amortized O(appended bytes)).
   */
  shouldCompact(liveBytes: number = this.baselineBytes): boolean {
    return this.bytes >= this.compactMinBytes && this.bytes >= this.compactRatio * Math.max(liveBytes, 1)
  }

  /**
   * Replaces the file's content with `liveEntries` atomically: writes a temporary file, fsyncs it,
   * renames it over the journal and fsyncs the directory. The caller guarantees that the entries
   * describe everything written so far, so writes still waiting for an fsync are durable after
   * this returns and their promises resolve.
   */
  compact(liveEntries: Iterable<Buffer>): void {
    this.assertWritable()
    const tmp = tempPath(this.file)
    const tfd = fs.openSync(tmp, 'w', 0o644)
    let bytes = 0
    let records = 0
    try {
      const chunks: Buffer[] = []
      let chunkBytes = 0
      const flush = (): void => {
        if (chunks.length === 0) return
        const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, chunkBytes)
        writeFully(tfd, buf, bytes - chunkBytes)
        chunks.length = 0
        chunkBytes = 0
      }
      for (const entry of liveEntries) {
        const record = this.encodeRecord(entry)
        chunks.push(record)
        chunkBytes += record.length
        bytes += record.length
        records++
        if (chunkBytes >= 1024 * 1024) flush()
      }
      flush()
      if (this.fsyncEnabled) fs.fsyncSync(tfd)
    } catch (err) {
      fs.closeSync(tfd)
      fs.rmSync(tmp, { force: true })
      throw err
    }
    fs.closeSync(tfd)
    fs.renameSync(tmp, this.file)
    if (this.fsyncEnabled) fsyncDir(path.dirname(this.file))

    const old = this.fd
    try {
      this.fd = fs.openSync(this.file, fs.constants.O_RDWR)
    } catch (err) {
      // The old descriptor now names the replaced file: writing on through it would be lost.
      this.failure = new TickflowError(ErrorCodes.LOG_CORRUPT, `reopen of ${this.file} failed`, { cause: err })
      throw this.failure
    }
    // An fsync running on the old descriptor must finish on a valid descriptor: close it afterwards.
    if (this.inFlight !== null) this.retired.push(old)
    else fs.closeSync(old)
    this.bytes = bytes
    this.records = records
    this.baselineBytes = bytes
    this.dirty = false
    const waiting = this.next
    this.next = null
    waiting?.resolve()
  }

  /** Resolves when every write so far is durable (a no-op promise when fsync is disabled). */
  flush(): Promise<void> {
    return this.sync()
  }

  /** Flushes, then closes the file. Later writes throw TICKFLOW_ERR_CLOSED. Idempotent. */
  async close(): Promise<void> {
    if (this.closed) return
    try {
      await this.sync()
    } finally {
      // sync() may have been joined by writes racing close; wait for a running fsync before closing.
      if (this.inFlight !== null) await this.inFlight.catch(() => undefined)
      if (!this.closed) {
        this.closed = true
        fs.closeSync(this.fd)
        for (const fd of this.retired) fs.closeSync(fd)
        this.retired = []
      }
    }
  }

  private startSync(): void {
    const waiting = this.next
    if (waiting === null) return // a compaction made everything durable already
    this.next = null
    if (this.closed || this.failure !== null) {
      if (this.failure !== null) waiting.reject(this.failure)
      else waiting.resolve()
      return
    }
    this.dirty = false
    this.inFlight = waiting.promise
    this.fsyncs++
    fs.fsync(this.fd, (err) => {
      this.inFlight = null
      for (const fd of this.retired) fs.closeSync(fd)
      this.retired = []
      if (err) {
        // After a failed fsync the kernel may have dropped the dirty pages: retrying cannot make
        // those writes durable, so the journal refuses all further work.
        this.failure = new TickflowError(ErrorCodes.LOG_CORRUPT, `fsync of ${this.file} failed`, { cause: err })
        waiting.reject(this.failure)
        const pending = this.next
        this.next = null
        pending?.reject(this.failure)
        return
      }
      waiting.resolve()
      if (this.next !== null) this.startSync()
    })
  }

  /** Frames one entry: crc, length, payload; refuses empty and oversized entries. */
  private encodeRecord(entry: Buffer): Buffer {
    if (entry.length === 0 || entry.length > this.maxEntryBytes) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `journal entry of ${entry.length} bytes`)
    }
    const record = Buffer.allocUnsafe(HEADER_BYTES + entry.length)
    record.writeUInt32BE(entry.length, 4)
    entry.copy(record, HEADER_BYTES)
    record.writeUInt32BE(crc32c(record, 4), 0)
    return record
  }

  private assertWritable(): void {
    if (this.closed) throw new TickflowError(ErrorCodes.CLOSED, `journal ${this.file} is closed`)
    if (this.failure !== null) throw this.failure
  }

  private writeAt(buf: Buffer, position: number): void {
    try {
      writeFully(this.fd, buf, position)
    } catch (err) {
      // A partial record may be on disk now; the next open truncates it, but this process must stop
      // appending after it or later records would be unreachable on replay.
      this.failure = new TickflowError(ErrorCodes.LOG_CORRUPT, `write to ${this.file} failed`, { cause: err })
      throw this.failure
    }
  }
}

/** Splits `data` into record payloads; stops at the first invalid record. */
function parseRecords(data: Buffer, maxEntryBytes: number): { entries: Buffer[]; validBytes: number } {
  const entries: Buffer[] = []
  let pos = 0
  while (data.length - pos >= HEADER_BYTES) {
    const length = data.readUInt32BE(pos + 4)
    if (length === 0 || length > maxEntryBytes || length > data.length - pos - HEADER_BYTES) break
    const end = pos + HEADER_BYTES + length
    if (crc32c(data, pos + 4, end) !== data.readUInt32BE(pos)) break
    // Copy so callers may keep entries without pinning the whole file buffer.
    entries.push(Buffer.from(data.subarray(pos + HEADER_BYTES, end)))
    pos = end
  }
  return { entries, validBytes: pos }
}

function writeFully(fd: number, buf: Buffer, position: number): void {
  let off = 0
  while (off < buf.length) {
    off += fs.writeSync(fd, buf, off, buf.length - off, position + off)
  }
}

function tempPath(file: string): string {
  return `${file}.compact-tmp`
}

function fsyncDir(dir: string): void {
  let fd: number
  try {
    fd = fs.openSync(dir, 'r')
  } catch {
    return // some platforms cannot open a directory; the rename is still atomic there
  }
  try {
    fs.fsyncSync(fd)
  } catch {
    // EINVAL/EISDIR on file systems without directory fsync: nothing more can be done
  } finally {
    fs.closeSync(fd)
  }
}
