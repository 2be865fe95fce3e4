/**
 * AddPartitionsToTxn (key 24), the client form of versions 0-3: the partitions a transactional
 * producer will write, checked against its transactional id, producer id and epoch. A request
 * naming an unknown partition adds nothing.
 */
import assert from 'node:assert/strict'
import { test } from 'node:test'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { startTestBroker } from '../../helpers/broker.ts'
import { connect, mustCreateTopic } from '../../helpers/wire.ts'
import { addPartitions, endTxn, TxnProducer } from '../../helpers/txn-wire.ts'

test('v0-v3: the partitions join the transaction, which becomes Ongoing', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'a', 3)
  await mustCreateTopic(c, 'b', 1)
  for (let version = 0; version <= 3; version++) {
    const id = `tx-${version}`
    const p = await TxnProducer.init(c, id)
    const codes = await addPartitions(c, id, p.producerId, p.producerEpoch, { a: [2, 0], b: [0] }, version)
    assert.deepEqual(
      [...codes],
      [
        ['a-2', KafkaError.NONE],
        ['a-0', KafkaError.NONE],
        ['b-0', KafkaError.NONE],
      ],
      `v${version}`,
    )
    // Adding some again, and one more, keeps the set.
    const more = await addPartitions(c, id, p.producerId, p.producerEpoch, { a: [0, 1] }, version)
    assert.deepEqual([...more.values()], [KafkaError.NONE, KafkaError.NONE])
    const described = broker.context.transactions.describe(id)
    assert.equal(described?.state, 'Ongoing')
    assert.deepEqual(described?.partitions, [
      ['a', [0, 1, 2]],
      ['b', [0]],
    ])
  }
})

test('an unknown partition is UNKNOWN_TOPIC_OR_PARTITION, the others OPERATION_NOT_ATTEMPTED, and nothing is added', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'a', 2)
  const p = await TxnProducer.init(c, 'tx')
  const codes = await addPartitions(c, 'tx', p.producerId, p.producerEpoch, { a: [0, 7, 1], missing: [0] })
  assert.deepEqual(
    [...codes],
    [
      ['a-0', KafkaError.OPERATION_NOT_ATTEMPTED],
      ['a-7', KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
      ['a-1', KafkaError.OPERATION_NOT_ATTEMPTED],
      ['missing-0', KafkaError.UNKNOWN_TOPIC_OR_PARTITION],
    ],
  )
  const described = broker.context.transactions.describe('tx')
  assert.deepEqual([described?.state, described?.partitions], ['Empty', []])
  // So a transactional write to a partition named next to the unknown one is refused.
  assert.equal((await p.sendRaw('a', 0, ['x'])).errorCode, KafkaError.INVALID_TXN_STATE)
})

test('the transactional id, producer id and epoch must be the current ones', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  await mustCreateTopic(c, 'a', 1)
  const old = await TxnProducer.init(c, 'tx')
  const current = await TxnProducer.init(c, 'tx')
  assert.equal(current.producerEpoch, old.producerEpoch + 1)
  const codeOf = async (id: string, pid: number, epoch: number) =>
    (await addPartitions(c, id, pid, epoch, { a: [0] })).get('a-0')
  assert.equal(
    await codeOf('nobody', current.producerId, current.producerEpoch),
    KafkaError.INVALID_PRODUCER_ID_MAPPING,
  )
  assert.equal(
    await codeOf('tx', current.producerId + 1, current.producerEpoch),
    KafkaError.INVALID_PRODUCER_ID_MAPPING,
  )
  // Fenced: PRODUCER_FENCED from v2 (KIP-588), INVALID_PRODUCER_EPOCH for older clients, as Kafka answers.
  for (const [version, code] of [
    [0, KafkaError.INVALID_PRODUCER_EPOCH],
    [1, KafkaError.INVALID_PRODUCER_EPOCH],
    [2, KafkaError.PRODUCER_FENCED],
    [3, KafkaError.PRODUCER_FENCED],
  ]) {
    const codes = await addPartitions(c, 'tx', old.producerId, old.producerEpoch, { a: [0] }, version)
    assert.equal(codes.get('a-0'), code, `fenced, v${version}`)
  }
  assert.equal(await codeOf('tx', current.producerId, current.producerEpoch), KafkaError.NONE)
})

test('while the markers of the previous transaction are not durable yet, the next one waits', async (t) => {
  const broker = await startTestBroker(t)
  const c = await connect(t, broker)
  const other = await connect(t, broker)
  await mustCreateTopic(c, 'a', 1)
  const p = await TxnProducer.init(c, 'tx')
  await p.send('a', 0, ['x'])
  // Hold the fsync of the commit's markers (they are appended at once, as always).
  const context = broker.context
  const writeMarkers = context.writeMarkers.bind(context)
  let release: () => void = () => {}
  const held = new Promise<void>((resolve) => (release = resolve))
  context.writeMarkers = async (...args) => {
    const durable = writeMarkers(...args)
    await held
    return durable
  }
  t.after(() => release())
  // EndTxn is answered once the commit is decided (journaled) and its markers appended, before
  // they are durable.
  assert.equal(await endTxn(c, 'tx', p.producerId, p.producerEpoch, true), KafkaError.NONE)
  assert.equal(context.transactions.describe('tx')?.state, 'CompleteCommit')
  let answered = false
  const adding = addPartitions(other, 'tx', p.producerId, p.producerEpoch, { a: [0] }).then((codes) => {
    answered = true
    return codes
  })
  await new Promise((resolve) => setTimeout(resolve, 50))
  assert.equal(answered, false, 'the next transaction waits until the markers of the previous one are durable')
  release()
  assert.equal((await adding).get('a-0'), KafkaError.NONE)
  assert.equal(context.transactions.describe('tx')?.state, 'Ongoing')
  assert.equal(await endTxn(c, 'tx', p.producerId, p.producerEpoch, false), KafkaError.NONE)
  assert.equal(
    (await addPartitions(other, 'tx', p.producerId, p.producerEpoch, { a: [0] })).get('a-0'),
    KafkaError.NONE,
  )
})
