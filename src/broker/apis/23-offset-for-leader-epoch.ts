/**
 * OffsetForLeaderEpoch (key 23): this broker has always led every partition at epoch 0, so the
 * end offset of epoch 0 (or any later epoch) is the log end offset.
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readOffsetForLeaderEpochRequest,
  writeOffsetForLeaderEpochResponse,
  type OffsetForLeaderEpochRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 23,
  name: 'OffsetForLeaderEpoch',
  minVersion: 2,
  maxVersion: 4,
  decode: readOffsetForLeaderEpochRequest,
  encode: writeOffsetForLeaderEpochResponse,
  handle(broker, req: OffsetForLeaderEpochRequest) {
    return {
      topics: req.topics.map((t) => ({
        topic: t.topic,
        partitions: t.partitions.map((p) => {
          const partition = broker.topics.getPartition(t.topic, p.partition)
          if (partition === undefined) {
            return {
              partition: p.partition,
              errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
              leaderEpoch: -1,
              endOffset: -1n,
            }
          }
          if (p.currentLeaderEpoch > 0) {
            return {
              partition: p.partition,
              errorCode: KafkaError.UNKNOWN_LEADER_EPOCH,
              leaderEpoch: -1,
              endOffset: -1n,
            }
          }
          return {
            partition: p.partition,
            errorCode: KafkaError.NONE,
            leaderEpoch: p.leaderEpoch < 0 ? -1 : 0,
            endOffset: p.leaderEpoch < 0 ? -1n : BigInt(partition.highWatermark),
          }
        }),
      })),
    }
  },
})
