/**
 * One segment of a partition log: `<20-digit baseOffset>.log` holding record batches back to back
 * exactly as produced (baseOffset patched), with its sparse `.index` and `.timeindex`.
 *
 * The active (last) segment keeps its index files open and writes new entries in bulk
 * (`writePendingIndexes`, called on flush, roll and close); a sealed segment has complete index
 * files, closed, and only its log file open for reads. Index entries always live in memory.
 */
import fs from 'node:fs'
import path from 'node:path'
import type { BatchWalker } from './batch-walker.ts'
import { OFFSET_INDEX_ENTRY_SIZE, OffsetIndex } from './offset-index.ts'
import { TIME_INDEX_ENTRY_SIZE, TimeIndex } from './time-index.ts'

/** Index entries store offsets relative to the segment base as u32. */
export const MAX_RELATIVE_OFFSET = 0xffffffff

/** `<20-digit baseOffset><ext>`, as Kafka names segment files. */
export function segmentFileName(baseOffset: number, ext: '.log' | '.index' | '.timeindex'): string {
  return String(baseOffset).padStart(20, '0') + ext
}

/**
 * A file descriptor that may be in use by an asynchronous fsync: `close()` waits for the last
 * `release()`, so a segment rolled or deleted mid-fsync never makes that fsync fail with EBADF
 * (or, worse, hit a reused descriptor number).
 */
export class RefFd {
  readonly fd: number
  private refs = 0
  private closing = false

  constructor(fd: number) {
    this.fd = fd
  }

  get closed(): boolean {
    return this.closing
  }

  retain(): void {
    this.refs++
  }

  release(): void {
    if (--this.refs === 0 && this.closing) fs.closeSync(this.fd)
  }

  close(): void {
    if (this.closing) return
    this.closing = true
    if (this.refs === 0) fs.closeSync(this.fd)
  }
}

/** Writes all of `buf[from, to)` at file position `position`. */
export function writeFully(fd: number, buf: Buffer, position: number, from = 0, to = buf.length): void {
  let off = from
  while (off < to) {
    const n = fs.writeSync(fd, buf, off, to - off, position + (off - from))
    if (n <= 0) throw new Error(`write of ${to - off} bytes made no progress`)
    off += n
  }
}

/** Reads exactly `length` bytes at `position` into a new buffer (fewer if the file is shorter). */
export function readRange(fd: number, position: number, length: number): Buffer {
  const out = Buffer.allocUnsafe(length)
  let got = 0
  while (got < length) {
    const n = fs.readSync(fd, out, got, length - got, position + got)
    if (n === 0) return out.subarray(0, got)
    got += n
  }
  return out
}

export class Segment {
  readonly base: number
  readonly logPath: string
  readonly indexPath: string
  readonly timeIndexPath: string
  readonly log: RefFd
  /** Bytes of valid batches; reads never go past it. */
  size: number
  /** Offset after the last batch (= base while empty). */
  nextOffset: number
  offsetIndex = new OffsetIndex()
  timeIndex = new TimeIndex()
  /** Largest batch maxTimestamp, or -1. */
  maxTimestamp = -1
  /** Base offset of the first batch that reached `maxTimestamp` (active segment only). */
  offsetOfMaxTimestamp = -1
  /** Bytes appended since the last index entry's batch started (Kafka's bytesSinceLastIndexEntry). */
  bytesSinceIndex = 0
  /** Wall-clock time of the first append (segment.ms), -1 while empty. */
  firstAppendMs = -1
  /** Retention falls back to this when no batch carries a timestamp. */
  lastModifiedMs: number
  indexFd: RefFd | null = null
  timeIndexFd: RefFd | null = null
  sealed = false
  /** Holds data (or index entries) not yet fsynced. */
  dirty = false

  constructor(dir: string, base: number, fd: number, size: number, lastModifiedMs: number) {
    this.base = base
    this.logPath = path.join(dir, segmentFileName(base, '.log'))
    this.indexPath = path.join(dir, segmentFileName(base, '.index'))
    this.timeIndexPath = path.join(dir, segmentFileName(base, '.timeindex'))
    this.log = new RefFd(fd)
    this.size = size
    this.nextOffset = base
    this.lastModifiedMs = lastModifiedMs
  }

  /** Creates a new, empty active segment (replacing any file of the same name). */
  static create(dir: string, base: number, nowMs: number): Segment {
    const fd = fs.openSync(path.join(dir, segmentFileName(base, '.log')), 'w+')
    const seg = new Segment(dir, base, fd, 0, nowMs)
    seg.openIndexFiles()
    seg.dirty = true
    return seg
  }

  /** Opens an existing segment's log file; its state is filled in by recovery. */
  static open(dir: string, base: number): Segment {
    const fd = fs.openSync(path.join(dir, segmentFileName(base, '.log')), 'r+')
    const st = fs.fstatSync(fd)
    return new Segment(dir, base, fd, st.size, st.mtimeMs)
  }

  /** Forgets all batches and index entries (before a rebuild). */
  resetState(): void {
    this.offsetIndex = new OffsetIndex()
    this.timeIndex = new TimeIndex()
    this.maxTimestamp = -1
    this.offsetOfMaxTimestamp = -1
    this.bytesSinceIndex = 0
    this.size = 0
    this.nextOffset = this.base
  }

