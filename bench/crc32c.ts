/**
 * CRC-32C throughput (`npm run bench:crc32c`): the native implementation the broker uses when it
 * loads, against the slice-by-16 JS fallback and a byte-at-a-time loop, on record-batch-sized inputs.
 */
import { crc32c, crc32cImplementation, crc32cJs } from '../src/protocol/crc32c.ts'

const T = new Int32Array(256)
for (let i = 0; i < 256; i++) {
  let c = i
  for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1
  T[i] = c
}
function bytewise(data: Uint8Array): number {
  let crc = -1
  for (let i = 0; i < data.length; i++) crc = T[(crc ^ data[i]) & 0xff] ^ (crc >>> 8)
  return ~crc >>> 0
}

const candidates: Array<[string, (b: Buffer) => number]> = [
  [`crc32c (${crc32cImplementation})`, (b) => crc32c(b)],
  ['slice-by-16 JS', (b) => crc32cJs(b)],
  ['byte-wise JS', bytewise],
]

console.log('| input | implementation | MB/s |')
console.log('|---|---|---|')
for (const size of [1024, 16 * 1024, 1024 * 1024]) {
  const data = Buffer.alloc(size, 0x5a)
  const total = 256 * 1024 * 1024
  const rounds = Math.max(1, Math.floor(total / size))
  const expected = bytewise(data)
  for (const [name, fn] of candidates) {
    if (fn(data) !== expected) throw new Error(`${name} disagrees`)
    for (let i = 0; i < Math.min(rounds, 50); i++) fn(data) // warm up
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < rounds; i++) fn(data)
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9
    console.log(`| ${size} B | ${name} | ${Math.round((rounds * size) / 1e6 / seconds)} |`)
  }
}
