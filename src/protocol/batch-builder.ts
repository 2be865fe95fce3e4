/**
 * Builds one uncompressed RecordBatch v2 record by record, writing each record straight into a
 * growing buffer (no record objects). The producer-side fields (producer id, epoch, sequence,
 * transactional flag) are filled in by {@link BatchBuilder.finish}, so records can be collected
 * before the producer knows them.
 *
 * Record grammar (all lengths zigzag varints): length, attributes i8, timestampDelta varlong,
 * offsetDelta varint, key, value, header count, headers (key string, value bytes).
 */
import { crc32c } from './crc32c.ts'
import { Attributes, BATCH_HEADER_SIZE, LOG_OVERHEAD, Offsets, writeInt64Number } from './record-batch.ts'

/** A header of a record: name and value (UTF-8 when a string). */
export type RecordHeader = readonly [string, Buffer | string]

export interface FinishOptions {
  producerId: number
  producerEpoch: number
  baseSequence: number
  transactional: boolean
}

export class BatchBuilder {
  private buf: Buffer
  private at = BATCH_HEADER_SIZE
  private records = 0
  private baseTimestamp = -1
  private maxTimestamp = -1

  constructor(initialBytes = 16 * 1024) {
    this.buf = Buffer.allocUnsafe(Math.max(initialBytes, BATCH_HEADER_SIZE + 64))
  }

  /** Records appended since the last finish. */
  get count(): number {
    return this.records
  }

  /** Bytes the batch would have if finished now. */
  get size(): number {
    return this.at
  }

  /** Appends one record with create time `timestamp` (epoch ms). */
  append(
    key: Buffer | string | null,
    value: Buffer | string | null,
    timestamp: number,
    headers?: readonly RecordHeader[],
  ): void {
    if (this.records === 0) this.baseTimestamp = this.maxTimestamp = timestamp
    else if (timestamp > this.maxTimestamp) this.maxTimestamp = timestamp
    const keyLength = key === null ? -1 : typeof key === 'string' ? Buffer.byteLength(key) : key.length
    const valueLength = value === null ? -1 : typeof value === 'string' ? Buffer.byteLength(value) : value.length
    const tsDelta = timestamp - this.baseTimestamp
    let body =
      1 +
      varlongSize(tsDelta) +
      varintSize(this.records) +
      varintSize(keyLength) +
      Math.max(0, keyLength) +
      varintSize(valueLength) +
      Math.max(0, valueLength) +
      varintSize(headers?.length ?? 0)
    const headerLengths: number[] = []
    if (headers !== undefined) {
      for (const [name, v] of headers) {
        const n = Buffer.byteLength(name)
        const l = typeof v === 'string' ? Buffer.byteLength(v) : v.length
        headerLengths.push(n, l)
        body += varintSize(n) + n + varintSize(l) + l
      }
    }
    this.reserve(varintSize(body) + body)
    const buf = this.buf
    let at = writeVarint(buf, this.at, body)
    buf[at++] = 0
    at = writeVarlong(buf, at, tsDelta)
    at = writeVarint(buf, at, this.records)
    at = writeVarint(buf, at, keyLength)
    if (key !== null) at += typeof key === 'string' ? buf.write(key, at, keyLength, 'utf8') : key.copy(buf, at)
    at = writeVarint(buf, at, valueLength)
    if (value !== null)
      at += typeof value === 'string' ? buf.write(value, at, valueLength, 'utf8') : value.copy(buf, at)
    at = writeVarint(buf, at, headers?.length ?? 0)
    if (headers !== undefined) {
      for (let i = 0; i < headers.length; i++) {
        const [name, v] = headers[i]
        at = writeVarint(buf, at, headerLengths[2 * i])
        at += buf.write(name, at, headerLengths[2 * i], 'utf8')
        at = writeVarint(buf, at, headerLengths[2 * i + 1])
        at += typeof v === 'string' ? buf.write(v, at, headerLengths[2 * i + 1], 'utf8') : v.copy(buf, at)
      }
    }
    this.at = at
    this.records++
  }

  /**
   * The finished batch (a new buffer: baseOffset 0, CRC set), and the builder is emptied for the
   * next batch.
   */
  finish(o: FinishOptions): Buffer {
    const out = Buffer.from(this.buf.subarray(0, this.at))
    out.fill(0, 0, BATCH_HEADER_SIZE)
    writeInt64Number(out, 0, Offsets.baseOffset)
    out.writeInt32BE(this.at - LOG_OVERHEAD, Offsets.batchLength)
    out.writeInt32BE(-1, Offsets.partitionLeaderEpoch)
    out.writeInt8(2, Offsets.magic)
    out.writeInt16BE(o.transactional ? Attributes.transactional : 0, Offsets.attributes)
    out.writeInt32BE(this.records - 1, Offsets.lastOffsetDelta)
    writeInt64Number(out, this.baseTimestamp, Offsets.baseTimestamp)
    writeInt64Number(out, this.maxTimestamp, Offsets.maxTimestamp)
    writeInt64Number(out, o.producerId, Offsets.producerId)
    out.writeInt16BE(o.producerEpoch, Offsets.producerEpoch)
    out.writeInt32BE(o.baseSequence, Offsets.baseSequence)
    out.writeInt32BE(this.records, Offsets.recordCount)
    out.writeUInt32BE(crc32c(out, Offsets.attributes), Offsets.crc)
    this.reset()
    return out
  }

  /** Drops the records appended so far. */
  reset(): void {
    this.at = BATCH_HEADER_SIZE
    this.records = 0
  }

  private reserve(bytes: number): void {
    if (this.at + bytes <= this.buf.length) return
    const next = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.at + bytes))
    this.buf.copy(next, 0, 0, this.at)
    this.buf = next
  }
}

/** Bytes of `n` as a zigzag varint. */
export function varintSize(n: number): number {
  let v = ((n << 1) ^ (n >> 31)) >>> 0
  let size = 1
  while (v >= 0x80) {
    v >>>= 7
    size++
  }
  return size
}

/** Writes `n` as a zigzag varint at `at`; returns the position after it. */
export function writeVarint(buf: Buffer, at: number, n: number): number {
  let v = ((n << 1) ^ (n >> 31)) >>> 0
  while (v >= 0x80) {
    buf[at++] = (v & 0x7f) | 0x80
    v >>>= 7
  }
  buf[at++] = v
  return at
}

// Timestamp deltas are varlongs; within a batch they stay far below 2^31 in practice, but a
// negative or large delta is still encoded exactly through the number path (|n| < 2^52).
function varlongSize(n: number): number {
  let v = n >= 0 ? n * 2 : -n * 2 - 1
  let size = 1
  while (v >= 0x80) {
    v = Math.floor(v / 128)
    size++
  }
  return size
}

function writeVarlong(buf: Buffer, at: number, n: number): number {
  let v = n >= 0 ? n * 2 : -n * 2 - 1
  while (v >= 0x80) {
    buf[at++] = (v % 128) | 0x80
    v = Math.floor(v / 128)
  }
  buf[at++] = v
  return at
}
