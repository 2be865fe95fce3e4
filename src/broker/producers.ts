/**
 * Producer state of one partition: idempotence and transactions.
 *
 * Idempotence, Kafka's rules per (producerId, partition):
 * - keep the last 5 batches {firstSeq, lastSeq, baseOffset, lastOffset} and the epoch;
 * - a batch equal to a cached one is a retry: answer NONE with the original offsets, append nothing
 *   (never DUPLICATE_SEQUENCE_NUMBER: KafkaJS treats that as fatal);
 * - a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is INVALID_PRODUCER_EPOCH;
 * - a newer epoch must start at sequence 0; the first batch of an unknown producer may have any sequence.
 *
 * Transactions: the first transactional batch of a producer opens a transaction at its offset; a
 * COMMIT or ABORT marker closes it. The last stable offset (LSO) is the first offset of the oldest
 * open transaction; aborted transactions are remembered (producer id, first offset, marker offset)
 * so that read_committed fetches can tell clients which records to drop.
 *
 * The state is rebuilt on start from a snapshot plus the batches after it, so retries and open
 * transactions are still recognised across a broker restart.
 */
import fs from 'node:fs'
import { KafkaError } from '../protocol/error-codes.ts'
import { Attributes, type BatchHeader } from '../protocol/record-batch.ts'
import { writeFileAtomic } from '../files/atomic-file.ts'

const WINDOW = 5
const INT32_MAX = 0x7fffffff

interface CachedBatch {
  firstSeq: number
  lastSeq: number
  baseOffset: number
  lastOffset: number
}

interface ProducerEntry {
  epoch: number
  batches: CachedBatch[]
  /** Last append time (ms), for expiry of idle producers. */
  lastTimestamp: number
}

export interface AbortedTransaction {
  producerId: number
  firstOffset: number
  /** Offset of the ABORT marker. */
  lastOffset: number
}

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; baseOffset: number; lastOffset: number }
  | { kind: 'error'; errorCode: number; message: string }

interface Snapshot {
  version: 2
  offset: number
  producers: Array<[number, ProducerEntry]>
  open: Array<[number, number]>
  aborted: AbortedTransaction[]
}

/** The next sequence after `seq`, wrapping at int32 max as Kafka does. */
const nextSeq = (seq: number): number => (seq === INT32_MAX ? 0 : seq + 1)
const lastSeqOf = (h: BatchHeader): number =>
  h.baseSequence + h.lastOffsetDelta > INT32_MAX
    ? h.baseSequence + h.lastOffsetDelta - INT32_MAX - 1
    : h.baseSequence + h.lastOffsetDelta

export class PartitionProducers {
  private readonly entries = new Map<number, ProducerEntry>()
  /** Open transactions: producer id -> first offset. */
  private readonly open = new Map<number, number>()
  /** Aborted transactions, in marker-offset order. */
  private aborted: AbortedTransaction[] = []

  get size(): number {
    return this.entries.size
  }

  /** Decides what to do with a batch from an idempotent producer (producerId >= 0). */
  check(h: BatchHeader): SequenceCheck {
    const entry = this.entries.get(h.producerId)
    if (entry === undefined) return { kind: 'append' }
    if (h.producerEpoch < entry.epoch) {
      return {
        kind: 'error',
        errorCode: KafkaError.INVALID_PRODUCER_EPOCH,
        message: `epoch ${h.producerEpoch} is older than ${entry.epoch}`,
      }
    }
    const last = entry.batches[entry.batches.length - 1]
    if (h.producerEpoch > entry.epoch || last === undefined) {
      // A new epoch starts over at 0; so does a producer whose last write was a marker (a
      // transactional producer bumped by a timeout or re-initialisation).
      return h.baseSequence === 0 || last === undefined
        ? { kind: 'append' }
        : {
            kind: 'error',
            errorCode: KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
            message: `a new epoch must start at sequence 0, got ${h.baseSequence}`,
          }
    }
    const lastSeq = lastSeqOf(h)
    for (const b of entry.batches) {
      if (b.firstSeq === h.baseSequence && b.lastSeq === lastSeq) {
        return { kind: 'duplicate', baseOffset: b.baseOffset, lastOffset: b.lastOffset }
      }
    }
    if (h.baseSequence !== nextSeq(last.lastSeq)) {
      return {
        kind: 'error',
        errorCode: KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `expected sequence ${nextSeq(last.lastSeq)}, got ${h.baseSequence}`,
      }
    }
    return { kind: 'append' }
  }

