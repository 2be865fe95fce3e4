import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { test, type TestContext } from 'node:test'
import type { Emitter, InputRecord, PartitionProcessor, ProcessorDefinition } from '../../src/stream/processor.ts'
import { runProcessor, type RuntimeStats } from '../../src/stream/runtime.ts'
import type { RestoreReport } from '../../src/stream/task.ts'
import { openAdmin } from '../../src/bus/admin.ts'
import { createTopic, fetchCommittedOffsets, listEndOffsets, produceRaw } from '../helpers/admin.ts'
import { startBroker } from '../../src/broker/index.ts'
import { eventually, startTestBroker } from '../helpers/broker.ts'
import { readCommitted } from '../helpers/committed.ts'

/**
 * A deterministic test processor: input values `key:n`; per key a running count and sum, one
 * output per input. A lost or rebuilt state shows as counts restarting; a duplicate as a repeated
 * (key, count).
 */
function counter(): ProcessorDefinition {
  return {
    name: 'counter',
    input: 'in',
    outputs: ['out'],
    create(_partition, snapshot): PartitionProcessor {
      const state = new Map<string, { count: number; sum: number }>(
        snapshot === undefined ? [] : (JSON.parse(snapshot.toString()) as [string, { count: number; sum: number }][]),
      )
      return {
        process(record: InputRecord, out: Emitter) {
          const m = /^(\w+):(\d+)$/.exec(record.value?.toString() ?? '')
          if (m === null) {
            out.deadLetter(`not key:n: ${record.value?.toString()}`, 'invalid')
            return
          }
          const s = state.get(m[1]) ?? { count: 0, sum: 0 }
          s.count++
          s.sum += Number(m[2])
          state.set(m[1], s)
          out.emit('out', m[1], JSON.stringify({ key: m[1], count: s.count, sum: s.sum, offset: record.offset }))
        },
        snapshot: () => Buffer.from(JSON.stringify([...state])),
      }
    },
  }
}

async function produceValues(address: string, partition: number, values: string[]): Promise<void> {
  const batches: { value: string }[][] = []
  for (let i = 0; i < values.length; i += 100) batches.push(values.slice(i, i + 100).map((value) => ({ value })))
  await produceRaw({ address }, 'in', partition, batches)
}

interface Run {
  stats: RuntimeStats
  restores: RestoreReport[]
  stop(): Promise<void>
}

function start(
  address: string,
  extra: {
    sessionTimeoutMs?: number
    checkpointIntervalMs?: number
    metadataCheckMs?: number
    definition?: ProcessorDefinition
    groupId?: string
  } = {},
): Run {
  const abort = new AbortController()
  const stats: RuntimeStats = { processed: 0, assigned: [], generation: -1, restores: 0 }
  const restores: RestoreReport[] = []
  const done = runProcessor(
    extra.definition ?? counter(),
    {
      bus: { bootstrapBrokers: [address], clientId: 'runtime-test' },
      groupId: extra.groupId ?? 'counter-group',
      fetchMaxWaitMs: 50,
      sessionTimeoutMs: extra.sessionTimeoutMs ?? 6000,
      checkpointIntervalMs: extra.checkpointIntervalMs ?? 200,
      metadataCheckMs: extra.metadataCheckMs,
      signal: abort.signal,
      onRestore: (r) => restores.push(r),
      log: process.env.RUNTIME_TEST_LOG ? (l) => console.error(l) : undefined,
    },
    stats,
  )
  // A runtime that fails ends the test at once instead of leaving it waiting.
  let failure: unknown
  done.catch((err: unknown) => {
    failure = err
    stats.processed = Number.NaN
  })
  return {
    stats,
    restores,
    stop: async () => {
      abort.abort()
      await done
      if (failure !== undefined) throw failure
    },
  }
}

/** Every committed output, by partition, parsed. */
async function outputs(address: string): Promise<{ key: string; count: number; sum: number; offset: number }[]> {
  return (await readCommitted(address, 'out')).map(
    (r) => JSON.parse(r.value!) as { key: string; count: number; sum: number; offset: number },
  )
}

