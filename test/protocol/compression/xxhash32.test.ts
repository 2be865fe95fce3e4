import assert from 'node:assert/strict'
import { test } from 'node:test'
import { xxhash32 } from '../../../src/protocol/compression/xxhash32.ts'

// Published XXH32 test vectors (seed 0 unless noted).
test('xxhash32 matches the reference vectors', () => {
  assert.equal(xxhash32(Buffer.alloc(0)), 0x02cc5d05)
  assert.equal(xxhash32(Buffer.from('a')), 0x550d7456)
  assert.equal(xxhash32(Buffer.from('abc')), 0x32d153ff)
  assert.equal(xxhash32(Buffer.from('Nobody inspects the spammish repetition')), 0xe2293b2f)
  assert.equal(xxhash32(Buffer.alloc(0), 0, 0, 1), 0x0b2cb792)
})

test('xxhash32 hashes a sub-range exactly like a copy of it', () => {
  const data = Buffer.from('0123456789abcdefghijklmnopqrstuvwxyz'.repeat(5))
  for (const [start, end] of [
    [0, 0],
    [3, 7],
    [5, 21],
    [1, 170],
  ]) {
    assert.equal(xxhash32(data, start, end), xxhash32(Buffer.from(data.subarray(start, end))))
  }
})
