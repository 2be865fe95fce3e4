import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaCluster } from '../../src/bus/cluster.ts'
import { ErrorCodes } from '../../src/errors.ts'
import { createTopic } from '../helpers/admin.ts'
import { startTestBroker } from '../helpers/broker.ts'

test('a fetch parked on the fetch lane does not hold up requests on the default lane', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'quiet', 1)
  const cluster = await KafkaCluster.connect({ bootstrapBrokers: [broker.address], clientId: 'cluster-test' })
  t.after(() => cluster.close())
  const node = (await cluster.topic('quiet')).leaders[0]
  const fetchLane = await cluster.connection(node, 'fetch')
  const defaultLane = await cluster.connection(node)
  assert.notEqual(fetchLane, defaultLane, 'one connection per lane')
  assert.equal(await cluster.connection(node, 'fetch'), fetchLane, 'and shared within it')

  // Nothing to read: the broker parks this fetch for its whole wait.
  const parkedFor = 3000
  const started = performance.now()
  let fetchDone = 0
  const parked = fetchLane
    .fetch({
      maxWaitMs: parkedFor,
      minBytes: 1,
      maxBytes: 1 << 20,
      isolationLevel: 0,
      topics: [{ topic: 'quiet', partitions: [{ partition: 0, fetchOffset: 0n, partitionMaxBytes: 1 << 20 }] }],
    })
    .then(() => (fetchDone = performance.now()))
  // Metadata goes over the default lane; on the fetch lane it would be answered after the fetch.
  await cluster.topics(['quiet'])
  const metadataDone = performance.now()
  await parked
  assert.ok(metadataDone < fetchDone, 'metadata was answered while the fetch was parked')
  assert.ok(fetchDone - started >= parkedFor - 50, 'the fetch really was parked')
})

test('drop closes one lane only; the next use reconnects', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'x', 1)
  const cluster = await KafkaCluster.connect({ bootstrapBrokers: [broker.address], clientId: 'cluster-test' })
  t.after(() => cluster.close())
  const node = (await cluster.topic('x')).leaders[0]
  const first = await cluster.connection(node, 'fetch')
  const other = await cluster.connection(node)
  cluster.drop(node, 'fetch')
  const second = await cluster.connection(node, 'fetch')
  assert.notEqual(second, first)
  assert.equal(await cluster.connection(node), other, 'the default lane is untouched')
  assert.equal((await cluster.topic('x')).leaders.length, 1)
  await cluster.close()
  await assert.rejects(cluster.connection(node, 'fetch'), (err: { code?: string }) => err.code === ErrorCodes.CLOSED)
})
