import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Reader } from '../../src/protocol/reader.ts'

const MALFORMED = { code: 'TICKFLOW_ERR_PROTOCOL_MALFORMED' }

test('reads past the end throw MALFORMED, never RangeError', () => {
  assert.throws(() => new Reader(Buffer.from([1])).readInt32(), MALFORMED)
  assert.throws(() => new Reader(Buffer.from([0, 5, 0x61])).readString(), MALFORMED)
  assert.throws(() => new Reader(Buffer.from([0x80, 0x80])).readUnsignedVarInt(), MALFORMED)
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0x01])).readUnsignedVarInt(), MALFORMED)
  assert.throws(() => new Reader(Buffer.alloc(3)).readUuid(), MALFORMED)
})

test('negative lengths other than -1 are malformed', () => {
  assert.throws(() => new Reader(Buffer.from([0xff, 0xfe])).readNullableString(), MALFORMED)
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xfe])).readNullableBytes(), MALFORMED)
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff, 0xff, 0xfe])).readArrayLength(false), MALFORMED)
})

test('an array length larger than the bytes left is refused before allocating', () => {
  const r = new Reader(Buffer.from([0x7f, 0xff, 0xff, 0xff, 0]))
  assert.throws(() => r.readArray(false, (x) => x.readInt8()), MALFORMED)
})

test('null where the field is not nullable is malformed', () => {
  assert.throws(() => new Reader(Buffer.from([0xff, 0xff])).readString(), MALFORMED)
  assert.throws(() => new Reader(Buffer.from([0])).readCompactString(), MALFORMED)
})

test('tagged fields must ascend, and unknown ones are skipped by size', () => {
  const skipped = new Reader(Buffer.from([2, 1, 2, 0xaa, 0xbb, 5, 1, 0xcc, 9]))
  skipped.readTaggedFields()
  assert.equal(skipped.readUInt8(), 9)
  assert.throws(() => new Reader(Buffer.from([2, 3, 0, 1, 0])).readTaggedFields(), MALFORMED)
  assert.throws(() => new Reader(Buffer.from([1, 0, 9, 1])).readTaggedFields(), MALFORMED)
})

test('byte fields are views into the frame', () => {
  const frame = Buffer.from([0, 0, 0, 2, 7, 8])
  const bytes = new Reader(frame).readBytes()
  frame[4] = 1
  assert.equal(bytes[0], 1)
})
