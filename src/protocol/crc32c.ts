/**
 * CRC-32C (Castagnoli), the checksum of Kafka record batches, and one of the broker's top CPU
 * costs. The native `@node-rs/crc32` (hardware CRC instructions) is used when it loads; otherwise
 * a slice-by-16 table implementation in JS (sixteen bytes per step). `bench/crc32c.ts` compares them.
 */
import { createRequire } from 'node:module'

const POLY = 0x82f63b78

// TABLE[n * 256 + b]: CRC of byte b followed by n zero bytes; one flat array keeps lookups monomorphic.
const TABLE = new Int32Array(256 * 16)
for (let i = 0; i < 256; i++) {
  let c = i
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ POLY : c >>> 1
  TABLE[i] = c
}
for (let n = 1; n < 16; n++) {
  for (let i = 0; i < 256; i++) {
    const p = TABLE[(n - 1) * 256 + i]
    TABLE[n * 256 + i] = (p >>> 8) ^ TABLE[p & 0xff]
  }
}

/** Pure-JS CRC-32C of `data[start, end)`, slice-by-16. */
export function crc32cJs(data: Uint8Array, start = 0, end = data.length): number {
  const T = TABLE
  let crc = -1
  let i = start
  const fast = end - ((end - start) & 15)
  while (i < fast) {
    const a = crc ^ (data[i] | (data[i + 1] << 8) | (data[i + 2] << 16) | (data[i + 3] << 24))
    crc =
      T[3840 + (a & 0xff)] ^
      T[3584 + ((a >>> 8) & 0xff)] ^
      T[3328 + ((a >>> 16) & 0xff)] ^
      T[3072 + (a >>> 24)] ^
      T[2816 + data[i + 4]] ^
      T[2560 + data[i + 5]] ^
      T[2304 + data[i + 6]] ^
      T[2048 + data[i + 7]] ^
      T[1792 + data[i + 8]] ^
      T[1536 + data[i + 9]] ^
      T[1280 + data[i + 10]] ^
      T[1024 + data[i + 11]] ^
      T[768 + data[i + 12]] ^
      T[512 + data[i + 13]] ^
      T[256 + data[i + 14]] ^
      T[data[i + 15]]
    i += 16
  }
  while (i < end) crc = T[(crc ^ data[i++]) & 0xff] ^ (crc >>> 8)
  return ~crc >>> 0
}

type NativeCrc = (data: Buffer, initial?: number) => number

function loadNative(): NativeCrc | undefined {
  if (process.env.TICKFLOW_CRC32C === 'js') return undefined
  try {
    const mod = createRequire(import.meta.url)('@node-rs/crc32') as { crc32c: NativeCrc }
    return mod.crc32c(Buffer.from('123456789')) === 0xe3069283 ? mod.crc32c : undefined
  } catch {
    return undefined
  }
}

const native = loadNative()

/** Which implementation `crc32c` uses: 'native' or 'js'. */
export const crc32cImplementation: 'native' | 'js' = native ? 'native' : 'js'

/** CRC-32C of `data[start, end)`, as an unsigned 32-bit number. */
export function crc32c(data: Buffer, start = 0, end = data.length): number {
  if (native !== undefined) {
    return native(start === 0 && end === data.length ? data : data.subarray(start, end)) >>> 0
  }
  return crc32cJs(data, start, end)
}
