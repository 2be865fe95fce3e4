import assert from 'node:assert/strict'
import { crc32c } from '../../src/protocol/crc32c.ts'
import { test } from 'node:test'
import {
  BATCH_HEADER_SIZE,
  buildRecordBatch,
  checkBatch,
  decodeRecords,
  Offsets,
  readBatchHeader,
  readInt64Number,
  writeInt64Number,
} from '../../src/protocol/record-batch.ts'

test('a built batch has a consistent header and decodes back', () => {
  const batch = buildRecordBatch(
    [
      { key: 'k1', value: 'v1', timestamp: 1000, headers: [['h', 'x']] },
      { key: null, value: Buffer.alloc(2000, 1), timestamp: 1005 },
    ],
    { baseOffset: 42, producerId: 7, producerEpoch: 1, baseSequence: 3 },
  )
  const h = readBatchHeader(batch)
  assert.equal(h.baseOffset, 42)
  assert.equal(h.batchLength, batch.length - 12)
  assert.equal(h.magic, 2)
  assert.equal(h.lastOffsetDelta, 1)
  assert.equal(h.recordCount, 2)
  assert.equal(h.baseTimestamp, 1000)
  assert.equal(h.maxTimestamp, 1005)
  assert.equal(h.producerId, 7)
  assert.equal(h.baseSequence, 3)
  assert.equal(checkBatch(batch, 0, batch.length).problem, null)
  const records = decodeRecords(h, batch.subarray(BATCH_HEADER_SIZE))
  assert.deepEqual(
    records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null, r.value?.length]),
    [
      [42, 1000, 'k1', 2],
      [43, 1005, null, 2000],
    ],
  )
  assert.deepEqual(records[0].headers, [['h', Buffer.from('x')]])
})

test('patching the base offset keeps the CRC valid; any covered byte flip breaks it', () => {
  const batch = buildRecordBatch([{ value: 'abc' }])
  writeInt64Number(batch, 123456789012, Offsets.baseOffset)
  assert.equal(readInt64Number(batch, 0), 123456789012)
  assert.equal(checkBatch(batch, 0, batch.length).problem, null)
  const flipped = Buffer.from(batch)
  flipped[flipped.length - 1] ^= 1
  assert.equal(checkBatch(flipped, 0, flipped.length).problem, 'CORRUPT_MESSAGE')
})

test('checkBatch refuses what Kafka refuses', () => {
  const good = buildRecordBatch([{ value: 'a' }, { value: 'b' }])
  const mutate = (fn: (b: Buffer) => void): Buffer => {
    const b = Buffer.from(good)
    fn(b)
    return b
  }
  assert.equal(checkBatch(good, 0, good.length - 1).problem, 'CORRUPT_MESSAGE')
  assert.equal(
    checkBatch(
      mutate((b) => (b[Offsets.magic] = 1)),
      0,
      good.length,
    ).problem,
    'CORRUPT_MESSAGE',
  )
  assert.equal(
    checkBatch(
      mutate((b) => b.writeInt32BE(5, Offsets.lastOffsetDelta)),
      0,
      good.length,
    ).problem,
    'INVALID_RECORD',
  )
  assert.equal(
    checkBatch(
      mutate((b) => b.writeInt16BE(5, Offsets.attributes)),
      0,
      good.length,
    ).problem,
    'UNSUPPORTED_COMPRESSION_TYPE',
  )
  const control = buildRecordBatch([{ value: 'a' }], { control: true })
  assert.equal(checkBatch(control, 0, control.length).problem, 'INVALID_RECORD')
  assert.equal(checkBatch(control, 0, control.length, { allowControl: true }).problem, null)
})

test('int64 helpers handle negatives and values beyond 32 bits', () => {
  const b = Buffer.alloc(8)
  for (const v of [0, 1, -1, 2 ** 40 + 3, -(2 ** 40) - 3, Number.MAX_SAFE_INTEGER]) {
    writeInt64Number(b, v, 0)
    assert.equal(readInt64Number(b, 0), v)
    assert.equal(b.readBigInt64BE(0), BigInt(v))
  }
})

test('uncompressed records must tile the batch exactly', () => {
  const good = buildRecordBatch([{ value: 'a' }, { value: 'bb' }])
  // Lie about the first record's length, then re-sign the batch so only the framing is wrong.
  const bad = Buffer.from(good)
  bad[BATCH_HEADER_SIZE] = 0x7e
  bad.writeUInt32BE(crc32c(bad, Offsets.attributes), Offsets.crc)
  assert.equal(checkBatch(bad, 0, bad.length).problem, 'INVALID_RECORD')
  // Trailing garbage after the last record.
  const longer = Buffer.concat([good, Buffer.from([0])])
  longer.writeInt32BE(longer.length - 12, Offsets.batchLength)
  longer.writeUInt32BE(crc32c(longer, Offsets.attributes), Offsets.crc)
  assert.equal(checkBatch(longer, 0, longer.length).problem, 'INVALID_RECORD')
  assert.equal(checkBatch(good, 0, good.length).problem, null)
})
