/**
 * DescribeTransactions (key 65): state, producer, timeout, start time and partitions of
 * transactional ids, followed through the life of one id (Ongoing, CompleteCommit, CompleteAbort,
 * Empty after a new instance initialises).
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readDescribeTransactionsResponse,
  writeDescribeTransactionsRequest,
} from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { connect, mustCreateTopic } from '../../helpers/wire.ts'
import { TxnProducer } from '../../helpers/txn-wire.ts'

const describeTransactions = async (c: RawClient, ids: string[]) =>
  (
    await c.request(65, 0, writeDescribeTransactionsRequest, readDescribeTransactionsResponse, {
      transactionalIds: ids,
    })
  ).transactionStates

test('each id in every state of its life; an unknown id is TRANSACTIONAL_ID_NOT_FOUND', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'a', 3)
  await mustCreateTopic(c, 'b', 1)
  const p = await TxnProducer.init(c, 'tx', 45_000)
  const before = Date.now()
  await p.add({ b: [0], a: [2, 0] })
  const after = Date.now()

  // Several ids in one request, each answered on its own.
  const [open, unknown] = await describeTransactions(c, ['tx', 'nobody'])
  assert.equal(open.errorCode, KafkaError.NONE)
  assert.equal(open.transactionalId, 'tx')
  assert.equal(open.transactionState, 'Ongoing')
  assert.equal(open.producerId, BigInt(p.producerId))
  assert.equal(open.producerEpoch, p.producerEpoch)
  assert.equal(open.transactionTimeoutMs, 45_000)
  // The coordinator stamps the start when the first partition is added.
  const started = Number(open.transactionStartTimeMs)
  assert.ok(started >= before && started <= after, 'the start time is when the transaction began')
  assert.deepEqual(open.topics.map((x) => [x.topic, x.partitions]).sort(), [
    ['a', [0, 2]],
    ['b', [0]],
  ])
  assert.deepEqual([unknown.transactionalId, unknown.errorCode], ['nobody', KafkaError.TRANSACTIONAL_ID_NOT_FOUND])

  await p.commit()
  const [done] = await describeTransactions(c, ['tx'])
  assert.deepEqual(
    [done.transactionState, done.topics, done.transactionStartTimeMs],
    ['CompleteCommit', [], -1n],
    'a completed transaction has no partitions and no start time',
  )
  // The next transaction of the same epoch, aborted.
  await p.add({ a: [1] })
  await p.abort()
  assert.equal((await describeTransactions(c, ['tx']))[0].transactionState, 'CompleteAbort')
  const again = await TxnProducer.init(c, 'tx')
  const [empty] = await describeTransactions(c, ['tx'])
  assert.deepEqual([empty.transactionState, empty.producerEpoch], ['Empty', again.producerEpoch])
})
