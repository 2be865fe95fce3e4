/**
 * LZ4, Kafka codec 3, in pure TypeScript: the frame format (what Kafka clients write since
 * KIP-57) around LZ4 blocks.
 *
 *   frame      => magic u32le 0x184D2204 | FLG u8 | BD u8 | contentSize u64le? | dictId u32le? |
 *                 HC u8 | block* | endMark u32le 0 | contentChecksum u32le?
 *   FLG        => version (2 bits, = 01) | blockIndependence | blockChecksum | contentSize |
 *                 contentChecksum | reserved 0 | dictId
 *   BD         => reserved 0 | blockMaxSize (3 bits: 4..7 = 64 KiB, 256 KiB, 1 MiB, 4 MiB) | reserved 0000
 *   HC         => (xxh32(FLG .. dictId) >> 8) & 0xff
 *   block      => size u32le (high bit set: stored uncompressed) | data | blockChecksum u32le?
 *   skippable  => magic u32le 0x184D2A5? | size u32le | data (ignored)
 *
 *   block data => sequence*, each: token u8 (literal length << 4 | match length - 4) |
 *                 [255* u8] literal-length extension | literals | offset u16le |
 *                 [255* u8] match-length extension; the last sequence has literals only.
 *
 * Kafka before KIP-57 (magic 0/1 message sets) computed HC over the magic too; both are accepted.
 * Block and content checksums are verified when present.
 */
import {
  DEFAULT_MAX_OUTPUT_BYTES,
  GrowableOutput,
  checkLimit,
  compressionError,
  copyBytes,
  copyMatch,
} from './common.ts'
import { xxhash32 } from './xxhash32.ts'

const FRAME_MAGIC = 0x184d2204
const SKIPPABLE_MASK = 0xfffffff0
const SKIPPABLE_MAGIC = 0x184d2a50
const UNCOMPRESSED_BIT = 0x80000000

/** What the Java client writes: version 01, independent blocks, no checksums or size; 64 KiB blocks. */
const WRITE_FLG = 0x60
const WRITE_BD = 0x40
const WRITE_BLOCK_SIZE = 64 * 1024

/** Each input byte of a block yields at most 255 output bytes (a length-extension byte). */
const MAX_EXPANSION = 255

const HASH_BITS = 13
const MAX_OFFSET = 0xffff
/** Block-end rules of the format: the last match starts >= 12 bytes and ends >= 5 bytes before the end. */
const MATCH_START_MARGIN = 12
const LAST_LITERALS = 5

/**
 * Decompresses one or more concatenated LZ4 frames (skippable frames are ignored).
 * Throws TICKFLOW_ERR_COMPRESSION for corrupt input or output over `maxOutputBytes`.
 */
export function lz4Decompress(data: Buffer, maxOutputBytes: number = DEFAULT_MAX_OUTPUT_BYTES): Buffer {
  const limit = checkLimit(maxOutputBytes)
  if (data.length === 0) throw compressionError('empty lz4 input')
  const out = new GrowableOutput(Math.max(1024, data.length * 4), limit)
  let pos = 0
  while (pos < data.length) {
    if (data.length - pos < 4) throw compressionError('truncated lz4 magic')
    const magic = data.readUInt32LE(pos)
    if ((magic & SKIPPABLE_MASK) >>> 0 === SKIPPABLE_MAGIC) {
      if (data.length - pos < 8) throw compressionError('truncated lz4 skippable frame')
      const size = data.readUInt32LE(pos + 4)
      if (size > data.length - pos - 8) throw compressionError('truncated lz4 skippable frame')
      pos += 8 + size
      continue
    }
    if (magic !== FRAME_MAGIC) throw compressionError(`bad lz4 frame magic 0x${magic.toString(16)}`)
    pos = decodeFrame(data, pos + 4, out)
  }
  const result = out.result()
  // Do not pin a mostly empty buffer behind a small result.
  return result.length * 2 < out.buffer.length ? Buffer.from(result) : result
}

