/** DescribeProducers (key 61): the idempotent and transactional producers active on partitions. */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readDescribeProducersRequest,
  writeDescribeProducersResponse,
  type DescribeProducersRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 61,
  name: 'DescribeProducers',
  minVersion: 0,
  maxVersion: 0,
  decode: readDescribeProducersRequest,
  encode: writeDescribeProducersResponse,
  handle(broker, req: DescribeProducersRequest) {
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitionIndexes.map((index) => {
          const partition = broker.topics.getPartition(t.name, index)
          if (partition === undefined) {
            return {
              partitionIndex: index,
              errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: null,
              activeProducers: [],
            }
          }
          return {
            partitionIndex: index,
            errorCode: KafkaError.NONE,
            errorMessage: null,
            activeProducers: partition.producers.describe().map((p) => ({
              producerId: BigInt(p.producerId),
              producerEpoch: p.epoch,
              lastSequence: p.lastSequence,
              lastTimestamp: BigInt(p.lastTimestamp),
              coordinatorEpoch: 0,
              currentTxnStartOffset: BigInt(p.currentTxnStartOffset),
            })),
          }
        }),
      })),
    }
  },
})
