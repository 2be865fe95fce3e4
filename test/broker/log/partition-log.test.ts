import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { ErrorCodes } from '../../../src/errors.ts'
import { DEFAULT_LOG_CONFIG, PartitionLog } from '../../../src/broker/log/index.ts'
import { BATCH_HEADER_SIZE, checkBatch, decodeRecords, readBatchHeader } from '../../../src/protocol/record-batch.ts'
import { baseOf, fill, lastOf, makeBatch, openLog, splitBatches, tempDir } from './log-fixtures.ts'

test('append assigns consecutive offsets and patches baseOffset in place', (t) => {
  const log = openLog(t, tempDir(t))
  const a = makeBatch(3, 1)
  const b = makeBatch(2, 2)
  assert.deepEqual(log.append(a), { baseOffset: 0, lastOffset: 2, sizeBytes: a.length })
  assert.deepEqual(log.append(b), { baseOffset: 3, lastOffset: 4, sizeBytes: b.length })
  assert.equal(readBatchHeader(b).baseOffset, 3)
  // The CRC does not cover baseOffset: the patched batch is still valid.
  assert.equal(checkBatch(b, 0, b.length).problem, null)
  assert.equal(log.logEndOffset, 5)
  assert.equal(log.logStartOffset, 0)
  assert.equal(log.sizeBytes, a.length + b.length)
  const records = decodeRecords(readBatchHeader(log.read(3, 1)), log.read(3, 1).subarray(BATCH_HEADER_SIZE))
  assert.deepEqual(
    records.map((r) => r.offset),
    [3, 4],
  )
})

for (const indexIntervalBytes of [0, 150, 1 << 20]) {
  test(`reads return the batch containing any offset, across segments (index interval ${indexIntervalBytes})`, (t) => {
    const log = openLog(t, tempDir(t), { segmentBytes: 1_000, indexIntervalBytes })
    const stored = fill(log, 60)
    assert.ok(log.segmentBaseOffsets().length >= 5, 'rolled into several segments')
    for (const seg of log.segmentBaseOffsets())
      assert.ok(
        stored.some((b) => baseOf(b) === seg),
        'segments start at batches',
      )
    for (let offset = 0; offset < log.logEndOffset; offset++) {
      const expected = stored.find((b) => baseOf(b) <= offset && offset <= lastOf(b))!
      assert.deepEqual(log.read(offset, 1), expected, `offset ${offset}`)
    }
  })
}

test('a large read returns whole batches from the containing one to the end of its segment', (t) => {
  const log = openLog(t, tempDir(t), { segmentBytes: 1_000, indexIntervalBytes: 100 })
  const stored = fill(log, 40)
  const bases = log.segmentBaseOffsets()
  const offset = lastOf(stored[7]) // the last record of batch 7: clients skip the records before it
  const got = splitBatches(log.read(offset, 1 << 20))
  assert.deepEqual(got[0], stored[7])
  const nextSegment = bases.find((b) => b > offset)!
  const expected = stored.filter((b) => baseOf(b) >= baseOf(stored[7]) && baseOf(b) < nextSegment)
  assert.deepEqual(got, expected)
})

test('maxBytes bounds a read to whole batches, but at least one batch is returned', (t) => {
  const log = openLog(t, tempDir(t), { indexIntervalBytes: 100 })
  const stored = fill(log, 20)
  const twoAndAHalf = stored[0].length + stored[1].length + Math.floor(stored[2].length / 2)
  assert.deepEqual(splitBatches(log.read(0, twoAndAHalf)), stored.slice(0, 2))
  const exact = stored[0].length + stored[1].length + stored[2].length
  assert.deepEqual(splitBatches(log.read(0, exact)), stored.slice(0, 3))
  // From the middle of the third batch (offsets 3..5): it and the next one fit.
  assert.deepEqual(splitBatches(log.read(4, stored[2].length + stored[3].length)), stored.slice(2, 4))
  assert.deepEqual(log.read(0, 1), stored[0])
  assert.deepEqual(log.read(0, 0), stored[0])
  // A batch larger than maxBytes still comes back whole (KIP-74).
  const big = makeBatch(50, 5, 1_000)
  const { baseOffset } = log.append(big)
  assert.deepEqual(log.read(baseOffset + 10, 100), big)
  const total = stored.reduce((n, b) => n + b.length, 0)
  assert.equal(log.read(0, 1 << 30).length, total + big.length)
})