/** Each key's outputs have counts 1..n in order and running sums of its inputs: nothing lost, nothing twice. */
function assertExactlyOnce(out: { key: string; count: number; sum: number }[], inputs: Map<string, number[]>): void {
  const byKey = new Map<string, { count: number; sum: number }[]>()
  for (const o of out) byKey.set(o.key, [...(byKey.get(o.key) ?? []), o])
  assert.deepEqual([...byKey.keys()].sort(), [...inputs.keys()].sort())
  for (const [key, values] of inputs) {
    const got = byKey.get(key)!
    let sum = 0
    assert.deepEqual(
      got.map((o) => [o.count, o.sum]),
      values.map((v, i) => [i + 1, (sum += v)]),
      `outputs of ${key}`,
    )
  }
}

function makeInputs(from: number, n: number, keys: string[]): { values: string[]; byKey: Map<string, number[]> } {
  const values: string[] = []
  const byKey = new Map<string, number[]>()
  for (let i = from; i < from + n; i++) {
    const key = keys[i % keys.length]
    values.push(`${key}:${i}`)
    byKey.set(key, [...(byKey.get(key) ?? []), i])
  }
  return { values, byKey }
}

async function setup(t: TestContext): Promise<string> {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'in', 2)
  return broker.address
}

test('every input gives exactly one committed output; a restart restores the state and goes on', async (t) => {
  const address = await setup(t)
  // Keys a*, b* on partition 0; c*, d* on partition 1 (produced explicitly).
  const p0 = makeInputs(0, 600, ['a', 'b'])
  const p1 = makeInputs(0, 400, ['c', 'd'])
  await produceValues(address, 0, p0.values)
  await produceValues(address, 1, p1.values)
  const first = start(address)
  await eventually(() => first.stats.processed === 1000, 60_000, 'the first run to process 1000 records')
  await first.stop()
  assert.deepEqual([...(await fetchCommittedOffsets({ address }, 'counter-group', 'in', 2)).values()], [600, 400])

  const more0 = makeInputs(600, 300, ['a', 'b'])
  await produceValues(address, 0, more0.values)
  const second = start(address)
  await eventually(() => second.stats.processed === 300, 60_000, 'the second run to process the new records')
  await second.stop()
  // Restored from snapshots (not started empty), replaying at most what followed the last snapshot.
  assert.equal(second.restores.length, 2)
  for (const r of second.restores) {
    assert.ok(r.snapshotBytes > 0, `partition ${r.partition} restored from a snapshot`)
    assert.ok(r.replayed <= (r.partition === 0 ? 600 : 400))
  }
  const expected = new Map([...p0.byKey, ...p1.byKey])
  for (const [k, v] of more0.byKey) expected.set(k, [...expected.get(k)!, ...v])
  assertExactlyOnce(await outputs(address), expected)
})

test('records that fail to parse go to the dead-letter topic with their reason; the rest is processed', async (t) => {
  const address = await setup(t)
  await produceValues(address, 0, ['a:1', 'garbage', 'a:2', '', 'a:3'])
  const run = start(address)
  await eventually(() => run.stats.processed === 5, 60_000, 'all five records')
  await run.stop()
  assertExactlyOnce(await outputs(address), new Map([['a', [1, 2, 3]]]))
  const dead = await readCommitted(address, 'dlq.in')
  assert.deepEqual(
    dead.map((d) => [d.value, d.headers['tickflow.dlq.reason'], d.headers['tickflow.dlq.offset']]),
    [
      ['garbage', 'not key:n: garbage', '1'],
      ['', 'not key:n: ', '3'],
    ],
  )
})

