/**
 * Small shared pieces of the generated message codecs (`src/protocol/messages/`): the input type
 * {@link DeepPartial}, the {@link Records} view type, errors for nulls and unknown versions, the
 * records field codec and readers/writers for arrays of primitives.
 *
 * Hand-written, not generated: scripts/generate-protocol.ts emits calls to these functions.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import { malformed } from './reader.ts'
import type { Reader } from './reader.ts'
import type { Writer } from './writer.ts'

declare const recordsBrand: unique symbol

/**
 * A `records` field as decoded: a zero-copy view of the record batches in the frame. The brand
 * only lets {@link DeepPartial} widen records fields on write to `Buffer | readonly Buffer[]`.
 */
export type Records = Buffer & { readonly [recordsBrand]: true }

/**
 * The input of a generated `write…` function: every field optional (undefined = the field's
 * default), arrays readonly, and records fields given as one buffer or a list of batches.
 */
export type DeepPartial<T> = T extends Records
  ? Buffer | readonly Buffer[]
  : T extends Buffer | bigint | number | string | boolean | null | undefined
    ? T
    : T extends readonly (infer E)[]
      ? readonly DeepPartial<E>[]
      : { [K in keyof T]?: DeepPartial<T[K]> }

/** A shared empty buffer: the default of bytes fields. Zero-length, so nothing can mutate it. */
export const EMPTY_BYTES: Buffer = Buffer.alloc(0)

/**
 * The all-zero uuid: written when a uuid field is undefined, and returned by readers for uuid fields
 * absent from a version. Like every decoded buffer (views into the frame), treat it as read-only.
 */
export const ZERO_UUID: Buffer = Buffer.alloc(16)

export function isZeroUuid(v: Buffer): boolean {
  return v.length === 16 && v.equals(ZERO_UUID)
}

/** Throws TICKFLOW_ERR_PROTOCOL_ENCODE: `field` is null in a version where it is not nullable. */
export function nonNullable(field: string): never {
  throw new TickflowError(ErrorCodes.PROTOCOL_ENCODE, `${field} is not nullable in this version`)
}

/** Throws TICKFLOW_ERR_PROTOCOL_MALFORMED: the frame has a null where the version forbids one. */
export function malformedNull(field: string): never {
  throw malformed(`null in non-nullable field ${field}`)
}

/** Throws TICKFLOW_ERR_PROTOCOL_UNSUPPORTED for a version outside a message's valid range. */
export function unsupportedVersion(message: string, version: number): never {
  throw new TickflowError(ErrorCodes.PROTOCOL_UNSUPPORTED, `${message} has no version ${version}`)
}

/**
 * Consumes an empty tagged-field block (a single 0 byte) and returns true, or returns false and
 * consumes nothing. Lets structs with known tags skip creating their tag callback in the common case.
 */
export function skipEmptyTaggedFields(r: Reader): boolean {
  if (r.position < r.end && r.buffer[r.position] === 0) {
    r.position++
    return true
  }
  return false
}

// records => bytes (int32 length, -1 = null) or, when compact, unsigned varint length + 1 (0 = null)
export function readRecords(r: Reader, compact: boolean): Records | null {
  return (compact ? r.readCompactNullableBytes() : r.readNullableBytes()) as Records | null
}

/**
 * Writes a records field. A list of batches is written back to back under one length prefix equal
 * to their total size, without copying them (the fetch path hands over batches read from the log).
 */
export function writeRecords(w: Writer, value: Buffer | readonly Buffer[] | null, compact: boolean): void {
  if (value === null) {
    if (compact) w.appendUnsignedVarInt(0)
    else w.appendInt32(-1)
    return
  }
  if (Buffer.isBuffer(value)) {
    if (compact) w.appendCompactNullableBytes(value)
    else w.appendNullableBytes(value)
    return
  }
  let size = 0
  for (let i = 0; i < value.length; i++) size += value[i].length
  if (size > 0x7ffffffe) throw new TickflowError(ErrorCodes.PROTOCOL_ENCODE, `records of ${size} bytes`)
  if (compact) w.appendUnsignedVarInt(size + 1)
  else w.appendInt32(size)
  w.appendRawList(value)
}

// Arrays of primitives: [T] => length (int32, -1 = null; compact: unsigned varint length + 1) then
// the elements. Readers return null for a null array; callers decide whether null is allowed.
// One function per element type keeps every loop monomorphic (no per-element callback).

export function readInt8Array(r: Reader, compact: boolean): number[] | null {
  const n = r.readArrayLength(compact)
  if (n === -1) return null
  const list = new Array<number>(n)
  for (let i = 0; i < n; i++) list[i] = r.readInt8()
  return list
}

export function readInt16Array(r: Reader, compact: boolean): number[] | null {
  const n = r.readArrayLength(compact)
  if (n === -1) return null
  const list = new Array<number>(n)
  for (let i = 0; i < n; i++) list[i] = r.readInt16()
  return list
}