test('maxOffset excludes batches starting at or after it', (t) => {
  const log = openLog(t, tempDir(t), { indexIntervalBytes: 100 })
  const stored = fill(log, 20)
  assert.deepEqual(splitBatches(log.read(0, 1 << 20, baseOf(stored[5]))), stored.slice(0, 5))
  // A maxOffset inside a batch keeps that batch (it starts below maxOffset).
  assert.deepEqual(splitBatches(log.read(0, 1 << 20, baseOf(stored[5]) + 1)), stored.slice(0, 6))
  assert.deepEqual(splitBatches(log.read(baseOf(stored[3]), 1 << 20, baseOf(stored[12]))), stored.slice(3, 12))
  assert.equal(log.read(baseOf(stored[5]), 1 << 20, baseOf(stored[5])).length, 0)
  assert.equal(log.read(log.logEndOffset - 1, 1 << 20, 0).length, 0)
})

test('reads at the log end are empty', (t) => {
  const log = openLog(t, tempDir(t))
  assert.equal(log.read(0, 1 << 20).length, 0)
  fill(log, 3)
  assert.equal(log.read(log.logEndOffset, 1 << 20).length, 0)
})

test('findBatchByTimestamp returns the first batch whose maxTimestamp reaches the target', (t) => {
  const dir = tempDir(t)
  const config = { segmentBytes: 400, indexIntervalBytes: 0 }
  let log = PartitionLog.open(dir, { ...DEFAULT_LOG_CONFIG, ...config })
  // Non-monotonic timestamps across several segments: maxTimestamp of batch i = timestamps[i] + 1.
  const timestamps = [100, 300, 200, 400, 250, 50, 600, 500]
  const stored = timestamps.map((ts) => {
    const b = makeBatch(2, ts)
    log.append(b)
    return Buffer.from(b)
  })
  assert.ok(log.segmentBaseOffsets().length > 2)
  const check = (): void => {
    assert.deepEqual(log.findBatchByTimestamp(0), stored[0])
    assert.deepEqual(log.findBatchByTimestamp(101), stored[0])
    assert.deepEqual(log.findBatchByTimestamp(102), stored[1])
    assert.deepEqual(log.findBatchByTimestamp(301), stored[1])
    assert.deepEqual(log.findBatchByTimestamp(302), stored[3])
    assert.deepEqual(log.findBatchByTimestamp(401), stored[3])
    assert.deepEqual(log.findBatchByTimestamp(402), stored[6])
    assert.deepEqual(log.findBatchByTimestamp(601), stored[6])
    assert.equal(log.findBatchByTimestamp(602), null)
  }
  check()
  log.close()
  // Sealed segments now answer from the index files loaded on open.
  log = openLog(t, dir, config)
  check()
  // Batches below the log start offset are not candidates.
  log.deleteRecordsBefore(baseOf(stored[2]))
  assert.deepEqual(log.findBatchByTimestamp(102), stored[2])
})

test('scanHeaders visits every batch from the one containing fromOffset', (t) => {
  const log = openLog(t, tempDir(t), { segmentBytes: 500, indexIntervalBytes: 100 })
  const stored = fill(log, 30)
  const seen: number[] = []
  log.scanHeaders(lastOf(stored[4]), (h) => seen.push(h.baseOffset))
  assert.deepEqual(seen, stored.slice(4).map(baseOf))
  const headers: number[] = []
  log.scanHeaders(0, (h) => headers.push(h.recordCount))
  assert.deepEqual(
    headers,
    stored.map((b) => readBatchHeader(b).recordCount),
  )
  let none = 0
  log.scanHeaders(log.logEndOffset, () => none++)
  assert.equal(none, 0)
})

