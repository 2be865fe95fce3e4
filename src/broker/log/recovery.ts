/**
 * Opening a partition directory (Kafka's LogLoader): list the segments, drop temp files and stray
 * indexes, trust the sealed segments below the checkpointed recovery point once their indexes pass
 * a sanity check (else rebuild the index from the batch headers), and validate every later segment
 * — always including the active one — batch by batch. At the first torn or invalid batch the
 * segment is cut at the end of the last valid one and every later segment is deleted, so nothing
 * beyond the last valid batch is ever served.
 */
import fs from 'node:fs'
import path from 'node:path'
import {
  BATCH_HEADER_SIZE,
  CURRENT_MAGIC,
  LOG_OVERHEAD,
  Offsets,
  checkBatch,
  readInt64Number,
} from '../../protocol/record-batch.ts'
import { BatchWalker, FileWindow } from './batch-walker.ts'
import { readCheckpoint } from './checkpoint.ts'
import type { LogConfig } from './config.ts'
import { OffsetIndex } from './offset-index.ts'
import { MAX_RELATIVE_OFFSET, Segment, segmentFileName } from './segment.ts'
import { TimeIndex } from './time-index.ts'

/** What opening a partition log found and repaired. */
export interface RecoveryReport {
  /** Segments validated batch by batch (the active one, and all after the recovery point). */
  segments: number
  /** Batches whose CRC and structure were checked. */
  batchesChecked: number
  /** Bytes cut from the segment with the first invalid batch, plus the sizes of later segments removed. */
  truncatedBytes: number
  /** Why data was cut (segment file, position, problem), or null when nothing was. */
  reason: string | null
  /** Sealed segments whose index files were missing or inconsistent and were rebuilt. */
  indexesRebuilt: number
  /** Whole segment files removed (after a truncation, empty ones in the middle). */
  segmentsRemoved: number
}

export interface LoadedLog {
  /** Ascending by base offset; the last one is active (index files open), the others sealed. */
  segments: Segment[]
  logStartOffset: number
  recoveryPoint: number
  report: RecoveryReport
  /** True when the checkpoint on disk no longer matches (it should be rewritten). */
  checkpointStale: boolean
}

const SEGMENT_FILE = /^(\d{20})\.(log|index|timeindex)$/
// Ours (checkpoint temp) and Kafka's (cleaner, deletion) intermediate files: never live data on open.
const TEMP_SUFFIXES = ['.tmp', '.swap', '.cleaned', '.deleted']

// One window for CRC validation (whole batches) and one for header walks, reused by every open.
let validateWindow: FileWindow | null = null
let walkWindow: FileWindow | null = null

