import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { test } from 'node:test'
import { CHECKPOINT_FILE } from '../../../src/broker/log/index.ts'
import type { LogConfig } from '../../../src/broker/log/index.ts'
import { Offsets, readBatchHeader } from '../../../src/protocol/record-batch.ts'
import {
  DEFAULT_LOG_CONFIG,
  PartitionLog,
  baseOf,
  fill,
  lastOf,
  makeBatch,
  openLog,
  segmentFiles,
  segmentPath,
  splitBatches,
  tempDir,
} from './log-fixtures.ts'

const CONFIG: LogConfig = { ...DEFAULT_LOG_CONFIG, segmentBytes: 1_000, indexIntervalBytes: 100, retentionMs: -1 }

/** Writes `n` batches with CONFIG and closes the log cleanly; returns the stored batches. */
function buildLog(dir: string, n: number, config: LogConfig = CONFIG): Buffer[] {
  const log = PartitionLog.open(dir, config)
  const stored = fill(log, n)
  log.close()
  return stored
}

/** Asserts that `log` serves exactly `stored` (each batch at every one of its offsets) and no more. */
function assertServes(log: PartitionLog, stored: Buffer[]): void {
  const end = stored.length === 0 ? log.logStartOffset : lastOf(stored[stored.length - 1]) + 1
  assert.equal(log.logEndOffset, end)
  for (const b of stored) {
    assert.deepEqual(log.read(baseOf(b), 1), b)
    assert.deepEqual(log.read(lastOf(b), 1), b)
  }
  assert.equal(log.read(end, 1 << 20).length, 0)
  const bases: number[] = []
  log.scanHeaders(log.logStartOffset, (h) => bases.push(h.baseOffset))
  assert.deepEqual(bases, stored.map(baseOf))
}

/** Copies `dir` as it is now, like the disk after a crash of the process holding it. */
function crashCopy(t: TestContext, dir: string): string {
  const copy = tempDir(t)
  fs.cpSync(dir, copy, { recursive: true })
  return copy
}

test('a missing directory is created and opens as an empty log', (t) => {
  const dir = path.join(tempDir(t), 'a', 'b')
  const log = openLog(t, dir, CONFIG)
  assert.ok(fs.statSync(dir).isDirectory())
  assert.deepEqual(log.recovery, {
    segments: 0,
    batchesChecked: 0,
    truncatedBytes: 0,
    reason: null,
    indexesRebuilt: 0,
    segmentsRemoved: 0,
  })
  assert.equal(log.logStartOffset, 0)
  assert.equal(log.logEndOffset, 0)
  assert.equal(log.sizeBytes, 0)
  assert.equal(log.read(0, 100).length, 0)
  assert.equal(log.findBatchByTimestamp(0), null)
})

test('a torn last batch is cut at every possible byte position', (t) => {
  const dir = tempDir(t)
  // Sealed segments, then an active one holding several batches.
  const stored = [...buildLog(dir, 12), ...buildLog(dir, 3, { ...CONFIG, segmentBytes: 1 << 20 })]
  const last = stored[stored.length - 1]
  const active = segmentFiles(dir).at(-1)!
  const file = segmentPath(dir, active)
  const original = fs.readFileSync(file)
  const lastPos = original.length - last.length
  assert.ok(lastPos > 0, 'the active segment holds more than the last batch')
  for (let cut = lastPos; cut < original.length; cut++) {
    fs.writeFileSync(file, original.subarray(0, cut))
    const log = PartitionLog.open(dir, CONFIG)
    try {
      assert.equal(log.logEndOffset, baseOf(last), `cut at ${cut}`)
      assert.equal(log.recovery.truncatedBytes, cut - lastPos)
      assert.equal(log.recovery.reason === null, cut === lastPos)
      assert.equal(fs.statSync(file).size, lastPos)
      // The previous batch is the last thing served.
      assert.deepEqual(log.read(lastOf(stored[stored.length - 2]), 1 << 20), stored[stored.length - 2])
      assert.equal(log.read(baseOf(last), 1 << 20).length, 0)
      let lastSeen = -1
      log.scanHeaders(0, (h) => (lastSeen = h.baseOffset))
      assert.equal(lastSeen, baseOf(stored[stored.length - 2]))
    } finally {
      log.close()
    }
  }
  // New appends continue right after the last valid batch, and survive a reopen.
  let log = PartitionLog.open(dir, CONFIG)
  const again = makeBatch(3, 5_000)
  assert.equal(log.append(again).baseOffset, baseOf(last))
  log.close()
  log = openLog(t, dir, CONFIG)
  assert.equal(log.recovery.reason, null)
  assertServes(log, [...stored.slice(0, -1), again])
})

