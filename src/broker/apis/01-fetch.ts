/**
 * Fetch (key 1): whole record batches from each partition, starting with the batch that contains
 * the fetch offset (clients skip the records before it). Long-polls until min_bytes are available
 * or max_wait_ms passes; an append to any requested partition wakes the poll.
 *
 * read_committed readers (isolation level 1, the default of all three clients) never get data at
 * or past the last stable offset, and are told which aborted transactions overlap what they read
 * so that they drop those records. Fetch sessions are not kept: session id 0 is always legal.
 */
import { channel } from 'node:diagnostics_channel'
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readFetchRequest,
  writeFetchResponse,
  type FetchRequest,
  type FetchResponseInput,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'
import type { Partition, Topic } from '../topics.ts'

const EMPTY: Buffer = Buffer.alloc(0)

/** diagnostics_channel name of long-poll events: a fetch parks, and is woken by an append or its timeout. */
export const FETCH_CHANNEL = 'tickflow:broker:fetch'
export type FetchEvent =
  | { type: 'parked'; topics: string[]; waitMs: number }
  | { type: 'woken'; topics: string[]; reason: 'append' | 'timeout' }
const fetchChannel = channel(FETCH_CHANNEL)

interface Target {
  topic: Topic | undefined
  /** As the request named it (name before v13, id from v13). */
  topicName: string
  topicId: Buffer
  partitions: Array<{ index: number; fetchOffset: number; maxBytes: number }>
}

export default defineApi({
  key: 1,
  name: 'Fetch',
  minVersion: 4,
  maxVersion: 17,
  decode: readFetchRequest,
  encode: writeFetchResponse,
  async handle(broker, req: FetchRequest, info) {
    const byId = info.apiVersion >= 13
    const targets: Target[] = req.topics.map((t) => ({
      topic: undefined,
      topicName: t.topic,
      topicId: t.topicId,
      partitions: t.partitions.map((p) => ({
        index: p.partition,
        fetchOffset: Number(p.fetchOffset),
        maxBytes: p.partitionMaxBytes,
      })),
    }))
    const readCommitted = req.isolationLevel === 1
    const deadline = Date.now() + Math.max(0, req.maxWaitMs)
    for (;;) {
      // Look the topics up again after each wait: one deleted meanwhile has closed logs.
      for (const t of targets) t.topic = byId ? broker.topics.getById(t.topicId) : broker.topics.get(t.topicName)
      const { response, bytes, error } = readAll(targets, req.maxBytes, readCommitted, byId)
      const remaining = deadline - Date.now()
      if (bytes >= req.minBytes || error || remaining <= 0) return response
      const watched = targets.flatMap((t) =>
        t.topic === undefined ? [] : t.partitions.flatMap((p) => t.topic?.partitions[p.index] ?? []),
      )
      if (watched.length === 0) return response
      if (fetchChannel.hasSubscribers) {
        const topics = watched.map((p) => p.topic.name)
        fetchChannel.publish({ type: 'parked', topics, waitMs: remaining } satisfies FetchEvent)
        const reason = await broker.waitForAppend(watched, remaining)
        fetchChannel.publish({ type: 'woken', topics, reason } satisfies FetchEvent)
      } else {
        await broker.waitForAppend(watched, remaining)
      }
      if (broker.closing) return response
    }
  },
})

function readAll(
  targets: Target[],
  maxBytes: number,
  readCommitted: boolean,
  byId: boolean,
): { response: FetchResponseInput; bytes: number; error: boolean } {
  let total = 0
  let error = false
  const responses = targets.map((t) => ({
    topic: t.topicName,
    topicId: t.topicId,
    partitions: t.partitions.map((p) => {
      const partition: Partition | undefined = t.topic?.partitions[p.index]
      if (partition === undefined) {
        error = true
        return {
          partitionIndex: p.index,
          errorCode:
            byId && t.topic === undefined ? KafkaError.UNKNOWN_TOPIC_ID : KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
          highWatermark: -1n,
          lastStableOffset: -1n,
          logStartOffset: -1n,
          abortedTransactions: null,
          records: EMPTY,
        }
      }
      const log = partition.log
      const hwm = partition.highWatermark
      const lso = partition.lastStableOffset
      const base = {
        partitionIndex: p.index,
        highWatermark: BigInt(hwm),
        lastStableOffset: BigInt(lso),
        logStartOffset: BigInt(log.logStartOffset),
        abortedTransactions: readCommitted
          ? partition.producers
              .abortedBetween(p.fetchOffset, lso)
              .map((a) => ({ producerId: BigInt(a.producerId), firstOffset: BigInt(a.firstOffset) }))
          : null,
        preferredReadReplica: -1,
      }
      if (p.fetchOffset < log.logStartOffset || p.fetchOffset > hwm) {
        error = true
        return { ...base, errorCode: KafkaError.OFFSET_OUT_OF_RANGE, records: EMPTY }
      }
      const limit = readCommitted ? lso : hwm
      let records: Buffer = EMPTY
      if (p.fetchOffset < limit) {
        // KIP-74: the first partition with data may exceed the limits by one batch so that a
        // consumer is never stuck behind a batch larger than its max bytes.
        const budget = Math.min(p.maxBytes, maxBytes - total)
        if (budget > 0 || total === 0) {
          records = log.read(p.fetchOffset, Math.max(budget, 1), limit)
          if (records.length > budget && total > 0) records = EMPTY
        }
      }
      total += records.length
      return { ...base, errorCode: KafkaError.NONE, records }
    }),
  }))
  return { response: { responses, sessionId: 0, errorCode: KafkaError.NONE }, bytes: total, error }
}
