/**
 * Reading partitions by offset range over `@platformatic/kafka`, without a consumer group: the
 * batch jobs (`stats`) read every record of a topic up to the end offsets they saw at their start,
 * and `tail` follows the end. Records are handed out as the client decodes them, batch by batch,
 * so a reader of millions of records allocates nothing per record beyond the client's own.
 */
import { Consumer, ResponseError } from '@platformatic/kafka'
import type { ClusterMetadata, KafkaRecord } from '@platformatic/kafka'
import { ErrorCodes, TickflowError } from '../errors.ts'
import { asUnknownTopic, type BusConfig } from './client.ts'
import { AbortedTransactions, RETRIABLE_FETCH_ERRORS } from './read-committed.ts'

/** Fetch isolation: 1 = read_committed (records of aborted transactions are skipped). */
const READ_COMMITTED = 1

const OFFSET_OUT_OF_RANGE = 1

/** A range of one partition: offsets `from` (inclusive) to `to` (exclusive; undefined = follow). */
export interface PartitionRange {
  partition: number
  from: bigint
  to?: bigint
}

/** Records of one partition, in offset order, all within the requested range. */
export interface RecordChunk {
  partition: number
  /** Offsets of `records`, parallel to it. */
  offsets: bigint[]
  records: KafkaRecord[]
  /** Batch timestamps: record i has timestamp firstTimestamps[i] + records[i].timestampDelta. */
  firstTimestamps: bigint[]
}

/** Opens a client for reading; close it when done. */
export function openReaderClient(bus: BusConfig): Consumer {
  // The group id is required by the client but never joined: readers assign partitions themselves.
  return new Consumer({
    clientId: bus.clientId,
    bootstrapBrokers: bus.bootstrapBrokers,
    groupId: `${bus.clientId}-reader`,
    retries: 5,
  })
}

/**
 * The cluster metadata of `topic`, without creating it.
 * @throws TICKFLOW_ERR_UNKNOWN_TOPIC when the topic does not exist
 */
export async function topicMetadata(client: Consumer, topic: string, forceUpdate = false): Promise<ClusterMetadata> {
  let metadata: ClusterMetadata
  try {
    metadata = await client.metadata({ topics: [topic], forceUpdate, autocreateTopics: false })
  } catch (err) {
    throw asUnknownTopic(err)
  }
  if (!metadata.topics.has(topic)) throw new TickflowError(ErrorCodes.UNKNOWN_TOPIC, `topic ${topic} does not exist`)
  return metadata
}

/** Log start and end offsets of every partition of `topic` (end = LSO under read_committed). */
export async function partitionBounds(
  client: Consumer,
  topic: string,
): Promise<{ partition: number; start: bigint; end: bigint }[]> {
  await topicMetadata(client, topic)
  const [starts, ends] = await Promise.all([
    client.listOffsets({ topics: [topic], timestamp: -2n }),
    client.listOffsets({ topics: [topic], timestamp: -1n, isolationLevel: READ_COMMITTED }),
  ])
  const s = starts.get(topic) ?? []
  const e = ends.get(topic) ?? []
  return e.map((end, partition) => ({ partition, start: s[partition] ?? 0n, end }))
}

export interface ReadOptions {
  topic: string
  ranges: PartitionRange[]
  /** Bytes per partition per fetch (default 8 MiB). */
  partitionMaxBytes?: number
  /** Long-poll wait of a fetch when following (default 500 ms). */
  maxWaitMs?: number
  signal?: AbortSignal
}

/**
 * Reads the ranges with read_committed isolation, yielding chunks of records per partition. Ends
 * when every bounded range is read; a range without `to` is followed until `signal` aborts.
 */
