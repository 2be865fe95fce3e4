/** DeleteRecords (key 21): moves a partition's log start offset forward; -1 means the high watermark. */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readDeleteRecordsRequest,
  writeDeleteRecordsResponse,
  type DeleteRecordsRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 21,
  name: 'DeleteRecords',
  minVersion: 0,
  maxVersion: 2,
  decode: readDeleteRecordsRequest,
  encode: writeDeleteRecordsResponse,
  handle(broker, req: DeleteRecordsRequest) {
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => {
          const partition = broker.topics.getPartition(t.name, p.partitionIndex)
          if (partition === undefined) {
            return {
              partitionIndex: p.partitionIndex,
              lowWatermark: -1n,
              errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
            }
          }
          const hwm = partition.highWatermark
          const offset = p.offset === -1n ? hwm : Number(p.offset)
          if (offset < 0 || offset > hwm) {
            return { partitionIndex: p.partitionIndex, lowWatermark: -1n, errorCode: KafkaError.OFFSET_OUT_OF_RANGE }
          }
          if (offset > partition.log.logStartOffset) partition.log.deleteRecordsBefore(offset)
          return {
            partitionIndex: p.partitionIndex,
            lowWatermark: BigInt(partition.log.logStartOffset),
            errorCode: KafkaError.NONE,
          }
        }),
      })),
    }
  },
})