test('a flipped byte anywhere in the last batch truncates it', (t) => {
  const dir = tempDir(t)
  const stored = buildLog(dir, 10)
  const last = stored[stored.length - 1]
  const file = segmentPath(dir, segmentFiles(dir).at(-1)!)
  const original = fs.readFileSync(file)
  const lastPos = original.length - last.length
  for (let i = 0; i < last.length; i++) {
    // partitionLeaderEpoch is covered by nothing (the broker may rewrite it); every other byte is.
    if (i >= Offsets.partitionLeaderEpoch && i < Offsets.magic) continue
    const corrupt = Buffer.from(original)
    corrupt[lastPos + i] ^= 0x10
    fs.writeFileSync(file, corrupt)
    const log = PartitionLog.open(dir, CONFIG)
    try {
      assert.equal(log.logEndOffset, baseOf(last), `flipped byte ${i}`)
      assert.notEqual(log.recovery.reason, null)
      assert.equal(log.recovery.truncatedBytes, last.length)
      assert.equal(log.read(baseOf(last), 1 << 20).length, 0)
    } finally {
      log.close()
    }
  }
})

test('a corrupt batch in the middle of the active segment truncates from there', (t) => {
  const dir = tempDir(t)
  const config = { ...CONFIG, segmentBytes: 1 << 20 }
  const stored = buildLog(dir, 20, config)
  const file = segmentPath(dir, 0)
  const bytes = fs.readFileSync(file)
  const k = 8
  const pos = stored.slice(0, k).reduce((n, b) => n + b.length, 0)
  bytes[pos + stored[k].length - 3] ^= 0xff // inside the records: a CRC mismatch
  fs.writeFileSync(file, bytes)
  const log = openLog(t, dir, config)
  assert.equal(log.recovery.batchesChecked, k)
  assert.equal(log.recovery.truncatedBytes, bytes.length - pos)
  assert.match(log.recovery.reason ?? '', /CORRUPT_MESSAGE/)
  assertServes(log, stored.slice(0, k))
  assert.equal(log.sizeBytes, pos)
})

test('segments written after the last checkpoint are validated after a crash', (t) => {
  const dir = tempDir(t)
  const first = buildLog(dir, 20)
  const segmentsAtClose = segmentFiles(dir)
  const log = openLog(t, dir, CONFIG)
  const more = fill(log, 25, 50_000)
  const all = [...first, ...more]
  const bases = log.segmentBaseOffsets()
  // Crash without close: the segment active at the last close and everything after are suspects.
  const copy = crashCopy(t, dir)
  const crashed = openLog(t, copy, CONFIG)
  const suspects = bases.filter((b) => b >= segmentsAtClose.at(-1)!)
  assert.equal(crashed.recovery.segments, suspects.length)
  assert.equal(crashed.recovery.reason, null)
  assert.deepEqual(crashed.segmentBaseOffsets(), bases)
  assertServes(crashed, all)

  // A corrupt batch in a sealed suspect segment cuts it and drops every later segment.
  const copy2 = crashCopy(t, dir)
  const victim = bases.at(-2)!
  const victimFile = segmentPath(copy2, victim)
  const victimBytes = fs.readFileSync(victimFile)
  const firstBatch = all.find((b) => baseOf(b) === victim)!
  victimBytes[firstBatch.length + 70] ^= 1 // second batch of the segment
  fs.writeFileSync(victimFile, victimBytes)
  const lastSize = fs.statSync(segmentPath(copy2, bases.at(-1)!)).size
  const cut = openLog(t, copy2, CONFIG)
  assert.equal(cut.recovery.segmentsRemoved, 1)
  assert.equal(cut.recovery.truncatedBytes, victimBytes.length - firstBatch.length + lastSize)
  assert.deepEqual(cut.segmentBaseOffsets(), bases.slice(0, -1))
  assert.deepEqual(segmentFiles(copy2), bases.slice(0, -1))
  assertServes(
    cut,
    all.filter((b) => baseOf(b) <= victim),
  )
})

