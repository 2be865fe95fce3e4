/**
 * The sparse time index of one segment, as Kafka lays it out on disk (`.timeindex`):
 *
 *   entry => maxTimestampSoFar i64 | relativeOffset u32     (12 bytes, big-endian)
 *
 * Written at the same points as offset index entries, but only when the segment's largest
 * timestamp grew: timestamps are strictly increasing, offsets non-decreasing. The offset is that of
 * the batch that first reached the timestamp, so every batch before it has a smaller maxTimestamp:
 * a search for timestamp `t` may start at the greatest entry <= `t`. A sealed segment gets a final
 * entry holding its overall maximum.
 */
import { readInt64Number, writeInt64Number } from '../../protocol/record-batch.ts'
import { floor } from './offset-index.ts'

/** Bytes per on-disk entry. */
export const TIME_INDEX_ENTRY_SIZE = 12

export class TimeIndex {
  timestamps: Float64Array
  relOffsets: Uint32Array
  count = 0
  /** Entries already written to the file. */
  written = 0

  constructor(capacity = 64) {
    this.timestamps = new Float64Array(capacity)
    this.relOffsets = new Uint32Array(capacity)
  }

  /** Parses a file's bytes; null when they are not a valid time index (size, ordering, `maxRelOffset`). */
  static parse(bytes: Buffer, maxRelOffset: number): TimeIndex | null {
    if (bytes.length % TIME_INDEX_ENTRY_SIZE !== 0) return null
    const n = bytes.length / TIME_INDEX_ENTRY_SIZE
    const index = new TimeIndex(Math.max(n, 1))
    for (let i = 0, at = 0; i < n; i++, at += TIME_INDEX_ENTRY_SIZE) {
      const ts = readInt64Number(bytes, at)
      const rel = bytes.readUInt32BE(at + 8)
      if (ts < 0 || rel > maxRelOffset) return null
      if (i > 0 && (ts <= index.timestamps[i - 1] || rel < index.relOffsets[i - 1])) return null
      index.timestamps[i] = ts
      index.relOffsets[i] = rel
    }
    index.count = n
    index.written = n
    return index
  }

  /** The largest timestamp indexed, or -1. */
  get lastTimestamp(): number {
    return this.count === 0 ? -1 : this.timestamps[this.count - 1]
  }

  /** Appends unless `timestamp` is not larger than the last entry's. */
  maybeAppend(timestamp: number, relOffset: number): void {
    if (timestamp <= this.lastTimestamp) return
    if (this.count === this.timestamps.length) this.resize(this.count * 2)
    this.timestamps[this.count] = timestamp
    this.relOffsets[this.count] = relOffset
    this.count++
  }

  /** Relative offset of the greatest entry whose timestamp is <= `timestamp`, or 0 when there is none. */
  lookup(timestamp: number): number {
    const i = floor(this.timestamps, this.count, timestamp)
    return i < 0 ? 0 : this.relOffsets[i]
  }

  /** Encodes entries [from, count) for the file. */
  encode(from = this.written): Buffer {
    const out = Buffer.allocUnsafe((this.count - from) * TIME_INDEX_ENTRY_SIZE)
    for (let i = from, at = 0; i < this.count; i++, at += TIME_INDEX_ENTRY_SIZE) {
      writeInt64Number(out, this.timestamps[i], at)
      out.writeUInt32BE(this.relOffsets[i], at + 8)
    }
    return out
  }

  /** Drops spare capacity (sealed segments never grow again). */
  trim(): void {
    if (this.timestamps.length > this.count + 1) this.resize(Math.max(this.count, 1))
  }

  private resize(capacity: number): void {
    const ts = new Float64Array(capacity)
    const rel = new Uint32Array(capacity)
    ts.set(this.timestamps.subarray(0, this.count))
    rel.set(this.relOffsets.subarray(0, this.count))
    this.timestamps = ts
    this.relOffsets = rel
  }
}
