/**
 * Offset lookups and bounded reads over {@link KafkaCluster}: what the stream runtime needs to
 * restore a task (the committed position, a checkpoint's records, the input to replay).
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import {
  readListOffsetsResponse,
  readOffsetFetchResponse,
  writeListOffsetsRequest,
  writeOffsetFetchRequest,
} from '../protocol/messages/index.ts'
import type { KafkaCluster } from './cluster.ts'
import { CoordinatorType, COORDINATOR_ERRORS, KafkaErrors, sleep } from './cluster.ts'
import { RETRIABLE_FETCH_ERRORS } from './read-committed.ts'
import { walkBatches, type RecordCallback } from './scan.ts'

const LIST_OFFSETS = 2
const LIST_OFFSETS_VERSION = 7
const OFFSET_FETCH = 9
const OFFSET_FETCH_VERSION = 7

/** ListOffsets timestamps. */
export const OffsetSpec = { LATEST: -1, EARLIEST: -2 } as const

/**
 * The offset of each partition at `timestamp` (EARLIEST = log start; LATEST = the end, which for
 * read_committed is the last stable offset).
 */
export async function listOffsets(
  cluster: KafkaCluster,
  topic: string,
  partitions: number[],
  timestamp: number,
  readCommitted = true,
): Promise<Map<number, number>> {
  for (let round = 0; ; round++) {
    const layout = await cluster.topic(topic)
    const byLeader = new Map<number, number[]>()
    for (const p of partitions)
      byLeader.set(layout.leaders[p] ?? -1, [...(byLeader.get(layout.leaders[p] ?? -1) ?? []), p])
    const out = new Map<number, number>()
    let retry = false
    await Promise.all(
      [...byLeader].map(async ([node, list]) => {
        if (node < 0) {
          retry = true
          return
        }
        const response = await (
          await cluster.connection(node)
        ).request(LIST_OFFSETS, LIST_OFFSETS_VERSION, writeListOffsetsRequest, readListOffsetsResponse, {
          replicaId: -1,
          isolationLevel: readCommitted ? 1 : 0,
          topics: [
            {
              name: topic,
              partitions: list.map((partitionIndex) => ({
                partitionIndex,
                currentLeaderEpoch: -1,
                timestamp: BigInt(timestamp),
              })),
            },
          ],
        })
        for (const t of response.topics) {
          for (const p of t.partitions) {
            if (p.errorCode === 0) out.set(p.partitionIndex, Number(p.offset))
            else if (RETRIABLE_FETCH_ERRORS.has(p.errorCode)) retry = true
            else throw kafkaError(`ListOffsets of ${topic}/${p.partitionIndex}`, p.errorCode)
          }
        }
      }),
    )
    if (!retry) return out
    if (round >= 20) throw kafkaError(`ListOffsets of ${topic}`, KafkaErrors.LEADER_NOT_AVAILABLE)
    await sleep(Math.min(1000, 50 * (round + 1)))
  }
}

/** A consumer group's committed position of a partition. */
export interface CommittedOffset {
  /** The next offset to consume; −1 when nothing was committed. */
  offset: number
  metadata: string | null
}

/**
 * The committed offsets of `group` for `topic`'s `partitions`. Asks for stable offsets
 * (require_stable): while a transaction holding an offset commit is open, the coordinator answers
 * UNSTABLE_OFFSET_COMMIT and this waits for it to end.
 */
export async function fetchCommitted(
  cluster: KafkaCluster,
  groupId: string,
  topic: string,
  partitions: number[],
): Promise<Map<number, CommittedOffset>> {
  for (let round = 0; ; round++) {
    let response
    try {
      response = await cluster.toCoordinator(groupId, CoordinatorType.GROUP, (c) =>
        c.request(OFFSET_FETCH, OFFSET_FETCH_VERSION, writeOffsetFetchRequest, readOffsetFetchResponse, {
          groupId,
          topics: [{ name: topic, partitionIndexes: partitions }],
          requireStable: true,
        }),
      )
    } catch (err) {
      if (round >= 20) throw err
      await sleep(Math.min(1000, 50 * (round + 1)))
      continue
    }
    let retry = COORDINATOR_ERRORS.has(response.errorCode)
    if (response.errorCode !== 0 && !retry) throw kafkaError(`OffsetFetch of ${groupId}`, response.errorCode)
    const out = new Map<number, CommittedOffset>()
    for (const t of response.topics) {
      for (const p of t.partitions) {
        // UNSTABLE_OFFSET_COMMIT (88): a transaction with an offset for it is still open.
        if (p.errorCode === 88 || COORDINATOR_ERRORS.has(p.errorCode)) retry = true
        else if (p.errorCode !== 0)
          throw kafkaError(`OffsetFetch of ${groupId} ${topic}/${p.partitionIndex}`, p.errorCode)
        else out.set(p.partitionIndex, { offset: Number(p.committedOffset), metadata: p.metadata })
      }
    }
    if (!retry) return out
    if (round >= 200) throw kafkaError(`OffsetFetch of ${groupId}`, 88)
    await sleep(Math.min(200, 10 * (round + 1)))
  }
}

/**
 * Reads the committed records of `topic`/`partition` in [from, to), in offset order (control
 * batches and aborted transactions skipped). Stops early, without error, at the end of the log.
 */
export async function readPartitionRange(
  cluster: KafkaCluster,
  topic: string,
  partition: number,
  from: number,
  to: number,
  onRecord: RecordCallback,
): Promise<number> {
  let position = from
  let read = 0
  let failures = 0
  while (position < to) {
    const layout = await cluster.topic(topic)
    const node = layout.leaders[partition] ?? -1
    let response
    try {
      if (node < 0) throw kafkaError(`fetch of ${topic}/${partition}`, KafkaErrors.LEADER_NOT_AVAILABLE)
      response = await (
        await cluster.connection(node)
      ).fetch({
        maxWaitMs: 0,
        minBytes: 1,
        maxBytes: 64 << 20,
        isolationLevel: 1,
        topics: [{ topic, partitions: [{ partition, fetchOffset: BigInt(position), partitionMaxBytes: 8 << 20 }] }],
      })
    } catch (err) {
      if (node >= 0) cluster.drop(node)
      if (++failures >= 20) throw err
      await sleep(Math.min(1000, 50 * failures))
      continue
    }
    const p = response.responses[0]?.partitions[0]
    if (p === undefined) continue
    if (p.errorCode !== 0) {
      if (!RETRIABLE_FETCH_ERRORS.has(p.errorCode) || ++failures >= 20) {
        throw kafkaError(`fetch of ${topic}/${partition}`, p.errorCode)
      }
      await sleep(Math.min(1000, 50 * failures))
      continue
    }
    failures = 0
    const walked = walkBatches(p.records, position, to, p.abortedTransactions, partition, onRecord)
    read += walked.records
    if (walked.next <= position) break // nothing more below the last stable offset
    position = walked.next
  }
  return read
}

function kafkaError(what: string, code: number): TickflowError {
  return new TickflowError(ErrorCodes.CLOSED, `${what} failed with Kafka error ${code}`, {
    retriable: RETRIABLE_FETCH_ERRORS.has(code),
  })
}
