/**
 * Idempotent-producer state. Kafka's rules, per (producerId, partition):
 * - keep the last 5 batches {firstSeq, lastSeq, baseOffset, lastOffset} and the epoch;
 * - a batch equal to a cached one is a retry: answer NONE with the original offsets, append nothing
 *   (never DUPLICATE_SEQUENCE_NUMBER: KafkaJS treats that as fatal);
 * - a sequence gap is OUT_OF_ORDER_SEQUENCE_NUMBER; an older epoch is INVALID_PRODUCER_EPOCH;
 * - a newer epoch must start at sequence 0; the first batch of an unknown producer may have any sequence.
 *
 * The table is rebuilt on start from a snapshot plus the batch headers after it, so retries across
 * a broker restart are still recognised.
 */
import fs from 'node:fs'
import { KafkaError } from '../protocol/error-codes.ts'
import type { BatchHeader } from '../protocol/record-batch.ts'

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

export type SequenceCheck =
  | { kind: 'append' }
  | { kind: 'duplicate'; baseOffset: number; lastOffset: number }
  | { kind: 'error'; errorCode: number; message: string }

/** The next sequence after `seq`, wrapping at int32 max as Kafka does. */
const nextSeq = (seq: number): number => (seq === INT32_MAX ? 0 : seq + 1)
const lastSeqOf = (h: BatchHeader): number =>
  h.baseSequence + h.lastOffsetDelta > INT32_MAX
    ? h.baseSequence + h.lastOffsetDelta - INT32_MAX - 1
    : h.baseSequence + h.lastOffsetDelta

export class PartitionProducers {
  private readonly entries = new Map<number, ProducerEntry>()

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
    if (h.producerEpoch > entry.epoch) {
      return h.baseSequence === 0
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
    const last = entry.batches[entry.batches.length - 1]
    if (last !== undefined && h.baseSequence !== nextSeq(last.lastSeq)) {
      return {
        kind: 'error',
        errorCode: KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER,
        message: `expected sequence ${nextSeq(last.lastSeq)}, got ${h.baseSequence}`,
      }
    }
    return { kind: 'append' }
  }

  /** Records an appended batch (also used when replaying the log on start). */
  record(h: BatchHeader, baseOffset: number, now: number): void {
    if (h.producerId < 0) return
    let entry = this.entries.get(h.producerId)
    if (entry === undefined || h.producerEpoch > entry.epoch) {
      entry = { epoch: h.producerEpoch, batches: [], lastTimestamp: now }
      this.entries.set(h.producerId, entry)
    }
    if (h.baseSequence < 0) return // transactional control batches carry no sequence
    entry.batches.push({
      firstSeq: h.baseSequence,
      lastSeq: lastSeqOf(h),
      baseOffset,
      lastOffset: baseOffset + h.lastOffsetDelta,
    })
    if (entry.batches.length > WINDOW) entry.batches.shift()
    entry.lastTimestamp = now
  }

  /** Forgets producers idle for longer than `maxIdleMs`. */
  expire(now: number, maxIdleMs: number): void {
    for (const [pid, e] of this.entries) if (now - e.lastTimestamp > maxIdleMs) this.entries.delete(pid)
  }

  /** Producer ids and epochs, for DescribeProducers. */
  describe(): Array<{ producerId: number; epoch: number; lastSequence: number; lastTimestamp: number }> {
    return [...this.entries].map(([producerId, e]) => ({
      producerId,
      epoch: e.epoch,
      lastSequence: e.batches.length > 0 ? e.batches[e.batches.length - 1].lastSeq : -1,
      lastTimestamp: e.lastTimestamp,
    }))
  }

  /**
   * Writes the table to `file` (atomically) as of `offset`; `load` reads it back. The snapshot is
   * small: at most 5 batches per live producer.
   */
  saveSnapshot(file: string, offset: number): void {
    const data = JSON.stringify({ version: 1, offset, producers: [...this.entries] })
    const tmp = `${file}.tmp`
    fs.writeFileSync(tmp, data)
    fs.renameSync(tmp, file)
  }

  /** Loads a snapshot; returns the offset it covers, or 0 when there is none or it is unreadable. */
  loadSnapshot(file: string): number {
    let parsed: { version: number; offset: number; producers: Array<[number, ProducerEntry]> }
    try {
      parsed = JSON.parse(fs.readFileSync(file, 'utf8'))
    } catch {
      return 0
    }
    if (parsed.version !== 1 || !Array.isArray(parsed.producers)) return 0
    this.entries.clear()
    for (const [pid, entry] of parsed.producers) this.entries.set(pid, entry)
    return parsed.offset
  }

  /** Drops cached batches at or past `offset` (the log was truncated below them). */
  truncateTo(offset: number): void {
    for (const [pid, e] of this.entries) {
      e.batches = e.batches.filter((b) => b.lastOffset < offset)
      if (e.batches.length === 0) this.entries.delete(pid)
    }
  }
}
