/**
 * RecordBatch v2 (magic 2): the unit in which Kafka stores and ships records.
 *
 *   baseOffset i64 | batchLength i32 | partitionLeaderEpoch i32 | magic i8 | crc u32 |
 *   attributes i16 | lastOffsetDelta i32 | baseTimestamp i64 | maxTimestamp i64 |
 *   producerId i64 | producerEpoch i16 | baseSequence i32 | records: [Record] (count i32, then
 *   the records, compressed as a whole when attributes say so)
 *
 * The CRC-32C covers attributes to the end, so the broker can patch baseOffset and
 * partitionLeaderEpoch in place without recomputing it. Offsets are JS numbers here: exact up to
 * 2^53, which no partition reaches.
 *
 *   Record => length varint | attributes i8 | timestampDelta varlong | offsetDelta varint |
 *             key varint-bytes | value varint-bytes | headers [key varint-string, value varint-bytes]
 */
import zlib from 'node:zlib'
import { crc32c } from './crc32c.ts'
import { malformed, Reader } from './reader.ts'
import { Writer } from './writer.ts'

export const LOG_OVERHEAD = 12
export const BATCH_HEADER_SIZE = 61
export const CURRENT_MAGIC = 2

export const Offsets = {
  baseOffset: 0,
  batchLength: 8,
  partitionLeaderEpoch: 12,
  magic: 16,
  crc: 17,
  attributes: 21,
  lastOffsetDelta: 23,
  baseTimestamp: 27,
  maxTimestamp: 35,
  producerId: 43,
  producerEpoch: 51,
  baseSequence: 53,
  recordCount: 57,
} as const

export const Compression = { none: 0, gzip: 1, snappy: 2, lz4: 3, zstd: 4 } as const
export type CompressionName = keyof typeof Compression
export const COMPRESSION_NAMES: readonly CompressionName[] = ['none', 'gzip', 'snappy', 'lz4', 'zstd']

export const Attributes = {
  compressionMask: 0x07,
  logAppendTime: 0x08,
  transactional: 0x10,
  control: 0x20,
} as const

export interface BatchHeader {
  baseOffset: number
  batchLength: number
  partitionLeaderEpoch: number
  magic: number
  crc: number
  attributes: number
  lastOffsetDelta: number
  baseTimestamp: number
  maxTimestamp: number
  producerId: number
  producerEpoch: number
  baseSequence: number
  recordCount: number
}

/** Reads a signed 64-bit big-endian integer as a JS number (exact below 2^53). */
export function readInt64Number(buf: Uint8Array, at: number): number {
  const hi = (buf[at] << 24) | (buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]
  const lo = ((buf[at + 4] << 24) | (buf[at + 5] << 16) | (buf[at + 6] << 8) | buf[at + 7]) >>> 0
  return hi * 0x100000000 + lo
}

/** Writes a JS number as a signed 64-bit big-endian integer. */
export function writeInt64Number(buf: Buffer, value: number, at: number): void {
  const hi = Math.floor(value / 0x100000000)
  buf.writeInt32BE(hi | 0, at)
  buf.writeUInt32BE(value - hi * 0x100000000, at + 4)
}

/** Decodes the 61-byte header of the batch starting at `at`. The caller checks bounds. */
export function readBatchHeader(buf: Buffer, at = 0): BatchHeader {
  return {
    baseOffset: readInt64Number(buf, at),
    batchLength: buf.readInt32BE(at + Offsets.batchLength),
    partitionLeaderEpoch: buf.readInt32BE(at + Offsets.partitionLeaderEpoch),
    magic: buf.readInt8(at + Offsets.magic),
    crc: buf.readUInt32BE(at + Offsets.crc),
    attributes: buf.readInt16BE(at + Offsets.attributes),
    lastOffsetDelta: buf.readInt32BE(at + Offsets.lastOffsetDelta),
    baseTimestamp: readInt64Number(buf, at + Offsets.baseTimestamp),
    maxTimestamp: readInt64Number(buf, at + Offsets.maxTimestamp),
    producerId: readInt64Number(buf, at + Offsets.producerId),
    producerEpoch: buf.readInt16BE(at + Offsets.producerEpoch),
    baseSequence: buf.readInt32BE(at + Offsets.baseSequence),
    recordCount: buf.readInt32BE(at + Offsets.recordCount),
  }
}

