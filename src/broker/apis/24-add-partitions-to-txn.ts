/**
 * AddPartitionsToTxn (key 24): a transactional producer declares the partitions it will write
 * before writing them. Versions 0–3 are the client form; 4+ (brokers verifying on behalf of
 * producers, KIP-890) are not served.
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readAddPartitionsToTxnRequest,
  writeAddPartitionsToTxnResponse,
  type AddPartitionsToTxnRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'
import type { TopicPartition } from '../transactions/coordinator.ts'

export default defineApi({
  key: 24,
  name: 'AddPartitionsToTxn',
  minVersion: 0,
  maxVersion: 3,
  decode: readAddPartitionsToTxnRequest,
  encode: writeAddPartitionsToTxnResponse,
  async handle(broker, req: AddPartitionsToTxnRequest) {
    const topics = req.v3AndBelowTopics
    const unknown = topics.some((t) => t.partitions.some((p) => broker.topics.getPartition(t.name, p) === undefined))
    let errorCode: number
    if (unknown) {
      // Kafka fails the whole request: unknown partitions get their error, the rest OPERATION_NOT_ATTEMPTED.
      errorCode = -1
    } else {
      const partitions: TopicPartition[] = topics.flatMap((t) => t.partitions.map((p) => [t.name, p] as const))
      errorCode = await broker.transactions.addPartitions(
        req.v3AndBelowTransactionalId,
        Number(req.v3AndBelowProducerId),
        req.v3AndBelowProducerEpoch,
        partitions,
      )
    }
    return {
      resultsByTopicV3AndBelow: topics.map((t) => ({
        name: t.name,
        resultsByPartition: t.partitions.map((p) => ({
          partitionIndex: p,
          partitionErrorCode:
            errorCode !== -1
              ? errorCode
              : broker.topics.getPartition(t.name, p) === undefined
                ? KafkaError.UNKNOWN_TOPIC_OR_PARTITION
                : KafkaError.OPERATION_NOT_ATTEMPTED,
        })),
      })),
    }
  },
})
