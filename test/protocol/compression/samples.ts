/**
 * Deterministic inputs and assertions shared by the codec tests: a seeded PRNG (mulberry32), input
 * families that stress different encoder paths, and helpers for hostile-input checks.
 */
import assert from 'node:assert/strict'
import { crc32c as wasmCrc32c } from '@platformatic/wasm-utils'
import { ErrorCodes, isTickflowError } from '../../../src/errors.ts'

/** mulberry32: a small seeded generator, so every run tests the same bytes. */
export function prng(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) | 0
    let t = Math.imul(a ^ (a >>> 15), 1 | a)
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

export function randomBuffer(length: number, seed: number): Buffer {
  const next = prng(seed)
  const out = Buffer.alloc(length)
  for (let i = 0; i < length; i++) out[i] = Math.floor(next() * 256)
  return out
}

const WORDS = ['AAPL', 'MSFT', 'bid', 'ask', '101.25', '420.00', 'trade', 'quote', '=', ' ', '\n', '{"px":', '}']

/** Text-like data: words from a small vocabulary, compressible but irregular. */
function text(length: number, seed: number): Buffer {
  const next = prng(seed)
  const parts: string[] = []
  let size = 0
  while (size < length) {
    const word = WORDS[Math.floor(next() * WORDS.length)]
    parts.push(word)
    size += word.length
  }
  return Buffer.from(parts.join('')).subarray(0, length)
}

/** Random chunks that each recur a few times, at distances near and beyond 64 KiB. */
function mixed(length: number, seed: number): Buffer {
  const next = prng(seed)
  const out = Buffer.alloc(length)
  let at = 0
  while (at < length) {
    const n = Math.min(length - at, 1 + Math.floor(next() * 300))
    if (at > 0 && next() < 0.6) {
      const from = Math.floor(next() * at)
      out.copyWithin(at, from, Math.min(from + n, at))
      at += Math.min(n, at - from)
    } else {
      randomBuffer(n, Math.floor(next() * 1e9)).copy(out, at)
      at += n
    }
  }
  return out
}

export function periodic(length: number, period: number, seed: number): Buffer {
  const unit = randomBuffer(period, seed)
  const out = Buffer.alloc(length)
  for (let i = 0; i < length; i += period) unit.copy(out, i)
  return out
}

/** Sizes around the codecs' edges: tiny inputs, tag limits, 32/64 KiB chunk and block boundaries. */
export const SIZES = [
  0,
  1,
  2,
  3,
  4,
  5,
  11,
  12,
  13,
  15,
  16,
  17,
  59,
  60,
  61,
  64,
  65,
  255,
  256,
  257,
  4096,
  32767,
  32768,
  32769,
  65535,
  65536,
  65537,
  200_000,
  1 << 20,
]

export interface Sample {
  name: string
  data: Buffer
}

/** Every input family at every size in {@link SIZES}. */
export function sampleInputs(): Sample[] {
  const out: Sample[] = []
  for (const size of SIZES) {
    out.push({ name: `random ${size}`, data: randomBuffer(size, size + 1) })
    out.push({ name: `zeros ${size}`, data: Buffer.alloc(size) })
    out.push({ name: `text ${size}`, data: text(size, size + 2) })
    out.push({ name: `period-7 ${size}`, data: periodic(size, 7, size + 3) })
    out.push({ name: `period-1000 ${size}`, data: periodic(size, 1000, size + 4) })
    out.push({ name: `mixed ${size}`, data: mixed(size, size + 5) })
  }
  return out
}

/**
 * Calls a @platformatic/wasm-utils function. That library keeps a view of its WebAssembly memory
 * which goes stale when the memory grows; a non-empty input replaces it, but an empty one would hit
 * the stale view, so a one-byte call refreshes it first.
 */
export function wasm(fn: (data: Buffer) => Buffer, data: Buffer): Buffer {
  if (data.length === 0) wasmCrc32c(Buffer.alloc(1))
  return fn(data)
}

export function isCompressionError(err: unknown): boolean {
  return isTickflowError(err, ErrorCodes.COMPRESSION)
}

/** Asserts `fn` throws a TickflowError with code TICKFLOW_ERR_COMPRESSION. */
export function assertCompressionError(fn: () => unknown, message?: string): void {
  assert.throws(fn, isCompressionError, message)
}

/**
 * Runs `fn` on `count` copies of `data` with a few random bytes changed. A mutation may still be
 * valid data, so each run must either return or throw TICKFLOW_ERR_COMPRESSION, nothing else.
 * Returns how many runs threw.
 */
export function fuzzMutations(data: Buffer, count: number, seed: number, fn: (mutated: Buffer) => unknown): number {
  const next = prng(seed)
  let threw = 0
  for (let i = 0; i < count; i++) {
    const mutated = Buffer.from(data)
    const flips = 1 + Math.floor(next() * 4)
    for (let f = 0; f < flips; f++) mutated[Math.floor(next() * mutated.length)] = Math.floor(next() * 256)
    try {
      fn(mutated)
    } catch (err) {
      if (!isCompressionError(err)) throw err
      threw++
    }
  }
  return threw
}