/** Why a batch is invalid, as a Kafka error name, or null when it is valid. */
export type BatchProblem = 'CORRUPT_MESSAGE' | 'INVALID_RECORD' | 'UNSUPPORTED_COMPRESSION_TYPE'

export interface BatchCheck {
  problem: BatchProblem | null
  detail: string
}

/**
 * Validates the batch occupying exactly `buf[at, at + size)` like Kafka does on produce: magic 2,
 * batchLength consistent with the size, record count consistent with lastOffsetDelta, a known
 * codec, no control bit set by a client, and a CRC-32C that matches.
 */
export function checkBatch(
  buf: Buffer,
  at: number,
  size: number,
  options: { allowControl?: boolean } = {},
): BatchCheck {
  if (size < BATCH_HEADER_SIZE) return bad('CORRUPT_MESSAGE', `batch of ${size} bytes is shorter than its header`)
  const magic = buf[at + Offsets.magic]
  if (magic !== CURRENT_MAGIC) return bad('CORRUPT_MESSAGE', `magic ${magic} is not 2`)
  const batchLength = buf.readInt32BE(at + Offsets.batchLength)
  if (batchLength !== size - LOG_OVERHEAD) {
    return bad('CORRUPT_MESSAGE', `batchLength ${batchLength} does not match ${size - LOG_OVERHEAD}`)
  }
  const attributes = buf.readInt16BE(at + Offsets.attributes)
  if ((attributes & Attributes.compressionMask) > 4) {
    return bad('UNSUPPORTED_COMPRESSION_TYPE', `compression codec ${attributes & Attributes.compressionMask}`)
  }
  if (!options.allowControl && attributes & Attributes.control) {
    return bad('INVALID_RECORD', 'clients may not produce control batches')
  }
  const lastOffsetDelta = buf.readInt32BE(at + Offsets.lastOffsetDelta)
  const count = buf.readInt32BE(at + Offsets.recordCount)
  if (count <= 0 || lastOffsetDelta !== count - 1) {
    return bad('INVALID_RECORD', `recordCount ${count} does not match lastOffsetDelta ${lastOffsetDelta}`)
  }
  const expected = buf.readUInt32BE(at + Offsets.crc)
  const actual = crc32c(buf, at + Offsets.attributes, at + size)
  if (expected !== actual) return bad('CORRUPT_MESSAGE', `CRC mismatch: header ${expected}, computed ${actual}`)
  if ((attributes & Attributes.compressionMask) === 0) {
    const framing = recordsFramingProblem(buf, at + BATCH_HEADER_SIZE, at + size, count)
    if (framing !== null) return bad('INVALID_RECORD', framing)
  }
  return { problem: null, detail: '' }
}

/**
 * Checks that an uncompressed records section is exactly `count` length-prefixed records: each
 * length a positive varint, together filling the section. Cheap (one varint per record) and it
 * stops a batch whose records cannot be decoded from being stored. Compressed sections are not
 * inspected: that would mean decompressing every batch on the write path.
 */
function recordsFramingProblem(buf: Buffer, start: number, end: number, count: number): string | null {
  let pos = start
  for (let i = 0; i < count; i++) {
    let raw = 0
    let shift = 0
    for (;;) {
      if (pos >= end || shift > 28) return `record ${i} has a truncated length`
      const byte = buf[pos++]
      raw |= (byte & 0x7f) << shift
      if ((byte & 0x80) === 0) break
      shift += 7
    }
    const length = (raw >>> 1) ^ -(raw & 1)
    if (length <= 0 || length > end - pos) return `record ${i} has length ${length} with ${end - pos} bytes left`
    pos += length
  }
  return pos === end ? null : `${end - pos} bytes follow the last of ${count} records`
}

