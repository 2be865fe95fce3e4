/**
 * ListOffsets (key 2): earliest (-2), latest (-1: the last stable offset for read_committed, else
 * the high watermark), max timestamp (-3), earliest local (-4), or the first record whose timestamp
 * is at or after the given one (looking inside that batch, decompressing it when needed).
 */
import { isTickflowError } from '../../errors.ts'
import { decodeBatch } from '../../protocol/batch-decoder.ts'
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readListOffsetsRequest,
  writeListOffsetsResponse,
  type ListOffsetsRequest,
} from '../../protocol/messages/index.ts'
import { readBatchHeader, type Record } from '../../protocol/record-batch.ts'
import { defineApi } from '../registry.ts'
import type { Partition } from '../topics.ts'

const LATEST = -1
const EARLIEST = -2
const MAX_TIMESTAMP = -3
const EARLIEST_LOCAL = -4
const LATEST_TIERED = -5

export default defineApi({
  key: 2,
  name: 'ListOffsets',
  minVersion: 1,
  maxVersion: 9,
  decode: readListOffsetsRequest,
  encode: writeListOffsetsResponse,
  handle(broker, req: ListOffsetsRequest) {
    const readCommitted = req.isolationLevel === 1
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          const partition = broker.topics.getPartition(t.name, p.partitionIndex)
          if (partition === undefined) {
            return { partitionIndex: p.partitionIndex, errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION }
          }
          const found = lookup(partition, Number(p.timestamp), readCommitted)
          return {
            partitionIndex: p.partitionIndex,
            errorCode: KafkaError.NONE,
            timestamp: BigInt(found.timestamp),
            offset: BigInt(found.offset),
            leaderEpoch: found.offset >= 0 ? 0 : -1,
          }
        }),
      })),
    }
  },
})

function lookup(
  partition: Partition,
  timestamp: number,
  readCommitted: boolean,
): { offset: number; timestamp: number } {
  const log = partition.log
  const end = readCommitted ? partition.lastStableOffset : partition.highWatermark
  switch (timestamp) {
    case LATEST:
      return { offset: end, timestamp: -1 }
    case EARLIEST:
    case EARLIEST_LOCAL:
      return { offset: log.logStartOffset, timestamp: -1 }
    case LATEST_TIERED:
      return { offset: -1, timestamp: -1 }
    case MAX_TIMESTAMP:
      return maxTimestamp(partition, end)
  }
  if (timestamp < 0) return { offset: -1, timestamp: -1 }
  const batch = log.findBatchByTimestamp(timestamp)
  if (batch === null) return { offset: -1, timestamp: -1 }
  const header = readBatchHeader(batch)
  if (header.baseOffset >= end) return { offset: -1, timestamp: -1 }
  const record = recordsOf(batch).find((r) => r.timestamp >= timestamp)
  // The batch's max timestamp says a record qualifies; fall back to the batch if decoding disagrees.
  return record === undefined
    ? { offset: header.baseOffset, timestamp: header.maxTimestamp }
    : { offset: record.offset, timestamp: record.timestamp }
}

/** The offset of the record with the largest timestamp (KIP-734): a scan of batch headers. */
function maxTimestamp(partition: Partition, end: number): { offset: number; timestamp: number } {
  const log = partition.log
  let best = { offset: -1, timestamp: -1 }
  if (log.logStartOffset >= end) return best
  log.scanHeaders(log.logStartOffset, (h) => {
    if (h.baseOffset < end && h.maxTimestamp > best.timestamp)
      best = { offset: h.baseOffset, timestamp: h.maxTimestamp }
  })
  if (best.offset >= 0) {
    const r = recordsOf(log.read(best.offset, 1, end)).find((x) => x.timestamp === best.timestamp)
    if (r !== undefined) best = { offset: r.offset, timestamp: r.timestamp }
  }
  return best
}

/**
 * The records of a stored batch, or none when they do not decode: produce does not look inside
 * compressed batches, so a client may have stored records that do not decode, and the answer then
 * falls back to the batch's own offsets instead of failing the request.
 */
function recordsOf(batch: Buffer): Record[] {
  try {
    return decodeBatch(batch).records
  } catch (err) {
    if (isTickflowError(err)) return []
    throw err
  }
}
