/**
 * The transaction coordinator on its own: fake hooks record the markers and offset commits it
 * asks for (and can hang or fail, to hold a transaction in a prepared state), time is injected, and
 * each coordinator journals into a temporary data directory that a second one reopens.
 */
import assert from 'node:assert/strict'
import { test, type TestContext } from 'node:test'
import { silentLogger } from '../../../src/broker/config.ts'
import type { OffsetCommitEntry } from '../../../src/broker/groups/offset-store.ts'
import {
  TransactionCoordinator,
  type TopicPartition,
  type TransactionCoordinatorOptions,
  type TransactionHooks,
} from '../../../src/broker/transactions/coordinator.ts'
import { KafkaError } from '../../../src/protocol/error-codes.ts'
import { eventually, tempDir } from '../../helpers/broker.ts'

const TIMEOUT = 60_000
/** The largest producer epoch (Short.MAX_VALUE). */
const MAX_EPOCH = 32767

interface Marker {
  producerId: number
  producerEpoch: number
  commit: boolean
  partitions: string[]
}

/**
 * Hooks that record what the coordinator asks for. `next` decides what the next writeMarkers call
 * does: 'hang' appends (records) the markers but never makes them durable (an fsync in progress),
 * 'fail' fails to append them, once ('fail-always': every time).
 */
class FakeHooks implements TransactionHooks {
  nextProducerId = 1000
  readonly markers: Marker[] = []
  readonly commits: Array<{ groupId: string; entries: OffsetCommitEntry[] }> = []
  /** Hook calls in order, to check that offsets are committed after the markers. */
  readonly calls: string[] = []
  next: 'hang' | 'fail' | 'fail-always' | undefined
  private release: (() => void) | undefined

  allocateProducerId(): number {
    return this.nextProducerId++
  }

  writeMarkers(producerId: number, producerEpoch: number, commit: boolean, partitions: TopicPartition[]) {
    const mode = this.next
    if (mode !== 'fail-always') this.next = undefined
    if (mode === 'fail' || mode === 'fail-always') throw new Error('disk on fire')
    this.calls.push('markers')
    this.markers.push({ producerId, producerEpoch, commit, partitions: partitions.map(([t, p]) => `${t}-${p}`).sort() })
    return mode === 'hang' ? new Promise<void>((resolve) => (this.release = resolve)) : Promise.resolve()
  }

  async commitOffsets(groupId: string, entries: OffsetCommitEntry[]) {
    this.calls.push('offsets')
    this.commits.push({ groupId, entries })
  }

  /** Lets a hanging marker write finish. */
  unblock(): void {
    this.release?.()
    this.release = undefined
  }
}

/** A settable clock whose reads are counted (each periodic check reads it once). */
class Clock {
  ms = 1_000_000
  reads = 0
  readonly now = (): number => {
    this.reads++
    return this.ms
  }
}

/** Opens a coordinator on `dir` (a new temporary one unless given); closed after the test. */
function open(
  t: TestContext,
  o: Partial<TransactionCoordinatorOptions> & { hooks?: FakeHooks; dir?: string } = {},
): { c: TransactionCoordinator; hooks: FakeHooks; dir: string } {
  const hooks = o.hooks ?? new FakeHooks()
  const dir = o.dir ?? tempDir(t)
  const c = new TransactionCoordinator({
    fsync: false,
    // Long enough that no periodic check runs unless a test asks for one.
    checkIntervalMs: 3_600_000,
    logger: silentLogger,
    ...o,
    dataDir: dir,
    hooks,
  })
  t.after(() => c.close())
  return { c, hooks, dir }
}

/** InitProducerId for a new instance (no id or epoch presented); asserts it worked. */
async function init(c: TransactionCoordinator, id: string, timeoutMs = TIMEOUT) {
  const res = await c.initProducerId(id, timeoutMs, -1, -1)
  assert.equal(res.errorCode, KafkaError.NONE, `InitProducerId ${id}`)
  return res
}

const offset = (topic: string, partition: number, o: number): OffsetCommitEntry => ({
  topic,
  partition,
  offset: o,
  leaderEpoch: -1,
  metadata: null,
})

