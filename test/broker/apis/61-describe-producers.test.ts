/**
 * DescribeProducers (key 61): the producers a partition knows (idempotent and transactional),
 * with their epoch, last sequence and the first offset of their open transaction.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { readDescribeProducersResponse, writeDescribeProducersRequest } from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { batchOf, connect, mustCreateTopic, newProducerId, produce } from '../../helpers/wire.ts'
import { TxnProducer } from '../../helpers/txn-wire.ts'

const describeProducers = (c: RawClient, topics: Record<string, number[]>) =>
  c.request(61, 0, writeDescribeProducersRequest, readDescribeProducersResponse, {
    topics: Object.entries(topics).map(([name, partitionIndexes]) => ({ name, partitionIndexes })),
  })

/** producerId -> [epoch, lastSequence, currentTxnStartOffset] of one partition. */
async function producersOf(c: RawClient, topic: string, partition: number) {
  const res = await describeProducers(c, { [topic]: [partition] })
  const p = res.topics[0].partitions[0]
  assert.equal(p.errorCode, KafkaError.NONE)
  return Object.fromEntries(
    p.activeProducers.map((x) => [
      Number(x.producerId),
      [x.producerEpoch, x.lastSequence, Number(x.currentTxnStartOffset)],
    ]),
  )
}

test('idempotent and transactional producers, with the start offset of an open transaction', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 't', 2)
  const idem = await newProducerId(c)
  const send = (values: string[], baseSequence: number) =>
    produce(c, 't', 0, batchOf(values, { producerId: idem.producerId, producerEpoch: 0, baseSequence }))
  assert.equal((await send(['a', 'b'], 0)).errorCode, KafkaError.NONE)
  assert.equal((await produce(c, 't', 0, batchOf(['plain']))).errorCode, KafkaError.NONE)
  const txn = await TxnProducer.init(c, 'tx')
  assert.equal(await txn.send('t', 0, ['x', 'y', 'z']), 3)

  assert.deepEqual(await producersOf(c, 't', 0), {
    [idem.producerId]: [0, 1, -1],
    [txn.producerId]: [0, 2, 3],
  })
  assert.deepEqual(await producersOf(c, 't', 1), {}, 'the other partition knows no producer')
  await txn.commit()
  assert.deepEqual((await producersOf(c, 't', 0))[txn.producerId], [0, 2, -1], 'no open transaction after the commit')

  // A fence (InitProducerId with the transaction open) shows the new epoch in the partition.
  assert.equal(await txn.send('t', 0, ['again']), 7)
  const next = await TxnProducer.init(c, 'tx')
  assert.deepEqual((await producersOf(c, 't', 0))[txn.producerId], [next.producerEpoch, -1, -1])
})

test('an unknown topic or partition is UNKNOWN_TOPIC_OR_PARTITION', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 't', 1)
  const res = await describeProducers(c, { t: [0, 3], missing: [0] })
  assert.deepEqual(
    res.topics.map((x) => [x.name, x.partitions.map((p) => [p.partitionIndex, p.errorCode])]),
    [
      [
        't',
        [
          [0, KafkaError.NONE],
          [3, KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
        ],
      ],
      ['missing', [[0, KafkaError.UNKNOWN_TOPIC_OR_PARTITION]]],
    ],
  )
})
