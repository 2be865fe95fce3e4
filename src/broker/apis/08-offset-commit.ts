/** OffsetCommit (key 8): durable committed offsets, checked against the group's generation. */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readOffsetCommitRequest,
  writeOffsetCommitResponse,
  type OffsetCommitRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 8,
  name: 'OffsetCommit',
  minVersion: 2,
  maxVersion: 9,
  decode: readOffsetCommitRequest,
  encode: writeOffsetCommitResponse,
  async handle(broker, req: OffsetCommitRequest) {
    // Unknown topics and partitions are refused here; the rest go to the coordinator.
    const unknown: Array<{ name: string; partitions: Array<{ partitionIndex: number; errorCode: number }> }> = []
    const known = req.topics.flatMap((t) => {
      const topic = broker.topics.get(t.name)
      const ok = t.partitions.filter((p) => topic?.partitions[p.partitionIndex] !== undefined)
      const bad = t.partitions.filter((p) => topic?.partitions[p.partitionIndex] === undefined)
      if (bad.length > 0) {
        unknown.push({
          name: t.name,
          partitions: bad.map((p) => ({
            partitionIndex: p.partitionIndex,
            errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
          })),
        })
      }
      return ok.length === 0
        ? []
        : [
            {
              name: t.name,
              partitions: ok.map((p) => ({
                partitionIndex: p.partitionIndex,
                committedOffset: Number(p.committedOffset),
                committedLeaderEpoch: p.committedLeaderEpoch,
                committedMetadata: p.committedMetadata,
              })),
            },
          ]
    })
    const committed =
      known.length === 0
        ? []
        : await broker.groups.commitOffsets({
            groupId: req.groupId,
            generationId: req.generationIdOrMemberEpoch,
            memberId: req.memberId,
            groupInstanceId: req.groupInstanceId,
            topics: known,
          })
    return { topics: [...committed, ...unknown] }
  },
})
