/**
 * The conformance scenario suite: one set of scenarios that every Kafka client runs against the
 * broker over TCP. Each client file (kafkajs.test.ts, platformatic.test.ts, kcat.test.ts)
 * implements {@link ConformanceClient} with that client's own API and calls
 * {@link conformanceSuite}.
 *
 * Scenarios: round trips of 100,000 records over 3 partitions per compression codec; a
 * 3-member group where one member leaves mid-stream and a new member resumes from the committed
 * offsets; idempotent retries without duplicates; a fetch from the middle of a batch; long-poll
 * wake-up; ListOffsets by timestamp; topic auto-creation; a broker killed and restarted mid-stream;
 * committed and aborted transactions read by a read_committed consumer.
 */
import assert from 'node:assert/strict'
import { spawn, type ChildProcess } from 'node:child_process'
import { subscribe, unsubscribe } from 'node:diagnostics_channel'
import path from 'node:path'
import { describe, test, type TestContext } from 'node:test'
import { FETCH_CHANNEL, type FetchEvent } from '../../../src/broker/apis/01-fetch.ts'
import type { Broker } from '../../../src/broker/index.ts'
import { decodeBatches } from '../../../src/protocol/batch-decoder.ts'
import {
  Compression,
  LOG_OVERHEAD,
  Offsets,
  readBatchHeader,
  readControlType,
  type CompressionName,
} from '../../../src/protocol/record-batch.ts'
import { eventually, startTestBroker, tempDir } from '../../helpers/broker.ts'
import { createTopic, fetchCommittedOffsets, listEndOffsets, produceRaw } from '../../helpers/admin.ts'

export interface TestRecord {
  key: string
  value: string
  /** Target partition; when absent the client's partitioner decides. */
  partition?: number
}

export interface ConsumedRecord {
  partition: number
  offset: number
  key: string | null
  value: string | null
  timestamp: number
}

export interface ProduceOptions {
  brokers: string
  topic: string
  records: TestRecord[]
  compression?: CompressionName
  idempotent?: boolean
  /** -1 (all, the default) or 1. */
  acks?: -1 | 1
}

export interface ConsumeOptions {
  brokers: string
  topic: string
  /** Where to start in each partition to read; the client reads only these partitions. */
  start: Array<{ partition: number; offset: number }>
  /** Resolve once this many records were received. */
  count: number
  /** Fetch long-poll wait (the client's max wait), when the scenario needs one. */
  maxWaitMs?: number
}

export interface GroupMemberOptions {
  brokers: string
  groupId: string
  topic: string
  /** Called for each record, in partition order. */
  onRecord: (r: ConsumedRecord) => void
}

export interface GroupMember {
  /** Stops consuming, commits the offsets of every record processed, and leaves the group. */
  leave(): Promise<void>
}

export interface ConformanceClient {
  name: string
  /** Codecs the client can produce with. */
  compressions: readonly CompressionName[]
  /** Produces the records; resolves once every one is acknowledged, rejects otherwise. */
  produce(o: ProduceOptions): Promise<void>
  /** Reads partitions from the given offsets (no group) until `count` records arrived. */
  consume(o: ConsumeOptions): Promise<ConsumedRecord[]>
  /** Starts a member of a consumer group subscribed to the topic, consuming from the earliest offset. */
  joinGroup(o: GroupMemberOptions): Promise<GroupMember>
  /** ListOffsets by timestamp through the client: the first offset with a timestamp >= ts. */
  offsetForTimestamp(o: { brokers: string; topic: string; partition: number; timestamp: number }): Promise<number>
  /** Produces idempotently to a topic that does not exist, relying on the client to get it created. */
  produceToNewTopic(o: ProduceOptions): Promise<void>
  /**
   * Produces the records in one transaction of a transactional producer with this transactional
   * id (a new producer instance each call), then commits it or aborts it; resolves once the
   * transaction has ended that way.
   */
  produceInTransaction(o: ProduceOptions & { transactionalId: string; commit: boolean }): Promise<void>
}

const ROUND_TRIP_RECORDS = 100_000

function makeRecords(n: number, prefix = 'r'): TestRecord[] {
  return Array.from({ length: n }, (_, i) => ({
    key: `${prefix}-key-${i}`,
    value: `${prefix}-value-${i}-${'x'.repeat(i % 50)}`,
  }))
}

