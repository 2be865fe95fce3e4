/**
 * Pieces shared by the pure-TS codecs: the output limit, the one error they throw, and a growable
 * output buffer that enforces the limit as it grows.
 */
import { ErrorCodes, TickflowError } from '../../errors.ts'

/** Default cap on decompressed output: 64 MiB, above any batch a broker accepts by default. */
export const DEFAULT_MAX_OUTPUT_BYTES = 64 * 1024 * 1024

/** The error every decoder throws for corrupt input or output over the limit. */
export function compressionError(message: string, cause?: unknown): TickflowError {
  return new TickflowError(ErrorCodes.COMPRESSION, message, cause === undefined ? {} : { cause })
}

export function checkLimit(maxOutputBytes: number): number {
  if (!Number.isSafeInteger(maxOutputBytes) || maxOutputBytes < 0) {
    throw compressionError(`maxOutputBytes must be a non-negative integer, got ${maxOutputBytes}`)
  }
  return maxOutputBytes
}

/**
 * A byte buffer that doubles as it fills, never beyond `limit`. Decoders reserve space before each
 * write, so a decompression bomb fails at the limit instead of exhausting memory.
 */
export class GrowableOutput {
  buffer: Buffer
  length: number
  readonly limit: number

  constructor(initialCapacity: number, limit: number) {
    this.limit = limit
    this.buffer = Buffer.allocUnsafe(Math.max(0, Math.min(initialCapacity, limit)))
    this.length = 0
  }

  /** Makes room for `n` more bytes, or throws when that would pass the limit. */
  reserve(n: number): void {
    const needed = this.length + n
    if (needed <= this.buffer.length) return
    if (needed > this.limit) throw compressionError(`decompressed size exceeds the limit of ${this.limit} bytes`)
    const grown = Buffer.allocUnsafe(Math.min(this.limit, Math.max(needed, this.buffer.length * 2, 1024)))
    this.buffer.copy(grown, 0, 0, this.length)
    this.buffer = grown
  }

  /** The bytes written so far (a view, not a copy). */
  result(): Buffer {
    return this.buffer.subarray(0, this.length)
  }
}

/** Copies `length` bytes from `src[from]` to `dst[to]`; short runs by hand, where a call costs more. */
export function copyBytes(src: Uint8Array, from: number, dst: Uint8Array, to: number, length: number): void {
  if (length <= 16) {
    for (let i = 0; i < length; i++) dst[to + i] = src[from + i]
  } else {
    dst.set(src.subarray(from, from + length), to)
  }
}

/**
 * Appends `length` bytes copied from `offset` bytes back in `out` at `op`; the caller has checked
 * that both ranges fit. When `offset < length` the source overlaps the destination and the copy
 * repeats the last `offset` bytes, so it is done in chunks that double as the pattern grows.
 */
export function copyMatch(out: Uint8Array, op: number, offset: number, length: number): void {
  const from = op - offset
  if (length <= 16) {
    for (let i = 0; i < length; i++) out[op + i] = out[from + i]
    return
  }
  if (offset >= length) {
    out.copyWithin(op, from, from + length)
    return
  }
  const end = op + length
  while (op < end) {
    const n = Math.min(op - from, end - op)
    out.copyWithin(op, from, from + n)
    op += n
  }
}
