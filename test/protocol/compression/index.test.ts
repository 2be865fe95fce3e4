import assert from 'node:assert/strict'
import { test } from 'node:test'
import zlib from 'node:zlib'
import { lz4Decompress as wasmLz4Decompress, snappyDecompress as wasmSnappyDecompress } from '@platformatic/wasm-utils'
import { DEFAULT_MAX_OUTPUT_BYTES, compress, decompress } from '../../../src/protocol/compression/index.ts'
import { Compression } from '../../../src/protocol/record-batch.ts'
import { assertCompressionError, fuzzMutations, randomBuffer, sampleInputs, wasm } from './samples.ts'

const CODECS = [Compression.gzip, Compression.snappy, Compression.lz4, Compression.zstd]

/** Independent decoders of what `compress` writes. */
const independent: Record<number, (data: Buffer) => Buffer> = {
  [Compression.gzip]: (data) => zlib.gunzipSync(data),
  [Compression.zstd]: (data) => zlib.zstdDecompressSync(data),
  [Compression.lz4]: (data) => wasm(wasmLz4Decompress, data),
  // Our snappy is xerial-framed; wasm-utils reads the raw blocks inside.
  [Compression.snappy]: (data) => {
    const parts: Buffer[] = []
    for (let at = 16; at < data.length; at += 4 + data.readUInt32BE(at)) {
      parts.push(wasm(wasmSnappyDecompress, data.subarray(at + 4, at + 4 + data.readUInt32BE(at))))
    }
    return Buffer.concat(parts)
  },
}

test('compress and decompress round-trip every codec, checked by independent decoders', () => {
  for (const { name, data } of sampleInputs()) {
    for (const codec of CODECS) {
      const compressed = compress(codec, data)
      assert.deepEqual(decompress(codec, compressed), data, `codec ${codec}: ${name}`)
      assert.deepEqual(independent[codec](compressed), data, `independent decoder, codec ${codec}: ${name}`)
    }
  }
})

test('decompress reads what node:zlib writes for gzip and zstd', () => {
  for (const { name, data } of sampleInputs()) {
    assert.deepEqual(decompress(Compression.gzip, zlib.gzipSync(data)), data, name)
    assert.deepEqual(decompress(Compression.zstd, zlib.zstdCompressSync(data)), data, name)
  }
  // Kafka's gzip streams may hold several members; Java's GZIPInputStream reads them all.
  const two = Buffer.concat([zlib.gzipSync(Buffer.from('one ')), zlib.gzipSync(Buffer.from('two'))])
  assert.equal(decompress(Compression.gzip, two).toString(), 'one two')
})

test('codec 0 passes data through; unknown codecs throw TICKFLOW_ERR_COMPRESSION', () => {
  const data = Buffer.from('plain')
  assert.equal(decompress(Compression.none, data), data)
  assert.equal(compress(Compression.none, data), data)
  for (const codec of [5, 6, 7, -1, 1.5]) {
    assertCompressionError(() => decompress(codec, data), `decompress ${codec}`)
    assertCompressionError(() => compress(codec, data), `compress ${codec}`)
  }
})

test('every codec throws TICKFLOW_ERR_COMPRESSION for empty, random and truncated input', () => {
  for (const codec of CODECS) {
    assertCompressionError(() => decompress(codec, Buffer.alloc(0)), `empty, codec ${codec}`)
    for (let i = 0; i < 200; i++) {
      const junk = randomBuffer(1 + i * 13, 3000 + i)
      assertCompressionError(() => decompress(codec, junk), `random, codec ${codec}`)
    }
    const valid = compress(codec, randomBuffer(5000, 7))
    for (let n = 0; n < valid.length; n += 37) {
      // A xerial stream cut right after its header is a valid empty stream.
      if (codec === Compression.snappy && n === 16) continue
      assertCompressionError(() => decompress(codec, valid.subarray(0, n)), `codec ${codec} cut at ${n}`)
    }
    assertCompressionError(() => decompress(codec, valid.subarray(0, valid.length - 1)), `codec ${codec} minus 1`)
  }
})

test('mutated gzip and zstd input throws TICKFLOW_ERR_COMPRESSION or decodes', () => {
  const text = Buffer.from('tickflow market data '.repeat(300))
  for (const codec of [Compression.gzip, Compression.zstd]) {
    assert.ok(fuzzMutations(compress(codec, text), 500, codec, (m) => decompress(codec, m, 1 << 20)) > 0)
  }
})

test('every codec enforces maxOutputBytes, exactly', () => {
  const data = Buffer.alloc(4 << 20, 0x61)
  for (const codec of CODECS) {
    const bomb = compress(codec, data)
    assert.ok(bomb.length < data.length / 20, `codec ${codec} shrinks the bomb`)
    assertCompressionError(() => decompress(codec, bomb, 1 << 20), `codec ${codec}`)
    assertCompressionError(() => decompress(codec, bomb, data.length - 1), `codec ${codec}, one byte over`)
    assert.equal(decompress(codec, bomb, data.length).length, data.length, `codec ${codec} at the limit`)
    assertCompressionError(() => decompress(codec, bomb, 0), `codec ${codec}, limit 0`)
    assert.equal(decompress(codec, compress(codec, Buffer.alloc(0)), 0).length, 0, `codec ${codec}, empty at 0`)
    for (const bad of [-1, 1.5, Number.NaN]) assertCompressionError(() => decompress(codec, bomb, bad))
  }
})

test('the default limit is 64 MiB', () => {
  assert.equal(DEFAULT_MAX_OUTPUT_BYTES, 64 * 1024 * 1024)
  const bomb = zlib.zstdCompressSync(Buffer.alloc(DEFAULT_MAX_OUTPUT_BYTES + 1))
  assertCompressionError(() => decompress(Compression.zstd, bomb))
  assert.equal(decompress(Compression.zstd, bomb, DEFAULT_MAX_OUTPUT_BYTES + 1).length, DEFAULT_MAX_OUTPUT_BYTES + 1)
})
