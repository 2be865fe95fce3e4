/**
 * Reading segment files in chunks: a window of file bytes held in one reusable buffer, and a
 * walker that steps from one batch header to the next through it. One `readSync` fills the
 * window with many small batches' headers; large batches cost one read per header.
 */
import fs from 'node:fs'
import {
  BATCH_HEADER_SIZE,
  CURRENT_MAGIC,
  LOG_OVERHEAD,
  Offsets,
  readInt64Number,
} from '../../protocol/record-batch.ts'

/** The smallest possible batchLength: a header with no records. */
const MIN_BATCH_LENGTH = BATCH_HEADER_SIZE - LOG_OVERHEAD

/** A window of one file's bytes, refilled on demand. */
export class FileWindow {
  buf: Buffer
  private fd = -1
  private start = 0
  private len = 0

  constructor(size: number) {
    this.buf = Buffer.allocUnsafeSlow(size)
  }

  /** Switches to another file (or the same one after it changed); forgets what was read. */
  attach(fd: number): void {
    this.fd = fd
    this.len = 0
  }

  /**
   * Makes file bytes [pos, pos + n) available in `buf` and returns the index of `pos` in it, or -1
   * when the file (or `limit`) ends first. Refills read as much as fits, up to `limit`.
   */
  view(pos: number, n: number, limit: number): number {
    if (pos >= this.start && pos + n <= this.start + this.len) return pos - this.start
    if (pos + n > limit) return -1
    if (n > this.buf.length) this.buf = Buffer.allocUnsafeSlow(n)
    const want = Math.min(this.buf.length, limit - pos)
    let got = 0
    while (got < want) {
      const r = fs.readSync(this.fd, this.buf, got, want - got, pos + got)
      if (r === 0) break
      got += r
    }
    this.start = pos
    this.len = got
    return got >= n ? 0 : -1
  }
}

/**
 * Steps through the batches of one segment file. After `next()` returns true, the fields describe
 * the current batch and `buf[at, at + 61)` holds its header. `next()` returns false at the end, or
 * at bytes that cannot be a batch (then `broken` is true and `pos` is where they start).
 */
export class BatchWalker {
  readonly window: FileWindow
  /** File position of the current batch. */
  pos = 0
  /** Total size of the current batch, including the 12-byte log overhead. */
  size = 0
  baseOffset = 0
  lastOffset = 0
  maxTimestamp = 0
  /** Index of the current header in `buf`. */
  at = 0
  broken = false
  private nextPos = 0
  private end = 0

  constructor(window: FileWindow) {
    this.window = window
  }

  get buf(): Buffer {
    return this.window.buf
  }

  /** Starts a walk over `[start, end)` of file `fd`. */
  reset(fd: number, start: number, end: number): void {
    this.window.attach(fd)
    this.nextPos = start
    this.end = end
    this.broken = false
    this.pos = start
    this.size = 0
  }

  next(): boolean {
    const pos = this.nextPos
    this.pos = pos
    this.size = 0
    if (pos >= this.end) return false
    const at = this.window.view(pos, BATCH_HEADER_SIZE, this.end)
    if (at < 0) return this.fail()
    const buf = this.window.buf
    const batchLength = buf.readInt32BE(at + Offsets.batchLength)
    if (batchLength < MIN_BATCH_LENGTH || buf[at + Offsets.magic] !== CURRENT_MAGIC) return this.fail()
    const size = batchLength + LOG_OVERHEAD
    if (pos + size > this.end) return this.fail()
    this.at = at
    this.size = size
    this.baseOffset = readInt64Number(buf, at)
    this.lastOffset = this.baseOffset + buf.readInt32BE(at + Offsets.lastOffsetDelta)
    this.maxTimestamp = readInt64Number(buf, at + Offsets.maxTimestamp)
    this.nextPos = pos + size
    return true
  }

  private fail(): boolean {
    this.broken = true
    return false
  }
}
