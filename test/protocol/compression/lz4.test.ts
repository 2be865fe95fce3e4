import assert from 'node:assert/strict'
import { test } from 'node:test'
import { lz4Compress as wasmLz4Compress, lz4Decompress as wasmLz4Decompress } from '@platformatic/wasm-utils'
import { lz4Compress, lz4Decompress } from '../../../src/protocol/compression/lz4.ts'
import { xxhash32 } from '../../../src/protocol/compression/xxhash32.ts'
import { assertCompressionError, fuzzMutations, periodic, randomBuffer, sampleInputs, wasm } from './samples.ts'

const MAGIC = [0x04, 0x22, 0x4d, 0x18]

/** A frame header with the given FLG/BD and a correct HC byte (plus content size when given). */
function header(flg: number, bd: number, contentSize?: number): Buffer {
  const descriptor = Buffer.alloc(contentSize === undefined ? 2 : 10)
  descriptor[0] = flg
  descriptor[1] = bd
  if (contentSize !== undefined) descriptor.writeBigUInt64LE(BigInt(contentSize), 2)
  return Buffer.concat([Buffer.from(MAGIC), descriptor, Buffer.from([(xxhash32(descriptor) >>> 8) & 0xff])])
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeUInt32LE(n >>> 0)
  return b
}

/** One frame (FLG 0x60, 64 KiB blocks) holding the given raw compressed blocks. */
function frameOf(...blocks: Buffer[]): Buffer {
  return Buffer.concat([header(0x60, 0x40), ...blocks.flatMap((b) => [u32(b.length), b]), u32(0)])
}

test('lz4 interoperates with an independent implementation (wasm-utils) both ways', () => {
  for (const { name, data } of sampleInputs()) {
    const ours = lz4Compress(data)
    assert.deepEqual(wasm(wasmLz4Decompress, ours), data, `wasm decodes ours: ${name}`)
    assert.deepEqual(lz4Decompress(ours), data, `round trip: ${name}`)
    assert.deepEqual(lz4Decompress(wasm(wasmLz4Compress, data)), data, `we decode wasm's: ${name}`)
  }
})

test('lz4Compress writes the frame layout of the Java client', () => {
  const frame = lz4Compress(Buffer.from('abcdabcdabcdabcdabcdabcdabcdabcd'))
  // magic, FLG 0x60 (version 01, independent blocks), BD 0x40 (64 KiB), HC = xxh32(60 40) >> 8.
  assert.deepEqual([...frame.subarray(0, 7)], [...MAGIC, 0x60, 0x40, 0x82])
  assert.equal(frame.readUInt32LE(frame.length - 4), 0, 'end mark')
  assert.ok(frame.readUInt32LE(7) < 32, 'a compressible block is stored compressed')

  const incompressible = randomBuffer(100, 1)
  const stored = lz4Compress(incompressible)
  assert.equal(stored.readUInt32LE(7), (0x80000000 | 100) >>> 0, 'high bit: stored uncompressed')
  assert.deepEqual(stored.subarray(11, 111), incompressible)

  assert.deepEqual([...lz4Compress(Buffer.alloc(0))], [...MAGIC, 0x60, 0x40, 0x82, 0, 0, 0, 0])
  // 200 KiB: four 64 KiB blocks at most, each declared size within the 64 KiB maximum.
  const big = lz4Compress(randomBuffer(200 * 1024, 2))
  let at = 7
  let blocks = 0
  for (let word = big.readUInt32LE(at); word !== 0; word = big.readUInt32LE(at)) {
    const size = word & 0x7fffffff
    assert.ok(size <= 65536)
    at += 4 + size
    blocks++
  }
  assert.equal(blocks, 4)
})

// Made by the reference lz4 command-line tool: `lz4 -BX --content-size` (block checksums, content
// size, content checksum) on the text below.
const CLI_SMALL = Buffer.from(
  'BCJNGHxAUgAAAAAAAADhPAAAAP8SdGlja2Zsb3cgbHo0IGZpeHR1cmU6IEFBUEwgMTAxLjI1DAAD1TUwIE1TRlQgNDIwLjAMAFAwLjAwClwfrYcAAAAA6jmvHQ==',
  'base64',
)
const CLI_SMALL_TEXT = 'tickflow lz4 fixture: AAPL 101.25 AAPL 101.25 AAPL 101.50 MSFT 420.00 MSFT 420.00\n'

