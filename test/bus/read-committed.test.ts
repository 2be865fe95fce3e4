import assert from 'node:assert/strict'
import { test } from 'node:test'
import { AbortedTransactions } from '../../src/bus/read-committed.ts'
import { Attributes } from '../../src/protocol/record-batch.ts'

const TXN = Attributes.transactional
const MARKER = Attributes.transactional | Attributes.control

test('a producer is aborted from its listed first offset until its next control batch', () => {
  const f = new AbortedTransactions([{ producerId: 7n, firstOffset: 10n }])
  assert.equal(f.skip(4, TXN, 7), false, 'before the listed offset: an earlier, committed transaction')
  assert.equal(f.skip(5, MARKER, 7), true, 'markers are always skipped')
  assert.equal(f.skip(12, TXN, 7), true, 'aborted')
  assert.equal(f.skip(13, TXN, 8), false, 'another producer is not affected')
  assert.equal(f.skip(14, 0, 7), false, 'non-transactional batches are never aborted')
  assert.equal(f.skip(15, MARKER, 7), true, 'the abort marker')
  assert.equal(f.skip(20, TXN, 7), false, 'after its marker the producer is committed again')
})

test('no listed aborts: only control batches are skipped', () => {
  const f = new AbortedTransactions(null)
  assert.equal(f.skip(0, TXN, 1), false)
  assert.equal(f.skip(1, MARKER, 1), true)
})
