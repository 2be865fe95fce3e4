import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  snappyCompress as wasmSnappyCompress,
  snappyDecompress as wasmSnappyDecompress,
} from '@platformatic/wasm-utils'
import {
  isXerialFramed,
  snappyCompress,
  snappyCompressBlock,
  snappyDecompress,
} from '../../../src/protocol/compression/snappy.ts'
import {
  assertCompressionError,
  fuzzMutations,
  isCompressionError,
  randomBuffer,
  sampleInputs,
  wasm,
} from './samples.ts'

const XERIAL_HEADER = Buffer.from([0x82, 0x53, 0x4e, 0x41, 0x50, 0x50, 0x59, 0x00, 0, 0, 0, 1, 0, 0, 0, 1])

/** Splits a xerial stream into its raw blocks, checking the framing on the way. */
function xerialBlocks(stream: Buffer): Buffer[] {
  assert.deepEqual(stream.subarray(0, 16), XERIAL_HEADER)
  const blocks: Buffer[] = []
  for (let at = 16; at < stream.length;) {
    const length = stream.readUInt32BE(at)
    blocks.push(stream.subarray(at + 4, at + 4 + length))
    at += 4 + length
  }
  return blocks
}

/** Frames raw blocks the way snappy-java does. */
function xerial(blocks: Buffer[]): Buffer {
  const parts: Buffer[] = [XERIAL_HEADER]
  for (const block of blocks) {
    const length = Buffer.alloc(4)
    length.writeUInt32BE(block.length)
    parts.push(length, block)
  }
  return Buffer.concat(parts)
}

test('snappy interoperates with an independent implementation (wasm-utils) both ways', () => {
  for (const { name, data } of sampleInputs()) {
    const block = snappyCompressBlock(data)
    assert.deepEqual(wasm(wasmSnappyDecompress, block), data, `wasm decodes our block: ${name}`)
    assert.deepEqual(snappyDecompress(block), data, `raw round trip: ${name}`)
    const stream = snappyCompress(data)
    assert.deepEqual(snappyDecompress(stream), data, `xerial round trip: ${name}`)
    const chunks = xerialBlocks(stream).map((b) => wasm(wasmSnappyDecompress, b))
    assert.deepEqual(Buffer.concat(chunks), data, `wasm decodes our xerial chunks: ${name}`)
    assert.deepEqual(snappyDecompress(wasm(wasmSnappyCompress, data)), data, `we decode wasm's block: ${name}`)
  }
})

test('snappyCompress writes xerial framing in 32 KiB chunks, as snappy-java does', () => {
  const data = randomBuffer(100_000, 1)
  const stream = snappyCompress(data)
  assert.ok(isXerialFramed(stream))
  const blocks = xerialBlocks(stream)
  assert.equal(blocks.length, 4)
  assert.deepEqual(
    blocks.map((b) => snappyDecompress(b).length),
    [32768, 32768, 32768, 100_000 - 3 * 32768],
  )
  assert.deepEqual(snappyCompress(Buffer.alloc(0)), XERIAL_HEADER, 'empty input: the header alone')
  assert.equal(snappyDecompress(XERIAL_HEADER).length, 0)
})

test('snappy decodes xerial streams whose chunks another encoder wrote', () => {
  const parts = [randomBuffer(1000, 2), Buffer.alloc(5000, 0x41), Buffer.from('tickflow '.repeat(500))]
  const stream = xerial(parts.map((p) => wasm(wasmSnappyCompress, p)))
  assert.deepEqual(snappyDecompress(stream), Buffer.concat(parts))
})

test('snappy decodes every element kind of the block format', () => {
  const lit = randomBuffer(70_000, 3)
  // Literals whose length needs 1, 2 and 3 extra bytes (tags 60, 61, 62), and 4 (tag 63).
  for (const [tag, n] of [
    [60, 200],
    [61, 60_000],
    [62, 70_000],
    [63, 70_000],
  ]) {
    const bytes = tag - 59
    const length = Buffer.alloc(bytes)
    length.writeUIntLE(n - 1, 0, bytes)
    const block = Buffer.concat([Buffer.from(varint(n)), Buffer.from([tag << 2]), length, lit.subarray(0, n)])
    assert.deepEqual(snappyDecompress(block), lit.subarray(0, n), `literal tag ${tag}`)
  }
  // "abcd" then: copy-1 (len 4, offset 4), copy-2 (len 8, offset 2, overlapping), copy-4 (len 3, offset 16).
  const block = Buffer.from([
    ...varint(4 + 4 + 8 + 3),
    0x0c,
    ...Buffer.from('abcd'),
    0x01,
    0x04,
    0x1e,
    0x02,
    0x00,
    0x0b,
    0x10,
    0x00,
    0x00,
    0x00,
  ])
  assert.equal(snappyDecompress(block).toString(), 'abcd' + 'abcd' + 'cdcdcdcd' + 'abc')
})

function varint(n: number): number[] {
  const out: number[] = []
  for (; n >= 0x80; n = Math.floor(n / 128)) out.push((n & 0x7f) | 0x80)
  out.push(n)
  return out
}