// `lz4 -BD -B4` (linked blocks, content checksum) on periodic(70000, 1000, 42): the second block
// copies from the first, which independent blocks could not do.
const CLI_LINKED = Buffer.from(
  [
    'BCJNGERAXvIEAAD/////3Jly2qsshkWf3Xg/4b5OMoCvnAB41g2XCEQPL8iHBizXfM9RcwkNjpg+pTVNvduCNEhLE6iuse0W8W7x',
    'IxwEXHuc5hO470e0LYXSHv6Q6m+UVphSuktz17H+426LSxmyUMnnF3nSIfkttbM5aSmnVTSg41PKZCHdXgK8ouDoNZp9Lwy0tUpG',
    'Vgc4/pL9KSuPSmVva69mVuVTfpyLljxTTFKrOCuxUB9QCpM1e2G26c9wJ96G1+RzJZ7ONWOL/H3c174NESuBrcL90KHW2plZcuCu',
    'WfCgVNgmXQUVpbn04Xe1JUUjDEpwkbfLyDKqhHF4dWxUTiWBRIeMpW8iACXxEd5ugBnSDl46s5AY98Cpy4zOhi0TGA9DrKuP+gVl',
    'VkjViTTx80SE3O+vkc9PfsCMr42L9/vET6Gq3WPgUeFpVojWnt6xJkn2fEahxb22L9jni3gSf+Ssa3Gdt4QLKhgfYNTWrhUIRbNF',
    '26Do41gZoD16R0K4hHyXG8iw6x0PCFc9Ov2U11emCLzMYDTJgSMVxW7eyn7zLCWNrDTFPSKomo407IW+DPWUSAxTtsJA3HQupIEw',
    '2hYi/jZ4gp58rCj61Fg0hMNyfEB/CNxdbUCBCqoQ5sOozw2WjHuDeXOTBLUAsC5eue5Hnud2C5F+cXfAH7eY8tV6AukPhHyujpza',
    'qvv698/1zygW/gh9363GU9d07KdAJ1+5DCM9nl+i+WjKvQSv4EGX5ndh16FQdof+LJgTpMtvmNVkliv5Lq21kYuh5cUADxjoAAiG',
    'Dr6iAGfTWDK+pwygltmUapZplzEitbtI7PFumFaq+uSxV+iC6jsmUfuB+QWmmv1A9jnyToNjN0nxoFCCXXItkuaoiuOW2nGhdJap',
    'oGgsAbVhUwQgpkcLdbMitTdHnldZnXfQFTNY4tvzdyypnMDwZ2Ap5pIsCNsYiIWZ+YashubiFjnrY7SJcFNfVqXf4T2WfoS6kmj/',
    'OG0KJwwfVsSGc2H/uXBZv0qVQxzYYB7yC8CTEJ7gMNc4+HNqBWUNYntmBPbEOh8wsMr52uM+tILSNgDX6O45IgL0q6IXorDLA9g5',
    'hl4TRub9jjQIzwrtVvPzxCVcSBGji5molxDhr59qzjlsGvAyO5ubjm1nWm25FJ+mpuDafMcldadmMfrsbuznGH/dRX7MWLla9Q/y',
    'vXVLRF5FNQe1J0EJzBa7jHNVpJdMyN+9qntemftMaWlKrVowpMqP/d7nmIJj2kAPmwQhuis8LGL4e7fbz0TTXUEPucDkfUCdokbk',
    'y6Cgg+lo9dEW4LfVPh7WZJHdaF2IC0n39ZGIMhbgSUn/qT9NNTnl/KToA///////////////////////////////////////////',
    '////////////////////////////////////////////////////////////////////////////////////////////////////',
    '////////////////////////////////////////////////////////////////////////////////////////////////////',
    '//////////////////////////////////////////////////////////////////////////////////////////////xQX7kM',
    'Iz0bAAAAD+j9//////////////////////9pUDU55fykAAAAAJ9nlto=',
  ].join(''),
  'base64',
)

test('lz4 decodes frames from the reference tool: checksums, content size, linked blocks', () => {
  assert.equal(CLI_SMALL[4], 0x7c, 'FLG: block checksum, content size, content checksum')
  assert.equal(lz4Decompress(CLI_SMALL).toString(), CLI_SMALL_TEXT)
  assert.equal(CLI_LINKED[4] & 0x20, 0, 'FLG: linked blocks')
  assert.deepEqual(lz4Decompress(CLI_LINKED), periodic(70000, 1000, 42))
})

