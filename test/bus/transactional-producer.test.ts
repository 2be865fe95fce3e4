import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { KafkaCluster } from '../../src/bus/cluster.ts'
import { fetchCommitted } from '../../src/bus/partition-io.ts'
import { TransactionalProducer, TransactionRecords } from '../../src/bus/transactional-producer.ts'
import { ErrorCodes } from '../../src/errors.ts'
import { createTopic } from '../helpers/admin.ts'
import { startTestBroker } from '../helpers/broker.ts'
import { kcatRead } from '../helpers/txn-kcat.ts'

async function setup(t: TestContext): Promise<{ address: string; cluster: KafkaCluster }> {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'out', 2)
  await createTopic(broker, 'other', 1)
  await createTopic(broker, 'in', 1)
  const cluster = await KafkaCluster.connect({ bootstrapBrokers: [broker.address], clientId: 'txn-test' })
  t.after(() => cluster.close())
  return { address: broker.address, cluster }
}

const values = (records: { value: string | null }[]): string[] => records.map((r) => r.value ?? '')

test('a committed transaction makes its records and its consumer offset visible together', async (t) => {
  const { address, cluster } = await setup(t)
  const producer = new TransactionalProducer(cluster, { transactionalId: 'tx-commit' })
  await producer.init()
  const records = new TransactionRecords()
  for (let i = 0; i < 1000; i++) records.add('out', i % 2, `k${i}`, `v${i}`, 1_700_000_000_000 + i)
  records.add('other', 0, null, 'one', Date.now(), [['h', 'x']])
  const written = await producer.commit(records, {
    groupId: 'g',
    topic: 'in',
    partition: 0,
    offset: 42,
    metadata: 'meta-1',
  })
  assert.deepEqual(written.map((w) => [w.topic, w.partition, w.count]).sort(), [
    ['other', 0, 1],
    ['out', 0, 500],
    ['out', 1, 500],
  ])
  const p0 = await kcatRead({ brokers: address, topic: 'out', partition: 0, isolation: 'read_committed' })
  assert.deepEqual(
    values(p0),
    Array.from({ length: 500 }, (_, i) => `v${2 * i}`),
  )
  assert.deepEqual(
    values(await kcatRead({ brokers: address, topic: 'other', partition: 0, isolation: 'read_committed' })),
    ['one'],
  )
  assert.deepEqual((await fetchCommitted(cluster, 'g', 'in', [0])).get(0), { offset: 42, metadata: 'meta-1' })

  // A second transaction continues the sequence numbers.
  const more = new TransactionRecords()
  more.add('out', 0, 'k', 'again', Date.now())
  await producer.commit(more, { groupId: 'g', topic: 'in', partition: 0, offset: 43, metadata: 'meta-2' })
  const again = await kcatRead({ brokers: address, topic: 'out', partition: 0, isolation: 'read_committed' })
  assert.equal(values(again).at(-1), 'again')
  assert.equal(again.length, 501)
  assert.deepEqual((await fetchCommitted(cluster, 'g', 'in', [0])).get(0), { offset: 43, metadata: 'meta-2' })
})

test('an aborted transaction leaves no record for read_committed readers and no offset', async (t) => {
  const { address, cluster } = await setup(t)
  const producer = new TransactionalProducer(cluster, { transactionalId: 'tx-abort' })
  await producer.init()
  const records = new TransactionRecords()
  for (let i = 0; i < 10; i++) records.add('out', 0, null, `doomed${i}`, Date.now())
  const written = await producer.write(records)
  assert.equal(written[0].baseOffset, 0)
  await producer.abort()
  assert.deepEqual(await kcatRead({ brokers: address, topic: 'out', partition: 0, isolation: 'read_committed' }), [])
  assert.equal(
    (await kcatRead({ brokers: address, topic: 'out', partition: 0, isolation: 'read_uncommitted' })).length,
    10,
    'the aborted records are in the log',
  )
  assert.equal((await fetchCommitted(cluster, 'g', 'in', [0])).get(0)?.offset, -1)
  // The producer goes on after an abort.
  const next = new TransactionRecords()
  next.add('out', 0, null, 'kept', Date.now())
  await producer.commit(next, { groupId: 'g', topic: 'in', partition: 0, offset: 1, metadata: '' })
  assert.deepEqual(
    values(await kcatRead({ brokers: address, topic: 'out', partition: 0, isolation: 'read_committed' })),
    ['kept'],
  )
})

test('a second instance with the same transactional id fences the first and aborts its open transaction', async (t) => {
  const { address, cluster } = await setup(t)
  const first = new TransactionalProducer(cluster, { transactionalId: 'tx-fence' })
  await first.init()
  const open = new TransactionRecords()
  open.add('out', 1, null, 'zombie', Date.now())
  await first.write(open)
  const second = new TransactionalProducer(cluster, { transactionalId: 'tx-fence' })
  await second.init()
  assert.ok(second.identity.producerEpoch > first.identity.producerEpoch)
  const late = new TransactionRecords()
  late.add('out', 1, null, 'zombie-2', Date.now())
  await assert.rejects(
    first.commit(late, { groupId: 'g', topic: 'in', partition: 0, offset: 99, metadata: '' }),
    (err: { code?: string }) => err.code === ErrorCodes.FENCED,
  )
  const good = new TransactionRecords()
  good.add('out', 1, null, 'owner', Date.now())
  await second.commit(good, { groupId: 'g', topic: 'in', partition: 0, offset: 5, metadata: 'm' })
  assert.deepEqual(
    values(await kcatRead({ brokers: address, topic: 'out', partition: 1, isolation: 'read_committed' })),
    ['owner'],
  )
  assert.equal((await fetchCommitted(cluster, 'g', 'in', [0])).get(0)?.offset, 5)
})

test('records larger in total than the broker accepts per batch are cut into several batches', async (t) => {
  const { address, cluster } = await setup(t)
  const producer = new TransactionalProducer(cluster, { transactionalId: 'tx-big' })
  await producer.init()
  const records = new TransactionRecords()
  // Five 600 KB records (3 MB) and many small ones, for one partition: no batch may exceed 1 MiB.
  for (let i = 0; i < 5; i++) records.add('other', 0, null, Buffer.alloc(600 * 1024, 48 + i), Date.now())
  for (let i = 0; i < 20_000; i++) records.add('other', 0, `k${i}`, `small-${i}-${'é'.repeat(20)}`, Date.now())
  const written = await producer.commit(records, { groupId: 'g', topic: 'in', partition: 0, offset: 1, metadata: '' })
  assert.ok(written.length >= 5, `${written.length} batches`)
  assert.equal(
    written.reduce((n, w) => n + w.count, 0),
    20_005,
  )
  const read = await kcatRead({ brokers: address, topic: 'other', partition: 0, isolation: 'read_committed' })
  assert.equal(read.length, 20_005)
  assert.equal(read[4].value?.length, 600 * 1024)
  assert.equal(read.at(-1)?.value, `small-19999-${'é'.repeat(20)}`)
})