function bad(problem: BatchProblem, detail: string): BatchCheck {
  return { problem, detail }
}

/** One record, decoded. Offsets and timestamps are absolute (base + delta). */
export interface Record {
  offset: number
  timestamp: number
  key: Buffer | null
  value: Buffer | null
  headers: Array<[string, Buffer | null]>
}

/** Input for building a batch; missing fields take Kafka's producer defaults. */
export interface RecordInput {
  key?: Buffer | string | null
  value: Buffer | string | null
  timestamp?: number
  headers?: Array<[string, Buffer | string | null]>
}

export interface BuildBatchOptions {
  baseOffset?: number
  baseTimestamp?: number
  compression?: CompressionName
  producerId?: number
  producerEpoch?: number
  baseSequence?: number
  transactional?: boolean
  control?: boolean
  partitionLeaderEpoch?: number
}

const toBuf = (v: Buffer | string | null | undefined): Buffer | null =>
  v === null || v === undefined ? null : typeof v === 'string' ? Buffer.from(v) : v

/** Encodes records into one RecordBatch v2 (gzip and zstd compression built in). */
export function buildRecordBatch(records: readonly RecordInput[], options: BuildBatchOptions = {}): Buffer {
  if (records.length === 0) throw new RangeError('a batch needs at least one record')
  const now = Date.now()
  const baseTimestamp = options.baseTimestamp ?? records[0].timestamp ?? now
  let maxTimestamp = -1
  const body = Writer.create(1024)
  records.forEach((r, i) => {
    const ts = r.timestamp ?? baseTimestamp
    if (ts > maxTimestamp) maxTimestamp = ts
    const rec = Writer.create(64)
    rec
      .appendInt8(0)
      .appendVarLong(BigInt(ts - baseTimestamp))
      .appendVarInt(i)
    appendVarBytes(rec, toBuf(r.key))
    appendVarBytes(rec, toBuf(r.value))
    const headers = r.headers ?? []
    rec.appendVarInt(headers.length)
    for (const [hk, hv] of headers) {
      appendVarBytes(rec, Buffer.from(hk))
      appendVarBytes(rec, toBuf(hv))
    }
    const bytes = rec.toBuffer()
    body.appendVarInt(bytes.length).appendRaw(bytes)
  })
  const codec = options.compression ?? 'none'
  let payload = body.toBuffer()
  if (codec === 'gzip') payload = zlib.gzipSync(payload)
  else if (codec === 'zstd') payload = zlib.zstdCompressSync(payload)
  else if (codec !== 'none') throw new RangeError(`buildRecordBatch cannot compress with ${codec}`)

  let attributes = Compression[codec]
  if (options.transactional) attributes |= Attributes.transactional
  if (options.control) attributes |= Attributes.control
  const out = Buffer.alloc(BATCH_HEADER_SIZE + payload.length)
  writeInt64Number(out, options.baseOffset ?? 0, Offsets.baseOffset)
  out.writeInt32BE(out.length - LOG_OVERHEAD, Offsets.batchLength)
  out.writeInt32BE(options.partitionLeaderEpoch ?? -1, Offsets.partitionLeaderEpoch)
  out.writeInt8(CURRENT_MAGIC, Offsets.magic)
  out.writeInt16BE(attributes, Offsets.attributes)
  out.writeInt32BE(records.length - 1, Offsets.lastOffsetDelta)
  writeInt64Number(out, baseTimestamp, Offsets.baseTimestamp)
  writeInt64Number(out, maxTimestamp, Offsets.maxTimestamp)
  writeInt64Number(out, options.producerId ?? -1, Offsets.producerId)
  out.writeInt16BE(options.producerEpoch ?? -1, Offsets.producerEpoch)
  out.writeInt32BE(options.baseSequence ?? -1, Offsets.baseSequence)
  out.writeInt32BE(records.length, Offsets.recordCount)
  payload.copy(out, BATCH_HEADER_SIZE)
  out.writeUInt32BE(crc32c(out, Offsets.attributes), Offsets.crc)
  return out
}

