import assert from 'node:assert/strict'
import { test } from 'node:test'
import { describeTopics, ensureTopic, openAdmin } from '../../src/bus/admin.ts'
import { TopicWriter } from '../../src/bus/producer.ts'
import { startTestBroker } from '../helpers/broker.ts'
import { topicOffsets } from '../helpers/cli.ts'

test('ensureTopic creates a missing topic once; later calls find it', async (t) => {
  const broker = await startTestBroker(t, { autoCreateTopics: false })
  const admin = openAdmin({ bootstrapBrokers: [broker.address], clientId: 'admin-test' })
  t.after(() => admin.close())
  assert.equal(await ensureTopic(admin, 'prices', 3), true)
  assert.equal(await ensureTopic(admin, 'prices', 3), false)
  // An existing topic is left as it is, whatever partition count is asked for.
  assert.equal(await ensureTopic(admin, 'prices', 5), false)
  assert.equal((await topicOffsets(broker.address, 'prices')).length, 3)
  // Two clients racing: exactly one creates it, the other sees TOPIC_ALREADY_EXISTS and finds it.
  const other = openAdmin({ bootstrapBrokers: [broker.address], clientId: 'admin-test-2' })
  t.after(() => other.close())
  const results = await Promise.all([ensureTopic(admin, 'orders', 2), ensureTopic(other, 'orders', 2)])
  assert.deepEqual(results.sort(), [false, true])
  assert.equal((await topicOffsets(broker.address, 'orders')).length, 2)
})

test('describeTopics lists offsets and sizes per partition', async (t) => {
  const broker = await startTestBroker(t)
  const bus = { bootstrapBrokers: [broker.address], clientId: 'admin-test' }
  const admin = openAdmin(bus)
  t.after(() => admin.close())
  assert.deepEqual(await describeTopics(admin), [])
  await ensureTopic(admin, 'b-topic', 3)
  await ensureTopic(admin, 'a-topic', 1)

  const fresh = await describeTopics(admin)
  assert.deepEqual(
    fresh.map((d) => d.name),
    ['a-topic', 'b-topic'],
  )
  for (const d of fresh) {
    for (const p of d.partitions) {
      assert.equal(p.start, 0n)
      assert.equal(p.end, 0n)
      assert.equal(p.leader, 0)
    }
  }
  assert.deepEqual(
    fresh[1].partitions.map((p) => p.partition),
    [0, 1, 2],
  )

  const writer = new TopicWriter(bus, { topic: 'b-topic' })
  for (let i = 0; i < 300; i++) writer.write(undefined, `value-${i}`)
  for (let i = 0; i < 5; i++) writer.write('k', `keyed-${i}`)
  await writer.close()

  const [b] = await describeTopics(admin, ['b-topic'])
  assert.equal(b.name, 'b-topic')
  assert.equal(
    b.partitions.reduce((a, p) => a + Number(p.end - p.start), 0),
    305,
  )
  const expected = await topicOffsets(broker.address, 'b-topic')
  assert.deepEqual(
    b.partitions.map((p) => [Number(p.start), Number(p.end)]),
    expected.map((o) => [o.low, o.high]),
  )
  for (const p of b.partitions) {
    assert.ok(p.bytes !== undefined, `partition ${p.partition} has a size`)
    if (p.end > p.start) assert.ok(p.bytes > 0, `partition ${p.partition} holds ${p.bytes} bytes`)
  }
  const sizeOf = (d: typeof b) => d.partitions.reduce((a, p) => a + (p.bytes ?? 0), 0)
  assert.ok(sizeOf(b) > 305 * 'value-0'.length, 'at least the values')

  // Both topics, asked for in any order, come back sorted; the empty one still has zero bytes.
  const both = await describeTopics(admin, ['b-topic', 'a-topic'])
  assert.deepEqual(
    both.map((d) => d.name),
    ['a-topic', 'b-topic'],
  )
  assert.equal(both[0].partitions[0].end, 0n)
  assert.equal(both[0].partitions[0].bytes ?? 0, 0)
})