test('InitProducerId: a new transactional id gets a fresh producer id at epoch 0; each re-init bumps the epoch', async (t) => {
  const { c, hooks } = open(t)
  const first = await init(c, 'a')
  assert.deepEqual(first, { errorCode: KafkaError.NONE, producerId: 1000, producerEpoch: 0 })
  const second = await init(c, 'a', 30_000)
  assert.deepEqual([second.producerId, second.producerEpoch], [1000, 1])
  assert.equal(c.describe('a')?.timeoutMs, 30_000, 'the new timeout is kept')
  assert.equal((await init(c, 'b')).producerId, 1001, 'another transactional id has its own producer id')
  // No transaction was open: nothing to abort.
  assert.equal(hooks.markers.length, 0)
})

test('KIP-360: presenting the current id and epoch re-initialises; a stale one is refused', async (t) => {
  const { c } = open(t)
  const { producerId } = await init(c, 'a')
  const bumped = await c.initProducerId('a', TIMEOUT, producerId, 0)
  assert.deepEqual([bumped.errorCode, bumped.producerId, bumped.producerEpoch], [KafkaError.NONE, producerId, 1])
  for (const [pid, epoch] of [
    [producerId, 2],
    [producerId, 5],
    [producerId + 1, 1],
  ]) {
    const stale = await c.initProducerId('a', TIMEOUT, pid, epoch)
    assert.deepEqual(stale, { errorCode: KafkaError.PRODUCER_FENCED, producerId: -1, producerEpoch: -1 })
  }
  assert.equal(c.describe('a')?.producerEpoch, 1, 'a refused presentation bumps nothing')
  assert.equal((await c.initProducerId('a', TIMEOUT, producerId, 1)).producerEpoch, 2)
})

test('KIP-360: repeating a bump whose answer was lost gets the current epoch again, nothing older', async (t) => {
  const first = open(t)
  const { producerId } = await init(first.c, 'a')
  assert.equal((await first.c.initProducerId('a', TIMEOUT, producerId, 0)).producerEpoch, 1)
  await first.c.close()
  // The same request again (the producer never saw epoch 1), even after a restart: answered with
  // epoch 1, no bump.
  const { c } = open(t, { dir: first.dir })
  const retried = await c.initProducerId('a', TIMEOUT, producerId, 0)
  assert.deepEqual(retried, { errorCode: KafkaError.NONE, producerId, producerEpoch: 1 })
  assert.equal(c.describe('a')?.producerEpoch, 1)
  // After a bump by a new instance (no id presented) nothing older is a retry any more.
  assert.equal((await init(c, 'a')).producerEpoch, 2)
  for (const epoch of [0, 1]) {
    assert.equal((await c.initProducerId('a', TIMEOUT, producerId, epoch)).errorCode, KafkaError.PRODUCER_FENCED)
  }
  // Nor after a fence: the instance whose transaction was aborted cannot come back.
  assert.equal((await c.initProducerId('a', TIMEOUT, producerId, 2)).producerEpoch, 3)
  assert.equal(await c.addPartitions('a', producerId, 3, [['t', 0]]), KafkaError.NONE)
  assert.equal((await init(c, 'a')).producerEpoch, 4)
  assert.equal((await c.initProducerId('a', TIMEOUT, producerId, 2)).errorCode, KafkaError.PRODUCER_FENCED)
  assert.equal((await c.initProducerId('a', TIMEOUT, producerId, 3)).errorCode, KafkaError.PRODUCER_FENCED)
})

test('INVALID_TRANSACTION_TIMEOUT: not positive, or above the maximum', async (t) => {
  const { c } = open(t, { maxTimeoutMs: 10_000 })
  for (const timeout of [0, -1, 10_001]) {
    const res = await c.initProducerId('a', timeout, -1, -1)
    assert.deepEqual(res, { errorCode: KafkaError.INVALID_TRANSACTION_TIMEOUT, producerId: -1, producerEpoch: -1 })
  }
  assert.equal(c.describe('a'), undefined, 'nothing was created')
  assert.equal((await c.initProducerId('a', 10_000, -1, -1)).errorCode, KafkaError.NONE, 'the maximum itself is valid')
})

