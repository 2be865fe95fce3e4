import assert from 'node:assert/strict'
import { test } from 'node:test'
import {
  CHUNK_BYTES,
  CheckpointAssembler,
  checkpointTopicOf,
  decodePointer,
  encodePointer,
  punctuationRecord,
  snapshotRecords,
} from '../../src/stream/checkpoint.ts'
import { ErrorCodes } from '../../src/errors.ts'

test('pointers round-trip through offset-commit metadata; foreign metadata is not a pointer', () => {
  assert.deepEqual(decodePointer(encodePointer({ cp: 12, at: 3456 })), { cp: 12, at: 3456 })
  for (const m of [
    null,
    '',
    'hello',
    '{"cp":1,"at":2}',
    '{"tickflow":1,"cp":"1","at":2}',
    '{"tickflow":2,"cp":1,"at":2}',
  ]) {
    assert.equal(decodePointer(m), undefined, String(m))
  }
  assert.equal(checkpointTopicOf('tickflow-analyze'), 'tickflow-analyze.checkpoints')
})

test('a snapshot cut into chunks is reassembled from the pointer on, with the punctuations after it', () => {
  const state = Buffer.alloc(CHUNK_BYTES * 2 + 123)
  for (let i = 0; i < state.length; i++) state[i] = (i * 31) & 0xff
  const chunks = snapshotRecords(state, 5000)
  assert.equal(chunks.length, 3)
  assert.ok(chunks.every((c) => c.length <= CHUNK_BYTES + 20))
  // The partition: an older snapshot and punctuation, then ours at offset 10, punctuations after.
  const log: (Buffer | null)[] = [
    ...snapshotRecords(Buffer.from('old'), 100),
    punctuationRecord({ inputOffset: 150, watermark: 1 }),
  ]
  while (log.length < 10) log.push(null)
  log.push(chunks[0], punctuationRecord({ inputOffset: 4999, watermark: 2 }), chunks[1], chunks[2])
  log.push(
    punctuationRecord({ inputOffset: 5000, watermark: 3 }),
    punctuationRecord({ inputOffset: 5100, watermark: 4 }),
  )
  const a = new CheckpointAssembler({ cp: 10, at: 5000 })
  for (let o = 10; o < log.length; o++) a.add(log[o], o)
  const loaded = a.finish()
  assert.equal(loaded.at, 5000)
  assert.ok(loaded.state.equals(state))
  // Punctuations taken before the snapshot are already in its state.
  assert.deepEqual(loaded.punctuations, [
    { inputOffset: 5000, watermark: 3 },
    { inputOffset: 5100, watermark: 4 },
  ])
})

test('a pointer that does not name the start of a snapshot, or missing chunks, is a checkpoint error', () => {
  const chunks = snapshotRecords(Buffer.alloc(CHUNK_BYTES + 1), 77)
  const wrongStart = new CheckpointAssembler({ cp: 0, at: 77 })
  assert.throws(
    () => wrongStart.add(chunks[1], 0),
    (err: { code?: string }) => err.code === ErrorCodes.CHECKPOINT,
  )
  const wrongAt = new CheckpointAssembler({ cp: 0, at: 78 })
  assert.throws(
    () => wrongAt.add(chunks[0], 0),
    (err: { code?: string }) => err.code === ErrorCodes.CHECKPOINT,
  )
  const truncated = new CheckpointAssembler({ cp: 0, at: 77 })
  truncated.add(chunks[0], 0)
  assert.throws(
    () => truncated.finish(),
    (err: { code?: string }) => err.code === ErrorCodes.CHECKPOINT,
  )
  assert.throws(
    () => new CheckpointAssembler({ cp: 0, at: 77 }).finish(),
    (err: { code?: string }) => err.code === ErrorCodes.CHECKPOINT,
  )
})
