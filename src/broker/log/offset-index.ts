/**
 * The sparse offset index of one segment, as Kafka lays it out on disk (`.index`):
 *
 *   entry => relativeOffset u32 | position u32     (8 bytes, big-endian, both strictly increasing)
 *
 * An entry says "the batch whose baseOffset is segmentBase + relativeOffset starts at position".
 * (Kafka keys entries by a batch's last offset; keying by the base offset lets a lookup land on the
 * batch that contains the offset instead of the one before it, and any reader that treats the
 * entry as "a batch boundary at or before the offset" — Kafka does — still works.) Entries live
 * in typed arrays; the file is written in bulk from `written` on.
 */

/** Bytes per on-disk entry. */
export const OFFSET_INDEX_ENTRY_SIZE = 8

export class OffsetIndex {
  relOffsets: Uint32Array
  positions: Uint32Array
  count = 0
  /** Entries already written to the file. */
  written = 0

  constructor(capacity = 64) {
    this.relOffsets = new Uint32Array(capacity)
    this.positions = new Uint32Array(capacity)
  }

  /** Parses a file's bytes; null when they are not a valid index (size, ordering, `maxPosition`). */
  static parse(bytes: Buffer, maxPosition: number): OffsetIndex | null {
    if (bytes.length % OFFSET_INDEX_ENTRY_SIZE !== 0) return null
    const n = bytes.length / OFFSET_INDEX_ENTRY_SIZE
    const index = new OffsetIndex(Math.max(n, 1))
    for (let i = 0, at = 0; i < n; i++, at += OFFSET_INDEX_ENTRY_SIZE) {
      const rel = bytes.readUInt32BE(at)
      const pos = bytes.readUInt32BE(at + 4)
      if (pos >= maxPosition) return null
      if (i > 0 && (rel <= index.relOffsets[i - 1] || pos <= index.positions[i - 1])) return null
      index.relOffsets[i] = rel
      index.positions[i] = pos
    }
    index.count = n
    index.written = n
    return index
  }

  append(relOffset: number, position: number): void {
    if (this.count === this.relOffsets.length) this.resize(this.count * 2)
    this.relOffsets[this.count] = relOffset
    this.positions[this.count] = position
    this.count++
  }

  /** Position of the last entry, or 0 (the segment start acts as an implicit entry). */
  get lastPosition(): number {
    return this.count === 0 ? 0 : this.positions[this.count - 1]
  }

  /** Index of the greatest entry whose relative offset is <= `rel`, or -1. */
  floorByOffset(rel: number): number {
    return floor(this.relOffsets, this.count, rel)
  }

  /** Index of the greatest entry whose position is <= `pos`, or -1. */
  floorByPosition(pos: number): number {
    return floor(this.positions, this.count, pos)
  }

  /** File position of the greatest entry <= `rel`, or 0 when there is none. */
  lookup(rel: number): number {
    const i = this.floorByOffset(rel)
    return i < 0 ? 0 : this.positions[i]
  }

  /** Encodes entries [from, count) for the file. */
  encode(from = this.written): Buffer {
    const out = Buffer.allocUnsafe((this.count - from) * OFFSET_INDEX_ENTRY_SIZE)
    for (let i = from, at = 0; i < this.count; i++, at += OFFSET_INDEX_ENTRY_SIZE) {
      out.writeUInt32BE(this.relOffsets[i], at)
      out.writeUInt32BE(this.positions[i], at + 4)
    }
    return out
  }

  /** Drops spare capacity (sealed segments never grow again). */
  trim(): void {
    if (this.relOffsets.length > this.count + 1) this.resize(Math.max(this.count, 1))
  }

  private resize(capacity: number): void {
    const rel = new Uint32Array(capacity)
    const pos = new Uint32Array(capacity)
    rel.set(this.relOffsets.subarray(0, this.count))
    pos.set(this.positions.subarray(0, this.count))
    this.relOffsets = rel
    this.positions = pos
  }
}

/** Index of the greatest of the first `n` (ascending) values that is <= `key`, or -1. */
export function floor(values: ArrayLike<number>, n: number, key: number): number {
  let lo = 0
  let hi = n - 1
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1
    if (values[mid] <= key) lo = mid + 1
    else hi = mid - 1
  }
  return hi
}
