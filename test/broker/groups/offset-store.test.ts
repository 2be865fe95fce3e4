import assert from 'node:assert/strict'
import fs from 'node:fs'
import path from 'node:path'
import { test } from 'node:test'
import type { TestContext } from 'node:test'
import { OFFSETS_JOURNAL_FILE, OffsetStore } from '../../../src/broker/groups/offset-store.ts'
import type { OffsetStoreOptions } from '../../../src/broker/groups/offset-store.ts'
import { Journal } from '../../../src/broker/state/journal.ts'
import { tempDir } from './helpers.ts'

function open(t: TestContext, dir: string, options: OffsetStoreOptions = {}): OffsetStore {
  const store = OffsetStore.open(dir, { fsync: false, ...options })
  t.after(() => store.close())
  return store
}

const entry = (topic: string, partition: number, offset: number, metadata: string | null = null) => ({
  topic,
  partition,
  offset,
  leaderEpoch: 1,
  metadata,
})

test('commits, generations and deletions replay after a reopen', async (t) => {
  const dir = tempDir(t)
  const store = open(t, dir)
  await store.commit('g1', [entry('a', 0, 10, 'meta'), entry('a', 1, 11), entry('b', 0, 12)], 1000)
  await store.commit('g1', [entry('a', 0, 20)], 2000)
  await store.commit('g2', [entry('a', 0, 5)], 3000)
  store.recordGeneration('g1', 7, 'consumer')
  store.recordGeneration('g3', 2, null)
  store.deleteOffsets('g1', [{ topic: 'a', partition: 1 }])
  store.forgetTopic('b')
  store.recordGeneration('g4', 1, 'consumer')
  store.deleteGroup('g4')
  assert.deepEqual(store.get('g1', 'a', 0), { offset: 20, leaderEpoch: 1, metadata: null, commitTimestamp: 2000 })
  await store.close()

  const again = open(t, dir)
  assert.deepEqual(again.groupIds().sort(), ['g1', 'g2', 'g3'])
  assert.deepEqual(again.group('g1'), { generationId: 7, protocolType: 'consumer' })
  assert.deepEqual(again.group('g3'), { generationId: 2, protocolType: null })
  assert.equal(again.get('g1', 'a', 0)?.offset, 20)
  assert.equal(again.get('g1', 'a', 1), undefined)
  assert.equal(again.get('g1', 'b', 0), undefined)
  assert.deepEqual([...again.topics('g1').keys()], ['a'])
  assert.equal(again.get('g2', 'a', 0)?.commitTimestamp, 3000)
})

test('the journal stays bounded under repeated commits (compaction)', async (t) => {
  const dir = tempDir(t)
  const store = open(t, dir, { compactMinBytes: 2048 })
  for (let i = 0; i < 2000; i++) {
    await store.commit('g', [entry('prices', i % 4, i, `checkpoint ${i}`)], i)
  }
  assert.ok(store.journal.size < 4096, `journal of ${store.journal.size} bytes`)
  await store.close()
  const again = open(t, dir)
  assert.deepEqual(
    [0, 1, 2, 3].map((p) => again.get('g', 'prices', p)?.metadata),
    ['checkpoint 1996', 'checkpoint 1997', 'checkpoint 1998', 'checkpoint 1999'],
  )
})

test('a journal bloated by an earlier run is compacted on open', async (t) => {
  const dir = tempDir(t)
  const store = open(t, dir, { compactMinBytes: 1 << 30 })
  for (let i = 0; i < 500; i++) await store.commit('g', [entry('prices', 0, i)], i)
  const bloated = store.journal.size
  await store.close()
  const again = open(t, dir, { compactMinBytes: 1024 })
  assert.ok(again.journal.size < bloated / 10)
  assert.equal(again.get('g', 'prices', 0)?.offset, 499)
})

test('entries this version cannot read are skipped', async (t) => {
  const dir = tempDir(t)
  const { journal } = Journal.open(path.join(dir, OFFSETS_JOURNAL_FILE), { fsync: false })
  journal.write(Buffer.from('not json'))
  journal.write(Buffer.from(JSON.stringify({ k: 'future-kind', x: 1 })))
  journal.write(Buffer.from(JSON.stringify({ k: 'c', g: 'g', o: [['t', 0, 3, -1, null, 0]] })))
  await journal.close()
  const store = open(t, dir)
  assert.equal(store.get('g', 't', 0)?.offset, 3)
  assert.ok(fs.existsSync(path.join(dir, OFFSETS_JOURNAL_FILE)))
})