test('two members share the partitions; when one leaves the other takes over its state', async (t) => {
  const address = await setup(t)
  const p0 = makeInputs(0, 300, ['a', 'b'])
  const p1 = makeInputs(0, 300, ['c', 'd'])
  await produceValues(address, 0, p0.values)
  await produceValues(address, 1, p1.values)
  const one = start(address)
  await eventually(() => one.stats.processed === 600, 60_000, 'member one to process the first records')
  const two = start(address)
  await eventually(
    () => one.stats.assigned.length === 1 && two.stats.assigned.length === 1,
    30_000,
    'the two members to own one partition each',
  )
  const more0 = makeInputs(300, 200, ['a', 'b'])
  const more1 = makeInputs(300, 200, ['c', 'd'])
  await produceValues(address, 0, more0.values)
  await produceValues(address, 1, more1.values)
  await eventually(() => one.stats.processed + two.stats.processed === 1000, 60_000, 'the new records')
  await two.stop()
  await eventually(() => one.stats.assigned.length === 2, 30_000, 'member one to own both partitions again')
  const last0 = makeInputs(500, 100, ['a', 'b'])
  const last1 = makeInputs(500, 100, ['c', 'd'])
  await produceValues(address, 0, last0.values)
  await produceValues(address, 1, last1.values)
  await eventually(() => one.stats.processed + two.stats.processed === 1200, 60_000, 'the last records')
  await one.stop()
  const expected = new Map<string, number[]>()
  for (const part of [p0, p1, more0, more1, last0, last1]) {
    for (const [k, v] of part.byKey) expected.set(k, [...(expected.get(k) ?? []), ...v])
  }
  assertExactlyOnce(await outputs(address), expected)
})

test('a state larger than a Kafka message is checkpointed in chunks and restored', async (t) => {
  const address = await setup(t)
  // Each key carries 100 KB of state: 40 keys on a partition make a 4 MB snapshot.
  const big = (): ProcessorDefinition => ({
    name: 'big',
    input: 'in',
    outputs: ['out'],
    create(_partition, snapshot) {
      const state = new Map<string, number>(
        snapshot === undefined ? [] : (JSON.parse(snapshot.toString()) as { keys: [string, number][] }).keys,
      )
      return {
        process(record, out) {
          const key = record.value!.toString().split(':')[0]
          state.set(key, (state.get(key) ?? 0) + 1)
          out.emit('out', key, `${key}:${state.get(key)}`)
        },
        snapshot: () => Buffer.from(JSON.stringify({ keys: [...state], padding: 'x'.repeat(state.size * 100_000) })),
      }
    },
  })
  const keys = Array.from({ length: 40 }, (_, i) => `k${i}`)
  await produceValues(address, 0, makeInputs(0, 400, keys).values)
  const run = (): Run => start(address, { definition: big(), groupId: 'big-group', checkpointIntervalMs: 100 })
  const first = run()
  await eventually(() => first.stats.processed === 400, 60_000, 'the first records')
  await first.stop()
  await produceValues(address, 0, makeInputs(400, 40, keys).values)
  const second = run()
  await eventually(() => second.stats.processed === 40, 60_000, 'the next records')
  await second.stop()
  const p0 = second.restores.find((r) => r.partition === 0)!
  assert.ok(p0.snapshotBytes > 4_000_000, `a ${p0.snapshotBytes}-byte snapshot`)
  // Each key's count goes on from 10: the state came back (outputs are spread over partitions by key).
  const out = (await readCommitted(address, 'out')).map((r) => r.value!)
  assert.equal(out.length, 440)
  assert.deepEqual(out.filter((v) => v.endsWith(':11')).sort(), keys.map((k) => `${k}:11`).sort())
  assert.equal(out.filter((v) => v.endsWith(':1')).length, 40, 'no key started over')
})

