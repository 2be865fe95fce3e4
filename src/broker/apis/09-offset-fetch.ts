/**
 * OffsetFetch (key 9): committed offsets of a group (v0–7) or of several groups (v8+);
 * topics = null asks for every committed partition.
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readOffsetFetchRequest,
  writeOffsetFetchResponse,
  type OffsetFetchRequest,
  type OffsetFetchResponseInput,
} from '../../protocol/messages/index.ts'
import type { BrokerContext } from '../context.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 9,
  name: 'OffsetFetch',
  minVersion: 1,
  maxVersion: 9,
  decode: readOffsetFetchRequest,
  encode: writeOffsetFetchResponse,
  handle(broker, req: OffsetFetchRequest, info): OffsetFetchResponseInput {
    if (info.apiVersion >= 8) {
      return {
        groups: req.groups.map((g) => {
          const result = fetch(broker, g.groupId, g.topics, req.requireStable)
          return { groupId: g.groupId, errorCode: result.errorCode, topics: result.topics }
        }),
      }
    }
    const result = fetch(broker, req.groupId, req.topics, req.requireStable)
    return { errorCode: result.errorCode, topics: result.topics }
  },
})

function fetch(
  broker: BrokerContext,
  groupId: string,
  topics: Array<{ name: string; partitionIndexes: number[] }> | null,
  requireStable: boolean,
) {
  const result = broker.groups.fetchOffsets(
    groupId,
    topics === null ? null : topics.map((t) => ({ name: t.name, partitions: t.partitionIndexes })),
  )
  return {
    errorCode: result.errorCode,
    topics: result.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        // require_stable (v7+): an offset an open transaction will commit is not answered yet; as
        // in Kafka the partition then carries no offset at all (-1, no leader epoch, empty metadata).
        if (
          p.errorCode === KafkaError.NONE &&
          requireStable &&
          broker.transactions.hasPendingOffsets(groupId, t.name, p.partitionIndex)
        ) {
          return {
            partitionIndex: p.partitionIndex,
            committedOffset: -1n,
            committedLeaderEpoch: -1,
            metadata: '',
            errorCode: KafkaError.UNSTABLE_OFFSET_COMMIT,
          }
        }
        return {
          partitionIndex: p.partitionIndex,
          committedOffset: BigInt(p.committedOffset),
          committedLeaderEpoch: p.committedLeaderEpoch,
          metadata: p.metadata,
          errorCode: p.errorCode,
        }
      }),
    })),
  }
}
