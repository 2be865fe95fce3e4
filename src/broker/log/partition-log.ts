/**
 * The log of one partition: a directory of segments holding record batches exactly as produced
 * (only baseOffset patched in place; the CRC-32C does not cover it). Appends go to the active
 * (last) segment with one positional `writeSync` each; reads locate a batch through the in-memory
 * indexes and return whole batches with one `readSync`. Everything is synchronous except `flush()`,
 * which fsyncs in the background and coalesces concurrent calls.
 */
import fs from 'node:fs'
import { ErrorCodes, TickflowError } from '../../errors.ts'
import type { BatchHeader } from '../../protocol/record-batch.ts'
import {
  BATCH_HEADER_SIZE,
  LOG_OVERHEAD,
  Offsets,
  readBatchHeader,
  readInt64Number,
  writeInt64Number,
} from '../../protocol/record-batch.ts'
import { BatchWalker, FileWindow } from './batch-walker.ts'
import { fsyncDirSync } from '../../files/atomic-file.ts'
import { writeCheckpoint } from './checkpoint.ts'
import type { LogConfig } from './config.ts'
import { validateLogConfig } from './config.ts'
import type { RecoveryReport } from './recovery.ts'
import { loadLog } from './recovery.ts'
import type { RefFd } from './segment.ts'
import { MAX_RELATIVE_OFFSET, Segment, readRange } from './segment.ts'

/** Where an appended batch landed. */
export interface AppendResult {
  baseOffset: number
  lastOffset: number
  sizeBytes: number
}

export interface PartitionLogOptions {
  /** Wall clock in ms (segment.ms, retention, lastModified); injectable for tests. */
  now?: () => number
}

const EMPTY = Buffer.alloc(0)

// Reads are synchronous and never re-entered, so all logs share one header window.
let readWalker: BatchWalker | null = null
const sharedWalker = (): BatchWalker => (readWalker ??= new BatchWalker(new FileWindow(16 * 1024)))

export class PartitionLog {
  /** The partition directory. */
  readonly dir: string
  /** What opening the log found and repaired. */
  readonly recovery: RecoveryReport
  private config: LogConfig
  private readonly now: () => number
  private segments: Segment[]
  private active: Segment
  private startOffset: number
  private endOffset: number
  private totalBytes = 0
  private flushed: number
  /** The recovery point in the checkpoint file. */
  private recoveryPoint: number
  /** Files were created since the last directory fsync. */
  private dirDirty = true
  private closed = false
  private flushInFlight: Promise<void> | null = null
  private flushQueued: Promise<void> | null = null

  private constructor(dir: string, config: LogConfig, now: () => number) {
    this.dir = dir
    this.config = { ...config }
    this.now = now
    const loaded = loadLog(dir, this.config, now())
    this.recovery = loaded.report
    this.segments = loaded.segments
    this.active = this.segments[this.segments.length - 1]
    this.startOffset = loaded.logStartOffset
    this.endOffset = this.active.nextOffset
    for (const seg of this.segments) this.totalBytes += seg.size
    this.recoveryPoint = loaded.recoveryPoint
    this.flushed = Math.min(Math.max(loaded.recoveryPoint, this.startOffset), this.endOffset)
    if (loaded.checkpointStale) {
      try {
        this.writeCheckpoint()
      } catch (err) {
        for (const seg of this.segments) seg.close()
        throw err
      }
    }
  }

  /**
   * Opens the partition log in `dir` (created when missing), recovering it: see `recovery`.
   * Throws TICKFLOW_ERR_INVALID_CONFIG for an invalid config.
   */
  static open(dir: string, config: LogConfig, options: PartitionLogOptions = {}): PartitionLog {
    validateLogConfig(config)
    return new PartitionLog(dir, config, options.now ?? Date.now)
  }

  /** First offset that may be read. */
  get logStartOffset(): number {
    return this.startOffset
  }

  /** The next offset to assign. */
  get logEndOffset(): number {
    return this.endOffset
  }

  /** Total bytes of all segments. */
  get sizeBytes(): number {
    return this.totalBytes
  }

  /** Offset up to which data is known to be fsynced. */
  get flushedOffset(): number {
    return this.flushed
  }

  /** Base offsets of the segments, oldest first. */
  segmentBaseOffsets(): number[] {
    return this.segments.map((seg) => seg.base)
  }

