import assert from 'node:assert/strict'
import { test } from 'node:test'
import { BatchBuilder } from '../../src/protocol/batch-builder.ts'
import { decodeBatch } from '../../src/protocol/batch-decoder.ts'
import { buildRecordBatch, checkBatch, readBatchHeader } from '../../src/protocol/record-batch.ts'

test('a built batch decodes to the appended records, with a valid CRC and the producer fields', () => {
  const b = new BatchBuilder(64)
  b.append('k1', '{"a":1}', 1_700_000_000_000)
  b.append(null, Buffer.from([0, 1, 2, 255]), 1_700_000_000_250, [
    ['reason', 'bad ✓'],
    ['bytes', Buffer.from([9])],
  ])
  b.append(Buffer.from('k3'), null, 1_699_999_999_000)
  // A value big enough to grow the buffer several times.
  b.append('big', 'x'.repeat(100_000), 1_700_000_000_500)
  assert.equal(b.count, 4)
  const bytes = b.finish({ producerId: 42, producerEpoch: 3, baseSequence: 17, transactional: true })
  assert.equal(b.count, 0, 'finish empties the builder')
  assert.deepEqual(checkBatch(bytes, 0, bytes.length), { problem: null, detail: '' })
  const header = readBatchHeader(bytes)
  assert.equal(header.producerId, 42)
  assert.equal(header.producerEpoch, 3)
  assert.equal(header.baseSequence, 17)
  assert.equal(header.recordCount, 4)
  assert.equal(header.lastOffsetDelta, 3)
  assert.equal(header.attributes & 0x10, 0x10, 'transactional bit')
  assert.equal(header.baseTimestamp, 1_700_000_000_000)
  assert.equal(header.maxTimestamp, 1_700_000_000_500)
  const { records } = decodeBatch(bytes)
  assert.deepEqual(
    records.map((r) => [r.offset, r.timestamp, r.key?.toString() ?? null]),
    [
      [0, 1_700_000_000_000, 'k1'],
      [1, 1_700_000_000_250, null],
      [2, 1_699_999_999_000, 'k3'],
      [3, 1_700_000_000_500, 'big'],
    ],
  )
  assert.equal(records[0].value?.toString(), '{"a":1}')
  assert.deepEqual(records[1].value, Buffer.from([0, 1, 2, 255]))
  assert.deepEqual(
    records[1].headers.map(([k, v]) => [k, v?.toString('utf8')]),
    [
      ['reason', 'bad ✓'],
      ['bytes', '\t'],
    ],
  )
  assert.equal(records[2].value, null)
  assert.equal(records[3].value?.length, 100_000)
})

test('the same records give the same bytes as the reference batch encoder', () => {
  const b = new BatchBuilder()
  const inputs = Array.from({ length: 50 }, (_, i) => ({
    key: `key-${i % 7}`,
    value: JSON.stringify({ i, s: 'é'.repeat(i) }),
    timestamp: 1_000_000 + i * 3,
    headers: i % 5 === 0 ? ([['h', `v${i}`]] as [string, string][]) : [],
  }))
  for (const r of inputs) b.append(r.key, r.value, r.timestamp, r.headers)
  const ours = b.finish({ producerId: 7, producerEpoch: 0, baseSequence: 0, transactional: false })
  const reference = buildRecordBatch(inputs, { producerId: 7, producerEpoch: 0, baseSequence: 0 })
  assert.deepEqual(decodeBatch(ours).records, decodeBatch(reference).records)
  assert.equal(ours.length, reference.length)
})