test('epoch exhaustion: the transactional id moves to a new producer id; the old one is no longer mapped', async (t) => {
  const { c } = open(t)
  let res = await init(c, 'a')
  const first = res.producerId
  // Epochs 0..32766 are handed out (32767 is kept for a final fence); then a new producer id.
  while (res.producerEpoch < MAX_EPOCH - 1) res = await init(c, 'a')
  assert.deepEqual([res.producerId, res.producerEpoch], [first, MAX_EPOCH - 1])
  const moved = await c.initProducerId('a', TIMEOUT, first, MAX_EPOCH - 1)
  assert.equal(moved.errorCode, KafkaError.NONE)
  assert.notEqual(moved.producerId, first)
  assert.equal(moved.producerEpoch, 0)
  assert.equal(await c.addPartitions('a', first, MAX_EPOCH - 1, [['t', 0]]), KafkaError.INVALID_PRODUCER_ID_MAPPING)
  assert.equal(await c.addPartitions('a', moved.producerId, 0, [['t', 0]]), KafkaError.NONE)
})

test('epoch exhaustion with a transaction open: the abort markers carry the old producer id', async (t) => {
  // The partitions know the open transaction by its producer id: markers under a new id would
  // leave it open forever (the last stable offset stuck).
  const { c, hooks } = open(t)
  let res = await init(c, 'a')
  while (res.producerEpoch < MAX_EPOCH - 1) res = await init(c, 'a')
  const old = res.producerId
  assert.equal(await c.addPartitions('a', old, MAX_EPOCH - 1, [['t', 0]]), KafkaError.NONE)
  const next = await init(c, 'a')
  assert.deepEqual(hooks.markers, [{ producerId: old, producerEpoch: MAX_EPOCH, commit: false, partitions: ['t-0'] }])
  // The fence used the last epoch of the old id: the new instance gets a new id.
  assert.notEqual(next.producerId, old)
  assert.equal(next.producerEpoch, 0)
  assert.equal(c.checkTransactionalWrite(old, MAX_EPOCH - 1, 't', 0), KafkaError.INVALID_TXN_STATE)
})

test('re-init with an open transaction aborts it: ABORT markers with the bumped epoch to exactly its partitions', async (t) => {
  const { c, hooks } = open(t)
  const { producerId } = await init(c, 'a')
  await init(c, 'other')
  assert.equal(
    await c.addPartitions('a', producerId, 0, [
      ['t', 1],
      ['u', 0],
    ]),
    KafkaError.NONE,
  )
  assert.equal(await c.addPartitions('a', producerId, 0, [['t', 0]]), KafkaError.NONE)
  assert.equal(await c.addOffsets('a', producerId, 0, 'g'), KafkaError.NONE)
  assert.equal(c.txnOffsetCommit('a', 'g', producerId, 0, [offset('t', 0, 5)]), KafkaError.NONE)

  const again = await init(c, 'a')
  assert.deepEqual([again.producerId, again.producerEpoch], [producerId, 1])
  assert.deepEqual(hooks.markers, [{ producerId, producerEpoch: 1, commit: false, partitions: ['t-0', 't-1', 'u-0'] }])
  assert.equal(hooks.commits.length, 0, 'the aborted offsets are dropped')
  assert.equal(c.hasPendingOffsets('g', 't', 0), false)
  assert.deepEqual(c.describe('a'), {
    state: 'Empty',
    producerId,
    producerEpoch: 1,
    timeoutMs: TIMEOUT,
    startedAt: -1,
    partitions: [],
  })
  // The previous instance is fenced everywhere (its writes get the Produce error, as in Kafka).
  assert.equal(await c.addPartitions('a', producerId, 0, [['t', 0]]), KafkaError.PRODUCER_FENCED)
  assert.equal(await c.endTxn('a', producerId, 0, true), KafkaError.PRODUCER_FENCED)
  assert.equal(c.checkTransactionalWrite(producerId, 0, 't', 0), KafkaError.INVALID_PRODUCER_EPOCH)
})

