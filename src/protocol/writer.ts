/**
 * Builds Kafka wire data with chainable appends:
 * `Writer.create().appendInt32(x).appendCompactString(s)`.
 *
 * The output is a list of chunks, not one buffer: scalars go into a growing scratch buffer, while
 * large byte payloads (record batches read from the log) are appended as their own chunks without
 * copying. `toBuffers()` gives the chunks for a vectored socket write.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'

/** Payloads at least this long are linked as chunks instead of copied. */
const LINK_THRESHOLD = 1024
const MAX_SCRATCH = 64 * 1024

export class Writer {
  private chunks: Buffer[] = []
  private scratch: Buffer
  private pos = 0
  private start = 0
  private total = 0

  constructor(initialSize = 256) {
    this.scratch = Buffer.allocUnsafe(initialSize)
  }

  static create(initialSize?: number): Writer {
    return new Writer(initialSize)
  }

  /** Total bytes written so far. */
  get length(): number {
    return this.total
  }

  private reserve(n: number): number {
    if (this.pos + n > this.scratch.length) {
      this.flushScratch()
      const size = Math.min(MAX_SCRATCH, Math.max(this.scratch.length * 2, n))
      this.scratch = Buffer.allocUnsafe(Math.max(size, n))
      this.pos = 0
      this.start = 0
    }
    const at = this.pos
    this.pos += n
    this.total += n
    return at
  }

  /** Writes one byte. (Reserve first: reserve() may swap in a new scratch buffer.) */
  private putByte(v: number): void {
    const at = this.reserve(1)
    this.scratch[at] = v
  }

  private flushScratch(): void {
    if (this.pos > this.start) this.chunks.push(this.scratch.subarray(this.start, this.pos))
    this.start = this.pos
  }

  appendInt8(v: number): this {
    const at = this.reserve(1)
    this.scratch.writeInt8(v, at)
    return this
  }

  appendUInt8(v: number): this {
    this.putByte(v)
    return this
  }

  appendBoolean(v: boolean): this {
    this.putByte(v ? 1 : 0)
    return this
  }

  appendInt16(v: number): this {
    const at = this.reserve(2)
    this.scratch.writeInt16BE(v, at)
    return this
  }

  appendUInt16(v: number): this {
    const at = this.reserve(2)
    this.scratch.writeUInt16BE(v, at)
    return this
  }

  appendInt32(v: number): this {
    const at = this.reserve(4)
    this.scratch.writeInt32BE(v, at)
    return this
  }

  appendUInt32(v: number): this {
    const at = this.reserve(4)
    this.scratch.writeUInt32BE(v, at)
    return this
  }

  appendInt64(v: bigint): this {
    const at = this.reserve(8)
    this.scratch.writeBigInt64BE(v, at)
    return this
  }

  appendFloat64(v: number): this {
    const at = this.reserve(8)
    this.scratch.writeDoubleBE(v, at)
    return this
  }

  appendUnsignedVarInt(v: number): this {
    if (v < 0 || v > 0xffffffff || !Number.isInteger(v)) throw encodeError(`unsigned varint out of range: ${v}`)
    while (v >= 0x80) {
      this.putByte((v & 0x7f) | 0x80)
      v = Math.floor(v / 128)
    }
    this.putByte(v)
    return this
  }

  appendVarInt(v: number): this {
    return this.appendUnsignedVarInt(((v << 1) ^ (v >> 31)) >>> 0)
  }

  appendVarLong(v: bigint): this {
    let u = BigInt.asUintN(64, (v << 1n) ^ (v >> 63n))
    while (u >= 0x80n) {
      this.putByte(Number(u & 0x7fn) | 0x80)
      u >>= 7n
    }
    this.putByte(Number(u))
    return this
  }

  appendUuid(v: Buffer): this {
    if (v.length !== 16) throw encodeError(`uuid must be 16 bytes, got ${v.length}`)
    return this.appendRaw(v)
  }

  /** Appends bytes as they are: large ones are linked without copying. */
  appendRaw(v: Buffer): this {
    if (v.length >= LINK_THRESHOLD) {
      this.flushScratch()
      this.chunks.push(v)
      this.total += v.length
    } else if (v.length > 0) {
      const at = this.reserve(v.length)
      v.copy(this.scratch, at)
    }
    return this
  }