test('segments roll by size and by segment.ms', (t) => {
  let now = 1_000_000
  const log = openLog(t, tempDir(t), { segmentBytes: 10_000, segmentMs: 60_000 }, { now: () => now })
  fill(log, 3)
  assert.deepEqual(log.segmentBaseOffsets(), [0])
  now += 60_000
  fill(log, 1)
  assert.deepEqual(log.segmentBaseOffsets(), [0], 'rolls only once segment.ms has passed')
  now += 1
  const { baseOffset } = log.append(makeBatch(1, 1))
  assert.deepEqual(log.segmentBaseOffsets(), [0, baseOffset])
  // A batch larger than segment.bytes still goes into an (empty) segment of its own.
  const big = makeBatch(20, 1, 1_000)
  const r = log.append(big)
  assert.deepEqual(log.segmentBaseOffsets(), [0, baseOffset, r.baseOffset])
  assert.deepEqual(log.read(r.baseOffset, 1), big)
})

test('retention.ms deletes expired segments oldest first, rolling a quiet active segment', (t) => {
  const dir = tempDir(t)
  const day = 86_400_000
  const log = openLog(t, dir, { segmentBytes: 400, retentionMs: day })
  // Timestamps of the records decide the age of a segment, not the wall clock.
  const stored = [0, 1, 2, 3, 4, 5].flatMap((d) => {
    const batches = [makeBatch(2, d * day), makeBatch(2, d * day + 1000)]
    for (const b of batches) log.append(b)
    return batches
  })
  const segments = log.segmentBaseOffsets()
  assert.ok(segments.length >= 3)
  assert.equal(log.enforceRetention(1 * day), 0)
  const sizeBefore = log.sizeBytes
  const deleted = log.enforceRetention(3 * day + 2000)
  assert.ok(deleted > 0)
  // Every remaining segment holds a record younger than retention.ms; the first one's start is the log start.
  assert.equal(log.logStartOffset, log.segmentBaseOffsets()[0])
  assert.ok(log.sizeBytes < sizeBefore)
  const first = log.read(log.logStartOffset, 1)
  assert.ok(readBatchHeader(first).maxTimestamp >= 2 * day)
  const gone = stored.filter((b) => baseOf(b) < log.logStartOffset)
  assert.ok(gone.every((b) => readBatchHeader(b).maxTimestamp < 2 * day + 2000))
  for (const base of segments.slice(0, deleted)) {
    assert.ok(!fs.existsSync(path.join(dir, `${String(base).padStart(20, '0')}.log`)))
  }
  // Everything expired: the active segment is rolled so that it can go too.
  const end = log.logEndOffset
  assert.equal(log.enforceRetention(100 * day), segments.length - deleted)
  assert.equal(log.logStartOffset, end)
  assert.equal(log.logEndOffset, end)
  assert.equal(log.sizeBytes, 0)
  assert.deepEqual(log.segmentBaseOffsets(), [end])
  assert.equal(log.enforceRetention(100 * day), 0, 'an empty active segment is never deleted')
  assert.equal(log.append(makeBatch(1, 1)).baseOffset, end)
})

test('retention.ms uses the injected clock by default and -1 keeps forever', (t) => {
  let now = 0
  const log = openLog(t, tempDir(t), { segmentBytes: 300, retentionMs: -1 }, { now: () => now })
  fill(log, 10, 0)
  now = 1e12
  assert.equal(log.enforceRetention(), 0)
  log.setConfig({ ...DEFAULT_LOG_CONFIG, segmentBytes: 300, retentionMs: 1000 })
  assert.ok(log.enforceRetention() > 0)
  assert.equal(log.sizeBytes, 0)
})