export async function* readRanges(client: Consumer, options: ReadOptions): AsyncGenerator<RecordChunk> {
  const { topic, signal } = options
  const position = new Map<number, bigint>()
  const stop = new Map<number, bigint | undefined>()
  for (const r of options.ranges) {
    if (r.to === undefined || r.from < r.to) position.set(r.partition, r.from)
    stop.set(r.partition, r.to)
  }
  const partitionMaxBytes = options.partitionMaxBytes ?? 8 << 20
  let metadata = await topicMetadata(client, topic)
  while (position.size > 0 && signal?.aborted !== true) {
    const topicMeta = metadata.topics.get(topic)
    if (topicMeta === undefined) throw new TickflowError(ErrorCodes.UNKNOWN_TOPIC, `topic ${topic} does not exist`)
    // One request per leader, all of its partitions in it.
    const byLeader = new Map<number, number[]>()
    for (const partition of position.keys()) {
      const leader = topicMeta.partitions[partition]?.leader ?? -1
      byLeader.set(leader, [...(byLeader.get(leader) ?? []), partition])
    }
    const following = [...position.keys()].some((p) => stop.get(p) === undefined)
    let refresh = false
    const responses = await Promise.all(
      [...byLeader].map(([node, partitions]) =>
        client
          .fetch({
            node,
            topics: [
              {
                topicId: topicMeta.id,
                partitions: partitions.map((partition) => ({
                  partition,
                  currentLeaderEpoch: -1,
                  fetchOffset: position.get(partition)!,
                  lastFetchedEpoch: -1,
                  partitionMaxBytes,
                })),
              },
            ],
            maxWaitTime: following ? (options.maxWaitMs ?? 500) : 0,
            minBytes: 1,
            maxBytes: 64 << 20,
            isolationLevel: READ_COMMITTED,
          })
          .catch((err: unknown) => {
            const response = fetchResponseOf(err)
            if (response === undefined) throw err
            return response
          }),
      ),
    )
    const outOfRange: number[] = []
    for (const response of responses) {
      for (const t of response.responses) {
        for (const p of t.partitions) {
          const partition = p.partitionIndex
          const from = position.get(partition)
          if (from === undefined) continue
          if (p.errorCode === OFFSET_OUT_OF_RANGE) {
            // Retention removed the start of the range: continue from the log start, looked up
            // below (Kafka answers this error with logStartOffset -1).
            outOfRange.push(partition)
            continue
          }
          if (p.errorCode !== 0) {
            if (RETRIABLE_FETCH_ERRORS.has(p.errorCode)) {
              refresh = true
              continue
            }
            throw new TickflowError(
              ErrorCodes.INVALID_ARGUMENT,
              `fetch of ${topic}/${partition} failed with Kafka error ${p.errorCode}`,
            )
          }
          const to = stop.get(partition)
          const chunk = collect(partition, from, to, p.records ?? [], p.abortedTransactions ?? [])
          if (chunk.next > from) position.set(partition, chunk.next)
          if (chunk.records.length > 0) yield chunk
          const at = position.get(partition)!
          if (to !== undefined && at >= to) position.delete(partition)
        }
      }
    }
    if (outOfRange.length > 0) {
      const starts = await client.listOffsets({ topics: [topic], partitions: { [topic]: outOfRange }, timestamp: -2n })
      for (const partition of outOfRange) {
        const start = starts.get(topic)?.[partition]
        if (start !== undefined && start > position.get(partition)!) position.set(partition, start)
        else refresh = true
      }
    }
    if (refresh) {
      await new Promise((r) => setTimeout(r, 100))
      metadata = await topicMetadata(client, topic, true)
    }
  }
}

type FetchResponse = Awaited<ReturnType<Consumer['fetch']>>

/**
 * The client turns a fetch response with a partition error into a ResponseError that carries the
 * whole response (wrapped with the earlier attempts once it has retried a retriable error): the
 * last attempt's response, so that each partition's error is handled on its own and the records
 * of the other partitions are kept. Undefined for any other failure.
 */
function fetchResponseOf(err: unknown): FetchResponse | undefined {
  const attempts = err instanceof AggregateError && !(err instanceof ResponseError) ? err.errors : [err]
  const last: unknown = attempts[attempts.length - 1]
  if (!(last instanceof ResponseError)) return undefined
  const response = last.response as FetchResponse | undefined
  return response?.errorCode === 0 && Array.isArray(response.responses) ? response : undefined
}

interface Batch {
  firstOffset: bigint
  lastOffsetDelta: number
  attributes: number
  producerId: bigint
  firstTimestamp: bigint
  records: KafkaRecord[]
}

/** The records of `batches` in [from, to), without control records and aborted transactions. */
function collect(
  partition: number,
  from: bigint,
  to: bigint | undefined,
  batches: Batch[],
  aborted: { producerId: bigint; firstOffset: bigint }[],
): RecordChunk & { next: bigint } {
  const chunk: RecordChunk & { next: bigint } = { partition, offsets: [], records: [], firstTimestamps: [], next: from }
  const filter = new AbortedTransactions(aborted)
  for (const batch of batches) {
    const last = batch.firstOffset + BigInt(batch.lastOffsetDelta)
    if (last + 1n > chunk.next) chunk.next = last + 1n
    if (filter.skip(Number(last), batch.attributes, Number(batch.producerId))) continue
    for (const record of batch.records) {
      const offset = batch.firstOffset + BigInt(record.offsetDelta)
      if (offset < from || (to !== undefined && offset >= to)) continue
      chunk.offsets.push(offset)
      chunk.records.push(record)
      chunk.firstTimestamps.push(batch.firstTimestamp)
    }
  }
  if (to !== undefined && chunk.next > to) chunk.next = to
  return chunk
}