/** Opens (creating when needed) the partition directory `dir` and recovers its segments. */
export function loadLog(dir: string, config: LogConfig, nowMs: number): LoadedLog {
  fs.mkdirSync(dir, { recursive: true })
  const report: RecoveryReport = {
    segments: 0,
    batchesChecked: 0,
    truncatedBytes: 0,
    reason: null,
    indexesRebuilt: 0,
    segmentsRemoved: 0,
  }
  const bases = listSegmentFiles(dir)
  const checkpoint = readCheckpoint(dir)
  let logStartOffset = checkpoint?.logStartOffset ?? 0
  let recoveryPoint = checkpoint?.recoveryPoint ?? 0
  let checkpointStale = false

  let segs: Segment[] = []
  try {
    for (const base of bases) segs.push(Segment.open(dir, base))
    return recover()
  } catch (err) {
    // Whatever is still open (a failed open, an I/O error while repairing) must not leak.
    for (const seg of segs) seg.close()
    throw err
  }

  function recover(): LoadedLog {
    // Segments wholly below the log start offset: a DeleteRecords that did not finish deleting.
    while (segs.length > 1 && segs[1].base <= logStartOffset) segs.shift()!.remove()
    // Empty segments before the last hold nothing and would only split lookups.
    segs = segs.filter((seg, i) => {
      if (seg.size > 0 || i === segs.length - 1) return true
      seg.remove()
      report.segmentsRemoved++
      return false
    })

    validateWindow ??= new FileWindow(4 * 1024 * 1024)
    walkWindow ??= new FileWindow(64 * 1024)
    const walker = new BatchWalker(walkWindow)
    const interval = config.indexIntervalBytes
    const validated = new Set<Segment>()

    const validateAt = (i: number): void => {
      const seg = segs[i]
      report.segments++
      validated.add(seg)
      const fileSize = fs.fstatSync(seg.log.fd).size
      const problem = validateSegment(seg, fileSize, interval, validateWindow!, report)
      if (problem === null) return
      fs.ftruncateSync(seg.log.fd, seg.size)
      report.truncatedBytes += fileSize - seg.size
      report.reason = `${segmentFileName(seg.base, '.log')}: ${problem}`
      removeFrom(i + 1)
    }
    const removeFrom = (i: number): void => {
      for (const seg of segs.splice(i)) {
        report.truncatedBytes += seg.size
        report.segmentsRemoved++
        seg.remove()
      }
    }

    // Offsets are dense: within a segment each batch starts right after the previous one, and the
    // first at the segment's base. Between segments only an overlap is an error.
    const overlaps = (i: number): boolean => {
      if (i === 0 || segs[i].base >= segs[i - 1].nextOffset) return false
      report.reason = `${segmentFileName(segs[i].base, '.log')}: overlaps the previous segment (ends at ${segs[i - 1].nextOffset})`
      removeFrom(i)
      return true
    }
    let i = 0
    // Trusted sealed segments: everything in them is below the recovery point (fsynced and valid).
    for (; i < segs.length - 1 && segs[i + 1].base <= recoveryPoint; i++) {
      const seg = segs[i]
      if (overlaps(i)) break
      if (loadTrustedIndexes(seg, interval, walker)) {
        seg.sealed = true
      } else {
        report.indexesRebuilt++
        if (!rebuildFromHeaders(seg, interval, walker)) break
        seg.writeSealedIndexes() // also marks it dirty: the next flush fsyncs the new index files
      }
    }
    // Everything after: validated batch by batch.
    for (; i < segs.length; i++) {
      const seg = segs[i]
      if (overlaps(i)) break
      validateAt(i)
      seg.dirty = true
      if (i < segs.length - 1) seg.writeSealedIndexes()
    }

    if (segs.length === 0) {
      const fresh = Segment.create(dir, logStartOffset, nowMs)
      validated.add(fresh)
      segs.push(fresh)
    }
    let last = segs[segs.length - 1]
    // The active segment is always validated, even when a removal made a trusted one the last.
    if (!validated.has(last)) {
      validateAt(segs.length - 1)
      last.dirty = true
    }
    if (segs[0].base > logStartOffset) logStartOffset = segs[0].base
    if (logStartOffset > last.nextOffset) {
      // The checkpoint says records up to logStartOffset were deleted: never hand their offsets out again.
      for (const seg of segs.splice(0)) seg.remove()
      last = Segment.create(dir, logStartOffset, nowMs)
      segs.push(last)
    }
    last.sealed = false
    last.closeIndexFiles()
    last.openIndexFiles()
    if (last.size > 0) last.firstAppendMs = nowMs // segment.ms counts from the open: the first append time is not stored

    if (recoveryPoint > last.nextOffset) {
      recoveryPoint = last.nextOffset
      checkpointStale = true
    }
    if (report.reason !== null) checkpointStale = true
    return { segments: segs, logStartOffset, recoveryPoint, report, checkpointStale }
  }
}

/** Base offsets of the `.log` files, ascending; removes temp files and indexes without a log. */
function listSegmentFiles(dir: string): number[] {
  const logs = new Set<number>()
  const indexes: Array<[string, number]> = []
  for (const name of fs.readdirSync(dir)) {
    if (TEMP_SUFFIXES.some((suffix) => name.endsWith(suffix))) {
      fs.rmSync(path.join(dir, name), { force: true, recursive: true })
      continue
    }
    const m = SEGMENT_FILE.exec(name)
    if (m === null) continue
    const base = Number(m[1])
    if (!Number.isSafeInteger(base)) continue
    if (m[2] === 'log') logs.add(base)
    else indexes.push([name, base])
  }
  for (const [name, base] of indexes) {
    if (!logs.has(base)) fs.rmSync(path.join(dir, name), { force: true })
  }
  return [...logs].sort((a, b) => a - b)
}

/**
 * Loads a trusted sealed segment's index files and checks them cheaply: sizes, ordering, the last
 * offset entry pointing at a batch with that base offset, and a walk over the batches after it —
 * which must end exactly at the end of the file, contain no batch that should have had an entry,
 * and have no timestamp above the time index's last. False means: rebuild.
 */