test('lz4 verifies block and content checksums and the content size', () => {
  // CLI_SMALL: magic 4 | FLG BD 2 | size 8 | HC 1 | block size 4 at 15 | block | block checksum | end mark | content checksum
  const blockSize = CLI_SMALL.readUInt32LE(15) & 0x7fffffff
  const badBlock = Buffer.from(CLI_SMALL)
  badBlock[19 + blockSize] ^= 1
  assertCompressionError(() => lz4Decompress(badBlock), 'block checksum')
  const badContent = Buffer.from(CLI_SMALL)
  badContent[badContent.length - 1] ^= 1
  assertCompressionError(() => lz4Decompress(badContent), 'content checksum')
  const badLinked = Buffer.from(CLI_LINKED)
  badLinked[badLinked.length - 2] ^= 0x10
  assertCompressionError(() => lz4Decompress(badLinked), 'content checksum over several blocks')

  const literals = Buffer.from([0x50, ...Buffer.from('hello')])
  const sized = (n: number) => Buffer.concat([header(0x68, 0x40, n), u32(literals.length), literals, u32(0)])
  assert.equal(lz4Decompress(sized(5)).toString(), 'hello')
  assertCompressionError(() => lz4Decompress(sized(6)), 'content size larger than the content')
  assertCompressionError(() => lz4Decompress(sized(4)), 'content size smaller than the content')
})

test('lz4 accepts both header checksums: KIP-57 standard and the old one over the magic', () => {
  const frame = lz4Compress(Buffer.from('legacy header checksum, legacy header checksum'))
  const legacy = Buffer.from(frame)
  legacy[6] = (xxhash32(frame, 0, 6) >>> 8) & 0xff
  assert.notEqual(legacy[6], frame[6])
  assert.deepEqual(lz4Decompress(legacy), lz4Decompress(frame))
  const wrong = Buffer.from(frame)
  for (let hc = 0; hc < 256; hc++) {
    if (hc === frame[6] || hc === legacy[6]) continue
    wrong[6] = hc
    assertCompressionError(() => lz4Decompress(wrong))
  }
})

test('lz4 decodes concatenated frames and skips skippable frames', () => {
  const a = Buffer.from('first frame first frame first frame')
  const b = randomBuffer(70_000, 3)
  const skippable = Buffer.concat([u32(0x184d2a53), u32(5), Buffer.from('skip!')])
  const joined = Buffer.concat([lz4Compress(a), skippable, lz4Compress(b), lz4Compress(Buffer.alloc(0))])
  assert.deepEqual(lz4Decompress(joined), Buffer.concat([a, b]))
  assertCompressionError(() => lz4Decompress(Buffer.concat([lz4Compress(a), Buffer.from([1, 2])])), 'trailing bytes')
})

test('lz4 decodes hand-made blocks: overlapping matches and length extensions', () => {
  // token 0x1f: 1 literal, match length 15 + ext; offset 1 repeats the literal (run-length).
  const run = frameOf(Buffer.from([0x1f, 0x61, 0x01, 0x00, 0xff, 0x0a, 0x10, 0x62]))
  assert.equal(lz4Decompress(run).toString(), 'a'.repeat(1 + 4 + 15 + 255 + 10) + 'b')
  // 3 literals then a match of 9 at offset 3: "xyz" repeated.
  const tri = frameOf(Buffer.from([0x35, 0x78, 0x79, 0x7a, 0x03, 0x00, 0x00]))
  assert.equal(lz4Decompress(tri).toString(), 'xyz'.repeat(4))
  // 300 literals: length 15 + 255 + 30.
  const lit = randomBuffer(300, 4)
  assert.deepEqual(lz4Decompress(frameOf(Buffer.concat([Buffer.from([0xf0, 0xff, 30]), lit]))), lit)
})

test('lz4 rejects invalid frame descriptors', () => {
  const body = Buffer.concat([u32(0x80000001), Buffer.from('x'), u32(0)])
  const withHeader = (flg: number, bd: number) => Buffer.concat([header(flg, bd), body])
  assert.equal(lz4Decompress(withHeader(0x60, 0x40)).toString(), 'x')
  assert.equal(lz4Decompress(withHeader(0x40, 0x70)).toString(), 'x', '4 MiB blocks, linked')
  assertCompressionError(() => lz4Decompress(withHeader(0xa0, 0x40)), 'version 2')
  assertCompressionError(() => lz4Decompress(withHeader(0x20, 0x40)), 'version 0')
  assertCompressionError(() => lz4Decompress(withHeader(0x62, 0x40)), 'reserved FLG bit')
  assertCompressionError(() => lz4Decompress(withHeader(0x60, 0xc0)), 'reserved BD bit')
  assertCompressionError(() => lz4Decompress(withHeader(0x60, 0x41)), 'reserved BD bits')
  assertCompressionError(() => lz4Decompress(withHeader(0x60, 0x30)), 'block size id 3')
  assertCompressionError(() => lz4Decompress(withHeader(0x61, 0x40)), 'dictionary id')
  assertCompressionError(() => lz4Decompress(Buffer.from('not lz4 at all')), 'magic')
  assertCompressionError(() => lz4Decompress(Buffer.alloc(0)), 'empty')
})