test('snappy rejects corrupt blocks', () => {
  const cases: Array<[string, number[]]> = [
    ['empty input', []],
    ['truncated length varint', [0x80]],
    ['length varint over 32 bits', [0xff, 0xff, 0xff, 0xff, 0xff, 0x01]],
    ['fewer bytes than declared', [5, 0x0c, 0x61, 0x62, 0x63, 0x64]],
    ['more bytes than declared', [3, 0x0c, 0x61, 0x62, 0x63, 0x64]],
    ['literal past the input', [4, 0x0c, 0x61, 0x62]],
    ['truncated literal length', [100, 0xf0]],
    ['copy offset 0', [8, 0x0c, 0x61, 0x62, 0x63, 0x64, 0x01, 0x00]],
    ['copy before the output', [8, 0x0c, 0x61, 0x62, 0x63, 0x64, 0x01, 0x05]],
    ['truncated copy-1', [8, 0x0c, 0x61, 0x62, 0x63, 0x64, 0x01]],
    ['truncated copy-2', [8, 0x0c, 0x61, 0x62, 0x63, 0x64, 0x0e, 0x04]],
    ['truncated copy-4', [8, 0x0c, 0x61, 0x62, 0x63, 0x64, 0x0f, 0x04, 0x00, 0x00]],
    ['copy past the declared length', [6, 0x0c, 0x61, 0x62, 0x63, 0x64, 0x01, 0x04]],
  ]
  for (const [name, bytes] of cases) assertCompressionError(() => snappyDecompress(Buffer.from(bytes)), name)
  assertCompressionError(() => snappyDecompress(XERIAL_HEADER.subarray(0, 12)), 'truncated xerial header')
  assertCompressionError(() => snappyDecompress(Buffer.concat([XERIAL_HEADER, Buffer.from([0, 0])])), 'chunk length')
  const empty = Buffer.concat([XERIAL_HEADER, Buffer.alloc(4)])
  assertCompressionError(() => snappyDecompress(empty), 'an empty xerial chunk')
})

test('snappy throws TICKFLOW_ERR_COMPRESSION on truncations of valid data', () => {
  const inputs = [Buffer.from('a short snappy input, a short snappy input'), randomBuffer(3000, 4)]
  inputs.push(sampleInputs().find((s) => s.name === 'mixed 200000')!.data)
  for (const data of inputs) {
    const block = snappyCompressBlock(data)
    const step = Math.max(1, Math.floor(block.length / 2000))
    for (let n = 0; n < block.length; n += step) assertCompressionError(() => snappyDecompress(block.subarray(0, n)))
    assertCompressionError(() => snappyDecompress(block.subarray(0, block.length - 1)))
    // Xerial framing cannot tell a stream cut exactly between chunks from a shorter one; every
    // other cut fails.
    const stream = snappyCompress(data)
    const boundaries = new Set<number>([16])
    for (let at = 16; at < stream.length; at += 4 + stream.readUInt32BE(at))
      boundaries.add(at + 4 + stream.readUInt32BE(at))
    for (let n = 8; n < stream.length; n += step) {
      if (!boundaries.has(n))
        assertCompressionError(() => snappyDecompress(stream.subarray(0, n)), `xerial cut at ${n}`)
    }
  }
})

test('snappy survives random and mutated input with TICKFLOW_ERR_COMPRESSION only', () => {
  let threw = 0
  for (let i = 0; i < 500; i++) {
    try {
      snappyDecompress(randomBuffer(2 + (i % 113) * 9, 2000 + i), 1 << 20)
    } catch (err) {
      assert.ok(isCompressionError(err), String(err))
      threw++
    }
  }
  assert.equal(threw, 500, 'random bytes are never a valid block')
  const text = sampleInputs().find((s) => s.name === 'text 4096')!.data
  assert.ok(fuzzMutations(snappyCompressBlock(text), 3000, 5, (m) => snappyDecompress(m, 1 << 20)) > 0)
  assert.ok(fuzzMutations(snappyCompress(text), 3000, 6, (m) => snappyDecompress(m, 1 << 20)) > 0)
})

test('snappy enforces maxOutputBytes against decompression bombs', () => {
  const zeros = Buffer.alloc(8 << 20)
  const block = snappyCompressBlock(zeros)
  assert.ok(block.length < zeros.length / 20, 'a small block')
  assertCompressionError(() => snappyDecompress(block, 1 << 20), 'raw block')
  assert.equal(snappyDecompress(block, zeros.length).length, zeros.length, 'exactly at the limit')
  assertCompressionError(() => snappyDecompress(block, zeros.length - 1), 'one byte over')
  // Many xerial chunks, each small, that add up to more than the limit.
  const stream = snappyCompress(zeros)
  assertCompressionError(() => snappyDecompress(stream, 1 << 20), 'xerial chunks')
  assert.equal(snappyDecompress(stream, zeros.length).length, zeros.length)
  // A declared length beyond the limit, or beyond what the input could expand to, fails before
  // anything is allocated.
  assertCompressionError(() => snappyDecompress(Buffer.from([...varint(2 ** 32 - 1), 0x00, 0x61])), 'huge claim')
  assertCompressionError(() => snappyDecompress(Buffer.from([...varint(1000), 0x00, 0x61])), 'impossible ratio')
})