/** Decodes the frame whose descriptor starts at `pos` (just after the magic); returns the end. */
function decodeFrame(data: Buffer, pos: number, out: GrowableOutput): number {
  if (data.length - pos < 3) throw compressionError('truncated lz4 frame descriptor')
  const flg = data[pos]
  const bd = data[pos + 1]
  if (flg >>> 6 !== 1) throw compressionError(`unsupported lz4 frame version ${flg >>> 6}`)
  if (flg & 0x02 || bd & 0x8f) throw compressionError('lz4 frame descriptor has reserved bits set')
  if (flg & 0x01) throw compressionError('lz4 frames with a dictionary are not supported')
  const independent = (flg & 0x20) !== 0
  const blockChecksum = (flg & 0x10) !== 0
  const hasContentSize = (flg & 0x08) !== 0
  const contentChecksum = (flg & 0x04) !== 0
  const sizeId = (bd >>> 4) & 7
  if (sizeId < 4) throw compressionError(`invalid lz4 block size id ${sizeId}`)
  const maxBlock = 1 << (2 * sizeId + 8)

  const descriptorLength = 2 + (hasContentSize ? 8 : 0)
  if (data.length - pos < descriptorLength + 1) throw compressionError('truncated lz4 frame descriptor')
  const hc = data[pos + descriptorLength]
  const standard = (xxhash32(data, pos, pos + descriptorLength) >>> 8) & 0xff
  const legacy = (xxhash32(data, pos - 4, pos + descriptorLength) >>> 8) & 0xff
  if (hc !== standard && hc !== legacy) throw compressionError('lz4 frame descriptor checksum mismatch')
  let contentSize = -1
  if (hasContentSize) {
    const high = data.readUInt32LE(pos + 6)
    contentSize = high * 0x100000000 + data.readUInt32LE(pos + 2)
    if (contentSize > out.limit - out.length) {
      throw compressionError(`lz4 content size ${contentSize} exceeds the limit of ${out.limit} bytes`)
    }
    // A hint only: a lying header on a short input must not make us allocate its claim.
    out.reserve(Math.min(contentSize, (data.length - pos) * MAX_EXPANSION))
  }
  pos += descriptorLength + 1

  const frameStart = out.length
  for (;;) {
    if (data.length - pos < 4) throw compressionError('truncated lz4 block size')
    const word = data.readUInt32LE(pos)
    pos += 4
    if (word === 0) break
    const size = (word & ~UNCOMPRESSED_BIT) >>> 0
    if (size > maxBlock) throw compressionError(`lz4 block of ${size} bytes exceeds the frame's ${maxBlock}`)
    const trailer = blockChecksum ? 4 : 0
    if (data.length - pos < size + trailer) throw compressionError('truncated lz4 block')
    if (blockChecksum && xxhash32(data, pos, pos + size) !== data.readUInt32LE(pos + size)) {
      throw compressionError('lz4 block checksum mismatch')
    }
    if (word & UNCOMPRESSED_BIT) {
      out.reserve(size)
      data.copy(out.buffer, out.length, pos, pos + size)
      out.length += size
    } else {
      // Linked blocks may copy from earlier blocks of the same frame, never from an earlier frame.
      decodeBlock(data, pos, pos + size, out, independent ? out.length : frameStart, maxBlock)
    }
    pos += size + trailer
  }
  if (contentChecksum) {
    if (data.length - pos < 4) throw compressionError('truncated lz4 content checksum')
    if (xxhash32(out.buffer, frameStart, out.length) !== data.readUInt32LE(pos)) {
      throw compressionError('lz4 content checksum mismatch')
    }
    pos += 4
  }
  if (hasContentSize && out.length - frameStart !== contentSize) {
    throw compressionError(`lz4 frame decoded to ${out.length - frameStart} bytes, declared ${contentSize}`)
  }
  return pos
}

/**
 * Decodes the LZ4 block `src[ip, end)` onto `out`. Matches may reach back to `minRef` in the
 * output; the block may produce at most `maxBlock` bytes.
 */
function decodeBlock(src: Buffer, ip: number, end: number, out: GrowableOutput, minRef: number, maxBlock: number) {
  const blockLimit = out.length + maxBlock
  for (;;) {
    if (ip >= end) throw compressionError('lz4 block ends without a final literal run')
    const token = src[ip++]
    let literals = token >>> 4
    if (literals === 15) {
      let b: number
      do {
        if (ip >= end) throw compressionError('truncated lz4 literal length')
        b = src[ip++]
        literals += b
      } while (b === 255)
    }
    if (literals > end - ip) throw compressionError('lz4 literals run past the block')
    if (literals > blockLimit - out.length) throw compressionError('lz4 block decodes past its maximum size')
    out.reserve(literals)
    copyBytes(src, ip, out.buffer, out.length, literals)
    out.length += literals
    ip += literals
    if (ip === end) return

    if (end - ip < 2) throw compressionError('truncated lz4 match offset')
    const offset = src[ip] | (src[ip + 1] << 8)
    ip += 2
    if (offset === 0 || offset > out.length - minRef) {
      throw compressionError(`lz4 match offset ${offset} reaches before the start of the data`)
    }
    let length = token & 15
    if (length === 15) {
      let b: number
      do {
        if (ip >= end) throw compressionError('truncated lz4 match length')
        b = src[ip++]
        length += b
      } while (b === 255)
    }
    length += 4
    if (length > blockLimit - out.length) throw compressionError('lz4 block decodes past its maximum size')
    out.reserve(length)
    copyMatch(out.buffer, out.length, offset, length)
    out.length += length
  }
}

