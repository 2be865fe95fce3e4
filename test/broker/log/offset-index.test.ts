import assert from 'node:assert/strict'
import { test } from 'node:test'
import { OFFSET_INDEX_ENTRY_SIZE, OffsetIndex, floor } from '../../../src/broker/log/offset-index.ts'

test('floor finds the greatest value <= key', () => {
  const values = [2, 5, 9, 14]
  assert.equal(floor(values, 4, 1), -1)
  assert.equal(floor(values, 4, 2), 0)
  assert.equal(floor(values, 4, 8), 1)
  assert.equal(floor(values, 4, 14), 3)
  assert.equal(floor(values, 4, 100), 3)
  assert.equal(floor(values, 2, 100), 1, 'only the first n values count')
  assert.equal(floor(values, 0, 100), -1)
})

test('entries grow past the initial capacity and look up by offset and position', () => {
  const index = new OffsetIndex(2)
  for (let i = 0; i < 100; i++) index.append(i * 10, i * 1000)
  assert.equal(index.count, 100)
  assert.equal(index.lastPosition, 99_000)
  assert.equal(index.lookup(0), 0)
  assert.equal(index.lookup(15), 1000)
  assert.equal(index.lookup(990), 99_000)
  assert.equal(index.floorByPosition(2500), 2)
  assert.equal(new OffsetIndex().lastPosition, 0)
  assert.equal(new OffsetIndex().lookup(7), 0, 'no entry: the segment start')
})

test('entries encode big-endian and parse back; written tracks what is in the file', () => {
  const index = new OffsetIndex()
  index.append(3, 100)
  index.append(0xfffffffe, 0x7fffffff)
  const bytes = index.encode()
  assert.deepEqual(bytes, Buffer.from([0, 0, 0, 3, 0, 0, 0, 100, 0xff, 0xff, 0xff, 0xfe, 0x7f, 0xff, 0xff, 0xff]))
  index.written = 1
  assert.deepEqual(index.encode(), bytes.subarray(OFFSET_INDEX_ENTRY_SIZE))
  const parsed = OffsetIndex.parse(bytes, 0x80000000)!
  assert.equal(parsed.count, 2)
  assert.equal(parsed.written, 2)
  assert.equal(parsed.lookup(0xffffffff), 0x7fffffff)
})

test('parse rejects files that cannot be a valid index', () => {
  const encode = (entries: Array<[number, number]>): Buffer => {
    const index = new OffsetIndex()
    for (const [rel, pos] of entries) index.append(rel, pos)
    return index.encode()
  }
  assert.ok(OffsetIndex.parse(Buffer.alloc(0), 10) !== null)
  assert.equal(OffsetIndex.parse(Buffer.alloc(7), 10), null, 'partial entry')
  assert.equal(
    OffsetIndex.parse(
      encode([
        [1, 5],
        [1, 9],
      ]),
      100,
    ),
    null,
    'offsets not increasing',
  )
  assert.equal(
    OffsetIndex.parse(
      encode([
        [1, 5],
        [2, 5],
      ]),
      100,
    ),
    null,
    'positions not increasing',
  )
  assert.equal(
    OffsetIndex.parse(
      encode([
        [1, 5],
        [2, 100],
      ]),
      100,
    ),
    null,
    'position past the log',
  )
})

test('trim keeps the entries', () => {
  const index = new OffsetIndex(64)
  index.append(1, 2)
  index.trim()
  assert.equal(index.relOffsets.length, 1)
  assert.equal(index.lookup(5), 2)
  index.append(3, 4)
  assert.equal(index.lookup(5), 4)
})