test('retention.bytes deletes the oldest segments while the log stays at least that large', (t) => {
  const dir = tempDir(t)
  const log = openLog(t, dir, { segmentBytes: 500, retentionBytes: 1_200, retentionMs: -1 })
  fill(log, 40)
  const before = log.segmentBaseOffsets()
  const deleted = log.enforceRetention()
  assert.ok(deleted > 0)
  assert.deepEqual(log.segmentBaseOffsets(), before.slice(deleted))
  assert.equal(log.logStartOffset, before[deleted])
  // As Kafka: whole segments go only while what remains is still >= retention.bytes.
  const firstSize = fs.statSync(path.join(dir, `${String(before[deleted]).padStart(20, '0')}.log`)).size
  assert.ok(log.sizeBytes >= 1_200)
  assert.ok(log.sizeBytes - firstSize < 1_200)
  assert.equal(log.enforceRetention(), 0)
})

test('deleteRecordsBefore moves the log start, deletes segments below it and survives reopen', (t) => {
  const dir = tempDir(t)
  const config = { segmentBytes: 500 }
  let log = PartitionLog.open(dir, { ...DEFAULT_LOG_CONFIG, ...config })
  const stored = fill(log, 30)
  const bases = log.segmentBaseOffsets()
  const target = bases[2] + 1
  log.deleteRecordsBefore(target)
  assert.equal(log.logStartOffset, target)
  assert.deepEqual(log.segmentBaseOffsets(), bases.slice(2))
  log.deleteRecordsBefore(5) // lower: no-op
  assert.equal(log.logStartOffset, target)
  assert.throws(
    () => log.deleteRecordsBefore(log.logEndOffset + 1),
    (err: { code?: string }) => err.code === ErrorCodes.INVALID_ARGUMENT,
  )
  const end = log.logEndOffset
  log.close()
  log = PartitionLog.open(dir, { ...DEFAULT_LOG_CONFIG, ...config })
  assert.equal(log.logStartOffset, target)
  assert.equal(log.logEndOffset, end)
  assert.deepEqual(
    splitBatches(log.read(target, 1))[0],
    stored.find((b) => baseOf(b) <= target && target <= lastOf(b)),
  )
  // Up to the end: every segment goes, the offsets are never handed out again.
  log.deleteRecordsBefore(end)
  assert.deepEqual(log.segmentBaseOffsets(), [end])
  assert.equal(log.sizeBytes, 0)
  log.close()
  log = openLog(t, dir, config)
  assert.equal(log.logStartOffset, end)
  assert.equal(log.logEndOffset, end)
  assert.equal(log.append(makeBatch(1, 1)).baseOffset, end)
})

test('destroy closes the log and removes its directory', (t) => {
  const dir = path.join(tempDir(t), 'topic-0')
  const log = PartitionLog.open(dir, DEFAULT_LOG_CONFIG)
  fill(log, 3)
  assert.ok(fs.existsSync(dir))
  log.destroy()
  assert.equal(fs.existsSync(dir), false)
  assert.throws(
    () => log.append(makeBatch(1, 1)),
    (err: { code?: string }) => err.code === ErrorCodes.CLOSED,
  )
})

test('flush coalesces concurrent calls and advances flushedOffset', async (t) => {
  const log = openLog(t, tempDir(t), { segmentBytes: 500 })
  fill(log, 5)
  assert.equal(log.flushedOffset, 0)
  const first = log.flush()
  // Calls during an fsync share the next one.
  const second = log.flush()
  const third = log.flush()
  assert.notEqual(first, second)
  assert.equal(second, third)
  const afterFirst = log.logEndOffset
  await first
  assert.equal(log.flushedOffset, afterFirst)
  await Promise.all([second, third])
  assert.equal(log.flushedOffset, afterFirst)

  // Data appended before a queued call is covered by the fsync that call waits for.
  const inFlight = log.flush()
  fill(log, 2)
  const queued = log.flush()
  await inFlight
  await queued
  assert.equal(log.flushedOffset, log.logEndOffset)
  await log.flush()
  assert.equal(log.flushedOffset, log.logEndOffset)
})

