/**
 * Lock kinds: each kind has a file of its own, so a broker and the embedded database can lock the
 * same directory, while two holders of one kind cannot. (The broker's lock, with stale-lock
 * takeover and cross-process cases, is tested in test/broker/lock.test.ts.)
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import { ErrorCodes } from '../../src/errors.ts'
import { BROKER_LOCK, DataDirLock, readLock, type LockKind } from '../../src/files/dir-lock.ts'
import { tempDir } from '../helpers/broker.ts'

const DB_LOCK: LockKind = { file: 'db.lock', holder: 'database' }

test('locks of different kinds share a directory; one kind is held once, and named in the refusal', (t) => {
  const dir = tempDir(t)
  const broker = DataDirLock.acquire(dir, '127.0.0.1')
  const db = DataDirLock.acquire(dir, '127.0.0.1', DB_LOCK)
  t.after(() => {
    broker.release()
    db.release()
  })
  assert.ok(fs.existsSync(path.join(dir, 'broker.lock')))
  assert.ok(fs.existsSync(path.join(dir, 'db.lock')))
  assert.throws(
    () => DataDirLock.acquire(dir, '127.0.0.1', DB_LOCK),
    (err: { code?: string; message?: string }) => {
      assert.equal(err.code, ErrorCodes.DATA_DIR_LOCKED)
      assert.match(err.message ?? '', /another database of this process/)
      return true
    },
  )
  db.setAddress('127.0.0.1', 5433)
  assert.equal(readLock(dir, DB_LOCK)?.port, 5433)
  assert.equal(readLock(dir, BROKER_LOCK)?.port, 0)
  db.release()
  assert.equal(readLock(dir, DB_LOCK), undefined)
  assert.equal(readLock(dir, BROKER_LOCK)?.pid, process.pid, 'the broker lock is untouched')
})
