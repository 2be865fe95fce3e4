import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { RefFd, segmentFileName } from '../../../src/broker/log/segment.ts'
import { tempDir } from './log-fixtures.ts'

test('segment files are named by their 20-digit base offset', () => {
  assert.equal(segmentFileName(0, '.log'), '00000000000000000000.log')
  assert.equal(segmentFileName(1234, '.index'), '00000000000000001234.index')
  assert.equal(segmentFileName(2 ** 53 - 1, '.timeindex'), '00009007199254740991.timeindex')
})

test('a retained descriptor closes only after its last release', async (t) => {
  const file = path.join(tempDir(t), 'f')
  fs.writeFileSync(file, 'data')
  const ref = new RefFd(fs.openSync(file, 'r+'))
  ref.retain()
  const syncing = new Promise<void>((resolve, reject) => fs.fsync(ref.fd, (err) => (err ? reject(err) : resolve())))
  ref.close() // e.g. a roll while the fsync runs
  assert.equal(ref.closed, true)
  assert.doesNotThrow(() => fs.fstatSync(ref.fd), 'still open while retained')
  await syncing
  ref.release()
  assert.throws(
    () => fs.fstatSync(ref.fd),
    (err: NodeJS.ErrnoException) => err.code === 'EBADF',
  )
  ref.close() // idempotent
})