test('AddPartitions, AddOffsets, TxnOffsetCommit and EndTxn check the transactional id, producer id and epoch', async (t) => {
  const { c } = open(t)
  const { producerId } = await init(c, 'a')
  await init(c, 'a') // epoch 1
  // [transactional id, producer id, epoch, the error, the error of TxnOffsetCommit]: a fenced epoch is
  // PRODUCER_FENCED at the coordinator, and for the offsets (a transactional write in Kafka) the
  // Produce error INVALID_PRODUCER_EPOCH.
  const cases: Array<[string, number, number, number, number]> = [
    ['unknown', producerId, 1, KafkaError.INVALID_PRODUCER_ID_MAPPING, KafkaError.INVALID_PRODUCER_ID_MAPPING],
    ['a', producerId + 7, 1, KafkaError.INVALID_PRODUCER_ID_MAPPING, KafkaError.INVALID_PRODUCER_ID_MAPPING],
    ['a', producerId, 0, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH],
    ['a', producerId, 2, KafkaError.PRODUCER_FENCED, KafkaError.INVALID_PRODUCER_EPOCH],
  ]
  for (const [id, pid, epoch, code, offsetsCode] of cases) {
    const what = `${id}/${pid}/${epoch}`
    assert.equal(await c.addPartitions(id, pid, epoch, [['t', 0]]), code, `AddPartitions ${what}`)
    assert.equal(await c.addOffsets(id, pid, epoch, 'g'), code, `AddOffsets ${what}`)
    assert.equal(c.txnOffsetCommit(id, 'g', pid, epoch, [offset('t', 0, 1)]), offsetsCode, `TxnOffsetCommit ${what}`)
    assert.equal(await c.endTxn(id, pid, epoch, true), code, `EndTxn ${what}`)
  }
  assert.equal(c.describe('a')?.state, 'Empty', 'no refused request started a transaction')
})

test('EndTxn state rules: no transaction, completed retries, the opposite outcome', async (t) => {
  const { c, hooks } = open(t)
  const { producerId: pid } = await init(c, 'a')
  // Ending a transaction that was never started is a state error (as Kafka), either way.
  assert.equal(await c.endTxn('a', pid, 0, true), KafkaError.INVALID_TXN_STATE)
  assert.equal(await c.endTxn('a', pid, 0, false), KafkaError.INVALID_TXN_STATE)

  assert.equal(await c.addPartitions('a', pid, 0, [['t', 0]]), KafkaError.NONE)
  // Re-adding a partition of the open transaction changes nothing.
  assert.equal(await c.addPartitions('a', pid, 0, [['t', 0]]), KafkaError.NONE)
  assert.equal(await c.endTxn('a', pid, 0, true), KafkaError.NONE)
  assert.equal(c.describe('a')?.state, 'CompleteCommit')
  // A retry (a lost response) is answered again without writing markers twice; abort is refused.
  assert.equal(await c.endTxn('a', pid, 0, true), KafkaError.NONE)
  assert.equal(await c.endTxn('a', pid, 0, false), KafkaError.INVALID_TXN_STATE)
  assert.deepEqual(hooks.markers, [{ producerId: pid, producerEpoch: 0, commit: true, partitions: ['t-0'] }])

  // The next transaction of the same epoch starts with a clean partition set.
  assert.equal(await c.addPartitions('a', pid, 0, [['u', 3]]), KafkaError.NONE)
  assert.deepEqual(c.describe('a')?.partitions, [['u', [3]]])
  assert.equal(await c.endTxn('a', pid, 0, false), KafkaError.NONE)
  assert.equal(c.describe('a')?.state, 'CompleteAbort')
  assert.equal(await c.endTxn('a', pid, 0, false), KafkaError.NONE)
  assert.equal(await c.endTxn('a', pid, 0, true), KafkaError.INVALID_TXN_STATE)
  assert.deepEqual(hooks.markers.at(-1), { producerId: pid, producerEpoch: 0, commit: false, partitions: ['u-3'] })
  assert.equal(hooks.markers.length, 2)
})

test('TxnOffsetCommit needs an open transaction that added the group', async (t) => {
  const { c } = open(t)
  const { producerId: pid } = await init(c, 'a')
  assert.equal(c.txnOffsetCommit('a', 'g', pid, 0, [offset('t', 0, 1)]), KafkaError.INVALID_TXN_STATE, 'Empty')
  assert.equal(await c.addPartitions('a', pid, 0, [['t', 0]]), KafkaError.NONE)
  assert.equal(
    c.txnOffsetCommit('a', 'g', pid, 0, [offset('t', 0, 1)]),
    KafkaError.INVALID_TXN_STATE,
    'group not added',
  )
  // AddOffsets alone also opens a transaction.
  const { producerId: other } = await init(c, 'b')
  assert.equal(await c.addOffsets('b', other, 0, 'g'), KafkaError.NONE)
  assert.equal(c.describe('b')?.state, 'Ongoing')
  assert.equal(c.txnOffsetCommit('b', 'g', other, 0, [offset('t', 0, 1)]), KafkaError.NONE)
  assert.equal(c.txnOffsetCommit('b', 'h', other, 0, [offset('t', 0, 1)]), KafkaError.INVALID_TXN_STATE)
})