  /** Replaces the config (topic config change); applies from the next append or retention run. */
  setConfig(config: LogConfig): void {
    validateLogConfig(config)
    this.config = { ...config }
  }

  /**
   * Appends one record batch, already validated by the caller (checkBatch): patches its baseOffset
   * bytes in place to logEndOffset, writes it (in the OS page cache when this returns), rolls
   * segments as needed and updates the indexes.
   */
  append(batch: Buffer): AppendResult {
    this.ensureOpen()
    const size = batch.length
    if (size < BATCH_HEADER_SIZE || batch.readInt32BE(Offsets.batchLength) !== size - LOG_OVERHEAD) {
      throw new TickflowError(ErrorCodes.INVALID_RECORD_BATCH, `append needs exactly one batch, got ${size} bytes`)
    }
    const lastOffsetDelta = batch.readInt32BE(Offsets.lastOffsetDelta)
    if (lastOffsetDelta < 0) {
      throw new TickflowError(ErrorCodes.INVALID_RECORD_BATCH, `lastOffsetDelta ${lastOffsetDelta} is negative`)
    }
    const baseOffset = this.endOffset
    const lastOffset = baseOffset + lastOffsetDelta
    const nowMs = this.now()
    let seg = this.active
    if (
      seg.size > 0 &&
      (seg.size + size > this.config.segmentBytes ||
        nowMs - seg.firstAppendMs > this.config.segmentMs ||
        lastOffset - seg.base > MAX_RELATIVE_OFFSET)
    ) {
      seg = this.roll(nowMs)
    }
    writeInt64Number(batch, baseOffset, Offsets.baseOffset)
    const maxTimestamp = readInt64Number(batch, Offsets.maxTimestamp)
    seg.append(batch, baseOffset, lastOffset, maxTimestamp, this.config.indexIntervalBytes, nowMs)
    this.endOffset = lastOffset + 1
    this.totalBytes += size
    return { baseOffset, lastOffset, sizeBytes: size }
  }

  /**
   * Whole batches starting with the one containing `offset`, from one segment, in one Buffer: up to
   * `maxBytes` but at least one batch (KIP-74), none with baseOffset >= `maxOffset` (default
   * logEndOffset, e.g. the last stable offset). Empty at the end. The caller checks
   * logStartOffset <= offset <= logEndOffset.
   */
  read(offset: number, maxBytes: number, maxOffset: number = this.endOffset): Buffer {
    this.ensureOpen()
    if (offset >= this.endOffset || offset >= maxOffset) return EMPTY
    const walker = sharedWalker()
    for (let i = this.segmentIndexFor(offset); i < this.segments.length; i++) {
      const seg = this.segments[i]
      // A segment without the offset (a gap after it) hands over to the next one.
      if (!seg.seek(walker, offset)) continue
      if (walker.baseOffset >= maxOffset) return EMPTY
      const start = walker.pos
      const end = seg.extent(walker, start, walker.size, maxBytes, maxOffset)
      return readRange(seg.log.fd, start, end - start)
    }
    return EMPTY
  }

  /** The first batch (from logStartOffset on) whose maxTimestamp >= `ts`, or null. */
  findBatchByTimestamp(ts: number): Buffer | null {
    this.ensureOpen()
    const walker = sharedWalker()
    for (let i = this.segmentIndexFor(this.startOffset); i < this.segments.length; i++) {
      const seg = this.segments[i]
      if (seg.size === 0 || seg.maxTimestamp < ts) continue
      // Batches before the time index entry's offset all have smaller timestamps: start there.
      const rel = Math.max(seg.timeIndex.lookup(ts), this.startOffset - seg.base)
      walker.reset(seg.log.fd, rel <= 0 ? 0 : seg.offsetIndex.lookup(rel), seg.size)
      while (walker.next()) {
        if (walker.maxTimestamp >= ts && walker.lastOffset >= this.startOffset) {
          return readRange(seg.log.fd, walker.pos, walker.size)
        }
      }
    }
    return null
  }

  /** Calls `fn` with the header of every batch from the one containing `fromOffset` to the end. */
  scanHeaders(fromOffset: number, fn: (h: BatchHeader) => void): void {
    this.ensureOpen()
    // A window of its own: `fn` may call read().
    const walker = new BatchWalker(new FileWindow(256 * 1024))
    const segs = this.segments.slice(this.segmentIndexFor(fromOffset))
    for (const seg of segs) {
      if (!seg.seek(walker, fromOffset)) continue
      do fn(readBatchHeader(walker.buf, walker.at))
      while (walker.next())
    }
  }

