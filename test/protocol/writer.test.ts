import assert from 'node:assert/strict'
import { test } from 'node:test'
import { Reader } from '../../src/protocol/reader.ts'
import { Writer } from '../../src/protocol/writer.ts'

test('scalars written across scratch-buffer growth land in order', () => {
  const w = Writer.create(4)
  for (let i = 0; i < 8; i++) w.appendInt8(i)
  w.appendInt16(0x1234).appendUInt8(9).appendBoolean(true).appendUnsignedVarInt(300).appendVarLong(-2n)
  assert.deepEqual(w.toBuffer(), Buffer.from([0, 1, 2, 3, 4, 5, 6, 7, 0x12, 0x34, 9, 1, 0xac, 0x02, 0x03]))
})

test('large payloads are linked, not copied, and keep their place', () => {
  const big = Buffer.alloc(4096, 7)
  const w = Writer.create().appendInt32(1).appendRaw(big).appendInt32(2)
  const chunks = w.toBuffers()
  assert.ok(chunks.includes(big), 'the big buffer is one of the chunks')
  const all = Buffer.concat(chunks)
  assert.equal(all.length, 4 + 4096 + 4)
  assert.equal(all.readInt32BE(0), 1)
  assert.equal(all.readInt32BE(4100), 2)
  assert.equal(w.length, all.length)
})

test('strings, bytes and arrays round-trip through Reader, classic and compact', () => {
  const w = Writer.create(8)
  w.appendString('héllo').appendNullableString(null).appendCompactString('ü').appendCompactNullableString(null)
  w.appendBytes(Buffer.from([1, 2]))
    .appendCompactNullableBytes(null)
    .appendCompactBytes(Buffer.alloc(0))
  w.appendArray([1, 2, 3], false, (x, v) => x.appendInt32(v)).appendNullableArray(null, true, () => {})
  w.appendVarInt(-1).appendVarInt(2147483647).appendVarInt(-2147483648).appendInt64(-5n).appendFloat64(1.5)
  w.appendUuid(Buffer.alloc(16, 0xab))
  const r = new Reader(w.toBuffer())
  assert.equal(r.readString(), 'héllo')
  assert.equal(r.readNullableString(), null)
  assert.equal(r.readCompactString(), 'ü')
  assert.equal(r.readCompactNullableString(), null)
  assert.deepEqual(r.readBytes(), Buffer.from([1, 2]))
  assert.equal(r.readCompactNullableBytes(), null)
  assert.equal(r.readCompactBytes().length, 0)
  assert.deepEqual(
    r.readArray(false, (x) => x.readInt32()),
    [1, 2, 3],
  )
  assert.equal(
    r.readNullableArray(true, (x) => x.readInt8()),
    null,
  )
  assert.equal(r.readVarInt(), -1)
  assert.equal(r.readVarInt(), 2147483647)
  assert.equal(r.readVarInt(), -2147483648)
  assert.equal(r.readInt64(), -5n)
  assert.equal(r.readFloat64(), 1.5)
  assert.deepEqual(r.readUuid(), Buffer.alloc(16, 0xab))
  assert.equal(r.remaining, 0)
})

test('tagged fields are written in order with their sizes and read back', () => {
  const w = Writer.create().appendTaggedFields([
    [0, (x) => x.appendInt32(7)],
    [3, (x) => x.appendCompactString('x')],
  ])
  const seen: Array<[number, number]> = []
  new Reader(w.toBuffer()).readTaggedFields((tag, r) => {
    seen.push([tag, r.remaining])
    return true
  })
  assert.deepEqual(seen, [
    [0, 4],
    [3, 2],
  ])
})

test('encoding errors carry TICKFLOW_ERR_PROTOCOL_ENCODE', () => {
  assert.throws(() => Writer.create().appendUnsignedVarInt(-1), { code: 'TICKFLOW_ERR_PROTOCOL_ENCODE' })
  assert.throws(() => Writer.create().appendString(null as unknown as string), { code: 'TICKFLOW_ERR_PROTOCOL_ENCODE' })
  assert.throws(() => Writer.create().appendUuid(Buffer.alloc(3)), { code: 'TICKFLOW_ERR_PROTOCOL_ENCODE' })
})
