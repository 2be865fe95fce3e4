/**
 * Reads Kafka wire primitives from one buffer, advancing a cursor. Every read checks bounds and
 * throws TICKFLOW_ERR_PROTOCOL_MALFORMED instead of reading past the end, so a truncated or lying
 * frame fails one request (and closes its connection), never the process.
 *
 * int64 values are `bigint`. Byte fields are returned as views into the frame (no copy).
 */
import { ErrorCodes, TickflowError } from '../errors.ts'

const EMPTY = Buffer.alloc(0)

export class Reader {
  readonly buffer: Buffer
  position: number
  readonly end: number

  constructor(buffer: Buffer, position = 0, end = buffer.length) {
    this.buffer = buffer
    this.position = position
    this.end = end
  }

  static from(buffer: Buffer): Reader {
    return new Reader(buffer)
  }

  get remaining(): number {
    return this.end - this.position
  }

  /** Throws unless `n` more bytes are available. */
  ensure(n: number): void {
    if (n < 0 || this.position + n > this.end) {
      throw malformed(`needed ${n} bytes at offset ${this.position}, ${this.end - this.position} left`)
    }
  }

  skip(n: number): this {
    this.ensure(n)
    this.position += n
    return this
  }

  readInt8(): number {
    this.ensure(1)
    return this.buffer.readInt8(this.position++)
  }

  readUInt8(): number {
    this.ensure(1)
    return this.buffer[this.position++]
  }

  readBoolean(): boolean {
    return this.readInt8() !== 0
  }

  readInt16(): number {
    this.ensure(2)
    const v = this.buffer.readInt16BE(this.position)
    this.position += 2
    return v
  }

  readUInt16(): number {
    this.ensure(2)
    const v = this.buffer.readUInt16BE(this.position)
    this.position += 2
    return v
  }

  readInt32(): number {
    this.ensure(4)
    const v = this.buffer.readInt32BE(this.position)
    this.position += 4
    return v
  }

  readUInt32(): number {
    this.ensure(4)
    const v = this.buffer.readUInt32BE(this.position)
    this.position += 4
    return v
  }

  readInt64(): bigint {
    this.ensure(8)
    const v = this.buffer.readBigInt64BE(this.position)
    this.position += 8
    return v
  }

  readFloat64(): number {
    this.ensure(8)
    const v = this.buffer.readDoubleBE(this.position)
    this.position += 8
    return v
  }

  /** Unsigned LEB128 varint of at most 32 bits (5 bytes). */
  readUnsignedVarInt(): number {
    let value = 0
    let shift = 0
    for (let i = 0; i < 5; i++) {
      if (this.position >= this.end) throw malformed('truncated varint')
      const byte = this.buffer[this.position++]
      value += (byte & 0x7f) * 2 ** shift
      if ((byte & 0x80) === 0) {
        if (value > 0xffffffff) throw malformed('varint exceeds 32 bits')
        return value
      }
      shift += 7
    }
    throw malformed('varint longer than 5 bytes')
  }

  /** Zig-zag signed varint of at most 32 bits. */
  readVarInt(): number {
    const u = this.readUnsignedVarInt()
    return (u >>> 1) ^ -(u & 1)
  }

  /** Zig-zag signed varint of at most 64 bits (10 bytes). */
  readVarLong(): bigint {
    let value = 0n
    let shift = 0n
    for (let i = 0; i < 10; i++) {
      if (this.position >= this.end) throw malformed('truncated varlong')
      const byte = this.buffer[this.position++]
      value |= BigInt(byte & 0x7f) << shift
      if ((byte & 0x80) === 0) return (value >> 1n) ^ -(value & 1n)
      shift += 7n
    }
    throw malformed('varlong longer than 10 bytes')
  }

  readUuid(): Buffer {
    this.ensure(16)
    const v = this.buffer.subarray(this.position, this.position + 16)
    this.position += 16
    return v
  }