  /**
   * fsyncs everything appended so far (segments, index files, the directory). A call made while an
   * fsync runs waits for the next one, which covers everything appended before it started; any
   * number of such calls share it.
   */
  flush(): Promise<void> {
    if (this.flushQueued !== null) return this.flushQueued
    if (this.flushInFlight !== null) {
      const next = (): Promise<void> => {
        this.flushQueued = null
        return this.startFlush()
      }
      this.flushQueued = this.flushInFlight.then(next, next)
      return this.flushQueued
    }
    return this.startFlush()
  }

  /**
   * Deletes whole old segments per retention.ms (by each segment's largest timestamp) and
   * retention.bytes, oldest first, and returns how many. When even the active segment is due
   * it is rolled first, so a quiet topic still expires. logStartOffset moves to the first
   * remaining segment.
   */
  enforceRetention(now: number = this.now()): number {
    this.ensureOpen()
    let deleted = 0
    const { retentionMs, retentionBytes } = this.config
    if (retentionMs >= 0) {
      deleted += this.deleteOldestWhile((seg) => now - seg.largestTimestamp() > retentionMs, now)
    }
    if (retentionBytes >= 0) {
      let excess = this.totalBytes - retentionBytes
      deleted += this.deleteOldestWhile((seg) => {
        if (excess - seg.size < 0) return false
        excess -= seg.size
        return true
      }, now)
    }
    return deleted
  }