test('commit materialises the pending offsets after the markers (last write per partition wins); abort drops them', async (t) => {
  const { c, hooks } = open(t)
  const { producerId: pid } = await init(c, 'a')
  assert.equal(await c.addPartitions('a', pid, 0, [['out', 0]]), KafkaError.NONE)
  assert.equal(await c.addOffsets('a', pid, 0, 'g1'), KafkaError.NONE)
  assert.equal(await c.addOffsets('a', pid, 0, 'g2'), KafkaError.NONE)
  assert.equal(c.txnOffsetCommit('a', 'g1', pid, 0, [offset('in', 0, 5), offset('in', 1, 7)]), KafkaError.NONE)
  assert.equal(c.txnOffsetCommit('a', 'g1', pid, 0, [offset('in', 0, 9)]), KafkaError.NONE)
  assert.equal(c.txnOffsetCommit('a', 'g2', pid, 0, [offset('in', 0, 3)]), KafkaError.NONE)
  assert.equal(c.hasPendingOffsets('g1', 'in', 0), true)
  assert.equal(c.hasPendingOffsets('g1', 'in', 2), false)
  assert.equal(c.hasPendingOffsets('g3', 'in', 0), false)
  assert.equal(hooks.commits.length, 0, 'nothing is committed before EndTxn')

  assert.equal(await c.endTxn('a', pid, 0, true), KafkaError.NONE)
  await eventually(() => hooks.commits.length === 2)
  const committed = hooks.commits.map((x) => [
    x.groupId,
    x.entries.map((e) => `${e.topic}-${e.partition}@${e.offset}`).sort(),
  ])
  assert.deepEqual(committed.sort(), [
    ['g1', ['in-0@9', 'in-1@7']],
    ['g2', ['in-0@3']],
  ])
  assert.deepEqual(hooks.calls, ['markers', 'offsets', 'offsets'])
  assert.equal(c.hasPendingOffsets('g1', 'in', 0), false)

  // An aborted transaction's offsets are never committed.
  assert.equal(await c.addOffsets('a', pid, 0, 'g1'), KafkaError.NONE)
  assert.equal(c.txnOffsetCommit('a', 'g1', pid, 0, [offset('in', 0, 100)]), KafkaError.NONE)
  assert.equal(await c.endTxn('a', pid, 0, false), KafkaError.NONE)
  assert.equal(hooks.commits.length, 2)
  assert.equal(c.hasPendingOffsets('g1', 'in', 0), false)
  // A transaction of offsets only has no partition: its markers go nowhere.
  assert.deepEqual(hooks.markers.at(-1), { producerId: pid, producerEpoch: 0, commit: false, partitions: [] })
})

test('EndTxn is answered once the decision is durable and the markers appended; the next requests wait for their fsync', async (t) => {
  const { c, hooks } = open(t)
  const { producerId: pid } = await init(c, 'a')
  assert.equal(await c.addPartitions('a', pid, 0, [['t', 0]]), KafkaError.NONE)
  assert.equal(await c.addOffsets('a', pid, 0, 'g'), KafkaError.NONE)
  assert.equal(c.txnOffsetCommit('a', 'g', pid, 0, [offset('t', 0, 4)]), KafkaError.NONE)
  hooks.next = 'hang'
  assert.equal(await c.endTxn('a', pid, 0, true), KafkaError.NONE, 'answered while the markers are not durable yet')
  // Its effects are visible at once: markers appended after the decision, offsets committed.
  assert.equal(c.describe('a')?.state, 'CompleteCommit')
  assert.deepEqual(hooks.calls, ['markers', 'offsets'])
  assert.deepEqual(
    hooks.commits.map((x) => [x.groupId, x.entries.map((e) => e.offset)]),
    [['g', [4]]],
  )
  assert.equal(c.hasPendingOffsets('g', 't', 0), false)
  assert.equal(c.isInTransaction(pid, 0, 't', 0), false)
  assert.equal(c.txnOffsetCommit('a', 'g', pid, 0, [offset('t', 0, 5)]), KafkaError.INVALID_TXN_STATE)

  // The next transaction's first requests, and a retry of the EndTxn, wait for the fsync.
  const answers: string[] = []
  const retry = c.endTxn('a', pid, 0, true).then((code) => answers.push(`retry ${code}`))
  const opposite = c.endTxn('a', pid, 0, false).then((code) => answers.push(`opposite ${code}`))
  const next = c.addPartitions('a', pid, 0, [['t', 1]]).then((code) => answers.push(`add ${code}`))
  await new Promise((resolve) => setTimeout(resolve, 20))
  assert.deepEqual(answers, [], 'nothing is answered before the markers are durable')
  hooks.unblock()
  await Promise.all([retry, opposite, next])
  assert.deepEqual(answers.sort(), [
    `add ${KafkaError.NONE}`,
    `opposite ${KafkaError.INVALID_TXN_STATE}`,
    `retry ${KafkaError.NONE}`,
  ])
  assert.equal(hooks.markers.length, 1)
  assert.equal(c.describe('a')?.state, 'Ongoing', 'the next transaction began after the fsync')
  assert.equal(c.isInTransaction(pid, 0, 't', 1), true)
})

