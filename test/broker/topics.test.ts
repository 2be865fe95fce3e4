/**
 * TopicManager: topic names, the on-disk layout, load after a restart (including interrupted
 * creations and deletions), partition growth, config changes, producer-state recovery.
 */
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import { DEFAULT_TOPIC_CONFIG, silentLogger } from '../../src/broker/config.ts'
import { TopicError, TopicManager, topicNameProblem } from '../../src/broker/topics.ts'
import { KafkaError } from '../../src/protocol/error-codes.ts'
import { buildRecordBatch, readBatchHeader } from '../../src/protocol/record-batch.ts'

/** A data directory whose managers are closed before it is removed. */
function home(t: TestContext): { dir: string; open: () => TopicManager } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickflow-topics-'))
  const open: TopicManager[] = []
  t.after(() => {
    for (const m of open) m.close()
    fs.rmSync(dir, { recursive: true, force: true })
  })
  return {
    dir,
    open() {
      const m = new TopicManager(dir, DEFAULT_TOPIC_CONFIG, silentLogger)
      m.load()
      open.push(m)
      return m
    },
  }
}

const topicError = (code: number) => (err: unknown) => err instanceof TopicError && err.errorCode === code

test('topic names: Kafka’s rules', () => {
  for (const ok of ['a', 'A-b_c.1', 'x'.repeat(249), '...', 'a..b']) assert.equal(topicNameProblem(ok), null, ok)
  for (const bad of [null, '', '.', '..', 'x'.repeat(250), 'a b', 'a/b', 'ä', 'a\u0000']) {
    assert.equal(typeof topicNameProblem(bad), 'string', String(bad))
  }
})

test('create lays out topic.json and one directory per partition; load brings it all back', (t) => {
  const h = home(t)
  const m = h.open()
  const topic = m.create('orders', 3, { 'retention.ms': '5000' })
  const meta = JSON.parse(fs.readFileSync(path.join(h.dir, 'topics', 'orders', 'topic.json'), 'utf8'))
  assert.deepEqual(meta, {
    version: 1,
    name: 'orders',
    id: topic.idHex,
    partitions: 3,
    configs: { 'retention.ms': '5000' },
  })
  for (const p of [0, 1, 2]) assert.ok(fs.statSync(path.join(h.dir, 'topics', 'orders', String(p))).isDirectory())
  topic.partitions[1].log.append(buildRecordBatch([{ value: 'kept' }]))
  m.close()

  const again = h.open()
  const loaded = again.get('orders')
  assert.ok(loaded !== undefined)
  assert.equal(loaded.idHex, topic.idHex)
  assert.equal(again.getById(topic.id), loaded)
  assert.equal(loaded.partitions.length, 3)
  assert.equal(loaded.config['retention.ms'], '5000')
  assert.deepEqual(loaded.overrides, { 'retention.ms': '5000' })
  assert.equal(loaded.partitions[1].highWatermark, 1)
  assert.equal(again.getPartition('orders', 3), undefined)
})

test('validation errors carry Kafka error codes', (t) => {
  const m = home(t).open()
  m.create('taken', 1)
  assert.throws(() => m.create('taken', 1), topicError(KafkaError.TOPIC_ALREADY_EXISTS))
  assert.throws(() => m.create('bad name', 1), topicError(KafkaError.INVALID_TOPIC_EXCEPTION))
  for (const n of [0, -1, 1.5, 100_001])
    assert.throws(() => m.create('n', n), topicError(KafkaError.INVALID_PARTITIONS))
  assert.throws(() => m.create('c', 1, { 'retention.ms': 'x' }), topicError(KafkaError.INVALID_CONFIG))
  assert.throws(() => m.create('c', 1, { nope: '1' }), topicError(KafkaError.INVALID_CONFIG))
  assert.throws(() => m.delete('missing'), topicError(KafkaError.UNKNOWN_TOPIC_OR_PARTITION))
  assert.deepEqual(
    m.list().map((x) => x.name),
    ['taken'],
  )
})

test('config names are looked up as own keys only', (t) => {
  // parseTopicConfigs reads TOPIC_CONFIG_DEFS[key]: Object.prototype members are found there.
  const m = home(t).open()
  for (const name of ['toString', 'constructor', '__proto__']) {
    assert.throws(() => m.create('proto', 1, { [name]: '1' }), topicError(KafkaError.INVALID_CONFIG), name)
  }
})

test('delete removes the directory and the name; the name can be reused with a new id', (t) => {
  const h = home(t)
  const m = h.open()
  const first = m.create('cycle', 2)
  m.delete('cycle')
  assert.equal(m.get('cycle'), undefined)
  assert.equal(m.getById(first.id), undefined)
  assert.deepEqual(fs.readdirSync(path.join(h.dir, 'topics')), [])
  const second = m.create('cycle', 1)
  assert.notEqual(second.idHex, first.idHex)
  assert.equal(second.partitions[0].highWatermark, 0)
})

test('a topic with the longest legal name can be deleted', (t) => {
  // The deletion renames <name> to <name>.deleting-<ms>: 23 more bytes than the name, over the
  // usual 255-byte file name limit for names longer than 232 characters.
  const h = home(t)
  const m = h.open()
  const name = 'n'.repeat(249)
  m.create(name, 1)
  m.delete(name)
  assert.equal(m.get(name), undefined)
  assert.deepEqual(fs.readdirSync(path.join(h.dir, 'topics')), [])
})