test('a flush that makes rolled segments durable moves the recovery point', async (t) => {
  const dir = tempDir(t)
  const log = openLog(t, dir, CONFIG)
  const stored = fill(log, 30)
  assert.ok(log.segmentBaseOffsets().length > 3)
  await log.flush()
  const crashed = openLog(t, crashCopy(t, dir), CONFIG)
  assert.equal(crashed.recovery.segments, 1, 'only the active segment is validated')
  assertServes(crashed, stored)
})

test('missing index files of sealed segments are rebuilt identically', (t) => {
  const dir = tempDir(t)
  const stored = buildLog(dir, 30)
  const [s0, s1, s2] = segmentFiles(dir)
  const originals = [s0, s1, s2].flatMap((b) =>
    (['.index', '.timeindex'] as const).map(
      (ext) => [segmentPath(dir, b, ext), fs.readFileSync(segmentPath(dir, b, ext))] as const,
    ),
  )
  fs.rmSync(segmentPath(dir, s0, '.index'))
  fs.rmSync(segmentPath(dir, s1, '.timeindex'))
  fs.rmSync(segmentPath(dir, s2, '.index'))
  fs.rmSync(segmentPath(dir, s2, '.timeindex'))
  const log = PartitionLog.open(dir, CONFIG)
  assert.equal(log.recovery.indexesRebuilt, 3)
  assert.equal(log.recovery.reason, null)
  assertServes(log, stored)
  assert.deepEqual(log.findBatchByTimestamp(readBatchHeader(stored[12]).maxTimestamp), stored[12])
  log.close()
  for (const [file, bytes] of originals) assert.deepEqual(fs.readFileSync(file), bytes, file)
})

test('inconsistent index files are detected and rebuilt', async (t) => {
  const dir = tempDir(t)
  const config = { ...CONFIG, segmentBytes: 3_000 }
  const stored = buildLog(dir, 40, config)
  const sealed = segmentFiles(dir)[0]
  const indexFile = segmentPath(dir, sealed, '.index')
  const timeFile = segmentPath(dir, sealed, '.timeindex')
  const index = fs.readFileSync(indexFile)
  const time = fs.readFileSync(timeFile)
  assert.ok(index.length >= 5 * 8 && time.length >= 2 * 12)
  const swapped = Buffer.from(index)
  index.copy(swapped, 8, 16, 24)
  index.copy(swapped, 16, 8, 16)
  const wrongPosition = Buffer.from(index)
  wrongPosition.writeUInt32BE(wrongPosition.readUInt32BE(index.length - 4) + 1, index.length - 4)
  const cases: Array<[string, string, Buffer]> = [
    ['index of odd size', indexFile, index.subarray(0, index.length - 3)],
    ['index missing its last entries', indexFile, index.subarray(0, 8)],
    ['empty index', indexFile, Buffer.alloc(0)],
    ['index out of order', indexFile, swapped],
    ['index pointing between batches', indexFile, wrongPosition],
    ['index past the end of the log', indexFile, Buffer.concat([index, Buffer.from([0, 0, 1, 0, 0, 1, 0, 0])])],
    ['time index of odd size', timeFile, time.subarray(0, time.length - 1)],
    ['time index missing its last entry', timeFile, time.subarray(0, time.length - 12)],
    ['time index out of order', timeFile, Buffer.concat([time, time.subarray(0, 12)])],
  ]
  for (const [name, file, bytes] of cases) {
    await t.test(name, () => {
      fs.writeFileSync(file, bytes)
      const log = PartitionLog.open(dir, config)
      try {
        assert.equal(log.recovery.indexesRebuilt, 1)
        assert.equal(log.recovery.reason, null)
        assertServes(log, stored)
      } finally {
        log.close()
      }
      assert.deepEqual(fs.readFileSync(indexFile), index)
      assert.deepEqual(fs.readFileSync(timeFile), time)
    })
  }
})