test('CONCURRENT_TRANSACTIONS when the markers of an EndTxn take longer than completionWaitMs to be durable', async (t) => {
  const { c, hooks } = open(t, { completionWaitMs: 30 })
  const { producerId: pid } = await init(c, 'a')
  assert.equal(await c.addPartitions('a', pid, 0, [['t', 0]]), KafkaError.NONE)
  hooks.next = 'hang'
  assert.equal(await c.endTxn('a', pid, 0, true), KafkaError.NONE)
  assert.equal(await c.addPartitions('a', pid, 0, [['t', 1]]), KafkaError.CONCURRENT_TRANSACTIONS)
  assert.equal(await c.addOffsets('a', pid, 0, 'g'), KafkaError.CONCURRENT_TRANSACTIONS)
  assert.equal((await c.initProducerId('a', TIMEOUT, -1, -1)).errorCode, KafkaError.CONCURRENT_TRANSACTIONS)
  hooks.unblock()
  assert.equal(await c.addPartitions('a', pid, 0, [['t', 1]]), KafkaError.NONE)
})

test('isInTransaction and checkTransactionalWrite follow the open transaction of the current epoch', async (t) => {
  const { c } = open(t)
  const { producerId: pid } = await init(c, 'a')
  assert.equal(c.isInTransaction(pid, 0, 't', 0), false, 'no transaction yet')
  assert.equal(await c.addPartitions('a', pid, 0, [['t', 0]]), KafkaError.NONE)
  assert.equal(c.isInTransaction(pid, 0, 't', 0), true)
  assert.equal(c.isInTransaction(pid, 0, 't', 1), false, 'a partition not added')
  assert.equal(c.isInTransaction(pid, 1, 't', 0), false, 'another epoch')
  assert.equal(c.isInTransaction(pid + 1, 0, 't', 0), false, 'another producer')
  assert.equal(c.checkTransactionalWrite(pid, 0, 't', 0), KafkaError.NONE)
  assert.equal(c.checkTransactionalWrite(pid, 0, 't', 1), KafkaError.INVALID_TXN_STATE)
  assert.equal(c.checkTransactionalWrite(pid + 1, 0, 't', 0), KafkaError.INVALID_TXN_STATE)
  assert.equal(await c.endTxn('a', pid, 0, true), KafkaError.NONE)
  assert.equal(c.isInTransaction(pid, 0, 't', 0), false, 'after the commit')
  assert.equal(c.checkTransactionalWrite(pid, 0, 't', 0), KafkaError.INVALID_TXN_STATE)
})

test('list filters by state, producer id and open duration; describe reports one id', async (t) => {
  const clock = new Clock()
  const { c } = open(t, { now: clock.now })
  await init(c, 'empty')
  const open1 = await init(c, 'open', 5000)
  const done = await init(c, 'done')
  const started = clock.ms
  assert.equal(
    await c.addPartitions('open', open1.producerId, 0, [
      ['t', 2],
      ['t', 0],
      ['u', 1],
    ]),
    KafkaError.NONE,
  )
  assert.equal(await c.addPartitions('done', done.producerId, 0, [['t', 0]]), KafkaError.NONE)
  assert.equal(await c.endTxn('done', done.producerId, 0, true), KafkaError.NONE)

  const ids = (list: Array<{ transactionalId: string }>) => list.map((x) => x.transactionalId).sort()
  assert.deepEqual(ids(c.list()), ['done', 'empty', 'open'])
  assert.deepEqual(c.list(['Ongoing']), [{ transactionalId: 'open', producerId: open1.producerId, state: 'Ongoing' }])
  assert.deepEqual(ids(c.list(['Empty', 'CompleteCommit'])), ['done', 'empty'])
  assert.deepEqual(c.list(['NoSuchState']), [])
  assert.deepEqual(ids(c.list([], [done.producerId, 424242])), ['done'])
  assert.deepEqual(c.list(['Ongoing'], [done.producerId]), [], 'the filters combine')
  // The duration filter keeps transactions open for at least that long.
  clock.ms = started + 600
  assert.deepEqual(ids(c.list([], [], 600)), ['open'])
  assert.deepEqual(ids(c.list([], [], 601)), [])

  assert.deepEqual(c.describe('open'), {
    state: 'Ongoing',
    producerId: open1.producerId,
    producerEpoch: 0,
    timeoutMs: 5000,
    startedAt: started,
    partitions: [
      ['t', [0, 2]],
      ['u', [1]],
    ],
  })
  assert.equal(c.describe('done')?.startedAt, -1, 'no start time outside a transaction')
  assert.equal(c.describe('nope'), undefined)
})