function loadTrustedIndexes(seg: Segment, interval: number, walker: BatchWalker): boolean {
  const offsetIndex = readIndexFile(seg.indexPath, (bytes) => OffsetIndex.parse(bytes, seg.size))
  if (offsetIndex === null) return false
  const last = offsetIndex.lastPosition
  walker.reset(seg.log.fd, last, seg.size)
  let next = offsetIndex.count > 0 ? seg.base + offsetIndex.relOffsets[offsetIndex.count - 1] : seg.base
  let tailMaxTs = -1
  let first = true
  while (walker.next()) {
    // Not checked for the first batch: it is where the last entry points (or the segment start).
    if (!first && walker.pos - last >= interval) return false // the index lacks entries (a truncated file)
    if (walker.baseOffset !== next || walker.lastOffset < walker.baseOffset) return false
    if (walker.lastOffset - seg.base > MAX_RELATIVE_OFFSET) return false
    if (walker.maxTimestamp > tailMaxTs) tailMaxTs = walker.maxTimestamp
    next = walker.lastOffset + 1
    first = false
  }
  if (first || walker.broken || walker.pos !== seg.size) return false
  const timeIndex = readIndexFile(seg.timeIndexPath, (bytes) => TimeIndex.parse(bytes, next - 1 - seg.base))
  if (timeIndex === null || tailMaxTs > timeIndex.lastTimestamp) return false
  seg.offsetIndex = offsetIndex
  seg.timeIndex = timeIndex
  seg.nextOffset = next
  seg.maxTimestamp = timeIndex.lastTimestamp
  seg.bytesSinceIndex = seg.size - last
  return true
}

function readIndexFile<T>(file: string, parse: (bytes: Buffer) => T | null): T | null {
  let bytes: Buffer
  try {
    bytes = fs.readFileSync(file)
  } catch {
    return null
  }
  return parse(bytes)
}

/**
 * Rebuilds a trusted segment's indexes from its batch headers (no CRC: the data is below the
 * recovery point). False when the headers do not chain to the end of the file; the caller then
 * validates the segment fully.
 */
function rebuildFromHeaders(seg: Segment, interval: number, walker: BatchWalker): boolean {
  const fileSize = seg.size
  seg.resetState()
  walker.reset(seg.log.fd, 0, fileSize)
  let next = seg.base
  while (walker.next()) {
    const { baseOffset, lastOffset } = walker
    if (baseOffset !== next || lastOffset < baseOffset || lastOffset - seg.base > MAX_RELATIVE_OFFSET) break
    seg.track(walker.pos, walker.size, baseOffset, lastOffset, walker.maxTimestamp, interval)
    next = lastOffset + 1
  }
  if (seg.size === fileSize) return true
  seg.size = fileSize
  return false
}

/**
 * Validates the segment batch by batch from its start — magic 2, a batchLength that fits the file,
 * checkBatch (CRC-32C, record count; control batches allowed), dense offsets (the baseOffset field
 * is outside the CRC: this is what catches its corruption) — rebuilding its indexes in memory.
 * Returns null when every byte up to `fileSize` is a valid batch, else the problem; `seg.size` is
 * then the end of the last valid batch.
 */
function validateSegment(
  seg: Segment,
  fileSize: number,
  interval: number,
  window: FileWindow,
  report: RecoveryReport,
): string | null {
  seg.resetState()
  window.attach(seg.log.fd)
  let next = seg.base
  let pos = 0
  while (pos < fileSize) {
    const left = fileSize - pos
    if (left < BATCH_HEADER_SIZE) return `torn batch header at position ${pos} (${left} bytes)`
    let at = window.view(pos, BATCH_HEADER_SIZE, fileSize)
    if (at < 0) return `unreadable batch header at position ${pos}`
    const magic = window.buf[at + Offsets.magic]
    const batchLength = window.buf.readInt32BE(at + Offsets.batchLength)
    if (magic !== CURRENT_MAGIC) return `magic ${magic} at position ${pos}`
    const size = batchLength + LOG_OVERHEAD
    if (size < BATCH_HEADER_SIZE) return `batchLength ${batchLength} at position ${pos}`
    if (size > left) return `torn batch at position ${pos} (${size} bytes, ${left} in the file)`
    at = window.view(pos, size, fileSize)
    if (at < 0) return `unreadable batch at position ${pos}`
    const buf = window.buf
    const check = checkBatch(buf, at, size, { allowControl: true })
    if (check.problem !== null) return `${check.problem} at position ${pos}: ${check.detail}`
    const baseOffset = readInt64Number(buf, at)
    const lastOffset = baseOffset + buf.readInt32BE(at + Offsets.lastOffsetDelta)
    if (baseOffset !== next) return `baseOffset ${baseOffset} at position ${pos}, expected ${next}`
    if (lastOffset - seg.base > MAX_RELATIVE_OFFSET)
      return `offset ${lastOffset} at position ${pos} overflows the index`
    report.batchesChecked++
    seg.track(pos, size, baseOffset, lastOffset, readInt64Number(buf, at + Offsets.maxTimestamp), interval)
    next = lastOffset + 1
    pos += size
  }
  return null
}
