/**
 * Snappy, Kafka codec 2, in pure TypeScript: the block format, and the xerial (snappy-java) framing
 * that the Java client wraps around it.
 *
 *   block   => uncompressedLength uvarint | element*
 *   element => tag u8, low two bits select the kind:
 *     00 literal: length-1 = tag>>2 when < 60, else 1..4 little-endian bytes (tag>>2 = 60..63) hold it
 *     01 copy:    length = 4 + ((tag>>2) & 7), offset = (tag>>5) << 8 | u8          (11-bit offset)
 *     10 copy:    length = 1 + (tag>>2), offset = u16le
 *     11 copy:    length = 1 + (tag>>2), offset = u32le
 *   A copy repeats `length` bytes starting `offset` bytes back in the output; it may overlap itself.
 *
 *   xerial  => magic 82 53 4e 41 50 50 59 00 | version i32 | compatVersion i32 | [length i32, block]*
 *
 * Kafka producers send either: the Java client writes xerial framing, librdkafka and most
 * JavaScript clients a raw block. Decoding detects the magic; encoding writes xerial.
 */
import { DEFAULT_MAX_OUTPUT_BYTES, checkLimit, compressionError, copyBytes, copyMatch } from './common.ts'

const XERIAL_MAGIC = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00])
const XERIAL_HEADER_SIZE = 16
/** snappy-java's default chunk: each xerial chunk compresses up to 32 KiB of input. */
const XERIAL_CHUNK = 32 * 1024

/** No element yields more than 64 output bytes for 3 input bytes (a 2-byte-offset copy of 64). */
const MAX_EXPANSION_NUMERATOR = 64
const MAX_EXPANSION_DENOMINATOR = 3

const HASH_BITS = 14
const MAX_OFFSET = 0xffff

/** True when `data` starts with the xerial (snappy-java) stream magic. */
export function isXerialFramed(data: Uint8Array): boolean {
  if (data.length < XERIAL_MAGIC.length) return false
  for (let i = 0; i < XERIAL_MAGIC.length; i++) if (data[i] !== XERIAL_MAGIC[i]) return false
  return true
}

/**
 * Decompresses Kafka snappy data: a raw snappy block, or xerial-framed chunks.
 * Throws TICKFLOW_ERR_COMPRESSION for corrupt input or output over `maxOutputBytes`.
 */
export function snappyDecompress(data: Buffer, maxOutputBytes: number = DEFAULT_MAX_OUTPUT_BYTES): Buffer {
  const limit = checkLimit(maxOutputBytes)
  if (!isXerialFramed(data)) return snappyDecompressBlock(data, 0, data.length, limit)
  if (data.length < XERIAL_HEADER_SIZE) throw compressionError('truncated xerial snappy header')
  const chunks: Buffer[] = []
  let total = 0
  let pos = XERIAL_HEADER_SIZE
  while (pos < data.length) {
    if (data.length - pos < 4) throw compressionError('truncated xerial chunk length')
    const length = data.readUInt32BE(pos)
    pos += 4
    if (length > data.length - pos) throw compressionError(`xerial chunk of ${length} bytes is truncated`)
    const chunk = snappyDecompressBlock(data, pos, pos + length, limit - total)
    chunks.push(chunk)
    total += chunk.length
    pos += length
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, total)
}

/** Decodes the raw snappy block `src[start, end)` into a new buffer of at most `limit` bytes. */
export function snappyDecompressBlock(src: Uint8Array, start: number, end: number, limit: number): Buffer {
  let ip = start
  let outLength = 0
  for (let shift = 0; ; shift += 7) {
    if (ip >= end) throw compressionError('truncated snappy length')
    if (shift > 28) throw compressionError('snappy length varint is too long')
    const b = src[ip++]
    outLength += (b & 0x7f) * 2 ** shift
    if (b < 0x80) break
  }
  if (outLength > limit) throw compressionError(`snappy block of ${outLength} bytes exceeds the limit of ${limit}`)
  // Reject impossible lengths before allocating, so a 5-byte input cannot claim the whole limit.
  if (outLength * MAX_EXPANSION_DENOMINATOR > (end - ip) * MAX_EXPANSION_NUMERATOR) {
    throw compressionError(`snappy block claims ${outLength} bytes from ${end - ip} input bytes`)
  }
  const out = Buffer.allocUnsafe(outLength)
  let op = 0
  while (ip < end) {
    const tag = src[ip++]
    const kind = tag & 3
    if (kind === 0) {
      let length = tag >>> 2
      if (length >= 60) {
        const bytes = length - 59
        if (end - ip < bytes) throw compressionError('truncated snappy literal length')
        length = 0
        for (let i = 0; i < bytes; i++) length += src[ip + i] * 2 ** (8 * i)
        ip += bytes
      }
      length += 1
      if (length > end - ip) throw compressionError('snappy literal runs past the input')
      if (length > outLength - op) throw compressionError('snappy literal runs past the declared length')
      copyBytes(src, ip, out, op, length)
      ip += length
      op += length
      continue
    }
    let length: number
    let offset: number
    if (kind === 1) {
      if (ip >= end) throw compressionError('truncated snappy copy')
      length = 4 + ((tag >>> 2) & 7)
      offset = ((tag >>> 5) << 8) | src[ip++]
    } else if (kind === 2) {
      if (end - ip < 2) throw compressionError('truncated snappy copy')
      length = 1 + (tag >>> 2)
      offset = src[ip] | (src[ip + 1] << 8)
      ip += 2
    } else {
      if (end - ip < 4) throw compressionError('truncated snappy copy')
      length = 1 + (tag >>> 2)
      offset = (src[ip] | (src[ip + 1] << 8) | (src[ip + 2] << 16) | (src[ip + 3] << 24)) >>> 0
      ip += 4
    }
    if (offset === 0 || offset > op) throw compressionError(`snappy copy offset ${offset} at output ${op}`)
    if (length > outLength - op) throw compressionError('snappy copy runs past the declared length')
    copyMatch(out, op, offset, length)
    op += length
  }
  if (op !== outLength) throw compressionError(`snappy block decoded to ${op} bytes, declared ${outLength}`)
  return out
}

