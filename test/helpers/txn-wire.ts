/**
 * Transaction requests over the raw client for the handler tests: InitProducerId with a
 * transactional id, AddPartitionsToTxn, AddOffsetsToTxn, TxnOffsetCommit and EndTxn, and
 * {@link TxnProducer}, a minimal transactional producer that keeps its id, epoch and sequences.
 */
import assert from 'node:assert/strict'
import {
  readAddOffsetsToTxnResponse,
  readAddPartitionsToTxnResponse,
  readEndTxnResponse,
  readInitProducerIdResponse,
  readTxnOffsetCommitResponse,
  writeAddOffsetsToTxnRequest,
  writeAddPartitionsToTxnRequest,
  writeEndTxnRequest,
  writeInitProducerIdRequest,
  writeTxnOffsetCommitRequest,
  type InitProducerIdResponse,
  type ProduceResponsePartitionProduceResponse,
} from '../../src/protocol/messages/index.ts'
import { decodeBatch, decodeBatches } from '../../src/protocol/batch-decoder.ts'
import { KafkaError } from '../../src/protocol/error-codes.ts'
import { Attributes, LOG_OVERHEAD, Offsets, readBatchHeader, readControlType } from '../../src/protocol/record-batch.ts'
import type { RawClient } from './raw-client.ts'
import { batchOf, produce } from './wire.ts'

/** Partitions per topic, e.g. `{ t: [0, 1] }`. */
export type TopicPartitions = Record<string, number[]>

/** InitProducerId (v5 unless told) with a transactional id; -1/-1 presents no previous instance. */
export function initTxn(
  c: RawClient,
  transactionalId: string | null,
  o: { version?: number; timeoutMs?: number; producerId?: number; producerEpoch?: number } = {},
): Promise<InitProducerIdResponse> {
  return c.request(22, o.version ?? 5, writeInitProducerIdRequest, readInitProducerIdResponse, {
    transactionalId,
    transactionTimeoutMs: o.timeoutMs ?? 60_000,
    producerId: BigInt(o.producerId ?? -1),
    producerEpoch: o.producerEpoch ?? -1,
  })
}

/** AddPartitionsToTxn (v3 unless told): "topic-partition" -> error code, in request order. */
export async function addPartitions(
  c: RawClient,
  transactionalId: string,
  producerId: number,
  producerEpoch: number,
  partitions: TopicPartitions,
  version = 3,
): Promise<Map<string, number>> {
  const res = await c.request(24, version, writeAddPartitionsToTxnRequest, readAddPartitionsToTxnResponse, {
    v3AndBelowTransactionalId: transactionalId,
    v3AndBelowProducerId: BigInt(producerId),
    v3AndBelowProducerEpoch: producerEpoch,
    v3AndBelowTopics: Object.entries(partitions).map(([name, p]) => ({ name, partitions: p })),
  })
  return new Map(
    res.resultsByTopicV3AndBelow.flatMap((t) =>
      t.resultsByPartition.map((p) => [`${t.name}-${p.partitionIndex}`, p.partitionErrorCode] as const),
    ),
  )
}

/** AddOffsetsToTxn (v4 unless told); returns its error code. */
export async function addOffsets(
  c: RawClient,
  transactionalId: string,
  producerId: number,
  producerEpoch: number,
  groupId: string,
  version = 4,
): Promise<number> {
  const res = await c.request(25, version, writeAddOffsetsToTxnRequest, readAddOffsetsToTxnResponse, {
    transactionalId,
    producerId: BigInt(producerId),
    producerEpoch,
    groupId,
  })
  return res.errorCode
}

/** EndTxn (v4 unless told); returns its error code. */
export async function endTxn(
  c: RawClient,
  transactionalId: string,
  producerId: number,
  producerEpoch: number,
  commit: boolean,
  version = 4,
): Promise<number> {
  const res = await c.request(26, version, writeEndTxnRequest, readEndTxnResponse, {
    transactionalId,
    producerId: BigInt(producerId),
    producerEpoch,
    committed: commit,
  })
  return res.errorCode
}

export interface TxnOffset {
  topic: string
  partition: number
  offset: number
  metadata?: string | null
}

/** TxnOffsetCommit (v4 unless told): "topic-partition" -> error code. */
export async function txnOffsetCommit(
  c: RawClient,
  o: {
    transactionalId: string
    groupId: string
    producerId: number
    producerEpoch: number
    offsets: TxnOffset[]
    version?: number
    generationId?: number
    memberId?: string
  },
): Promise<Map<string, number>> {
  const topics = new Map<string, TxnOffset[]>()
  for (const x of o.offsets) topics.set(x.topic, [...(topics.get(x.topic) ?? []), x])
  const res = await c.request(28, o.version ?? 4, writeTxnOffsetCommitRequest, readTxnOffsetCommitResponse, {
    transactionalId: o.transactionalId,
    groupId: o.groupId,
    producerId: BigInt(o.producerId),
    producerEpoch: o.producerEpoch,
    generationId: o.generationId ?? -1,
    memberId: o.memberId ?? '',
    groupInstanceId: null,
    topics: [...topics].map(([name, list]) => ({
      name,
      partitions: list.map((x) => ({
        partitionIndex: x.partition,
        committedOffset: BigInt(x.offset),
        committedLeaderEpoch: -1,
        committedMetadata: x.metadata ?? null,
      })),
    })),
  })
  return new Map(
    res.topics.flatMap((t) => t.partitions.map((p) => [`${t.name}-${p.partitionIndex}`, p.errorCode] as const)),
  )
}

