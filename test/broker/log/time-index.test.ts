import assert from 'node:assert/strict'
import { test } from 'node:test'
import { TIME_INDEX_ENTRY_SIZE, TimeIndex } from '../../../src/broker/log/time-index.ts'

test('only larger timestamps are appended', () => {
  const index = new TimeIndex(1)
  assert.equal(index.lastTimestamp, -1)
  index.maybeAppend(-1, 0) // no timestamp
  index.maybeAppend(100, 0)
  index.maybeAppend(100, 5)
  index.maybeAppend(90, 6)
  index.maybeAppend(250, 7)
  assert.equal(index.count, 2)
  assert.equal(index.lastTimestamp, 250)
})

test('lookup returns the offset of the greatest entry <= the timestamp', () => {
  const index = new TimeIndex()
  index.maybeAppend(100, 3)
  index.maybeAppend(200, 9)
  index.maybeAppend(300, 9)
  assert.equal(index.lookup(50), 0)
  assert.equal(index.lookup(100), 3)
  assert.equal(index.lookup(299), 9)
  assert.equal(index.lookup(1e15), 9)
})

test('entries encode as i64 + u32 big-endian and parse back', () => {
  const index = new TimeIndex()
  const ts = 1_700_000_000_123
  index.maybeAppend(ts, 42)
  index.maybeAppend(ts + 1, 43)
  const bytes = index.encode()
  assert.equal(bytes.length, 2 * TIME_INDEX_ENTRY_SIZE)
  assert.equal(bytes.readBigInt64BE(0), BigInt(ts))
  assert.equal(bytes.readUInt32BE(8), 42)
  const parsed = TimeIndex.parse(bytes, 43)!
  assert.equal(parsed.count, 2)
  assert.equal(parsed.lastTimestamp, ts + 1)
  assert.equal(parsed.lookup(ts), 42)
})

test('parse rejects files that cannot be a valid time index', () => {
  const entries = (list: Array<[number, number]>): Buffer =>
    Buffer.concat(
      list.map(([ts, rel]) => {
        const b = Buffer.alloc(TIME_INDEX_ENTRY_SIZE)
        b.writeBigInt64BE(BigInt(ts))
        b.writeUInt32BE(rel, 8)
        return b
      }),
    )
  assert.equal(TimeIndex.parse(Buffer.alloc(13), 10), null, 'partial entry')
  assert.equal(
    TimeIndex.parse(
      entries([
        [5, 1],
        [5, 2],
      ]),
      10,
    ),
    null,
    'timestamps not increasing',
  )
  assert.equal(
    TimeIndex.parse(
      entries([
        [5, 2],
        [6, 1],
      ]),
      10,
    ),
    null,
    'offsets decreasing',
  )
  assert.equal(TimeIndex.parse(entries([[5, 11]]), 10), null, 'offset past the segment')
  assert.equal(TimeIndex.parse(entries([[-5, 1]]), 10), null, 'negative timestamp')
  assert.equal(
    TimeIndex.parse(
      entries([
        [5, 1],
        [6, 1],
      ]),
      10,
    )!.count,
    2,
  )
})