test('the processor rides out a broker restart: it reconnects, reopens its tasks and loses nothing', async (t) => {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickflow-runtime-'))
  let broker = await startBroker({ host: '127.0.0.1', port: 0, dataDir })
  // One hook: the broker closes before its directory goes.
  t.after(async () => {
    await broker.close()
    fs.rmSync(dataDir, { recursive: true, force: true })
  })
  const address = broker.address
  const port = Number(address.split(':')[1])
  await createTopic(broker, 'in', 2)
  const p0 = makeInputs(0, 300, ['a', 'b'])
  await produceValues(address, 0, p0.values)
  const run = start(address)
  await eventually(() => run.stats.processed === 300, 60_000, 'the first records')
  await broker.close()
  await new Promise((r) => setTimeout(r, 500))
  broker = await startBroker({ host: '127.0.0.1', port, dataDir })
  const p1 = makeInputs(300, 200, ['a', 'b'])
  await produceValues(address, 0, p1.values)
  await eventually(
    async () => (await fetchCommittedOffsets({ address }, 'counter-group', 'in', 2)).get(0) === 500,
    60_000,
    'the records after the restart',
  )
  await run.stop()
  const expected = new Map(p0.byKey)
  for (const [k, v] of p1.byKey) expected.set(k, [...expected.get(k)!, ...v])
  assertExactlyOnce(await outputs(address), expected)
})

test('partitions added to the input are picked up by a running processor, with their own checkpoints', async (t) => {
  const address = await setup(t)
  await produceValues(address, 0, makeInputs(0, 50, ['a']).values)
  const run = start(address, { metadataCheckMs: 300 })
  await eventually(() => run.stats.processed === 50, 60_000, 'the first records')
  const admin = openAdmin({ bootstrapBrokers: [address], clientId: 'runtime-test' })
  try {
    await admin.createPartitions({ topics: [{ name: 'in', count: 3 }] })
  } finally {
    await admin.close()
  }
  await produceRaw({ address }, 'in', 2, [[{ value: 'z:1' }, { value: 'z:2' }]])
  await eventually(
    async () => (await fetchCommittedOffsets({ address }, 'counter-group', 'in', 3)).get(2) === 2,
    60_000,
    'partition 2 committed',
  )
  assert.deepEqual(run.stats.assigned, [0, 1, 2])
  await run.stop()
  assert.equal((await listEndOffsets({ address }, 'counter-group.checkpoints')).length, 3)
  const z = (await outputs(address)).filter((o) => o.key === 'z')
  assert.deepEqual(
    z.map((o) => [o.count, o.sum]),
    [
      [1, 1],
      [2, 3],
    ],
  )
})

test('records go on being fetched and processed while a commit is in flight, and are committed next', async (t) => {
  const broker = await startTestBroker(t)
  await createTopic(broker, 'in', 1)
  const address = broker.address
  const first = makeInputs(0, 10, ['a'])
  await produceValues(address, 0, first.values)
  const run = start(address)
  await eventually(async () => (await outputs(address)).length === 10, 60_000, 'the first outputs committed')

  // Hold the next EndTxn: that transaction stays in flight until released.
  const coordinator = broker.context.transactions
  const endTxn = coordinator.endTxn.bind(coordinator)
  let release: () => void = () => undefined
  const held = new Promise<void>((resolve) => (release = resolve))
  let holding = 0
  coordinator.endTxn = async (...args) => {
    holding++
    await held
    return endTxn(...args)
  }
  t.after(() => release())
  const second = makeInputs(10, 10, ['a'])
  await produceValues(address, 0, second.values)
  await eventually(() => holding === 1, 60_000, 'a commit of the second records to be in flight')
  const third = makeInputs(20, 10, ['a'])
  await produceValues(address, 0, third.values)
  await eventually(() => run.stats.processed === 30, 60_000, 'the third records processed while the commit waits')
  assert.equal(holding, 1, 'no second transaction while the first is in flight')
  assert.equal((await outputs(address)).length, 10, 'nothing more is committed yet')

  release()
  await eventually(async () => (await outputs(address)).length === 30, 60_000, 'everything committed')
  await run.stop()
  assertExactlyOnce(
    await outputs(address),
    new Map([['a', [...first.byKey.get('a')!, ...second.byKey.get('a')!, ...third.byKey.get('a')!]]]),
  )
})