/**
 * A transactional producer on one raw connection, as a client library drives the protocol:
 * InitProducerId, then per transaction AddPartitionsToTxn before the first write to a partition,
 * Produce with transactional batches (sequences continue across the transactions of an epoch),
 * and EndTxn. Methods assert that the broker accepted each step unless they return the code.
 */
export class TxnProducer {
  readonly c: RawClient
  readonly transactionalId: string
  producerId = -1
  producerEpoch = -1
  private readonly sequences = new Map<string, number>()
  private readonly added = new Set<string>()

  private constructor(c: RawClient, transactionalId: string) {
    this.c = c
    this.transactionalId = transactionalId
  }

  /** InitProducerId for `transactionalId`, as a new instance would. */
  static async init(c: RawClient, transactionalId: string, timeoutMs = 60_000): Promise<TxnProducer> {
    const p = new TxnProducer(c, transactionalId)
    const res = await initTxn(c, transactionalId, { timeoutMs })
    assert.equal(res.errorCode, KafkaError.NONE, `InitProducerId ${transactionalId}`)
    p.producerId = Number(res.producerId)
    p.producerEpoch = res.producerEpoch
    return p
  }

  /** Adds partitions to the open transaction (starting one). */
  async add(partitions: TopicPartitions): Promise<void> {
    const codes = await addPartitions(this.c, this.transactionalId, this.producerId, this.producerEpoch, partitions)
    for (const [tp, code] of codes) {
      assert.equal(code, KafkaError.NONE, `AddPartitionsToTxn ${tp}`)
      this.added.add(tp)
    }
  }

  /** One transactional batch of `values` to a partition (added first unless it is already in). */
  async send(topic: string, partition: number, values: string[]): Promise<number> {
    if (!this.added.has(`${topic}-${partition}`)) await this.add({ [topic]: [partition] })
    const res = await this.sendRaw(topic, partition, values)
    assert.equal(res.errorCode, KafkaError.NONE, `transactional produce to ${topic}-${partition}`)
    return Number(res.baseOffset)
  }

  /** One transactional batch as it is (no AddPartitionsToTxn), with the next sequence; the answer. */
  async sendRaw(topic: string, partition: number, values: string[]): Promise<ProduceResponsePartitionProduceResponse> {
    const key = `${topic}-${partition}`
    const baseSequence = this.sequences.get(key) ?? 0
    const res = await produce(
      this.c,
      topic,
      partition,
      batchOf(values, {
        transactional: true,
        producerId: this.producerId,
        producerEpoch: this.producerEpoch,
        baseSequence,
      }),
      { transactionalId: this.transactionalId },
    )
    if (res.errorCode === KafkaError.NONE) this.sequences.set(key, baseSequence + values.length)
    return res
  }

  /** EndTxn (v4 unless told); returns its error code (the next transaction starts with no partition added). */
  async end(commit: boolean, version = 4): Promise<number> {
    this.added.clear()
    return endTxn(this.c, this.transactionalId, this.producerId, this.producerEpoch, commit, version)
  }

  async commit(): Promise<void> {
    assert.equal(await this.end(true), KafkaError.NONE, 'EndTxn commit')
  }

  async abort(): Promise<void> {
    assert.equal(await this.end(false), KafkaError.NONE, 'EndTxn abort')
  }
}

/**
 * The batches of some fetched record bytes as short strings: each record of a data batch as
 * `value@offset`, each transaction marker as `COMMIT@offset` or `ABORT@offset`.
 */
export function logEntries(records: Buffer | null): string[] {
  const out: string[] = []
  if (records === null) return out
  let at = 0
  while (records.length - at >= LOG_OVERHEAD) {
    const size = LOG_OVERHEAD + records.readInt32BE(at + Offsets.batchLength)
    if (size > records.length - at) break
    const batch = records.subarray(at, at + size)
    const type = readControlType(batch)
    if (type !== null) out.push(`${type.toUpperCase()}@${readBatchHeader(batch).baseOffset}`)
    else for (const r of decodeBatch(batch).records) out.push(`${r.value?.toString() ?? null}@${r.offset}`)
    at += size
  }
  return out
}

/** The producer id and epoch of every transaction marker in some fetched record bytes. */
export function markerProducers(records: Buffer | null): Array<{ offset: number; producerId: number; epoch: number }> {
  if (records === null) return []
  return decodeBatches(records)
    .filter((b) => (b.header.attributes & Attributes.control) !== 0)
    .map((b) => ({ offset: b.header.baseOffset, producerId: b.header.producerId, epoch: b.header.producerEpoch }))
}
