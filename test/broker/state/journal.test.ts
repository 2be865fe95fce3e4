import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import { Journal } from '../../../src/broker/state/journal.ts'
import { ErrorCodes } from '../../../src/errors.ts'

function journalPath(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickflow-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return path.join(dir, 'state', 'test.journal')
}

function open(t: TestContext, file: string, options = {}) {
  const result = Journal.open(file, options)
  t.after(() => result.journal.close())
  return result
}

const texts = (entries: Buffer[]) => entries.map((e) => e.toString())

/** Opens, reads and closes: the entries a restart would see. */
async function replay(file: string): Promise<string[]> {
  const r = Journal.open(file, { fsync: false })
  await r.journal.close()
  return texts(r.entries)
}

test('appends survive a reopen, in order', async (t) => {
  const file = journalPath(t)
  const first = open(t, file)
  assert.deepEqual(first.entries, [])
  assert.equal(first.truncatedBytes, 0)
  await first.journal.append(Buffer.from('one'))
  await first.journal.append(Buffer.from('two'))
  first.journal.write(Buffer.from('three'))
  await first.journal.close()

  const second = open(t, file)
  assert.deepEqual(texts(second.entries), ['one', 'two', 'three'])
  assert.equal(second.journal.entryCount, 3)
  assert.equal(second.journal.size, fs.statSync(file).size)
  await second.journal.append(Buffer.from('four'))
  await second.journal.close()
  assert.deepEqual(await replay(file), ['one', 'two', 'three', 'four'])
})

test('a torn last entry is truncated at every possible cut, and appending continues', async (t) => {
  const file = journalPath(t)
  const { journal } = open(t, file, { fsync: false })
  journal.write(Buffer.from('first entry'))
  journal.write(Buffer.from('second entry'))
  const lastStart = journal.size
  journal.write(Buffer.from('the last entry, torn by a crash'))
  await journal.close()
  const whole = fs.readFileSync(file)

  for (let cut = lastStart; cut < whole.length; cut++) {
    fs.writeFileSync(file, whole.subarray(0, cut))
    const reopened = Journal.open(file, { fsync: false })
    assert.deepEqual(texts(reopened.entries), ['first entry', 'second entry'], `cut at ${cut}`)
    assert.equal(reopened.truncatedBytes, cut - lastStart)
    assert.equal(fs.statSync(file).size, lastStart, 'the torn bytes are gone from the file')
    reopened.journal.write(Buffer.from('after'))
    await reopened.journal.close()
    assert.deepEqual((await replay(file)).slice(2), ['after'])
  }
})

test('a corrupt byte, a zero-filled tail or a lying length ends the replay there', async (t) => {
  const file = journalPath(t)
  const { journal } = open(t, file, { fsync: false })
  journal.write(Buffer.from('keep'))
  const secondStart = journal.size
  journal.write(Buffer.from('flipped'))
  journal.write(Buffer.from('lost with it'))
  await journal.close()
  const whole = fs.readFileSync(file)

  const flipped = Buffer.from(whole)
  flipped[secondStart + 10] ^= 0x40
  fs.writeFileSync(file, flipped)
  let r = Journal.open(file, { fsync: false })
  assert.deepEqual(texts(r.entries), ['keep'])
  await r.journal.close()

  fs.writeFileSync(file, Buffer.concat([whole, Buffer.alloc(64)]))
  r = Journal.open(file, { fsync: false })
  assert.deepEqual(texts(r.entries), ['keep', 'flipped', 'lost with it'])
  assert.equal(r.truncatedBytes, 64)
  await r.journal.close()

  const lying = Buffer.from(whole)
  lying.writeUInt32BE(0x7fffffff, secondStart + 4)
  fs.writeFileSync(file, lying)
  r = Journal.open(file, { fsync: false })
  assert.deepEqual(texts(r.entries), ['keep'])
  await r.journal.close()
})

test('appends in one turn share one fsync (group commit)', async (t) => {
  const file = journalPath(t)
  const { journal } = open(t, file)
  await Promise.all(Array.from({ length: 50 }, (_, i) => journal.append(Buffer.from(`entry ${i}`))))
  assert.equal(journal.syncCount, 1)
  // A sync with nothing new written needs no fsync.
  await journal.sync()
  assert.equal(journal.syncCount, 1)
  // Appends made while an fsync runs wait for the next one, which covers all of them.
  const first = journal.append(Buffer.from('a'))
  await new Promise((resolve) => setImmediate(resolve)) // the fsync of 'a' has started
  const later = Array.from({ length: 10 }, (_, i) => journal.append(Buffer.from(`b${i}`)))
  await Promise.all([first, ...later])
  assert.ok(journal.syncCount <= 3, `${journal.syncCount} fsyncs for two batches`)
  await journal.close()
  assert.equal((await replay(file)).length, 61)
})

test('without fsync, appends resolve without flushing', async (t) => {
  const { journal } = open(t, journalPath(t), { fsync: false })
  await journal.append(Buffer.from('x'))
  assert.equal(journal.syncCount, 0)
})

test('compaction rewrites the live state atomically and resolves waiting appends', async (t) => {
  const file = journalPath(t)
  const { journal } = open(t, file, { compactMinBytes: 1000, compactRatio: 4 })
  assert.equal(journal.shouldCompact(), false)
  for (let i = 0; i < 100; i++) journal.write(Buffer.from(`key=${i % 3} value=${i}`))
  assert.equal(journal.shouldCompact(), true)
  assert.equal(journal.shouldCompact(journal.size), false, 'not when the live state is as large as the file')
  const waiting = journal.append(Buffer.from('key=0 value=100'))
  const before = journal.size
  journal.compact(['key=1 value=97', 'key=2 value=98', 'key=0 value=100'].map((s) => Buffer.from(s)))
  await waiting
  assert.ok(journal.size < before / 10)
  assert.equal(journal.entryCount, 3)
  assert.equal(journal.shouldCompact(), false)
  assert.deepEqual(fs.readdirSync(path.dirname(file)), ['test.journal'], 'no temporary file is left')
  await journal.append(Buffer.from('key=1 value=101'))
  await journal.close()
  assert.deepEqual(await replay(file), ['key=1 value=97', 'key=2 value=98', 'key=0 value=100', 'key=1 value=101'])
})

test('a leftover temporary file of an interrupted compaction is ignored and removed', async (t) => {
  const file = journalPath(t)
  const first = open(t, file)
  await first.journal.append(Buffer.from('real'))
  await first.journal.close()
  fs.writeFileSync(`${file}.compact-tmp`, 'half-written')
  assert.deepEqual(texts(open(t, file).entries), ['real'])
  assert.equal(fs.existsSync(`${file}.compact-tmp`), false)
})

test('misuse throws coded errors', async (t) => {
  const { journal } = open(t, journalPath(t), { maxEntryBytes: 16 })
  assert.throws(() => journal.write(Buffer.alloc(0)), { code: ErrorCodes.INVALID_ARGUMENT })
  assert.throws(() => journal.write(Buffer.alloc(17)), { code: ErrorCodes.INVALID_ARGUMENT })
  await journal.close()
  await journal.close()
  assert.throws(() => journal.write(Buffer.from('late')), { code: ErrorCodes.CLOSED })
})