test('load finishes interrupted creations and deletions', (t) => {
  const h = home(t)
  const m = h.open()
  m.create('whole', 1)
  m.close()
  const topics = path.join(h.dir, 'topics')
  // A creation that stopped before topic.json was written, and a deletion moved to the trash.
  fs.mkdirSync(path.join(topics, 'half-created', '0'), { recursive: true })
  const trashed = path.join(h.dir, 'trash', 'deadbeef-1700000000000')
  fs.mkdirSync(path.join(trashed, '0'), { recursive: true })
  fs.writeFileSync(path.join(trashed, 'topic.json'), '{}')
  const again = h.open()
  assert.deepEqual(
    again.list().map((x) => x.name),
    ['whole'],
  )
  assert.deepEqual(fs.readdirSync(topics), ['whole'])
  assert.deepEqual(fs.readdirSync(path.join(h.dir, 'trash')), [], 'the trash is emptied')
})

test('a topic whose legal name contains ".deleting-" survives a restart', (t) => {
  // Kafka allows this name, so nothing in topics/ may be taken for a deletion in progress.
  const h = home(t)
  const m = h.open()
  m.create('jobs.deleting-queue', 1)
  m.close()
  assert.deepEqual(
    h
      .open()
      .list()
      .map((x) => x.name),
    ['jobs.deleting-queue'],
  )
})

test('addPartitions grows a topic, persisted; never shrinks; validateOnly changes nothing', (t) => {
  const h = home(t)
  const m = h.open()
  m.create('grow', 1)
  m.addPartitions('grow', 3, true)
  assert.equal(m.get('grow')?.partitions.length, 1)
  m.addPartitions('grow', 3)
  assert.throws(() => m.addPartitions('grow', 3), topicError(KafkaError.INVALID_PARTITIONS))
  assert.throws(() => m.addPartitions('grow', 2), topicError(KafkaError.INVALID_PARTITIONS))
  assert.throws(() => m.addPartitions('none', 5), topicError(KafkaError.UNKNOWN_TOPIC_OR_PARTITION))
  m.close()
  assert.equal(h.open().get('grow')?.partitions.length, 3)
})

test('alterConfigs replaces or updates overrides, persisted; invalid changes leave them alone', (t) => {
  const h = home(t)
  const m = h.open()
  m.create('conf', 1, { 'retention.ms': '1000', 'segment.ms': '2000' })
  m.alterConfigs('conf', { 'retention.bytes': '4096' }, true)
  assert.deepEqual(m.get('conf')?.overrides, {
    'retention.ms': '1000',
    'segment.ms': '2000',
    'retention.bytes': '4096',
  })
  m.alterConfigs('conf', { 'segment.ms': null }, true)
  m.alterConfigs('conf', { 'retention.ms': '7' }, true, true)
  assert.throws(() => m.alterConfigs('conf', { 'retention.ms': '-7' }, true), topicError(KafkaError.INVALID_CONFIG))
  assert.deepEqual(m.get('conf')?.overrides, { 'retention.ms': '1000', 'retention.bytes': '4096' })
  m.alterConfigs('conf', { 'segment.bytes': '1048576' }, false)
  m.close()
  const loaded = h.open().get('conf')
  assert.deepEqual(loaded?.overrides, { 'segment.bytes': '1048576' })
  assert.equal(loaded?.config['retention.ms'], DEFAULT_TOPIC_CONFIG['retention.ms'])
})

test('idempotent-producer state comes back from the snapshot, or from the log without one', (t) => {
  for (const withSnapshot of [true, false]) {
    const h = home(t)
    const m = h.open()
    const p = m.create('idem', 1).partitions[0]
    const batch = buildRecordBatch([{ value: 'a' }, { value: 'b' }], {
      producerId: 4,
      producerEpoch: 1,
      baseSequence: 0,
    })
    const header = readBatchHeader(batch)
    const { baseOffset } = p.log.append(batch)
    p.producers.record(header, baseOffset, Date.now())
    m.close()
    const snapshot = path.join(h.dir, 'topics', 'idem', '0.producers')
    assert.ok(fs.existsSync(snapshot))
    if (!withSnapshot) fs.rmSync(snapshot)
    const again = h.open().getPartition('idem', 0)
    assert.deepEqual(again?.producers.check(header), { kind: 'duplicate', baseOffset: 0, lastOffset: 1 })
  }
})

test('the last stable offset never falls below the log start', (t) => {
  const h = home(t)
  const m = h.open()
  const p = m.create('lso', 1).partitions[0]
  const batch = buildRecordBatch([{ value: 'a' }, { value: 'b' }, { value: 'c' }], {
    producerId: 7,
    producerEpoch: 0,
    baseSequence: 0,
    transactional: true,
  })
  p.append(batch, readBatchHeader(batch), Date.now())
  assert.equal(p.lastStableOffset, 0, 'the open transaction holds the LSO at its first offset')
  p.log.deleteRecordsBefore(2)
  assert.equal(p.lastStableOffset, 2)
  m.close()
})
