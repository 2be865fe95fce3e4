/**
 * ListTransactions (key 66): transactional ids with their producer ids and states, filtered by
 * state and producer id, and (v1) by how long a transaction has been open.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import {
  readListTransactionsResponse,
  writeListTransactionsRequest,
  type ListTransactionsRequestInput,
} from '../../../src/protocol/messages/index.ts'
import type { RawClient } from '../../helpers/raw-client.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { connect, mustCreateTopic } from '../../helpers/wire.ts'
import { TxnProducer } from '../../helpers/txn-wire.ts'

const listTransactions = (c: RawClient, body: ListTransactionsRequestInput, version = 1) =>
  c.request(66, version, writeListTransactionsRequest, readListTransactionsResponse, {
    stateFilters: [],
    producerIdFilters: [],
    durationFilter: -1n,
    ...body,
  })

/** transactionalId -> [producerId, state], sorted by id. */
const summary = (res: Awaited<ReturnType<typeof listTransactions>>) =>
  res.transactionStates
    .map((x) => [x.transactionalId, Number(x.producerId), x.transactionState] as const)
    .sort((a, b) => a[0].localeCompare(b[0]))

test('filters by state and producer id; unknown states are reported', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 't', 1)
  const idle = await TxnProducer.init(c, 'idle')
  const open = await TxnProducer.init(c, 'open')
  await open.send('t', 0, ['x'])
  const done = await TxnProducer.init(c, 'done')
  await done.send('t', 0, ['y'])
  await done.commit()

  for (const version of [0, 1]) {
    const all = await listTransactions(c, {}, version)
    assert.equal(all.errorCode, KafkaError.NONE)
    assert.deepEqual(all.unknownStateFilters, [])
    assert.deepEqual(summary(all), [
      ['done', done.producerId, 'CompleteCommit'],
      ['idle', idle.producerId, 'Empty'],
      ['open', open.producerId, 'Ongoing'],
    ])
  }
  assert.deepEqual(summary(await listTransactions(c, { stateFilters: ['Ongoing'] })), [
    ['open', open.producerId, 'Ongoing'],
  ])
  assert.deepEqual(
    summary(await listTransactions(c, { producerIdFilters: [BigInt(idle.producerId), BigInt(done.producerId)] })),
    [
      ['done', done.producerId, 'CompleteCommit'],
      ['idle', idle.producerId, 'Empty'],
    ],
  )
  assert.deepEqual(
    summary(await listTransactions(c, { stateFilters: ['Ongoing'], producerIdFilters: [BigInt(done.producerId)] })),
    [],
  )
  const odd = await listTransactions(c, { stateFilters: ['Empty', 'Sleeping'] })
  assert.deepEqual(odd.unknownStateFilters, ['Sleeping'])
  assert.deepEqual(summary(odd), [['idle', idle.producerId, 'Empty']])
})

test('v1: the duration filter keeps transactions open at least that long', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 't', 1)
  const p = await TxnProducer.init(c, 'open')
  await TxnProducer.init(c, 'idle')
  await p.send('t', 0, ['x'])
  const startedAt = broker.context.transactions.describe('open')?.startedAt ?? NaN
  // Any transaction is open for at least 0 ms; none has been open for a day.
  assert.deepEqual(summary(await listTransactions(c, { durationFilter: 0n })), [['open', p.producerId, 'Ongoing']])
  assert.deepEqual(summary(await listTransactions(c, { durationFilter: 86_400_000n })), [])
  // An open duration the transaction has certainly reached by now.
  const reached = BigInt(Math.max(0, Date.now() - startedAt))
  assert.deepEqual(summary(await listTransactions(c, { durationFilter: reached })), [['open', p.producerId, 'Ongoing']])
})
