/**
 * A transactional producer on tickflow's own codec, for consume-transform-produce: one
 * transaction writes record batches to any partitions and commits a consumer group's offsets,
 * all or nothing (Kafka's exactly-once). The stream runtime gives each input partition its own
 * transactional id, so a new owner of the partition fences the old one (InitProducerId bumps the
 * epoch and aborts whatever the old owner left open).
 *
 * One transaction costs three round trips: AddPartitionsToTxn ∥ AddOffsetsToTxn, then Produce ∥
 * TxnOffsetCommit, then EndTxn.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import type { Records } from '../protocol/codec-support.ts'
import {
  readAddOffsetsToTxnResponse,
  readAddPartitionsToTxnResponse,
  readEndTxnResponse,
  readInitProducerIdResponse,
  readProduceResponse,
  readTxnOffsetCommitResponse,
  writeAddOffsetsToTxnRequest,
  writeAddPartitionsToTxnRequest,
  writeEndTxnRequest,
  writeInitProducerIdRequest,
  writeProduceRequest,
  writeTxnOffsetCommitRequest,
} from '../protocol/messages/index.ts'
import { BatchBuilder } from '../protocol/batch-builder.ts'
import type { KafkaCluster } from './cluster.ts'
import { COORDINATOR_ERRORS, CoordinatorType, KafkaErrors, sleep } from './cluster.ts'
import type { FetchConnection } from './fetch-connection.ts'

const PRODUCE = 0
const PRODUCE_VERSION = 9
const INIT_PRODUCER_ID = 22
const INIT_PRODUCER_ID_VERSION = 4
const ADD_PARTITIONS_TO_TXN = 24
const ADD_PARTITIONS_TO_TXN_VERSION = 3
const ADD_OFFSETS_TO_TXN = 25
const ADD_OFFSETS_TO_TXN_VERSION = 3
const END_TXN = 26
const END_TXN_VERSION = 3
const TXN_OFFSET_COMMIT = 28
const TXN_OFFSET_COMMIT_VERSION = 3
/** Kafka's default max.message.bytes is 1 MiB + 12: batches are cut below it. */
export const MAX_BATCH_BYTES = 1000 * 1024

const FENCING_ERRORS: ReadonlySet<number> = new Set([
  KafkaErrors.INVALID_PRODUCER_EPOCH,
  KafkaErrors.PRODUCER_FENCED,
  // A transactional id whose mapping the coordinator lost.
  49,
])

/** The records of one transaction, per topic and partition, cut into batches. */
export class TransactionRecords {
  private readonly partitions = new Map<string, Map<number, BatchBuilder[]>>()
  private readonly perTopic = new Map<string, number>()
  private records = 0
  private bound = 0

  /** Records added. */
  get count(): number {
    return this.records
  }

  /** An upper bound of the bytes of the records added. */
  get bytes(): number {
    return this.bound
  }

  /** Appends a record to `topic`/`partition`. */
  add(
    topic: string,
    partition: number,
    key: Buffer | string | null,
    value: Buffer | string | null,
    timestamp: number,
    headers?: readonly (readonly [string, Buffer | string])[],
  ): void {
    let byPartition = this.partitions.get(topic)
    if (byPartition === undefined) this.partitions.set(topic, (byPartition = new Map()))
    let builders = byPartition.get(partition)
    if (builders === undefined) byPartition.set(partition, (builders = [new BatchBuilder()]))
    let last = builders[builders.length - 1]
    // An upper bound of the record's size (a string's UTF-8 takes at most 3 bytes per code unit),
    // so no batch outgrows the broker's message limit.
    let size = 32 + byteBound(key) + byteBound(value)
    if (headers !== undefined) for (const [name, v] of headers) size += 10 + name.length * 3 + byteBound(v)
    if (last.count > 0 && last.size + size > MAX_BATCH_BYTES) builders.push((last = new BatchBuilder()))
    last.append(key, value, timestamp, headers)
    this.records++
    this.bound += size
    this.perTopic.set(topic, (this.perTopic.get(topic) ?? 0) + 1)
  }

  /** Records added per topic. */
  countsByTopic(): ReadonlyMap<string, number> {
    return this.perTopic
  }

  /** Every (topic, partition) written, with its builders in order. */
  entries(): [string, number, BatchBuilder[]][] {
    const out: [string, number, BatchBuilder[]][] = []
    for (const [topic, byPartition] of this.partitions) {
      for (const [partition, builders] of byPartition) out.push([topic, partition, builders])
    }
    return out
  }
}

function byteBound(v: Buffer | string | null): number {
  return v === null ? 0 : typeof v === 'string' ? v.length * 3 : v.length
}