test('lz4 rejects corrupt blocks', () => {
  const cases: Array<[string, number[]]> = [
    ['offset 0', [0x10, 0x61, 0x00, 0x00, 0x00]],
    ['offset before the output', [0x10, 0x61, 0x02, 0x00, 0x00]],
    ['truncated offset', [0x10, 0x61, 0x01]],
    ['literals past the block', [0x50, 0x61, 0x62]],
    ['truncated literal length', [0xf0, 0xff]],
    ['truncated match length', [0x1f, 0x61, 0x01, 0x00, 0xff]],
    ['no final literal run', [0x10, 0x61, 0x01, 0x00]],
  ]
  for (const [name, block] of cases) assertCompressionError(() => lz4Decompress(frameOf(Buffer.from(block))), name)
  const stored = (size: number) =>
    Buffer.concat([header(0x60, 0x40), u32(0x80000000 + size), Buffer.alloc(size), u32(0)])
  assert.equal(lz4Decompress(stored(65536)).length, 65536)
  assertCompressionError(() => lz4Decompress(stored(65537)), 'block larger than the frame maximum')
  // A block whose matches decode to more than the 64 KiB maximum of the frame.
  const ext = Buffer.concat([Buffer.from([0x1f, 0x61, 0x01, 0x00]), Buffer.alloc(260, 0xff), Buffer.from([0, 0x00])])
  assertCompressionError(() => lz4Decompress(frameOf(ext)), 'block decodes past its maximum')
  // Independent blocks cannot reach into the previous block.
  const first = Buffer.from([0x40, 0x61, 0x62, 0x63, 0x64])
  const second = Buffer.from([0x04, 0x04, 0x00, 0x10, 0x65])
  assertCompressionError(() => lz4Decompress(frameOf(first, second)), 'independent block referring back')
  const linked = Buffer.concat([header(0x40, 0x40), u32(first.length), first, u32(second.length), second, u32(0)])
  assert.equal(lz4Decompress(linked).toString(), 'abcd' + 'abcdabcd' + 'e')
})

test('lz4 throws TICKFLOW_ERR_COMPRESSION on every truncation of valid frames', () => {
  const frames = [
    lz4Compress(Buffer.from('short input')),
    lz4Compress(sampleInputs().find((s) => s.name === 'mixed 200000')!.data),
    lz4Compress(randomBuffer(70_000, 5)),
    CLI_SMALL,
    CLI_LINKED,
  ]
  for (const frame of frames) {
    const step = Math.max(1, Math.floor(frame.length / 2000))
    for (let n = 0; n < frame.length; n += step)
      assertCompressionError(() => lz4Decompress(frame.subarray(0, n)), `${n}`)
    assertCompressionError(() => lz4Decompress(frame.subarray(0, frame.length - 1)))
  }
})

test('lz4 survives random and mutated input with TICKFLOW_ERR_COMPRESSION only', () => {
  for (let i = 0; i < 300; i++) {
    const junk = randomBuffer(1 + (i % 97) * 7, 1000 + i)
    assertCompressionError(() => lz4Decompress(junk), 'random bytes')
    // A valid header followed by random bytes gets past the magic check.
    assertCompressionError(() => lz4Decompress(Buffer.concat([header(0x60, 0x40), junk])), 'random blocks')
  }
  const text = sampleInputs().find((s) => s.name === 'text 4096')!.data
  const threw = fuzzMutations(lz4Compress(text), 3000, 6, (m) => lz4Decompress(m, 1 << 20))
  assert.ok(threw > 0)
  fuzzMutations(CLI_LINKED, 1000, 7, (m) => lz4Decompress(m, 1 << 20))
})

test('lz4 enforces maxOutputBytes against decompression bombs', () => {
  const zeros = Buffer.alloc(8 << 20)
  const bomb = lz4Compress(zeros)
  assert.ok(bomb.length < 64 * 1024, 'a tiny frame')
  assertCompressionError(() => lz4Decompress(bomb, 1 << 20))
  assert.equal(lz4Decompress(bomb, zeros.length).length, zeros.length, 'exactly at the limit')
  assertCompressionError(() => lz4Decompress(bomb, zeros.length - 1), 'one byte over')
  // A header that claims more than the limit is refused before any block is read.
  assertCompressionError(() => lz4Decompress(Buffer.concat([header(0x68, 0x40, 2 ** 40), u32(0)]), 1 << 20))
  assertCompressionError(() => lz4Decompress(Buffer.concat([header(0x68, 0x40, 2 ** 63), u32(0)])))
  assertCompressionError(() => lz4Decompress(lz4Compress(Buffer.from('x')), -1), 'negative limit')
})