function appendVarBytes(w: Writer, v: Buffer | null): void {
  if (v === null) w.appendVarInt(-1)
  else w.appendVarInt(v.length).appendRaw(v)
}

/**
 * Decodes the records of an uncompressed records section (`payload` = the bytes after the 61-byte
 * header, already decompressed by the caller when the batch is compressed).
 */
export function decodeRecords(header: BatchHeader, payload: Buffer): Record[] {
  const r = new Reader(payload)
  const out: Record[] = []
  for (let i = 0; i < header.recordCount; i++) {
    const length = r.readVarInt()
    if (length < 0) throw malformed(`negative record length ${length}`)
    r.ensure(length)
    // Each record is read through a reader bounded by its declared length.
    const rec = new Reader(payload, r.position, r.position + length)
    r.position += length
    rec.readInt8() // attributes, unused
    const timestampDelta = Number(rec.readVarLong())
    const offsetDelta = rec.readVarInt()
    const key = readVarBytes(rec)
    const value = readVarBytes(rec)
    const headerCount = rec.readVarInt()
    if (headerCount < 0 || headerCount > rec.remaining) throw malformed(`bad header count ${headerCount}`)
    const headers: Array<[string, Buffer | null]> = []
    for (let h = 0; h < headerCount; h++) {
      const hk = readVarBytes(rec)
      headers.push([hk === null ? '' : hk.toString('utf8'), readVarBytes(rec)])
    }
    out.push({
      offset: header.baseOffset + offsetDelta,
      timestamp: header.baseTimestamp + timestampDelta,
      key,
      value,
      headers,
    })
  }
  return out
}

function readVarBytes(r: Reader): Buffer | null {
  const n = r.readVarInt()
  return n < 0 ? null : r.readRaw(n)
}

/**
 * Transaction markers: a control batch (control + transactional bits) holding one record whose
 *   key   => version int16 (0) | type int16 (0 = ABORT, 1 = COMMIT)
 *   value => version int16 (0) | coordinatorEpoch int32
 */
export const ControlType = { abort: 0, commit: 1 } as const

export function buildControlBatch(o: {
  producerId: number
  producerEpoch: number
  commit: boolean
  coordinatorEpoch?: number
  timestamp?: number
}): Buffer {
  const key = Buffer.alloc(4)
  key.writeInt16BE(0, 0)
  key.writeInt16BE(o.commit ? ControlType.commit : ControlType.abort, 2)
  const value = Buffer.alloc(6)
  value.writeInt16BE(0, 0)
  value.writeInt32BE(o.coordinatorEpoch ?? 0, 2)
  return buildRecordBatch([{ key, value, timestamp: o.timestamp }], {
    producerId: o.producerId,
    producerEpoch: o.producerEpoch,
    transactional: true,
    control: true,
  })
}

/**
 * The marker type of an (uncompressed) control batch: 'commit', 'abort', or null when the batch
 * is not a transaction marker.
 */
export function readControlType(batch: Buffer): 'commit' | 'abort' | null {
  const header = readBatchHeader(batch)
  if ((header.attributes & Attributes.control) === 0 || (header.attributes & Attributes.compressionMask) !== 0) {
    return null
  }
  const [record] = decodeRecords(header, batch.subarray(BATCH_HEADER_SIZE, LOG_OVERHEAD + header.batchLength))
  if (record?.key === null || record === undefined || record.key.length < 4) return null
  const type = record.key.readInt16BE(2)
  return type === ControlType.commit ? 'commit' : type === ControlType.abort ? 'abort' : null
}
