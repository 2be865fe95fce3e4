/**
 * AddPartitionsToTxn (key 24): a transactional producer declares the partitions it will write
 * before writing them. Versions 0–3 are the client form; 4+ (brokers verifying on behalf of
 * producers, KIP-890) are not served. A fenced producer gets PRODUCER_FENCED from v2,
 * INVALID_PRODUCER_EPOCH before (KIP-588).
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readAddPartitionsToTxnRequest,
  writeAddPartitionsToTxnResponse,
  type AddPartitionsToTxnRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'
import { fencedFor, type TopicPartition } from '../transactions/coordinator.ts'

/** The first version that carries PRODUCER_FENCED (older ones get INVALID_PRODUCER_EPOCH). */
const PRODUCER_FENCED_VERSION = 2

export default defineApi({
  key: 24,
  name: 'AddPartitionsToTxn',
  minVersion: 0,
  maxVersion: 3,
  decode: readAddPartitionsToTxnRequest,
  encode: writeAddPartitionsToTxnResponse,
  async handle(broker, req: AddPartitionsToTxnRequest, info) {
    const topics = req.v3AndBelowTopics
    const unknown = topics.some((t) => t.partitions.some((p) => broker.topics.getPartition(t.name, p) === undefined))
    let errorCode: number
    if (unknown) {
      // Kafka fails the whole request: unknown partitions get their error, the rest OPERATION_NOT_ATTEMPTED.
      errorCode = -1
    } else {
      const partitions: TopicPartition[] = topics.flatMap((t) => t.partitions.map((p) => [t.name, p] as const))
      errorCode = fencedFor(
        await broker.transactions.addPartitions(
          req.v3AndBelowTransactionalId,
          Number(req.v3AndBelowProducerId),
          req.v3AndBelowProducerEpoch,
          partitions,
        ),
        info.apiVersion,
        PRODUCER_FENCED_VERSION,
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