  /** A view of the next `length` bytes. */
  readRaw(length: number): Buffer {
    this.ensure(length)
    const v = this.buffer.subarray(this.position, this.position + length)
    this.position += length
    return v
  }

  private readUtf8(length: number): string {
    this.ensure(length)
    const v = this.buffer.toString('utf8', this.position, this.position + length)
    this.position += length
    return v
  }

  /** int16 length + UTF-8; -1 = null. */
  readNullableString(): string | null {
    const length = this.readInt16()
    if (length === -1) return null
    if (length < 0) throw malformed(`negative string length ${length}`)
    return this.readUtf8(length)
  }

  readString(): string {
    const v = this.readNullableString()
    if (v === null) throw malformed('null in a non-nullable string')
    return v
  }

  /** Unsigned varint (length + 1) + UTF-8; 0 = null. */
  readCompactNullableString(): string | null {
    const n = this.readUnsignedVarInt()
    return n === 0 ? null : this.readUtf8(n - 1)
  }

  readCompactString(): string {
    const v = this.readCompactNullableString()
    if (v === null) throw malformed('null in a non-nullable compact string')
    return v
  }

  /** int32 length + bytes; -1 = null. */
  readNullableBytes(): Buffer | null {
    const length = this.readInt32()
    if (length === -1) return null
    if (length < 0) throw malformed(`negative bytes length ${length}`)
    return length === 0 ? EMPTY : this.readRaw(length)
  }

  readBytes(): Buffer {
    const v = this.readNullableBytes()
    if (v === null) throw malformed('null in non-nullable bytes')
    return v
  }

  readCompactNullableBytes(): Buffer | null {
    const n = this.readUnsignedVarInt()
    return n === 0 ? null : this.readRaw(n - 1)
  }

  readCompactBytes(): Buffer {
    const v = this.readCompactNullableBytes()
    if (v === null) throw malformed('null in non-nullable compact bytes')
    return v
  }

  /** Array length: int32 (-1 = null) or, when compact, unsigned varint (length + 1, 0 = null). */
  readArrayLength(compact: boolean): number {
    const n = compact ? this.readUnsignedVarInt() - 1 : this.readInt32()
    if (n < -1) throw malformed(`negative array length ${n}`)
    // Each element takes at least one byte: reject lengths the frame cannot hold before allocating.
    if (n > this.remaining) throw malformed(`array length ${n} exceeds the ${this.remaining} bytes left`)
    return n
  }

  readNullableArray<T>(compact: boolean, item: (r: Reader) => T): T[] | null {
    const n = this.readArrayLength(compact)
    if (n === -1) return null
    const out = new Array<T>(n)
    for (let i = 0; i < n; i++) out[i] = item(this)
    return out
  }

  readArray<T>(compact: boolean, item: (r: Reader) => T): T[] {
    const v = this.readNullableArray(compact, item)
    if (v === null) throw malformed('null in a non-nullable array')
    return v
  }

  /**
   * Reads a tagged-field block. `known` is called with each tag and a reader limited to that
   * field's bytes; unknown tags (known returns false) are skipped by size.
   */
  readTaggedFields(known?: (tag: number, r: Reader) => boolean): void {
    const count = this.readUnsignedVarInt()
    let lastTag = -1
    for (let i = 0; i < count; i++) {
      const tag = this.readUnsignedVarInt()
      if (tag <= lastTag) throw malformed(`tagged fields out of order: ${tag} after ${lastTag}`)
      lastTag = tag
      const size = this.readUnsignedVarInt()
      this.ensure(size)
      const fieldEnd = this.position + size
      if (known !== undefined) {
        const sub = new Reader(this.buffer, this.position, fieldEnd)
        known(tag, sub)
      }
      this.position = fieldEnd
    }
  }
}

export function malformed(message: string): TickflowError {
  return new TickflowError(ErrorCodes.PROTOCOL_MALFORMED, message)
}