  /**
   * Moves logStartOffset forward to `offset` (DeleteRecords), persisting it, and deletes the
   * segments entirely below it. Throws TICKFLOW_ERR_INVALID_ARGUMENT past logEndOffset.
   */
  deleteRecordsBefore(offset: number): void {
    this.ensureOpen()
    if (!Number.isSafeInteger(offset) || offset > this.endOffset) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `offset ${offset} is beyond the log end ${this.endOffset}`)
    }
    if (offset <= this.startOffset) return
    this.startOffset = offset
    // Persist first: a crash before the deletions leaves segments that the next open drops.
    this.writeCheckpoint()
    this.deleteOldestWhile((seg) => seg.nextOffset <= offset && seg.size > 0, this.now())
  }

  /** fsyncs, writes the checkpoint (log start offset, recovery point) and closes the files. */
  close(): void {
    if (this.closed) return
    this.closed = true
    let error: unknown = null
    try {
      // As Kafka's LogSegment.close: the time index ends with the largest timestamp.
      this.active.appendFinalTimeEntry()
      this.active.writePendingIndexes()
      for (const seg of this.segments) {
        if (!seg.dirty) continue
        fs.fsyncSync(seg.log.fd)
        if (seg.indexFd !== null && seg.timeIndexFd !== null) {
          fs.fsyncSync(seg.indexFd.fd)
          fs.fsyncSync(seg.timeIndexFd.fd)
        } else {
          fsyncFileSync(seg.indexPath)
          fsyncFileSync(seg.timeIndexPath)
        }
        seg.dirty = false
      }
      if (this.dirDirty) fsyncDirSync(this.dir)
      this.dirDirty = false
      this.flushed = this.endOffset
    } catch (err) {
      error = err
    }
    try {
      this.writeCheckpoint()
    } catch (err) {
      error ??= err
    }
    for (const seg of this.segments) seg.close()
    if (error !== null) throw error
  }

  /** Closes the log without flushing and removes its directory (DeleteTopics). */
  destroy(): void {
    if (!this.closed) {
      this.closed = true
      for (const seg of this.segments) seg.close()
    }
    fs.rmSync(this.dir, { recursive: true, force: true })
  }

  private ensureOpen(): void {
    if (this.closed) throw new TickflowError(ErrorCodes.CLOSED, `partition log ${this.dir} is closed`)
  }

  /** Index of the segment whose base offset is the greatest <= `offset` (0 below the first). */
  private segmentIndexFor(offset: number): number {
    const segs = this.segments
    let lo = 0
    let hi = segs.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1
      if (segs[mid].base <= offset) lo = mid + 1
      else hi = mid - 1
    }
    return hi < 0 ? 0 : hi
  }

  /** Seals the active segment and starts a new one at logEndOffset. */
  private roll(nowMs: number): Segment {
    const old = this.active
    const seg = Segment.create(this.dir, this.endOffset, nowMs)
    this.segments.push(seg)
    this.active = seg
    this.dirDirty = true
    old.seal()
    return seg
  }

  /**
   * Deletes the longest run of oldest segments matching `predicate` (evaluated in order, once
   * each), never an empty active segment; rolls first when the run includes the active one.
   */
  private deleteOldestWhile(predicate: (seg: Segment) => boolean, nowMs: number): number {
    const segs = this.segments
    let n = 0
    while (n < segs.length) {
      const seg = segs[n]
      if (seg === this.active && seg.size === 0) break
      if (!predicate(seg)) break
      n++
    }
    if (n === 0) return 0
    if (n === segs.length) this.roll(nowMs)
    for (const seg of segs.splice(0, n)) {
      this.totalBytes -= seg.size
      seg.remove()
    }
    if (segs[0].base > this.startOffset) this.startOffset = segs[0].base
    return n
  }

  private startFlush(): Promise<void> {
    const p = this.runFlush().finally(() => {
      if (this.flushInFlight === p) this.flushInFlight = null
    })
    this.flushInFlight = p
    return p
  }

  private async runFlush(): Promise<void> {
    if (this.closed) return
    const target = this.endOffset
    const jobs: Array<Promise<void>> = []
    const held: RefFd[] = []
    const flushedSegs: Segment[] = []
    const syncFd = (ref: RefFd | null): void => {
      if (ref === null || ref.closed) return
      // Held until the fsync returns: a roll or deletion meanwhile defers the close.
      ref.retain()
      held.push(ref)
      jobs.push(fsyncFd(ref.fd))
    }
    for (const seg of this.segments) {
      if (!seg.dirty) continue
      // Before anything is retained: a write error here must not leak a held descriptor.
      seg.writePendingIndexes()
      flushedSegs.push(seg)
    }
    for (const seg of flushedSegs) {
      seg.dirty = false
      syncFd(seg.log)
      if (seg.indexFd !== null && seg.timeIndexFd !== null) {
        syncFd(seg.indexFd)
        syncFd(seg.timeIndexFd)
      } else {
        jobs.push(fsyncFile(seg.indexPath), fsyncFile(seg.timeIndexPath))
      }
    }
    if (this.dirDirty) {
      this.dirDirty = false
      jobs.push(fsyncFile(this.dir, true))
    }
    const results = await Promise.allSettled(jobs)
    for (const ref of held) ref.release()
    const failed = results.find((r) => r.status === 'rejected')
    if (failed !== undefined) {
      for (const seg of flushedSegs) seg.dirty = true
      throw failed.reason
    }
    if (target > this.flushed) this.flushed = target
    // Persist the recovery point once whole sealed segments became durable (once per roll, not per flush).
    if (
      !this.closed &&
      this.recoveryPoint < this.active.base &&
      this.segments.some((s) => s !== this.active && s.nextOffset > this.recoveryPoint && s.nextOffset <= this.flushed)
    ) {
      try {
        this.writeCheckpoint()
      } catch {
        // The data is durable all the same; a stale recovery point only means more validation on open.
      }
    }
  }

  private writeCheckpoint(): void {
    const recoveryPoint = Math.max(this.recoveryPoint, this.flushed)
    writeCheckpoint(this.dir, { logStartOffset: this.startOffset, recoveryPoint })
    this.recoveryPoint = recoveryPoint
  }
}

function fsyncFd(fd: number): Promise<void> {
  return new Promise((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())))
}

/** fsyncs a file (or directory) by path; a file deleted meanwhile (retention) is fine. */
async function fsyncFile(file: string, isDir = false): Promise<void> {
  let handle: fs.promises.FileHandle
  try {
    handle = await fs.promises.open(file, 'r')
  } catch (err) {
    if (isDir || (err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  try {
    await handle.sync()
  } catch (err) {
    // Some platforms cannot fsync a directory; its entries then rely on the OS.
    if (!isDir) throw err
  } finally {
    await handle.close()
  }
}

function fsyncFileSync(file: string): void {
  let fd: number
  try {
    fd = fs.openSync(file, 'r')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return
    throw err
  }
  try {
    fs.fsyncSync(fd)
  } finally {
    fs.closeSync(fd)
  }
}
