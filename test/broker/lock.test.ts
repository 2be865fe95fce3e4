/**
 * The data-directory lock: one broker per directory, in this process or across processes; stale
 * locks (dead pid, not a lock, a leftover of this process) are taken over; the lock names the
 * advertised address and is released on close and on a failed start.
 */
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import fs from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { startBroker } from '../../src/broker/index.ts'
import { DataDirLock, LOCK_FILE, readBrokerLock, type BrokerLockInfo } from '../../src/broker/lock.ts'
import { ErrorCodes, isTickflowError } from '../../src/errors.ts'
import { tempDir } from '../helpers/broker.ts'
import { brokerHome } from '../helpers/wire.ts'

const lockFile = (dir: string) => path.join(dir, LOCK_FILE)
const readLockFile = (dir: string) => JSON.parse(fs.readFileSync(lockFile(dir), 'utf8')) as BrokerLockInfo
const writeLockFile = (dir: string, content: unknown) =>
  fs.writeFileSync(lockFile(dir), typeof content === 'string' ? content : JSON.stringify(content))

/** Asserts that `p` rejects with TICKFLOW_ERR_DATA_DIR_LOCKED; returns the error message. */
async function rejectsLocked(p: Promise<unknown>): Promise<string> {
  let message = ''
  await assert.rejects(p, (err) => {
    assert.ok(isTickflowError(err, ErrorCodes.DATA_DIR_LOCKED), `DATA_DIR_LOCKED, got ${String(err)}`)
    message = err.message
    return true
  })
  assert.equal(message.split('\n').length, 1, 'a one-line message')
  return message
}

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ['-e', ''], { stdio: 'ignore' })
  await once(child, 'exit')
  assert.ok(child.pid !== undefined)
  return child.pid
}

/** A running child process, killed after the test. */
async function liveChild(t: TestContext) {
  const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 600_000)'], { stdio: 'ignore' })
  const exited = once(child, 'exit')
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) {
      child.kill('SIGKILL')
      await exited
    }
  })
  await once(child, 'spawn')
  assert.ok(child.pid !== undefined)
  return { pid: child.pid, stop: async () => (child.kill('SIGKILL'), await exited) }
}

test('one broker per directory in this process; the lock names the address and goes on close', async (t) => {
  const home = brokerHome(t)
  const first = await home.start()
  const lock = readLockFile(home.dir)
  assert.deepEqual([lock.pid, lock.host, lock.port], [process.pid, '127.0.0.1', first.port])
  assert.ok(Math.abs(Date.parse(lock.startedAt) - Date.now()) < 60_000, `an ISO start time: ${lock.startedAt}`)
  assert.deepEqual(readBrokerLock(home.dir), lock)

  const message = await rejectsLocked(startBroker({ port: 0, dataDir: home.dir }))
  assert.ok(message.includes(fs.realpathSync(home.dir)), `names the directory: ${message}`)
  assert.ok(message.includes(String(process.pid)) && message.includes(first.address), message)
  // The same directory under another name: a symlink, a relative path.
  const link = path.join(tempDir(t), 'link')
  fs.symlinkSync(home.dir, link)
  await rejectsLocked(startBroker({ port: 0, dataDir: link }))
  await rejectsLocked(startBroker({ port: 0, dataDir: path.relative(process.cwd(), home.dir) }))
  // The refused starts did not disturb the running broker's lock.
  assert.deepEqual(readBrokerLock(home.dir), lock)

  await first.close()
  assert.equal(fs.existsSync(lockFile(home.dir)), false, 'the lock file is deleted on close')
  assert.equal(readBrokerLock(home.dir), undefined)
  const second = await home.start()
  assert.equal(readBrokerLock(home.dir)?.port, second.port)
})

test('brokers on different directories run side by side in one process', async (t) => {
  const a = brokerHome(t)
  const b = brokerHome(t)
  const [ba, bb] = [await a.start(), await b.start()]
  assert.equal(readBrokerLock(a.dir)?.port, ba.port)
  assert.equal(readBrokerLock(b.dir)?.port, bb.port)
})

