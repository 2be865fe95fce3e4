/**
 * Produce (key 0): validate each partition's record batch like Kafka, drop idempotent retries,
 * append, and answer once the data is as durable as `acks` asks (acks=0 gets no answer at all).
 *
 * Versions 0–2 (message formats older than RecordBatch v2) are advertised but refused with
 * UNSUPPORTED_VERSION per partition, as Apache Kafka 4 does (KAFKA-18659): librdkafka before 2.10
 * only compresses with gzip, snappy or lz4 when the broker's Produce range includes v0.
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readProduceRequest,
  writeProduceResponse,
  type ProduceRequest,
  type ProduceResponseInput,
} from '../../protocol/messages/index.ts'
import { checkBatch, LOG_OVERHEAD, Offsets, readBatchHeader, Attributes } from '../../protocol/record-batch.ts'
import { defineApi, NO_RESPONSE } from '../registry.ts'
import type { TransactionCoordinator } from '../transactions/coordinator.ts'
import type { Partition } from '../topics.ts'

/** The first Produce version that carries RecordBatch v2. */
const MIN_RECORD_BATCH_VERSION = 3

interface PartitionResult {
  index: number
  errorCode: number
  baseOffset: bigint
  logStartOffset: bigint
  errorMessage: string | null
}

export default defineApi({
  key: 0,
  name: 'Produce',
  minVersion: 0,
  maxVersion: 11,
  decode: readProduceRequest,
  encode: writeProduceResponse,
  handle(broker, req: ProduceRequest, info) {
    const acks = req.acks
    if (info.apiVersion < MIN_RECORD_BATCH_VERSION) {
      if (acks === 0) return NO_RESPONSE
      return {
        responses: req.topicData.map((t) => ({
          name: t.name,
          partitionResponses: t.partitionData.map((p) =>
            failure(p.index, KafkaError.UNSUPPORTED_VERSION, 'Produce v0-2 are not supported: use v3 or later'),
          ),
        })),
      }
    }
    const touched = new Set<Partition>()
    const responses = req.topicData.map((t) => ({
      name: t.name,
      partitionResponses: t.partitionData.map((p): PartitionResult => {
        if (acks !== 0 && acks !== 1 && acks !== -1) {
          return failure(p.index, KafkaError.INVALID_REQUIRED_ACKS, `acks must be -1, 0 or 1, got ${acks}`)
        }
        const partition = broker.topics.getPartition(t.name, p.index)
        if (partition === undefined) {
          return failure(p.index, KafkaError.UNKNOWN_TOPIC_OR_PARTITION, `no partition ${t.name}-${p.index}`)
        }
        const result = appendBatch(broker.transactions, partition, p.records, req.transactionalId)
        if (result.errorCode === KafkaError.NONE) touched.add(partition)
        return result
      }),
    }))
    const response: ProduceResponseInput = { responses }
    if (acks === 0) return NO_RESPONSE
    if (acks === -1 && touched.size > 0) return broker.durable(touched).then(() => response)
    return response
  },
})

function failure(index: number, errorCode: number, errorMessage: string): PartitionResult {
  return { index, errorCode, baseOffset: -1n, logStartOffset: -1n, errorMessage }
}

const PROBLEM_CODES = {
  CORRUPT_MESSAGE: KafkaError.CORRUPT_MESSAGE,
  INVALID_RECORD: KafkaError.INVALID_RECORD,
  UNSUPPORTED_COMPRESSION_TYPE: KafkaError.UNSUPPORTED_COMPRESSION_TYPE,
} as const

function appendBatch(
  transactions: TransactionCoordinator,
  partition: Partition,
  records: Buffer | null,
  transactionalId: string | null,
): PartitionResult {
  const index = partition.index
  if (records === null || records.length === 0) {
    return failure(index, KafkaError.INVALID_RECORD, 'no records')
  }
  if (records.length < LOG_OVERHEAD) return failure(index, KafkaError.CORRUPT_MESSAGE, 'truncated record batch')
  // Produce v3+ carries exactly one batch per partition.
  const size = records.readInt32BE(Offsets.batchLength) + LOG_OVERHEAD
  if (size !== records.length) {
    return failure(
      index,
      KafkaError.INVALID_RECORD,
      'a produce request must hold exactly one record batch per partition',
    )
  }
  const maxBytes = Number(partition.topic.config['max.message.bytes'])
  if (size > maxBytes) {
    return failure(index, KafkaError.MESSAGE_TOO_LARGE, `batch of ${size} bytes exceeds max.message.bytes ${maxBytes}`)
  }
  const check = checkBatch(records, 0, size)
  if (check.problem !== null) return failure(index, PROBLEM_CODES[check.problem], check.detail)
  const header = readBatchHeader(records)
  if (header.attributes & Attributes.transactional) {
    // The producer must have added the partition to its open transaction first (KIP-890 part 1:
    // otherwise a late write could open a transaction nobody will ever end). A fenced instance (an
    // older epoch of the producer id) is told so: INVALID_PRODUCER_EPOCH, not a state error.
    const code =
      transactionalId === null
        ? KafkaError.INVALID_TXN_STATE
        : transactions.checkTransactionalWrite(header.producerId, header.producerEpoch, partition.topic.name, index)
    if (code === KafkaError.INVALID_PRODUCER_EPOCH) {
      return failure(index, code, `epoch ${header.producerEpoch} of producer ${header.producerId} was fenced`)
    }
    if (code !== KafkaError.NONE) {
      return failure(index, code, 'the partition is not in an open transaction of this producer')
    }
  }
  const log = partition.log
  if (header.producerId >= 0) {
    const seq = partition.producers.check(header)
    if (seq.kind === 'duplicate') {
      return {
        index,
        errorCode: KafkaError.NONE,
        baseOffset: BigInt(seq.baseOffset),
        logStartOffset: BigInt(log.logStartOffset),
        errorMessage: null,
      }
    }
    if (seq.kind === 'error') return failure(index, seq.errorCode, seq.message)
  }
  const appended = partition.append(records, header, Date.now())
  return {
    index,
    errorCode: KafkaError.NONE,
    baseOffset: BigInt(appended.baseOffset),
    logStartOffset: BigInt(log.logStartOffset),
    errorMessage: null,
  }
}