/** The consumed position a transaction commits for its consumer group. */
export interface TransactionOffsets {
  groupId: string
  topic: string
  partition: number
  /** The next offset to consume. */
  offset: number
  metadata: string
}

/** Where a written batch landed. */
export interface WrittenBatch {
  topic: string
  partition: number
  baseOffset: number
  count: number
}

export interface TransactionalProducerOptions {
  transactionalId: string
  /** How long the coordinator lets a transaction stay open before aborting it (default 60 s). */
  transactionTimeoutMs?: number
}

export class TransactionalProducer {
  readonly transactionalId: string
  private readonly cluster: KafkaCluster
  private readonly timeoutMs: number
  private producerId = -1
  private producerEpoch = -1
  private readonly sequences = new Map<string, number>()
  private layouts = new Map<string, number[]>()

  constructor(cluster: KafkaCluster, options: TransactionalProducerOptions) {
    this.cluster = cluster
    this.transactionalId = options.transactionalId
    this.timeoutMs = options.transactionTimeoutMs ?? 60_000
  }

  /** The producer id and epoch after {@link init}. */
  get identity(): { producerId: number; producerEpoch: number } {
    return { producerId: this.producerId, producerEpoch: this.producerEpoch }
  }

  /**
   * Registers the transactional id: any transaction a previous holder left open is aborted, and that
   * holder is fenced. Call again to start over after a failed transaction.
   * @throws TICKFLOW_ERR_TRANSACTION when the coordinator keeps refusing
   */
  async init(): Promise<void> {
    this.sequences.clear()
    for (let round = 0; ; round++) {
      const response = await this.toCoordinator((c) =>
        c.request(INIT_PRODUCER_ID, INIT_PRODUCER_ID_VERSION, writeInitProducerIdRequest, readInitProducerIdResponse, {
          transactionalId: this.transactionalId,
          transactionTimeoutMs: this.timeoutMs,
          // A fresh registration: the coordinator bumps whatever epoch it holds.
          producerId: -1n,
          producerEpoch: -1,
        }),
      )
      if (response.errorCode === 0) {
        this.producerId = Number(response.producerId)
        this.producerEpoch = response.producerEpoch
        return
      }
      // CONCURRENT_TRANSACTIONS: the previous holder's transaction is still being ended.
      if (response.errorCode !== KafkaErrors.CONCURRENT_TRANSACTIONS || round >= 50) {
        throw txnError(`InitProducerId for ${this.transactionalId}`, response.errorCode)
      }
      await sleep(Math.min(200, 10 * (round + 1)))
    }
  }

  /**
   * Writes `records` and commits `offsets` in one transaction, and commits it. Returns where each
   * batch landed. Any failure leaves the transaction to be aborted: call {@link abort} (or
   * {@link init}) before the next one.
   * @throws TICKFLOW_ERR_FENCED when another instance took over the transactional id;
   *   TICKFLOW_ERR_TRANSACTION for other refusals; TICKFLOW_ERR_CLOSED on transport failures
   */
  async commit(records: TransactionRecords, offsets: TransactionOffsets | undefined): Promise<WrittenBatch[]> {
    const entries = records.entries()
    const topics = new Map<string, number[]>()
    for (const [topic, partition] of entries) topics.set(topic, [...(topics.get(topic) ?? []), partition])
    await Promise.all([
      topics.size > 0 ? this.addPartitions(topics) : undefined,
      offsets !== undefined ? this.addOffsets(offsets.groupId) : undefined,
    ])
    const [written] = await Promise.all([
      this.produce(entries),
      offsets !== undefined ? this.commitOffsets(offsets) : undefined,
    ])
    await this.endTxn(true)
    return written
  }

  /**
   * The first half of a transaction whose offset metadata depends on where its records land:
   * writes `records` inside an open transaction and returns where they went. Finish with
   * {@link commit} (more records and the offsets) or {@link abort}.
   */
  async write(records: TransactionRecords): Promise<WrittenBatch[]> {
    const entries = records.entries()
    const topics = new Map<string, number[]>()
    for (const [topic, partition] of entries) topics.set(topic, [...(topics.get(topic) ?? []), partition])
    if (topics.size > 0) await this.addPartitions(topics)
    return this.produce(entries)
  }

  /** Aborts the open transaction, if any; errors are ignored (a re-init aborts it anyway). */
  async abort(): Promise<void> {
    try {
      await this.endTxn(false)
    } catch {
      // The coordinator aborts it on the next init or at its timeout.
    }
  }

