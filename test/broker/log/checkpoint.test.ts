import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { CHECKPOINT_FILE, readCheckpoint, writeCheckpoint } from '../../../src/broker/log/checkpoint.ts'
import { tempDir } from './log-fixtures.ts'

test('a checkpoint round-trips and replaces the previous one', (t) => {
  const dir = tempDir(t)
  assert.equal(readCheckpoint(dir), null)
  writeCheckpoint(dir, { logStartOffset: 5, recoveryPoint: 2 ** 40 })
  assert.deepEqual(readCheckpoint(dir), { logStartOffset: 5, recoveryPoint: 2 ** 40 })
  writeCheckpoint(dir, { logStartOffset: 6, recoveryPoint: 7 })
  assert.deepEqual(readCheckpoint(dir), { logStartOffset: 6, recoveryPoint: 7 })
  assert.deepEqual(fs.readdirSync(dir), [CHECKPOINT_FILE], 'no temp file left behind')
})

test('a damaged checkpoint reads as none', (t) => {
  const dir = tempDir(t)
  const file = path.join(dir, CHECKPOINT_FILE)
  for (const text of [
    '',
    'garbage',
    'tickflow-log-checkpoint 2\nlog-start-offset 1\nrecovery-point 1\n',
    'tickflow-log-checkpoint 1\nlog-start-offset 1\n',
    'tickflow-log-checkpoint 1\nlog-start-offset -1\nrecovery-point 1\n',
    'tickflow-log-checkpoint 1\nlog-start-offset 1x\nrecovery-point 1\n',
    'tickflow-log-checkpoint 1\nlog-start-offset 99999999999999999999\nrecovery-point 1\n',
  ]) {
    fs.writeFileSync(file, text)
    assert.equal(readCheckpoint(dir), null, JSON.stringify(text))
  }
})