  /**
   * Accounts for a batch of `size` bytes at `position` (appended, or found by recovery): adds index
   * entries when `indexIntervalBytes` have passed since the last one, as Kafka's LogSegment does.
   */
  track(position: number, size: number, baseOffset: number, lastOffset: number, maxTs: number, interval: number): void {
    if (maxTs > this.maxTimestamp) {
      this.maxTimestamp = maxTs
      this.offsetOfMaxTimestamp = baseOffset
    }
    if (this.bytesSinceIndex >= interval) {
      this.offsetIndex.append(baseOffset - this.base, position)
      if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp - this.base)
      this.bytesSinceIndex = 0
    }
    this.bytesSinceIndex += size
    this.size = position + size
    this.nextOffset = lastOffset + 1
  }

  /** Appends one batch (already patched) at the end of the file. */
  append(batch: Buffer, baseOffset: number, lastOffset: number, maxTs: number, interval: number, nowMs: number): void {
    const position = this.size
    try {
      writeFully(this.log.fd, batch, position)
    } catch (err) {
      // A partial write (ENOSPC) leaves garbage past `size`; cut it so the file stays clean.
      try {
        fs.ftruncateSync(this.log.fd, position)
      } catch {
        // Recovery truncates it on the next open anyway.
      }
      throw err
    }
    if (this.firstAppendMs < 0) this.firstAppendMs = nowMs
    this.lastModifiedMs = nowMs
    this.track(position, batch.length, baseOffset, lastOffset, maxTs, interval)
    this.dirty = true
  }

  /** Retention's notion of the segment's age: its largest timestamp, else its last modification. */
  largestTimestamp(): number {
    return this.maxTimestamp >= 0 ? this.maxTimestamp : this.lastModifiedMs
  }

  /**
   * Positions `walker` on the first batch whose last offset is >= `offset`: the greatest index
   * entry <= offset, then a walk over headers. False when this segment holds no such batch.
   */
  seek(walker: BatchWalker, offset: number): boolean {
    const rel = offset - this.base
    const start = rel <= 0 ? 0 : this.offsetIndex.lookup(rel)
    walker.reset(this.log.fd, start, this.size)
    while (walker.next()) {
      if (walker.lastOffset >= offset) return true
    }
    return false
  }

  /**
   * End position of the whole batches starting at `start` (a batch of `firstSize` bytes found by
   * `seek`) that fit in `maxBytes` — the first always does — and have baseOffset < `maxOffset`.
   */
  extent(walker: BatchWalker, start: number, firstSize: number, maxBytes: number, maxOffset: number): number {
    let end = start + firstSize
    const budgetEnd = start + maxBytes
    if (budgetEnd <= end) return end
    if (this.size <= budgetEnd && this.nextOffset <= maxOffset) return this.size
    // Index entries mark batch boundaries: jump to the furthest one both limits allow, then walk.
    let j = this.offsetIndex.floorByPosition(budgetEnd)
    const byOffset = this.offsetIndex.floorByOffset(maxOffset - this.base)
    if (byOffset < j) j = byOffset
    if (j >= 0 && this.offsetIndex.positions[j] > end) end = this.offsetIndex.positions[j]
    walker.reset(this.log.fd, end, this.size)
    while (walker.next()) {
      if (walker.baseOffset >= maxOffset || walker.pos + walker.size > budgetEnd) break
      end = walker.pos + walker.size
    }
    return end
  }

  /** Opens (truncating) the index files and writes every in-memory entry: the active segment's files. */
  openIndexFiles(): void {
    this.indexFd = new RefFd(fs.openSync(this.indexPath, 'w+'))
    this.timeIndexFd = new RefFd(fs.openSync(this.timeIndexPath, 'w+'))
    this.offsetIndex.written = 0
    this.timeIndex.written = 0
    this.writePendingIndexes()
  }

  /** Writes index entries not yet in the files (one write per file). */
  writePendingIndexes(): void {
    const oi = this.offsetIndex
    if (this.indexFd !== null && oi.written < oi.count) {
      writeFully(this.indexFd.fd, oi.encode(), oi.written * OFFSET_INDEX_ENTRY_SIZE)
      oi.written = oi.count
    }
    const ti = this.timeIndex
    if (this.timeIndexFd !== null && ti.written < ti.count) {
      writeFully(this.timeIndexFd.fd, ti.encode(), ti.written * TIME_INDEX_ENTRY_SIZE)
      ti.written = ti.count
    }
  }

  /**
   * Makes this segment read-only: a final time index entry with the segment's largest timestamp
   * (as Kafka does when a segment becomes inactive), complete index files, index files closed.
   */
  seal(): void {
    if (this.sealed) return
    if (this.indexFd === null) this.openIndexFiles()
    this.appendFinalTimeEntry()
    this.writePendingIndexes()
    this.closeIndexFiles()
    this.offsetIndex.trim()
    this.timeIndex.trim()
    this.sealed = true
    // The index writes above may postdate an fsync in flight: the next flush must cover them.
    this.dirty = true
  }

  /** Adds a time index entry for the segment's largest timestamp, unless the last one has it. */
  appendFinalTimeEntry(): void {
    if (this.maxTimestamp >= 0) this.timeIndex.maybeAppend(this.maxTimestamp, this.offsetOfMaxTimestamp - this.base)
  }

  /** Writes complete index files for a sealed segment whose indexes were rebuilt in memory. */
  writeSealedIndexes(): void {
    this.sealed = false
    this.seal()
  }

  closeIndexFiles(): void {
    this.indexFd?.close()
    this.timeIndexFd?.close()
    this.indexFd = null
    this.timeIndexFd = null
  }

  close(): void {
    this.closeIndexFiles()
    this.log.close()
  }

  /** Closes and deletes the segment's files. */
  remove(): void {
    this.close()
    for (const file of [this.logPath, this.indexPath, this.timeIndexPath]) fs.rmSync(file, { force: true })
  }
}