/**
 * Asserts the records are exactly `expected` (as key/value pairs, any order) and, unless told
 * otherwise, that offsets are dense per partition (transaction markers and aborted records leave gaps).
 */
function assertSameRecords(got: ConsumedRecord[], expected: TestRecord[], o: { denseOffsets?: boolean } = {}): void {
  assert.equal(got.length, expected.length, 'record count')
  const want = new Map(expected.map((r) => [r.key, r.value]))
  for (const r of got) {
    assert.ok(r.key !== null && want.has(r.key), `unexpected key ${r.key}`)
    assert.equal(r.value, want.get(r.key as string), `value of ${r.key}`)
    want.delete(r.key as string)
  }
  assert.equal(want.size, 0, 'every record was received once')
  if (o.denseOffsets === false) return
  const byPartition = new Map<number, number[]>()
  for (const r of got) {
    const list = byPartition.get(r.partition)
    if (list === undefined) byPartition.set(r.partition, [r.offset])
    else list.push(r.offset)
  }
  for (const [p, offsets] of byPartition) {
    offsets.sort((a, b) => a - b)
    offsets.forEach((o, i) => assert.equal(o, i, `partition ${p} offsets are dense from 0`))
  }
}

/** The codecs used by the batches stored in a partition. */
function storedCodecs(broker: Broker, topic: string, partition: number): Set<number> {
  const log = broker.context.topics.getPartition(topic, partition)?.log
  assert.ok(log, `partition ${topic}-${partition} exists`)
  const data = log.read(log.logStartOffset, 64 * 1024 * 1024)
  return new Set(decodeBatches(data).map((b) => b.header.attributes & 7))
}

/** The transaction markers stored in a partition, in log order. */
function storedMarkers(broker: Broker, topic: string, partition: number): Array<{ offset: number; type: string }> {
  const log = broker.context.topics.getPartition(topic, partition)?.log
  assert.ok(log, `partition ${topic}-${partition} exists`)
  const data = log.read(log.logStartOffset, 64 * 1024 * 1024)
  const markers: Array<{ offset: number; type: string }> = []
  for (let at = 0; data.length - at >= LOG_OVERHEAD;) {
    const batch = data.subarray(at, at + LOG_OVERHEAD + data.readInt32BE(at + Offsets.batchLength))
    const type = readControlType(batch)
    if (type !== null) markers.push({ offset: readBatchHeader(batch).baseOffset, type })
    at += batch.length
  }
  return markers
}

