/**
 * XXH32, the checksum of the LZ4 frame format (header byte, block and content checksums).
 *
 *   input in 16-byte stripes over four lanes: lane = rotl(lane + word * P2, 13) * P1
 *   tail: 4-byte words, h = rotl(h + word * P3, 17) * P4; then bytes, h = rotl(h + byte * P5, 11) * P1
 *   avalanche: h ^= h >>> 15; h *= P2; h ^= h >>> 13; h *= P3; h ^= h >>> 16
 *
 * All arithmetic is mod 2^32: Math.imul for products, `| 0` after sums.
 */

const P1 = 0x9e3779b1
const P2 = 0x85ebca77
const P3 = 0xc2b2ae3d
const P4 = 0x27d4eb2f
const P5 = 0x165667b1

function read32(data: Uint8Array, at: number): number {
  return data[at] | (data[at + 1] << 8) | (data[at + 2] << 16) | (data[at + 3] << 24)
}

function rotl(x: number, r: number): number {
  return (x << r) | (x >>> (32 - r))
}

function round(lane: number, word: number): number {
  return Math.imul(rotl((lane + Math.imul(word, P2)) | 0, 13), P1)
}

/** XXH32 of `data[start, end)` with `seed`, as an unsigned 32-bit number. */
export function xxhash32(data: Uint8Array, start = 0, end = data.length, seed = 0): number {
  let i = start
  const length = end - start
  let h: number
  if (length >= 16) {
    let v1 = (seed + P1 + P2) | 0
    let v2 = (seed + P2) | 0
    let v3 = seed | 0
    let v4 = (seed - P1) | 0
    const stripes = end - 16
    while (i <= stripes) {
      v1 = round(v1, read32(data, i))
      v2 = round(v2, read32(data, i + 4))
      v3 = round(v3, read32(data, i + 8))
      v4 = round(v4, read32(data, i + 12))
      i += 16
    }
    h = (rotl(v1, 1) + rotl(v2, 7) + rotl(v3, 12) + rotl(v4, 18)) | 0
  } else {
    h = (seed + P5) | 0
  }
  // The total length is mixed in mod 2^32, as the reference does.
  h = (h + length) | 0
  while (i + 4 <= end) {
    h = Math.imul(rotl((h + Math.imul(read32(data, i), P3)) | 0, 17), P4)
    i += 4
  }
  while (i < end) {
    h = Math.imul(rotl((h + Math.imul(data[i], P5)) | 0, 11), P1)
    i++
  }
  h ^= h >>> 15
  h = Math.imul(h, P2)
  h ^= h >>> 13
  h = Math.imul(h, P3)
  h ^= h >>> 16
  return h >>> 0
}