  /**
   * Records an appended data batch (also used when replaying the log on start). Transaction
   * markers go through {@link recordMarker} instead.
   */
  record(h: BatchHeader, baseOffset: number, now: number): void {
    if (h.producerId < 0) return
    let entry = this.entries.get(h.producerId)
    if (entry === undefined || h.producerEpoch > entry.epoch) {
      entry = { epoch: h.producerEpoch, batches: [], lastTimestamp: now }
      this.entries.set(h.producerId, entry)
    }
    entry.lastTimestamp = now
    if (h.attributes & Attributes.transactional && !this.open.has(h.producerId)) {
      this.open.set(h.producerId, baseOffset)
    }
    if (h.baseSequence < 0) return
    entry.batches.push({
      firstSeq: h.baseSequence,
      lastSeq: lastSeqOf(h),
      baseOffset,
      lastOffset: baseOffset + h.lastOffsetDelta,
    })
    if (entry.batches.length > WINDOW) entry.batches.shift()
  }

  /** Records a COMMIT or ABORT marker written at `offset`: closes the producer's open transaction. */
  recordMarker(producerId: number, epoch: number, commit: boolean, offset: number, now: number): void {
    const entry = this.entries.get(producerId)
    if (entry === undefined || epoch > entry.epoch) {
      // Sequences restart after a marker written under a new epoch.
      this.entries.set(producerId, { epoch, batches: [], lastTimestamp: now })
    } else {
      entry.lastTimestamp = now
    }
    const first = this.open.get(producerId)
    if (first === undefined) return
    this.open.delete(producerId)
    if (!commit) this.aborted.push({ producerId, firstOffset: first, lastOffset: offset })
  }

  /** True while the producer has a transaction open in this partition. */
  hasOpenTransaction(producerId: number): boolean {
    return this.open.has(producerId)
  }

  /** The first offset of the oldest open transaction, or undefined when none is open. */
  firstUnstableOffset(): number | undefined {
    let min: number | undefined
    for (const first of this.open.values()) if (min === undefined || first < min) min = first
    return min
  }

  /** Aborted transactions with records in [from, to): what a read_committed fetch of that range needs. */
  abortedBetween(from: number, to: number): AbortedTransaction[] {
    return this.aborted.filter((a) => a.lastOffset >= from && a.firstOffset < to)
  }

  /** Forgets aborted transactions that retention removed entirely. */
  trimAborted(logStartOffset: number): void {
    if (this.aborted.length > 0 && this.aborted[0].lastOffset < logStartOffset) {
      this.aborted = this.aborted.filter((a) => a.lastOffset >= logStartOffset)
    }
  }

  /** Forgets producers idle for longer than `maxIdleMs` (never one with an open transaction). */
  expire(now: number, maxIdleMs: number): void {
    for (const [pid, e] of this.entries) {
      if (now - e.lastTimestamp > maxIdleMs && !this.open.has(pid)) this.entries.delete(pid)
    }
  }

  /** Producer ids and epochs, for DescribeProducers. */
  describe(): Array<{
    producerId: number
    epoch: number
    lastSequence: number
    lastTimestamp: number
    currentTxnStartOffset: number
  }> {
    return [...this.entries].map(([producerId, e]) => ({
      producerId,
      epoch: e.epoch,
      lastSequence: e.batches.length > 0 ? e.batches[e.batches.length - 1].lastSeq : -1,
      lastTimestamp: e.lastTimestamp,
      currentTxnStartOffset: this.open.get(producerId) ?? -1,
    }))
  }

  /**
   * Writes the state to `file` (atomically) as of `offset`; `loadSnapshot` reads it back. Small:
   * at most 5 batches per live producer, plus open and aborted transactions.
   */
  saveSnapshot(file: string, offset: number): void {
    const data: Snapshot = {
      version: 2,
      offset,
      producers: [...this.entries],
      open: [...this.open],
      aborted: this.aborted,
    }
    // No fsync: the snapshot only shortens recovery; a lost or stale one means a longer log replay.
    writeFileAtomic(file, JSON.stringify(data), { fsync: false })
  }

  /** Loads a snapshot; returns the offset it covers, or 0 when there is none or it is unreadable. */
  loadSnapshot(file: string): number {
    let parsed: Snapshot
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'))
    } catch {
      return 0
    }
    if (
      parsed.version !== 2 ||
      !Array.isArray(parsed.producers) ||
      !Array.isArray(parsed.open) ||
      !Array.isArray(parsed.aborted)
    ) {
      return 0
    }
    this.reset()
    for (const [pid, entry] of parsed.producers) this.entries.set(pid, entry)
    for (const [pid, first] of parsed.open) this.open.set(pid, first)
    this.aborted = parsed.aborted
    return parsed.offset
  }

  /** Forgets everything (the log is replayed from its start instead). */
  reset(): void {
    this.entries.clear()
    this.open.clear()
    this.aborted = []
  }
}