test('a transaction open longer than its timeout is aborted with an epoch bump', async (t) => {
  const clock = new Clock()
  const { c, hooks } = open(t, { now: clock.now, checkIntervalMs: 5 })
  const { producerId: pid } = await init(c, 'a', 1000)
  assert.equal(
    await c.addPartitions('a', pid, 0, [
      ['t', 0],
      ['t', 1],
    ]),
    KafkaError.NONE,
  )
  // Exactly at its timeout it is still open: wait for two checks (each reads the clock once).
  clock.ms += 1000
  const reads = clock.reads
  await eventually(() => clock.reads >= reads + 2)
  assert.equal(c.describe('a')?.state, 'Ongoing')
  assert.equal(hooks.markers.length, 0)

  clock.ms += 1
  await eventually(() => c.describe('a')?.state === 'CompleteAbort')
  assert.deepEqual(hooks.markers, [{ producerId: pid, producerEpoch: 1, commit: false, partitions: ['t-0', 't-1'] }])
  // The producer that opened it is fenced: its commit is refused, not applied.
  assert.equal(await c.endTxn('a', pid, 0, true), KafkaError.PRODUCER_FENCED)
  assert.equal(await c.addPartitions('a', pid, 0, [['t', 0]]), KafkaError.PRODUCER_FENCED)
  assert.equal((await init(c, 'a')).producerEpoch, 2, 'a new instance gets the epoch after the fence')
  assert.equal(hooks.markers.length, 1)
})

test('a failed marker write leaves the transaction prepared; the periodic check completes it', async (t) => {
  const { c, hooks } = open(t, { checkIntervalMs: 5 })
  const { producerId: pid } = await init(c, 'a')
  assert.equal(await c.addPartitions('a', pid, 0, [['t', 0]]), KafkaError.NONE)
  assert.equal(await c.addOffsets('a', pid, 0, 'g'), KafkaError.NONE)
  assert.equal(c.txnOffsetCommit('a', 'g', pid, 0, [offset('t', 0, 8)]), KafkaError.NONE)
  hooks.next = 'fail'
  assert.equal(await c.endTxn('a', pid, 0, true), KafkaError.NONE, 'the decision is durable')
  await eventually(() => c.describe('a')?.state === 'CompleteCommit')
  assert.deepEqual(hooks.markers, [{ producerId: pid, producerEpoch: 0, commit: true, partitions: ['t-0'] }])
  assert.deepEqual(
    hooks.commits.map((x) => [x.groupId, x.entries.map((e) => e.offset)]),
    [['g', [8]]],
  )
})