test('the advertised address is what the lock names', async (t) => {
  const home = brokerHome(t)
  await home.start({ advertisedHost: 'broker.example', advertisedPort: 19092 })
  assert.deepEqual([readLockFile(home.dir).host, readLockFile(home.dir).port], ['broker.example', 19092])
})

test('a lock held by a live process refuses the start until that process is gone', async (t) => {
  const home = brokerHome(t)
  const child = await liveChild(t)
  const owner = { pid: child.pid, host: '127.0.0.1', port: 19093, startedAt: new Date().toISOString() }
  writeLockFile(home.dir, owner)
  assert.deepEqual(readBrokerLock(home.dir), owner)
  const message = await rejectsLocked(startBroker({ port: 0, dataDir: home.dir }))
  assert.ok(message.includes(String(child.pid)) && message.includes('127.0.0.1:19093'), message)
  assert.deepEqual(readLockFile(home.dir), owner, 'a live lock is left alone')
  assert.equal(fs.existsSync(path.join(home.dir, 'topics')), false, 'nothing was opened in the directory')

  await child.stop()
  assert.equal(readBrokerLock(home.dir), undefined, 'its owner is gone: stale')
  const broker = await home.start()
  assert.deepEqual([readLockFile(home.dir).pid, readLockFile(home.dir).port], [process.pid, broker.port])
})

test('stale locks are replaced: a dead pid, a leftover of this process, a file that is not a lock', async (t) => {
  const stale: Array<[string, unknown, number?]> = [
    ['a dead pid', { pid: await deadPid(), host: '127.0.0.1', port: 9092, startedAt: new Date().toISOString() }],
    ['our own pid, not held here', { pid: process.pid, host: '127.0.0.1', port: 9092, startedAt: 'x' }],
    ['an empty file, old', '', Date.now() - 60_000],
    ['garbage, old', '{"pid": -1, "host": 1}', Date.now() - 60_000],
  ]
  for (const [what, content, mtime] of stale) {
    await t.test(what, async (t) => {
      const home = brokerHome(t)
      writeLockFile(home.dir, content)
      if (mtime !== undefined) fs.utimesSync(lockFile(home.dir), new Date(mtime), new Date(mtime))
      assert.equal(readBrokerLock(home.dir), undefined)
      const broker = await home.start()
      assert.deepEqual([readLockFile(home.dir).pid, readLockFile(home.dir).port], [process.pid, broker.port])
      // Nothing left aside by the takeover.
      assert.deepEqual(
        fs.readdirSync(home.dir).filter((f) => f.startsWith(LOCK_FILE)),
        [LOCK_FILE],
      )
    })
  }
})

test('an unwritten lock file (just created by another process) is not taken over yet', async (t) => {
  const home = brokerHome(t)
  writeLockFile(home.dir, '')
  await assert.rejects(startBroker({ port: 0, dataDir: home.dir }), (err) => {
    assert.ok(isTickflowError(err, ErrorCodes.DATA_DIR_LOCKED))
    assert.equal(err.retriable, true)
    return true
  })
  assert.equal(fs.readFileSync(lockFile(home.dir), 'utf8'), '')
})

test('a failed start releases the lock', async (t) => {
  const server = net.createServer()
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.after(() => server.close())
  const busy = (server.address() as net.AddressInfo).port
  const home = brokerHome(t)
  await assert.rejects(startBroker({ host: '127.0.0.1', port: busy, dataDir: home.dir }), (err) =>
    isTickflowError(err, ErrorCodes.LISTEN),
  )
  assert.equal(fs.existsSync(lockFile(home.dir)), false)
  assert.equal(readBrokerLock(home.dir), undefined)
  await home.start()
})

test('release never deletes a lock another process took over; readBrokerLock of a missing directory', (t) => {
  const dir = tempDir(t)
  const lock = DataDirLock.acquire(dir, '127.0.0.1')
  assert.deepEqual([lock.owner.pid, lock.owner.port], [process.pid, 0])
  assert.equal(readBrokerLock(dir)?.port, 0, 'port 0 while starting')
  const other = { pid: 1, host: 'h', port: 1, startedAt: 'later' }
  writeLockFile(dir, other)
  lock.release()
  lock.release()
  assert.deepEqual(readLockFile(dir), other)
  assert.equal(readBrokerLock(path.join(dir, 'nope')), undefined)
})