export function readUInt16Array(r: Reader, compact: boolean): number[] | null {
  const n = r.readArrayLength(compact)
  if (n === -1) return null
  const list = new Array<number>(n)
  for (let i = 0; i < n; i++) list[i] = r.readUInt16()
  return list
}

export function readInt32Array(r: Reader, compact: boolean): number[] | null {
  const n = r.readArrayLength(compact)
  if (n === -1) return null
  const list = new Array<number>(n)
  for (let i = 0; i < n; i++) list[i] = r.readInt32()
  return list
}

export function readUInt32Array(r: Reader, compact: boolean): number[] | null {
  const n = r.readArrayLength(compact)
  if (n === -1) return null
  const list = new Array<number>(n)
  for (let i = 0; i < n; i++) list[i] = r.readUInt32()
  return list
}

export function readInt64Array(r: Reader, compact: boolean): bigint[] | null {
  const n = r.readArrayLength(compact)
  if (n === -1) return null
  const list = new Array<bigint>(n)
  for (let i = 0; i < n; i++) list[i] = r.readInt64()
  return list
}

export function readFloat64Array(r: Reader, compact: boolean): number[] | null {
  const n = r.readArrayLength(compact)
  if (n === -1) return null
  const list = new Array<number>(n)
  for (let i = 0; i < n; i++) list[i] = r.readFloat64()
  return list
}

export function readBoolArray(r: Reader, compact: boolean): boolean[] | null {
  const n = r.readArrayLength(compact)
  if (n === -1) return null
  const list = new Array<boolean>(n)
  for (let i = 0; i < n; i++) list[i] = r.readBoolean()
  return list
}

export function readStringArray(r: Reader, compact: boolean): string[] | null {
  const n = r.readArrayLength(compact)
  if (n === -1) return null
  const list = new Array<string>(n)
  if (compact) for (let i = 0; i < n; i++) list[i] = r.readCompactString()
  else for (let i = 0; i < n; i++) list[i] = r.readString()
  return list
}

export function readUuidArray(r: Reader, compact: boolean): Buffer[] | null {
  const n = r.readArrayLength(compact)
  if (n === -1) return null
  const list = new Array<Buffer>(n)
  for (let i = 0; i < n; i++) list[i] = r.readUuid()
  return list
}

export function writeInt8Array(w: Writer, compact: boolean, list: readonly number[] | null): void {
  w.appendArrayLength(list === null ? null : list.length, compact)
  if (list !== null) for (let i = 0; i < list.length; i++) w.appendInt8(list[i])
}

export function writeInt16Array(w: Writer, compact: boolean, list: readonly number[] | null): void {
  w.appendArrayLength(list === null ? null : list.length, compact)
  if (list !== null) for (let i = 0; i < list.length; i++) w.appendInt16(list[i])
}

export function writeUInt16Array(w: Writer, compact: boolean, list: readonly number[] | null): void {
  w.appendArrayLength(list === null ? null : list.length, compact)
  if (list !== null) for (let i = 0; i < list.length; i++) w.appendUInt16(list[i])
}

export function writeInt32Array(w: Writer, compact: boolean, list: readonly number[] | null): void {
  w.appendArrayLength(list === null ? null : list.length, compact)
  if (list !== null) for (let i = 0; i < list.length; i++) w.appendInt32(list[i])
}

export function writeUInt32Array(w: Writer, compact: boolean, list: readonly number[] | null): void {
  w.appendArrayLength(list === null ? null : list.length, compact)
  if (list !== null) for (let i = 0; i < list.length; i++) w.appendUInt32(list[i])
}

export function writeInt64Array(w: Writer, compact: boolean, list: readonly bigint[] | null): void {
  w.appendArrayLength(list === null ? null : list.length, compact)
  if (list !== null) for (let i = 0; i < list.length; i++) w.appendInt64(list[i])
}

export function writeFloat64Array(w: Writer, compact: boolean, list: readonly number[] | null): void {
  w.appendArrayLength(list === null ? null : list.length, compact)
  if (list !== null) for (let i = 0; i < list.length; i++) w.appendFloat64(list[i])
}

export function writeBoolArray(w: Writer, compact: boolean, list: readonly boolean[] | null): void {
  w.appendArrayLength(list === null ? null : list.length, compact)
  if (list !== null) for (let i = 0; i < list.length; i++) w.appendBoolean(list[i])
}

export function writeStringArray(w: Writer, compact: boolean, list: readonly string[] | null): void {
  w.appendArrayLength(list === null ? null : list.length, compact)
  if (list === null) return
  if (compact) for (let i = 0; i < list.length; i++) w.appendCompactString(list[i])
  else for (let i = 0; i < list.length; i++) w.appendString(list[i])
}

export function writeUuidArray(w: Writer, compact: boolean, list: readonly Buffer[] | null): void {
  w.appendArrayLength(list === null ? null : list.length, compact)
  if (list !== null) for (let i = 0; i < list.length; i++) w.appendUuid(list[i])
}