test('stray index files and leftover temp files are removed; other files are left alone', (t) => {
  const dir = tempDir(t)
  const stored = buildLog(dir, 5)
  const stray = [
    segmentPath(dir, 999, '.index'),
    segmentPath(dir, 999, '.timeindex'),
    path.join(dir, `${CHECKPOINT_FILE}.tmp`),
    segmentPath(dir, 0) + '.deleted',
    segmentPath(dir, 0) + '.swap',
    path.join(dir, '00000000000000000003.index.cleaned'),
  ]
  for (const file of stray) fs.writeFileSync(file, 'junk')
  const other = path.join(dir, 'leader-epoch-checkpoint')
  fs.writeFileSync(other, 'keep')
  const log = openLog(t, dir, CONFIG)
  for (const file of stray) assert.equal(fs.existsSync(file), false, file)
  assert.equal(fs.readFileSync(other, 'utf8'), 'keep')
  assertServes(log, stored)
})

test('zero-length segments: alone, in the middle and last', (t) => {
  const alone = tempDir(t)
  fs.writeFileSync(segmentPath(alone, 50), '')
  const log = openLog(t, alone, CONFIG)
  assert.equal(log.logStartOffset, 50)
  assert.equal(log.logEndOffset, 50)
  assert.equal(log.append(makeBatch(2, 1)).baseOffset, 50)

  const dir = tempDir(t)
  const stored = buildLog(dir, 12)
  const end = lastOf(stored[stored.length - 1]) + 1
  fs.writeFileSync(segmentPath(dir, 2), '') // inside the first segment's range
  fs.writeFileSync(segmentPath(dir, end), '') // an active segment rolled just before a crash
  const reopened = openLog(t, dir, CONFIG)
  assert.equal(reopened.recovery.segmentsRemoved, 1)
  assert.equal(fs.existsSync(segmentPath(dir, 2)), false)
  assert.equal(reopened.segmentBaseOffsets().at(-1), end)
  assertServes(reopened, stored)
  assert.equal(reopened.append(makeBatch(1, 1)).baseOffset, end)
})

test('reopening keeps the log start and end offsets', (t) => {
  const dir = tempDir(t)
  const stored = buildLog(dir, 20)
  let log = PartitionLog.open(dir, CONFIG)
  const start = lastOf(stored[6])
  log.deleteRecordsBefore(start)
  log.close()
  log = PartitionLog.open(dir, CONFIG)
  assert.equal(log.logStartOffset, start)
  assert.equal(log.logEndOffset, lastOf(stored[19]) + 1)
  log.close()
  // A checkpointed log start beyond what survived: those offsets are never handed out again.
  const file = segmentPath(dir, segmentFiles(dir).at(-1)!)
  fs.truncateSync(file, 0)
  fs.writeFileSync(
    path.join(dir, CHECKPOINT_FILE),
    `tickflow-log-checkpoint 1\nlog-start-offset ${start + 1000}\nrecovery-point 0\n`,
  )
  log = openLog(t, dir, CONFIG)
  assert.equal(log.logStartOffset, start + 1000)
  assert.equal(log.logEndOffset, start + 1000)
  assert.deepEqual(log.segmentBaseOffsets(), [start + 1000])
  assert.equal(log.append(makeBatch(1, 1)).baseOffset, start + 1000)
})

test('an unreadable checkpoint means validating everything', (t) => {
  const dir = tempDir(t)
  const stored = buildLog(dir, 20)
  fs.writeFileSync(path.join(dir, CHECKPOINT_FILE), 'garbage')
  const log = openLog(t, dir, CONFIG)
  assert.equal(log.recovery.segments, segmentFiles(dir).length)
  assert.equal(log.recovery.batchesChecked, stored.length)
  assertServes(log, stored)
  assert.equal(splitBatches(log.read(0, 1 << 30)).length > 0, true)
})