  private async addPartitions(topics: Map<string, number[]>): Promise<void> {
    for (let round = 0; ; round++) {
      const response = await this.toCoordinator((c) =>
        c.request(
          ADD_PARTITIONS_TO_TXN,
          ADD_PARTITIONS_TO_TXN_VERSION,
          writeAddPartitionsToTxnRequest,
          readAddPartitionsToTxnResponse,
          {
            v3AndBelowTransactionalId: this.transactionalId,
            v3AndBelowProducerId: BigInt(this.producerId),
            v3AndBelowProducerEpoch: this.producerEpoch,
            v3AndBelowTopics: [...topics].map(([name, partitions]) => ({ name, partitions })),
          },
        ),
      )
      let failed = 0
      for (const t of response.resultsByTopicV3AndBelow) {
        for (const p of t.resultsByPartition) {
          if (p.partitionErrorCode !== 0 && failed === 0) failed = p.partitionErrorCode
          // OPERATION_NOT_ATTEMPTED (55) marks the partitions a sibling's error held back.
          if (p.partitionErrorCode !== 0 && p.partitionErrorCode !== 55) failed = p.partitionErrorCode
        }
      }
      if (failed === 0) return
      if (failed !== KafkaErrors.CONCURRENT_TRANSACTIONS || round >= 50) {
        throw txnError(`AddPartitionsToTxn for ${this.transactionalId}`, failed)
      }
      await sleep(concurrentBackoff(round))
    }
  }

  private async addOffsets(groupId: string): Promise<void> {
    for (let round = 0; ; round++) {
      const response = await this.toCoordinator((c) =>
        c.request(
          ADD_OFFSETS_TO_TXN,
          ADD_OFFSETS_TO_TXN_VERSION,
          writeAddOffsetsToTxnRequest,
          readAddOffsetsToTxnResponse,
          {
            transactionalId: this.transactionalId,
            producerId: BigInt(this.producerId),
            producerEpoch: this.producerEpoch,
            groupId,
          },
        ),
      )
      if (response.errorCode === 0) return
      if (response.errorCode !== KafkaErrors.CONCURRENT_TRANSACTIONS || round >= 50) {
        throw txnError(`AddOffsetsToTxn for ${this.transactionalId}`, response.errorCode)
      }
      await sleep(concurrentBackoff(round))
    }
  }

  private async commitOffsets(o: TransactionOffsets): Promise<void> {
    for (let round = 0; ; round++) {
      const response = await this.cluster.toCoordinator(o.groupId, CoordinatorType.GROUP, (c) =>
        c.request(
          TXN_OFFSET_COMMIT,
          TXN_OFFSET_COMMIT_VERSION,
          writeTxnOffsetCommitRequest,
          readTxnOffsetCommitResponse,
          {
            transactionalId: this.transactionalId,
            groupId: o.groupId,
            producerId: BigInt(this.producerId),
            producerEpoch: this.producerEpoch,
            // No generation: ownership is enforced by the per-partition transactional id's epoch,
            // which a rebalance does not disturb.
            generationId: -1,
            memberId: '',
            groupInstanceId: null,
            topics: [
              {
                name: o.topic,
                partitions: [
                  {
                    partitionIndex: o.partition,
                    committedOffset: BigInt(o.offset),
                    committedLeaderEpoch: -1,
                    committedMetadata: o.metadata,
                  },
                ],
              },
            ],
          },
        ),
      )
      const code = response.topics[0]?.partitions[0]?.errorCode ?? 0
      if (code === 0) return
      if (COORDINATOR_ERRORS.has(code)) this.cluster.forgetCoordinator(o.groupId, CoordinatorType.GROUP)
      else if (code !== KafkaErrors.CONCURRENT_TRANSACTIONS && code !== 74) throw txnError('TxnOffsetCommit', code)
      if (round >= 50) throw txnError('TxnOffsetCommit', code)
      await sleep(concurrentBackoff(round))
    }
  }

  private async endTxn(committed: boolean): Promise<void> {
    for (let round = 0; ; round++) {
      const response = await this.toCoordinator((c) =>
        c.request(END_TXN, END_TXN_VERSION, writeEndTxnRequest, readEndTxnResponse, {
          transactionalId: this.transactionalId,
          producerId: BigInt(this.producerId),
          producerEpoch: this.producerEpoch,
          committed,
        }),
      )
      if (response.errorCode === 0) return
      if (response.errorCode !== KafkaErrors.CONCURRENT_TRANSACTIONS || round >= 50) {
        throw txnError(`EndTxn(${committed ? 'commit' : 'abort'}) for ${this.transactionalId}`, response.errorCode)
      }
      await sleep(concurrentBackoff(round))
    }
  }