/** Compresses `data` into one LZ4 frame laid out like the Java client's (64 KiB independent blocks). */
export function lz4Compress(data: Uint8Array): Buffer {
  const blocks = Math.ceil(data.length / WRITE_BLOCK_SIZE)
  // Header, end mark, and per block its size word plus LZ4's worst-case expansion.
  const bound = 7 + 4 + blocks * 4 + data.length + Math.ceil(data.length / 255) + blocks * 17
  const out = Buffer.allocUnsafe(bound)
  out.writeUInt32LE(FRAME_MAGIC, 0)
  out[4] = WRITE_FLG
  out[5] = WRITE_BD
  out[6] = (xxhash32(out, 4, 6) >>> 8) & 0xff
  let op = 7
  // table[h] = position + 1 of the last 4-byte sequence hashing to h; shared across blocks, so
  // entries from an earlier block are recognised (position < block start) and ignored.
  const table = new Int32Array(1 << HASH_BITS)
  for (let start = 0; start < data.length; start += WRITE_BLOCK_SIZE) {
    const end = Math.min(data.length, start + WRITE_BLOCK_SIZE)
    const size = compressBlock(data, start, end, out, op + 4, table) - (op + 4)
    if (size < end - start) {
      out.writeUInt32LE(size, op)
      op += 4 + size
    } else {
      out.writeUInt32LE((UNCOMPRESSED_BIT | (end - start)) >>> 0, op)
      out.set(data.subarray(start, end), op + 4)
      op += 4 + end - start
    }
  }
  out.writeUInt32LE(0, op)
  op += 4
  return Buffer.from(out.subarray(0, op))
}

/**
 * Compresses `src[start, end)` as one independent LZ4 block at `out[op]`; returns the new end.
 * Greedy matching through a hash table of 4-byte sequences, extended both ways.
 */
function compressBlock(src: Uint8Array, start: number, end: number, out: Buffer, op: number, table: Int32Array) {
  let anchor = start
  let ip = start
  const matchStartLimit = end - MATCH_START_MARGIN
  const matchEndLimit = end - LAST_LITERALS
  while (ip < matchStartLimit) {
    const seq = read32(src, ip)
    const h = Math.imul(seq, 0x9e3779b1) >>> (32 - HASH_BITS)
    let ref = table[h] - 1
    table[h] = ip + 1
    if (ref < start || ip - ref > MAX_OFFSET || read32(src, ref) !== seq) {
      // Step faster through data that keeps failing to match: incompressible input stays cheap.
      ip += 1 + ((ip - anchor) >>> 6)
      continue
    }
    while (ip > anchor && ref > start && src[ip - 1] === src[ref - 1]) {
      ip--
      ref--
    }
    let length = 4
    while (ip + length < matchEndLimit && src[ref + length] === src[ip + length]) length++
    op = writeSequence(src, anchor, ip - anchor, out, op, length)
    out[op++] = (ip - ref) & 0xff
    out[op++] = (ip - ref) >>> 8
    if (length - 4 >= 15) op = writeLength(length - 4 - 15, out, op)
    ip += length
    anchor = ip
  }
  return writeSequence(src, anchor, end - anchor, out, op, 0)
}

/** Writes a token and its literals; `matchLength` 0 marks the final, literal-only sequence. */
function writeSequence(src: Uint8Array, from: number, literals: number, out: Buffer, op: number, matchLength: number) {
  const matchNibble = matchLength === 0 ? 0 : Math.min(matchLength - 4, 15)
  out[op++] = (Math.min(literals, 15) << 4) | matchNibble
  if (literals >= 15) op = writeLength(literals - 15, out, op)
  out.set(src.subarray(from, from + literals), op)
  return op + literals
}

/** The length-extension bytes: 255 while at least 255 remains, then the remainder. */
function writeLength(rest: number, out: Buffer, op: number): number {
  while (rest >= 255) {
    out[op++] = 255
    rest -= 255
  }
  out[op++] = rest
  return op
}

function read32(data: Uint8Array, at: number): number {
  return data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24)
}