export function conformanceSuite(client: ConformanceClient): void {
  describe(`conformance: ${client.name}`, () => {
    for (const codec of client.compressions) {
      test(`round trip of ${ROUND_TRIP_RECORDS} records over 3 partitions, ${codec}`, async (t) => {
        const broker = await startTestBroker(t)
        const topic = `round-trip-${codec}`
        await createTopic(broker, topic, 3)
        const records = makeRecords(ROUND_TRIP_RECORDS)
        await client.produce({ brokers: broker.address, topic, records, compression: codec })
        const got = await client.consume({
          brokers: broker.address,
          topic,
          start: [0, 1, 2].map((partition) => ({ partition, offset: 0 })),
          count: records.length,
        })
        assertSameRecords(got, records)
        const partitions = new Set(got.map((r) => r.partition))
        assert.deepEqual([...partitions].sort(), [0, 1, 2], 'records spread over the 3 partitions')
        for (const p of partitions) {
          assert.deepEqual(
            [...storedCodecs(broker, topic, p)],
            [Compression[codec]],
            `partition ${p} stores ${codec} batches`,
          )
        }
      })
    }

    test('a 3-member group where one member leaves mid-stream processes every record; a new member resumes from the commits', async (t) => {
      const broker = await startTestBroker(t)
      const topic = 'group-topic'
      const groupId = `group-${client.name}`
      await createTopic(broker, topic, 6)
      const first = makeRecords(3000, 'first')
      await client.produce({ brokers: broker.address, topic, records: first })

      const seen = new Map<string, number>()
      const perMember = [0, 0, 0]
      const members: GroupMember[] = []
      for (let m = 0; m < 3; m++) {
        members.push(
          await client.joinGroup({
            brokers: broker.address,
            groupId,
            topic,
            onRecord: (r) => {
              perMember[m]++
              seen.set(r.key as string, (seen.get(r.key as string) ?? 0) + 1)
            },
          }),
        )
      }
      // Let the members share the work, then one leaves while records remain.
      await eventually(() => seen.size >= 300, 60_000, 'the group to start consuming')
      await members[1].leave()
      const more = makeRecords(1500, 'mid')
      await client.produce({ brokers: broker.address, topic, records: more })
      await eventually(() => seen.size === first.length + more.length, 120_000, 'every record to be processed')
      for (const r of [...first, ...more]) assert.ok(seen.has(r.key), `record ${r.key} processed`)
      await members[0].leave()
      await members[2].leave()

      const committed = await fetchCommittedOffsets(broker, groupId, topic, 6)
      const total = [...committed.values()].reduce((a, b) => a + b, 0)
      assert.equal(total, first.length + more.length, 'committed offsets cover every record')

      // A new member starts from the committed offsets: it sees the new records only.
      const later = makeRecords(600, 'later')
      await client.produce({ brokers: broker.address, topic, records: later })
      const resumed: ConsumedRecord[] = []
      const member = await client.joinGroup({
        brokers: broker.address,
        groupId,
        topic,
        onRecord: (r) => resumed.push(r),
      })
      await eventually(() => resumed.length >= later.length, 60_000, 'the new member to consume')
      await member.leave()
      assert.equal(resumed.length, later.length, 'nothing before the committed offsets is read again')
      for (const r of resumed) {
        assert.ok(r.offset >= (committed.get(r.partition) ?? 0), 'starts at the committed offset')
        assert.ok(r.key?.startsWith('later-'))
      }
    })

    test('idempotent producer retries after lost responses create no duplicates', async (t) => {
      let produceResponses = 0
      let closed = 0
      const broker = await startTestBroker(t, {
        hooks: {
          // Drop the connection instead of answering every third produce: the data was
          // appended, the client does not know, and it retries the same batch.
          beforeResponse: ({ apiKey }) => {
            if (apiKey !== 0) return
            if (++produceResponses % 3 === 1) {
              closed++
              return 'close'
            }
          },
        },
      })
      const topic = 'idempotent'
      await createTopic(broker, topic, 1)
      const records = makeRecords(2000, 'idem')
      for (let i = 0; i < records.length; i += 200) {
        await client.produce({ brokers: broker.address, topic, records: records.slice(i, i + 200), idempotent: true })
      }
      assert.ok(closed > 0, 'the broker really dropped produce responses')
      const got = await client.consume({
        brokers: broker.address,
        topic,
        start: [{ partition: 0, offset: 0 }],
        count: records.length,
      })
      assertSameRecords(got, records)
      const log = broker.context.topics.getPartition(topic, 0)?.log
      assert.equal(log?.logEndOffset, records.length, 'no duplicate was appended')
    })

    test('a fetch from the middle of a batch starts at the requested offset', async (t) => {
      const broker = await startTestBroker(t)
      const topic = 'mid-batch'
      await createTopic(broker, topic, 1)
      // One batch of 10 records at offsets 0..9, written by the reference producer.
      await produceRaw(broker, topic, 0, [Array.from({ length: 10 }, (_, i) => ({ key: `k${i}`, value: `v${i}` }))])
      const got = await client.consume({
        brokers: broker.address,
        topic,
        start: [{ partition: 0, offset: 5 }],
        count: 5,
      })
      assert.deepEqual(
        got.map((r) => [r.offset, r.key]),
        [5, 6, 7, 8, 9].map((o) => [o, `k${o}`]),
      )
    })

    test('a parked long-poll fetch is woken by a produce', async (t) => {
      const broker = await startTestBroker(t)
      const topic = 'long-poll'
      await createTopic(broker, topic, 1)
      const events: FetchEvent[] = []
      const onEvent = (e: unknown): void => {
        if ((e as FetchEvent).topics.includes(topic)) events.push(e as FetchEvent)
      }
      subscribe(FETCH_CHANNEL, onEvent)
      t.after(() => unsubscribe(FETCH_CHANNEL, onEvent))
      const consuming = client.consume({
        brokers: broker.address,
        topic,
        start: [{ partition: 0, offset: 0 }],
        count: 1,
        maxWaitMs: 20_000,
      })
      await eventually(() => events.some((e) => e.type === 'parked'), 60_000, 'a fetch to park')
      await produceRaw(broker, topic, 0, [[{ key: 'wake', value: 'up' }]])
      const got = await consuming
      assert.equal(got[0].key, 'wake')
      assert.ok(
        events.some((e) => e.type === 'woken' && e.reason === 'append'),
        'the parked fetch was answered because of the append, not its timeout',
      )
    })

    test('ListOffsets by timestamp finds the first record at or after it', async (t) => {
      const broker = await startTestBroker(t)
      const topic = 'by-time'
      await createTopic(broker, topic, 1)
      const base = 1_700_000_000_000
      // Three batches; timestamps 1 s apart, the middle batch with out-of-order timestamps.
      await produceRaw(broker, topic, 0, [
        [0, 1, 2].map((i) => ({ key: `a${i}`, value: 'x', timestamp: base + i * 1000 })),
        [5, 3, 4].map((i) => ({ key: `b${i}`, value: 'x', timestamp: base + i * 1000 })),
        [6, 7].map((i) => ({ key: `c${i}`, value: 'x', timestamp: base + i * 1000 })),
      ])
      const at = (timestamp: number) =>
        client.offsetForTimestamp({ brokers: broker.address, topic, partition: 0, timestamp })
      assert.equal(await at(base - 5000), 0)
      assert.equal(await at(base + 1000), 1)
      assert.equal(await at(base + 1500), 2)
      assert.equal(await at(base + 3000), 3, 'offset 3 holds the first timestamp >= base+3000 (base+5000)')
      assert.equal(await at(base + 5500), 6)
      assert.equal(await at(base + 7000), 7)
    })

    test('producing to an unknown topic creates it', async (t) => {
      const broker = await startTestBroker(t)
      const topic = `auto-${client.name.replace(/[^a-z0-9]/gi, '')}`
      assert.equal(broker.context.topics.get(topic), undefined)
      const records = makeRecords(50, 'auto')
      await client.produceToNewTopic({ brokers: broker.address, topic, records })
      assert.ok(broker.context.topics.get(topic), 'the topic exists')
      const got = await client.consume({
        brokers: broker.address,
        topic,
        start: [{ partition: 0, offset: 0 }],
        count: records.length,
      })
      assertSameRecords(got, records)
    })

    test('a broker killed and restarted mid-stream loses no acknowledged record and keeps committed offsets', async (t) => {
      const dataDir = tempDir(t)
      let proc = await spawnBroker(t, dataDir, 0)
      const brokers = proc.address
      const port = Number(brokers.split(':')[1])
      const topic = 'restart'
      const groupId = `restart-${client.name}`

      await createTopic(proc, topic, 1)
      // Committed offsets before the crash.
      const early = makeRecords(300, 'early')
      await client.produce({ brokers, topic: topic, records: early, idempotent: true })
      const processed: ConsumedRecord[] = []
      const member = await client.joinGroup({ brokers, groupId, topic, onRecord: (r) => processed.push(r) })
      await eventually(() => processed.length >= early.length, 60_000, 'the group to consume the early records')
      await member.leave()
      const committedBefore = await fetchCommittedOffsets(proc, groupId, topic, 1)
      assert.equal(committedBefore.get(0), early.length)

      // Produce in chunks while the broker is killed (SIGKILL: no clean shutdown) and restarted.
      const acked: TestRecord[] = [...early]
      let chunk = 0
      let restarted = false
      const producing = (async () => {
        while (acked.length < early.length + 3000 || !restarted) {
          const records = makeRecords(250, `chunk${chunk++}`)
          try {
            await client.produce({ brokers, topic, records })
            acked.push(...records)
          } catch {
            // Not acknowledged (the broker was down): not counted, and it may or may not be stored.
          }
        }
      })()
      await eventually(() => acked.length >= early.length + 1000, 60_000, 'some acknowledged chunks')
      proc.kill()
      await proc.exited
      proc = await spawnBroker(t, dataDir, port)
      restarted = true
      await producing

      const committedAfter = await fetchCommittedOffsets(proc, groupId, topic, 1)
      assert.deepEqual([...committedAfter], [...committedBefore], 'committed offsets survive the crash')

      const end = (await eventually(async () => (await listEndOffsets(proc, topic))[0], 10_000)) as number
      const got = await client.consume({ brokers, topic, start: [{ partition: 0, offset: 0 }], count: end })
      const stored = new Set(got.map((r) => `${r.key}=${r.value}`))
      for (const r of acked) assert.ok(stored.has(`${r.key}=${r.value}`), `acknowledged record ${r.key} survived`)
    })

    test('transactions: read_committed consumers see committed records and never aborted ones', async (t) => {
      const broker = await startTestBroker(t)
      const topic = 'transactions'
      await createTopic(broker, topic, 2)
      const transactionalId = `txn-${client.name}`
      // No target partitions: the client's partitioner spreads each transaction over both partitions.
      const transactions = [
        { records: makeRecords(300, 'committed1'), commit: true },
        { records: makeRecords(200, 'aborted'), commit: false },
        { records: makeRecords(300, 'committed2'), commit: true },
      ]
      for (const { records, commit } of transactions) {
        await client.produceInTransaction({ brokers: broker.address, topic, records, transactionalId, commit })
      }
      const committed = [...transactions[0].records, ...transactions[2].records]
      const aborted = new Set(transactions[1].records.map((r) => r.key))

      // The broker side: each partition took part in every transaction (one marker per transaction,
      // in order, the last one ending the log), none is left open, and the abort is remembered.
      const ends = await listEndOffsets(broker, topic)
      for (const p of [0, 1]) {
        const partition = broker.context.topics.getPartition(topic, p)
        assert.ok(partition)
        const markers = storedMarkers(broker, topic, p)
        assert.deepEqual(
          markers.map((m) => m.type),
          ['commit', 'abort', 'commit'],
          `partition ${p} markers`,
        )
        assert.equal(markers[2].offset, ends[p] - 1, `partition ${p} ends with the last COMMIT marker`)
        assert.equal(partition.lastStableOffset, ends[p], `partition ${p} has no open transaction`)
        assert.deepEqual(
          partition.producers.abortedBetween(0, ends[p]).map((a) => a.lastOffset),
          [markers[1].offset],
          `partition ${p} knows the aborted transaction`,
        )
      }

      const got = await client.consume({
        brokers: broker.address,
        topic,
        start: [0, 1].map((partition) => ({ partition, offset: 0 })),
        count: committed.length,
      })
      for (const r of got) assert.ok(!aborted.has(r.key as string), `aborted record ${r.key} was delivered`)
      assertSameRecords(got, committed, { denseOffsets: false })
      // The reader got to the end of each partition: its last record is the one before the last marker.
      for (const p of [0, 1]) {
        const last = Math.max(...got.filter((r) => r.partition === p).map((r) => r.offset))
        assert.equal(last, ends[p] - 2, `partition ${p} was read to its end`)
      }
    })
  })
}

// ------------------------------------------------------------------------------------------------
// A broker in a child process (`tickflow broker`), so that it can be killed without a clean shutdown.

interface BrokerProcess {
  address: string
  exited: Promise<void>
  kill(): void
}

const BIN = path.join(import.meta.dirname, '../../../bin/tickflow.js')

async function spawnBroker(t: TestContext, dataDir: string, port: number): Promise<BrokerProcess> {
  const child: ChildProcess = spawn(
    process.execPath,
    [BIN, 'broker', '--listen', `127.0.0.1:${port}`, '--data-dir', dataDir, '--log-level', 'warn'],
    { stdio: ['ignore', 'pipe', 'inherit'] },
  )
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()))
  t.after(async () => {
    child.kill('SIGKILL')
    await exited
  })
  const address = await new Promise<string>((resolve, reject) => {
    let out = ''
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString()
      const m = /listening on (\S+)/.exec(out)
      if (m) resolve(m[1])
    })
    child.once('exit', (code) => reject(new Error(`broker exited with ${code} before listening: ${out}`)))
  })
  return { address, exited, kill: () => child.kill('SIGKILL') }
}