  // Produces every batch: one batch per partition per request (Produce v3+), so a partition with
  // several batches sends them in successive waves, sequences following on.
  private async produce(entries: [string, number, BatchBuilder[]][]): Promise<WrittenBatch[]> {
    const written: WrittenBatch[] = []
    for (let wave = 0; ; wave++) {
      const batches: { topic: string; partition: number; count: number; bytes: Buffer }[] = []
      for (const [topic, partition, builders] of entries) {
        const builder = builders[wave]
        if (builder === undefined || builder.count === 0) continue
        const key = `${topic}\0${partition}`
        const sequence = this.sequences.get(key) ?? 0
        const count = builder.count
        const bytes = builder.finish({
          producerId: this.producerId,
          producerEpoch: this.producerEpoch,
          baseSequence: sequence,
          transactional: true,
        })
        this.sequences.set(key, (sequence + count) % 2 ** 31)
        batches.push({ topic, partition, count, bytes })
      }
      if (batches.length === 0) return written
      const byLeader = new Map<number, typeof batches>()
      for (const b of batches) {
        const leader = await this.leader(b.topic, b.partition)
        byLeader.set(leader, [...(byLeader.get(leader) ?? []), b])
      }
      await Promise.all(
        [...byLeader].map(async ([node, list]) => {
          const topicData = new Map<string, { index: number; records: Records }[]>()
          for (const b of list) {
            topicData.set(b.topic, [
              ...(topicData.get(b.topic) ?? []),
              { index: b.partition, records: b.bytes as Records },
            ])
          }
          let response
          try {
            response = await (
              await this.cluster.connection(node)
            ).request(PRODUCE, PRODUCE_VERSION, writeProduceRequest, readProduceResponse, {
              transactionalId: this.transactionalId,
              acks: -1,
              timeoutMs: 30_000,
              topicData: [...topicData].map(([name, partitionData]) => ({ name, partitionData })),
            })
          } catch (err) {
            this.cluster.drop(node)
            this.layouts.clear()
            throw err
          }
          for (const t of response.responses) {
            for (const p of t.partitionResponses) {
              const b = list.find((x) => x.topic === t.name && x.partition === p.index)
              if (b === undefined) continue
              if (p.errorCode !== 0) {
                this.layouts.clear()
                throw txnError(`Produce to ${t.name}/${p.index}`, p.errorCode)
              }
              written.push({ topic: b.topic, partition: b.partition, baseOffset: Number(p.baseOffset), count: b.count })
            }
          }
        }),
      )
    }
  }

  private async leader(topic: string, partition: number): Promise<number> {
    let leaders = this.layouts.get(topic)
    if (leaders === undefined || (leaders[partition] ?? -1) < 0) {
      leaders = (await this.cluster.topic(topic)).leaders
      this.layouts.set(topic, leaders)
    }
    const leader = leaders[partition] ?? -1
    if (leader < 0) {
      this.layouts.delete(topic)
      throw new TickflowError(ErrorCodes.CLOSED, `${topic}/${partition} has no leader`, { retriable: true })
    }
    return leader
  }

  // A request to the transaction coordinator, looking it up again after NOT_COORDINATOR and the
  // like (answered as response errors) or a broken connection.
  private async toCoordinator<T extends { errorCode?: number }>(send: (c: FetchConnection) => Promise<T>): Promise<T> {
    for (let round = 0; ; round++) {
      const response = await this.cluster.toCoordinator(this.transactionalId, CoordinatorType.TRANSACTION, send)
      if (!COORDINATOR_ERRORS.has(response.errorCode ?? 0) || round >= 20) return response
      await sleep(Math.min(500, 20 * (round + 1)))
    }
  }
}

/**
 * The wait before retrying after CONCURRENT_TRANSACTIONS: Kafka brokers answer it to the first
 * requests of a transaction while the previous one's markers are written (about a millisecond), so
 * the first retries come quickly, then back off to 100 ms.
 */
function concurrentBackoff(round: number): number {
  return Math.min(100, 2 ** round)
}

function txnError(what: string, code: number): TickflowError {
  if (FENCING_ERRORS.has(code)) {
    return new TickflowError(ErrorCodes.FENCED, `${what}: fenced by a newer instance (Kafka error ${code})`)
  }
  return new TickflowError(ErrorCodes.TRANSACTION, `${what} failed with Kafka error ${code}`, {
    retriable: code === KafkaErrors.CONCURRENT_TRANSACTIONS || COORDINATOR_ERRORS.has(code),
  })
}
