/**
 * PartitionProducers: Kafka's idempotence rules per producer (sequences, the 5-batch window,
 * epochs, wrap-around), expiry, snapshots and truncation.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import { PartitionProducers } from '../../src/broker/producers.ts'
import { KafkaError } from '../../src/protocol/error-codes.ts'
import { Attributes, type BatchHeader } from '../../src/protocol/record-batch.ts'
import { tempDir } from '../helpers/broker.ts'

const INT32_MAX = 0x7fffffff

/** The header of a batch of `count` records from an idempotent producer. */
function header(producerId: number, producerEpoch: number, baseSequence: number, count = 1): BatchHeader {
  return {
    baseOffset: 0,
    batchLength: 0,
    partitionLeaderEpoch: -1,
    magic: 2,
    crc: 0,
    attributes: 0,
    lastOffsetDelta: count - 1,
    baseTimestamp: 0,
    maxTimestamp: 0,
    producerId,
    producerEpoch,
    baseSequence,
    recordCount: count,
  }
}

/** Checks then records like the produce path; returns the check. */
function append(p: PartitionProducers, h: BatchHeader, offset: number, now = 0) {
  const check = p.check(h)
  if (check.kind === 'append') p.record(h, offset, now)
  return check
}

test('an unknown producer may start at any sequence; then sequences must follow on', () => {
  const p = new PartitionProducers()
  assert.deepEqual(append(p, header(1, 0, 17, 3), 0), { kind: 'append' })
  assert.deepEqual(append(p, header(1, 0, 20, 2), 3), { kind: 'append' })
  const gap = p.check(header(1, 0, 23))
  assert.equal(gap.kind, 'error')
  assert.equal(gap.kind === 'error' && gap.errorCode, KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.deepEqual(p.check(header(1, 0, 22)), { kind: 'append' })
  // Producers are independent.
  assert.deepEqual(p.check(header(2, 0, 99)), { kind: 'append' })
  assert.equal(p.size, 1)
})

test('a retry of one of the last five batches is a duplicate with its original offsets', () => {
  const p = new PartitionProducers()
  for (let i = 0; i < 6; i++) append(p, header(7, 0, i * 2, 2), 100 + i * 2)
  // Batches 1..5 (sequences 2..11) are cached; batch 0 fell out.
  assert.deepEqual(p.check(header(7, 0, 2, 2)), { kind: 'duplicate', baseOffset: 102, lastOffset: 103 })
  assert.deepEqual(p.check(header(7, 0, 10, 2)), { kind: 'duplicate', baseOffset: 110, lastOffset: 111 })
  assert.equal(p.check(header(7, 0, 0, 2)).kind, 'error')
  // Same first sequence, different length: not the same batch.
  assert.equal(p.check(header(7, 0, 10, 1)).kind, 'error')
})

test('epochs: older is INVALID_PRODUCER_EPOCH; a newer one must start at 0 and resets the window', () => {
  const p = new PartitionProducers()
  append(p, header(3, 2, 0, 5), 0)
  const older = p.check(header(3, 1, 5))
  assert.equal(older.kind === 'error' && older.errorCode, KafkaError.INVALID_PRODUCER_EPOCH)
  const newerMidway = p.check(header(3, 3, 5))
  assert.equal(newerMidway.kind === 'error' && newerMidway.errorCode, KafkaError.OUT_OF_ORDER_SEQUENCE_NUMBER)
  assert.deepEqual(append(p, header(3, 3, 0), 5), { kind: 'append' })
  // The old epoch's batches are gone: its retry is now fenced, not a duplicate.
  const oldRetry = p.check(header(3, 2, 0, 5))
  assert.equal(oldRetry.kind === 'error' && oldRetry.errorCode, KafkaError.INVALID_PRODUCER_EPOCH)
  assert.deepEqual(p.describe(), [
    { producerId: 3, epoch: 3, lastSequence: 0, lastTimestamp: 0, currentTxnStartOffset: -1 },
  ])
})

test('sequences wrap at int32 max', () => {
  const p = new PartitionProducers()
  append(p, header(5, 0, INT32_MAX - 1, 3), 0)
  // INT32_MAX - 1, INT32_MAX, 0: the next is 1.
  assert.deepEqual(p.describe()[0].lastSequence, 0)
  assert.deepEqual(p.check(header(5, 0, INT32_MAX - 1, 3)), { kind: 'duplicate', baseOffset: 0, lastOffset: 2 })
  assert.deepEqual(p.check(header(5, 0, 1)), { kind: 'append' })
  assert.equal(p.check(header(5, 0, 0)).kind, 'error')
})

test('non-idempotent batches are ignored; control batches set the epoch without a sequence', () => {
  const p = new PartitionProducers()
  p.record(header(-1, -1, -1), 0, 0)
  assert.equal(p.size, 0)
  p.record(header(9, 4, -1), 1, 0)
  assert.deepEqual(p.describe(), [
    { producerId: 9, epoch: 4, lastSequence: -1, lastTimestamp: 0, currentTxnStartOffset: -1 },
  ])
  assert.deepEqual(p.check(header(9, 4, 12)), { kind: 'append' })
})

test('idle producers expire', () => {
  const p = new PartitionProducers()
  append(p, header(1, 0, 0), 0, 1000)
  append(p, header(2, 0, 0), 1, 5000)
  p.expire(7000, 3000)
  assert.deepEqual(
    p.describe().map((d) => d.producerId),
    [2],
  )
})

test('snapshots round-trip; a missing or corrupt snapshot loads as offset 0', (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickflow-producers-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  const file = path.join(dir, '0.producers')
  const p = new PartitionProducers()
  append(p, header(1, 0, 0, 2), 0)
  append(p, header(1, 0, 2, 2), 2)
  p.saveSnapshot(file, 4)
  const q = new PartitionProducers()
  assert.equal(q.loadSnapshot(file), 4)
  assert.deepEqual(q.check(header(1, 0, 2, 2)), { kind: 'duplicate', baseOffset: 2, lastOffset: 3 })
  assert.deepEqual(q.check(header(1, 0, 4)), { kind: 'append' })

  assert.equal(new PartitionProducers().loadSnapshot(path.join(dir, 'missing')), 0)
  fs.writeFileSync(file, '{"version":1,"offs')
  assert.equal(new PartitionProducers().loadSnapshot(file), 0)
  fs.writeFileSync(file, JSON.stringify({ version: 2, offset: 9, producers: [] }))
  assert.equal(new PartitionProducers().loadSnapshot(file), 0)
})

test('transactions: open at the first transactional batch, LSO, commit and abort markers, snapshot', (t) => {
  const p = new PartitionProducers()
  const txn = (pid: number, seq: number) => ({ ...header(pid, 0, seq), attributes: Attributes.transactional })
  p.record(txn(1, 0), 10, 0)
  p.record(txn(1, 1), 12, 0)
  p.record(txn(2, 0), 11, 0)
  assert.equal(p.firstUnstableOffset(), 10)
  assert.ok(p.hasOpenTransaction(1))
  p.recordMarker(1, 0, false, 13, 0)
  assert.equal(p.firstUnstableOffset(), 11)
  p.recordMarker(2, 0, true, 14, 0)
  assert.equal(p.firstUnstableOffset(), undefined)
  assert.deepEqual(p.abortedBetween(0, 100), [{ producerId: 1, firstOffset: 10, lastOffset: 13 }])
  assert.deepEqual(p.abortedBetween(14, 100), [], 'ranges after the marker need nothing')
  // Sequences continue across transactions of the same epoch.
  assert.deepEqual(p.check(txn(1, 2)), { kind: 'append' })
  assert.equal(p.check(txn(1, 5)).kind, 'error')
  const file = path.join(tempDir(t), 'snap')
  p.record(txn(2, 1), 15, 0)
  p.saveSnapshot(file, 16)
  const q = new PartitionProducers()
  assert.equal(q.loadSnapshot(file), 16)
  assert.equal(q.firstUnstableOffset(), 15)
  assert.deepEqual(q.abortedBetween(0, 100), [{ producerId: 1, firstOffset: 10, lastOffset: 13 }])
  q.trimAborted(14)
  assert.deepEqual(q.abortedBetween(0, 100), [])
})
