// Tests of the hand-written helpers the generated codecs call.
import assert from 'node:assert/strict'
import test from 'node:test'
import { ErrorCodes, TickflowError } from '../../src/errors.ts'
import {
  isZeroUuid,
  nonNullable,
  readInt64Array,
  readRecords,
  readStringArray,
  unsupportedVersion,
  writeInt64Array,
  writeRecords,
  writeStringArray,
  ZERO_UUID,
} from '../../src/protocol/codec-support.ts'
import type { DeepPartial, Records } from '../../src/protocol/codec-support.ts'
import { Reader } from '../../src/protocol/reader.ts'
import { Writer } from '../../src/protocol/writer.ts'

const hex = (w: Writer) => w.toBuffer().toString('hex')

test('writeRecords: one buffer, a list under one length prefix, or null; classic and compact', () => {
  const a = Buffer.from('aaaa')
  const b = Buffer.alloc(2000, 0x62) // long enough to be linked as its own chunk
  const w = Writer.create()
  writeRecords(w, [a, b], false)
  const chunks = w.toBuffers()
  assert.ok(chunks.includes(b), 'large batches are linked, not copied')
  const out = Buffer.concat(chunks)
  assert.equal(out.readInt32BE(0), 2004)
  assert.deepEqual(out.subarray(4), Buffer.concat([a, b]))

  const c = Writer.create()
  writeRecords(c, [a, a], true)
  assert.equal(hex(c), '09' + '61616161'.repeat(2))
  const n = Writer.create()
  writeRecords(n, null, false)
  writeRecords(n, null, true)
  writeRecords(n, a, true)
  assert.equal(hex(n), 'ffffffff' + '00' + '05' + '61616161')
})

test('readRecords returns a view of the frame, or null', () => {
  const frame = Buffer.from('00000002abcd' + 'ffffffff' + '03eeff', 'hex')
  const r = new Reader(frame)
  const records = readRecords(r, false)
  assert.deepEqual(records, Buffer.from('abcd', 'hex'))
  assert.equal(records!.buffer, frame.buffer)
  assert.equal(readRecords(r, false), null)
  assert.deepEqual(readRecords(r, true), Buffer.from('eeff', 'hex'))
})

test('primitive array helpers round-trip, including null', () => {
  const w = Writer.create()
  writeStringArray(w, true, ['a', 'bc'])
  writeStringArray(w, false, null)
  writeInt64Array(w, false, [-1n, 2n ** 62n])
  const r = new Reader(w.toBuffer())
  assert.deepEqual(readStringArray(r, true), ['a', 'bc'])
  assert.equal(readStringArray(r, false), null)
  assert.deepEqual(readInt64Array(r, false), [-1n, 2n ** 62n])
  assert.equal(r.remaining, 0)
})

test('uuid helpers and errors', () => {
  assert.equal(isZeroUuid(ZERO_UUID), true)
  assert.equal(isZeroUuid(Buffer.alloc(16, 1)), false)
  assert.throws(
    () => nonNullable('Topics'),
    (e: unknown) => e instanceof TickflowError && e.code === ErrorCodes.PROTOCOL_ENCODE,
  )
  assert.throws(
    () => unsupportedVersion('FetchRequest', 99),
    (e: unknown) => e instanceof TickflowError && e.code === ErrorCodes.PROTOCOL_UNSUPPORTED,
  )
})

test('DeepPartial: everything optional, records widened to a list of buffers', () => {
  interface Shape {
    id: number
    records: Records | null
    inner: { name: string; list: bigint[] }[]
  }
  // Compile-time checks: these assignments must type-check (tsc runs over the tests).
  const empty: DeepPartial<Shape> = {}
  const partial: DeepPartial<Shape> = { records: [Buffer.alloc(1)], inner: [{ list: [1n] }] }
  const full: Shape = { id: 1, records: null, inner: [] }
  const widened: DeepPartial<Shape> = full
  assert.deepEqual([empty, partial.inner?.[0].list, widened.id], [{}, [1n], 1])
})
