/**
 * Locks on the embedded database are also lock files in its directory, so that they hold across the
 * processes PGlite's one session is served to. Run on PGlite and, when TICKFLOW_TEST_DATABASE_URL
 * is set, on the server (where the database's advisory lock must still be honoured too). The
 * archiver's refusal through a served port, process against process, is tested in
 * test/cli/commands/archive.test.ts.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { lockFileName, withFileLocks } from '../../src/store/file-locks.ts'
import { openDatabase } from '../../src/store/database.ts'
import { tempDir } from '../helpers/broker.ts'
import { storeTargets } from '../helpers/store.ts'

const KEY = 'tickflow-archiver:"tickflow":archive'

function lockFile(dir: string, key: string): string {
  return path.join(fs.realpathSync(dir), 'locks', lockFileName(key))
}

/** A lock file for `key` in `dir` as process `pid` would have written it. */
function plantLock(dir: string, key: string, pid: number): void {
  fs.mkdirSync(path.join(dir, 'locks'), { recursive: true })
  const info = { pid, host: '127.0.0.1', port: 0, startedAt: new Date().toISOString() }
  fs.writeFileSync(lockFile(dir, key), JSON.stringify(info))
}

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  assert.ok(child.pid !== undefined)
  return child.pid
}

async function liveChild(t: TestContext): Promise<number> {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600_000)'], { stdio: 'ignore' })
  const exited = once(child, 'exit')
  t.after(async () => {
    child.kill('SIGKILL')
    await exited
  })
  assert.ok(child.pid !== undefined)
  return child.pid
}

test('lock file names: readable, and distinct for keys that read the same', () => {
  const a = lockFileName('tickflow-archiver:"tickflow":archive')
  assert.match(a, /^tickflow-archiver_tickflow_archive-[0-9a-f]{12}\.lock$/)
  assert.notEqual(lockFileName('a:b'), lockFileName('a/b'))
  assert.ok(lockFileName('x'.repeat(500)).length < 100)
  assert.doesNotMatch(lockFileName('../../etc/passwd'), /\//)
})

for (const target of storeTargets()) {
  test(`${target.name}: a key is held once across the database's users; released, it can be taken again`, async (t) => {
    const db = await target.open(t)
    const dir = tempDir(t)
    // Two users of one database, as the process serving PGlite and a client of its port are.
    const owner = withFileLocks(db, dir)
    const client = withFileLocks(db, dir)
    const lock = await owner.tryLock(KEY)
    assert.ok(lock !== undefined && lock.held)
    assert.ok(fs.existsSync(lockFile(dir, KEY)), 'the lock file is there while held')
    assert.equal(await client.tryLock(KEY), undefined, 'the key is held')
    assert.equal(await owner.tryLock(KEY), undefined, 'not re-entrant either')
    const other = await client.tryLock(`${KEY}-2`)
    assert.ok(other !== undefined, 'another key is free')
    await other.release()

    await lock.release()
    assert.equal(lock.held, false)
    assert.equal(fs.existsSync(lockFile(dir, KEY)), false, 'the lock file is gone once released')
    const again = await client.tryLock(KEY)
    assert.ok(again !== undefined, 'a released key can be taken')
    await again.release()
    // The wrapper passes everything else through.
    assert.equal(owner.schema, db.schema)
    assert.equal(owner.kind, db.kind)
    assert.equal((await owner.query<{ n: number }>('SELECT 1 AS n')).rows[0].n, 1)
    assert.equal(await owner.transaction(async (tx) => (await tx.query<{ n: number }>('SELECT 2 AS n')).rows[0].n), 2)
  })

  test(`${target.name}: a lock file of a live process keeps the key; one of a dead process is taken over`, async (t) => {
    const db = await target.open(t)
    const dir = tempDir(t)
    const locks = withFileLocks(db, dir)
    plantLock(dir, KEY, await liveChild(t))
    assert.equal(await locks.tryLock(KEY), undefined, 'held by a live process')

    plantLock(dir, KEY, await deadPid())
    const lock = await locks.tryLock(KEY)
    assert.ok(lock !== undefined, 'a dead holder’s lock is taken over')
    assert.equal(JSON.parse(fs.readFileSync(lockFile(dir, KEY), 'utf8')).pid, process.pid)
    await lock.release()
  })
}

const url = process.env.TICKFLOW_TEST_DATABASE_URL
test(
  'postgres: the database’s advisory lock still counts; refused there, the lock file is given back' +
    (url === undefined || url === '' ? ' (skipped: TICKFLOW_TEST_DATABASE_URL is not set)' : ''),
  async (t) => {
    if (url === undefined || url === '') {
      t.skip('TICKFLOW_TEST_DATABASE_URL is not set')
      return
    }
    const key = `${KEY}-${process.pid}-${Date.now()}`
    const elsewhere = await openDatabase({ url, createSchema: false })
    const db = await openDatabase({ url, createSchema: false })
    t.after(async () => {
      await elsewhere.close()
      await db.close()
    })
    const held = await elsewhere.tryLock(key)
    assert.ok(held !== undefined)
    const dir = tempDir(t)
    assert.equal(await withFileLocks(db, dir).tryLock(key), undefined, 'the server refuses it')
    assert.equal(fs.existsSync(lockFile(dir, key)), false, 'no lock file is left')
    await held.release()
    const lock = await withFileLocks(db, dir).tryLock(key)
    assert.ok(lock !== undefined)
    await lock.release()
  },
)