/** Compresses `data` in xerial framing (what the Java client writes): 32 KiB chunks. */
export function snappyCompress(data: Uint8Array): Buffer {
  const parts: Buffer[] = [Buffer.alloc(XERIAL_HEADER_SIZE)]
  XERIAL_MAGIC.copy(parts[0], 0)
  parts[0].writeInt32BE(1, 8) // version
  parts[0].writeInt32BE(1, 12) // minimum compatible version
  for (let at = 0; at < data.length; at += XERIAL_CHUNK) {
    const block = snappyCompressBlock(data.subarray(at, Math.min(data.length, at + XERIAL_CHUNK)))
    const length = Buffer.allocUnsafe(4)
    length.writeUInt32BE(block.length, 0)
    parts.push(length, block)
  }
  return Buffer.concat(parts)
}

/**
 * Compresses `data` into one raw snappy block. Greedy: a hash of the next four bytes finds the
 * most recent earlier position with the same hash; a verified match is extended as far as it goes.
 */
export function snappyCompressBlock(data: Uint8Array): Buffer {
  const n = data.length
  const out = Buffer.allocUnsafe(32 + n + Math.ceil(n / 6))
  let op = 0
  for (let v = n; ; v = Math.floor(v / 128)) {
    if (v < 0x80) {
      out[op++] = v
      break
    }
    out[op++] = (v & 0x7f) | 0x80
  }
  // table[h] = position + 1 of the last 4-byte sequence hashing to h (0 = none).
  const table = new Int32Array(1 << HASH_BITS)
  let anchor = 0
  let ip = 0
  const last = n - 4
  while (ip <= last) {
    const seq = read32(data, ip)
    const h = Math.imul(seq, 0x1e35a7bd) >>> (32 - HASH_BITS)
    const ref = table[h] - 1
    table[h] = ip + 1
    if (ref < 0 || ip - ref > MAX_OFFSET || read32(data, ref) !== seq) {
      // Step faster through data that keeps failing to match: incompressible input stays cheap.
      ip += 1 + ((ip - anchor) >>> 5)
      continue
    }
    let length = 4
    while (ip + length < n && data[ref + length] === data[ip + length]) length++
    op = emitLiteral(data, anchor, ip, out, op)
    op = emitCopy(ip - ref, length, out, op)
    ip += length
    anchor = ip
  }
  op = emitLiteral(data, anchor, n, out, op)
  return Buffer.from(out.subarray(0, op))
}

function read32(data: Uint8Array, at: number): number {
  return data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24)
}

function emitLiteral(data: Uint8Array, from: number, to: number, out: Buffer, op: number): number {
  const length = to - from
  if (length === 0) return op
  const n = length - 1
  if (n < 60) {
    out[op++] = n << 2
  } else {
    const bytes = n < 0x100 ? 1 : n < 0x10000 ? 2 : n < 0x1000000 ? 3 : 4
    out[op++] = (59 + bytes) << 2
    for (let i = 0, v = n; i < bytes; i++, v = Math.floor(v / 256)) out[op++] = v & 0xff
  }
  out.set(data.subarray(from, to), op)
  return op + length
}

function emitCopy(offset: number, length: number, out: Buffer, op: number): number {
  // Copies carry at most 64 bytes. Split long matches so the remainder stays >= 4, which keeps the
  // short 1-byte-offset form available for it.
  while (length >= 68) {
    op = emitCopy2(offset, 64, out, op)
    length -= 64
  }
  if (length > 64) {
    op = emitCopy2(offset, 60, out, op)
    length -= 60
  }
  if (length < 12 && offset < 2048) {
    out[op++] = 1 | ((length - 4) << 2) | ((offset >>> 8) << 5)
    out[op++] = offset & 0xff
    return op
  }
  return emitCopy2(offset, length, out, op)
}

function emitCopy2(offset: number, length: number, out: Buffer, op: number): number {
  out[op++] = 2 | ((length - 1) << 2)
  out[op++] = offset & 0xff
  out[op++] = offset >>> 8
  return op
}