  /** Appends several buffers as one logical field (e.g. a fetch's record batches). */
  appendRawList(list: readonly Buffer[]): this {
    for (const b of list) this.appendRaw(b)
    return this
  }

  private appendUtf8(v: string, length: number): this {
    if (length > 0) {
      const at = this.reserve(length)
      this.scratch.write(v, at, length, 'utf8')
    }
    return this
  }

  appendNullableString(v: string | null): this {
    if (v === null) return this.appendInt16(-1)
    const length = Buffer.byteLength(v)
    if (length > 0x7fff) throw encodeError(`string of ${length} bytes exceeds int16 length`)
    return this.appendInt16(length).appendUtf8(v, length)
  }

  appendString(v: string): this {
    if (v === null || v === undefined) throw encodeError('null in a non-nullable string')
    return this.appendNullableString(v)
  }

  appendCompactNullableString(v: string | null): this {
    if (v === null) return this.appendUnsignedVarInt(0)
    const length = Buffer.byteLength(v)
    return this.appendUnsignedVarInt(length + 1).appendUtf8(v, length)
  }

  appendCompactString(v: string): this {
    if (v === null || v === undefined) throw encodeError('null in a non-nullable compact string')
    return this.appendCompactNullableString(v)
  }

  appendNullableBytes(v: Buffer | null): this {
    if (v === null) return this.appendInt32(-1)
    return this.appendInt32(v.length).appendRaw(v)
  }

  appendBytes(v: Buffer): this {
    if (v === null || v === undefined) throw encodeError('null in non-nullable bytes')
    return this.appendNullableBytes(v)
  }

  appendCompactNullableBytes(v: Buffer | null): this {
    if (v === null) return this.appendUnsignedVarInt(0)
    return this.appendUnsignedVarInt(v.length + 1).appendRaw(v)
  }

  appendCompactBytes(v: Buffer): this {
    if (v === null || v === undefined) throw encodeError('null in non-nullable compact bytes')
    return this.appendCompactNullableBytes(v)
  }

  /** Array length prefix: int32 (-1 = null) or compact unsigned varint (length + 1, 0 = null). */
  appendArrayLength(length: number | null, compact: boolean): this {
    if (compact) return this.appendUnsignedVarInt(length === null ? 0 : length + 1)
    return this.appendInt32(length === null ? -1 : length)
  }

  appendNullableArray<T>(v: readonly T[] | null, compact: boolean, item: (w: Writer, value: T) => void): this {
    if (v === null) return this.appendArrayLength(null, compact)
    this.appendArrayLength(v.length, compact)
    for (const e of v) item(this, e)
    return this
  }

  appendArray<T>(v: readonly T[], compact: boolean, item: (w: Writer, value: T) => void): this {
    if (v === null || v === undefined) throw encodeError('null in a non-nullable array')
    return this.appendNullableArray(v, compact, item)
  }

  /** An empty tagged-field block. */
  appendEmptyTaggedFields(): this {
    this.putByte(0)
    return this
  }

  /**
   * A tagged-field block from (tag, encode) pairs; each field is encoded into its own writer to
   * learn its size. Tags must be given in ascending order.
   */
  appendTaggedFields(fields: ReadonlyArray<readonly [number, (w: Writer) => void]>): this {
    this.appendUnsignedVarInt(fields.length)
    for (const [tag, encode] of fields) {
      const sub = new Writer(64)
      encode(sub)
      this.appendUnsignedVarInt(tag).appendUnsignedVarInt(sub.length)
      this.appendRawList(sub.toBuffers())
    }
    return this
  }

  /** The written chunks, in order. The writer must not be used afterwards. */
  toBuffers(): Buffer[] {
    this.flushScratch()
    return this.chunks
  }

  /** The written bytes as one buffer (copies when there is more than one chunk). */
  toBuffer(): Buffer {
    const chunks = this.toBuffers()
    return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, this.total)
  }
}

function encodeError(message: string): TickflowError {
  return new TickflowError(ErrorCodes.PROTOCOL_ENCODE, message)
}