test('restart: recover() completes PrepareCommit (markers and offsets) and PrepareAbort, and aborts Ongoing', async (t) => {
  const first = open(t)
  const c1 = first.c
  const h1 = first.hooks
  const pids: Record<string, number> = {}
  for (const id of ['commit', 'abort', 'crash', 'open', 'idle', 'done']) pids[id] = (await init(c1, id)).producerId

  // 'done' completed before the restart: nothing to do for it.
  assert.equal(await c1.addPartitions('done', pids.done, 0, [['t', 5]]), KafkaError.NONE)
  assert.equal(await c1.endTxn('done', pids.done, 0, true), KafkaError.NONE)
  // 'commit' and 'abort' are journaled as prepared, but writing their markers failed.
  assert.equal(await c1.addPartitions('commit', pids.commit, 0, [['t', 0]]), KafkaError.NONE)
  assert.equal(await c1.addOffsets('commit', pids.commit, 0, 'g'), KafkaError.NONE)
  assert.equal(c1.txnOffsetCommit('commit', 'g', pids.commit, 0, [offset('t', 0, 42)]), KafkaError.NONE)
  h1.next = 'fail-always'
  assert.equal(await c1.endTxn('commit', pids.commit, 0, true), KafkaError.NONE)
  assert.equal(await c1.addPartitions('abort', pids.abort, 0, [['t', 1]]), KafkaError.NONE)
  assert.equal(await c1.endTxn('abort', pids.abort, 0, false), KafkaError.NONE)
  // 'crash' has its markers appended, but they are not durable yet when the broker goes down.
  h1.next = 'hang'
  assert.equal(await c1.addPartitions('crash', pids.crash, 0, [['t', 2]]), KafkaError.NONE)
  assert.equal(await c1.endTxn('crash', pids.crash, 0, true), KafkaError.NONE)
  // 'open' has an open transaction.
  assert.equal(await c1.addPartitions('open', pids.open, 0, [['u', 0]]), KafkaError.NONE)
  await c1.close()
  assert.deepEqual(
    h1.markers.map((m) => m.producerId),
    [pids.done, pids.crash],
    'only the completed transaction and the one whose markers were not durable yet appended markers',
  )

  const hooks = new FakeHooks()
  const { c: c2 } = open(t, { dir: first.dir, hooks })
  // The journal brought every state back before recovery.
  const states = () => Object.fromEntries(Object.keys(pids).map((id) => [id, c2.describe(id)?.state]))
  assert.deepEqual(states(), {
    commit: 'PrepareCommit',
    abort: 'PrepareAbort',
    crash: 'PrepareCommit',
    open: 'Ongoing',
    idle: 'Empty',
    done: 'CompleteCommit',
  })
  await c2.recover()
  assert.deepEqual(states(), {
    commit: 'CompleteCommit',
    abort: 'CompleteAbort',
    crash: 'CompleteCommit',
    open: 'CompleteAbort',
    idle: 'Empty',
    done: 'CompleteCommit',
  })
  const byPid = (pid: number) => hooks.markers.filter((m) => m.producerId === pid)
  assert.deepEqual(byPid(pids.commit), [
    { producerId: pids.commit, producerEpoch: 0, commit: true, partitions: ['t-0'] },
  ])
  assert.deepEqual(byPid(pids.abort), [
    { producerId: pids.abort, producerEpoch: 0, commit: false, partitions: ['t-1'] },
  ])
  assert.deepEqual(byPid(pids.crash), [{ producerId: pids.crash, producerEpoch: 0, commit: true, partitions: ['t-2'] }])
  // The open transaction is aborted under a new epoch, fencing the producer that opened it.
  assert.deepEqual(byPid(pids.open), [{ producerId: pids.open, producerEpoch: 1, commit: false, partitions: ['u-0'] }])
  assert.equal(hooks.markers.length, 4)
  assert.deepEqual(
    hooks.commits.map((x) => [x.groupId, x.entries.map((e) => `${e.topic}-${e.partition}@${e.offset}`)]),
    [['g', ['t-0@42']]],
  )
  assert.equal(await c2.endTxn('open', pids.open, 0, true), KafkaError.PRODUCER_FENCED)
  await c2.close()

  // The completions were journaled: a third start has nothing left to do.
  const again = new FakeHooks()
  const { c: c3 } = open(t, { dir: first.dir, hooks: again })
  await c3.recover()
  assert.deepEqual(again.markers, [])
  assert.equal(c3.describe('open')?.producerEpoch, 1)
  assert.equal((await init(c3, 'open')).producerEpoch, 2)
})

test('a closed coordinator answers COORDINATOR_NOT_AVAILABLE', async (t) => {
  const { c } = open(t)
  const { producerId: pid } = await init(c, 'a')
  await c.close()
  assert.equal((await c.initProducerId('a', TIMEOUT, -1, -1)).errorCode, KafkaError.COORDINATOR_NOT_AVAILABLE)
  assert.equal(await c.addPartitions('a', pid, 0, [['t', 0]]), KafkaError.COORDINATOR_NOT_AVAILABLE)
  assert.equal(await c.endTxn('a', pid, 0, true), KafkaError.COORDINATOR_NOT_AVAILABLE)
})