test('segments rolled or deleted while an fsync runs do not break it', async (t) => {
  const log = openLog(t, tempDir(t), { segmentBytes: 300, retentionBytes: 0, retentionMs: -1 })
  fill(log, 10)
  const pending = log.flush()
  fill(log, 10) // rolls
  assert.ok(log.enforceRetention() > 0) // deletes and rolls the segments being fsynced
  await pending
  await log.flush()
  assert.equal(log.flushedOffset, log.logEndOffset)
})

test('a flush in flight when the log closes resolves', async (t) => {
  const dir = tempDir(t)
  const log = PartitionLog.open(dir, DEFAULT_LOG_CONFIG)
  fill(log, 5)
  const a = log.flush()
  const b = log.flush()
  log.close()
  await Promise.all([a, b])
  assert.equal(log.flushedOffset, log.logEndOffset)
  await log.flush()
})

test('close leaves complete index files and reopening keeps offsets', (t) => {
  const dir = tempDir(t)
  const config = { segmentBytes: 2_000, indexIntervalBytes: 100 }
  let log = PartitionLog.open(dir, { ...DEFAULT_LOG_CONFIG, ...config })
  const stored = fill(log, 50)
  const bases = log.segmentBaseOffsets()
  log.close()
  for (const base of bases) {
    const name = String(base).padStart(20, '0')
    const index = fs.statSync(path.join(dir, `${name}.index`)).size
    const timeIndex = fs.statSync(path.join(dir, `${name}.timeindex`)).size
    assert.ok(index > 0 && index % 8 === 0)
    assert.ok(timeIndex > 0 && timeIndex % 12 === 0)
  }
  log = openLog(t, dir, config)
  assert.equal(log.recovery.reason, null)
  assert.equal(log.recovery.segments, 1, 'only the active segment is validated after a clean close')
  assert.equal(log.logEndOffset, lastOf(stored[stored.length - 1]) + 1)
  assert.deepEqual(log.segmentBaseOffsets(), bases)
  assert.deepEqual(splitBatches(log.read(0, 1 << 30)).length, stored.filter((b) => baseOf(b) < bases[1]).length)
  for (const b of stored) assert.deepEqual(log.read(lastOf(b), 1), b)
})

test('invalid configs, malformed batches and closed logs throw coded errors', (t) => {
  const dir = tempDir(t)
  for (const bad of [{ segmentBytes: 0 }, { retentionMs: -2 }, { indexIntervalBytes: 1.5 }, { segmentMs: 0 }]) {
    assert.throws(
      () => PartitionLog.open(dir, { ...DEFAULT_LOG_CONFIG, ...bad }),
      (err: { code?: string }) => err.code === ErrorCodes.INVALID_CONFIG,
    )
  }
  const log = PartitionLog.open(dir, DEFAULT_LOG_CONFIG)
  assert.throws(
    () => log.setConfig({ ...DEFAULT_LOG_CONFIG, retentionBytes: -5 }),
    (err: { code?: string }) => err.code === ErrorCodes.INVALID_CONFIG,
  )
  const batch = makeBatch(2, 1)
  assert.throws(
    () => log.append(Buffer.concat([batch, batch])),
    (err: { code?: string }) => err.code === ErrorCodes.INVALID_RECORD_BATCH,
  )
  assert.throws(
    () => log.append(batch.subarray(0, 30)),
    (err: { code?: string }) => err.code === ErrorCodes.INVALID_RECORD_BATCH,
  )
  log.close()
  log.close() // idempotent
  for (const call of [() => log.read(0, 1), () => log.enforceRetention(), () => log.scanHeaders(0, () => {})]) {
    assert.throws(call, (err: { code?: string }) => err.code === ErrorCodes.CLOSED)
  }
})
