/**
 * TxnOffsetCommit (key 28): consumer offsets that become committed when the transaction commits
 * (consume-transform-produce, exactly once). v3+ carries the member and generation, checked like
 * an OffsetCommit so that a zombie member is fenced.
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readTxnOffsetCommitRequest,
  writeTxnOffsetCommitResponse,
  type TxnOffsetCommitRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

const MAX_METADATA_BYTES = 4096

export default defineApi({
  key: 28,
  name: 'TxnOffsetCommit',
  minVersion: 0,
  maxVersion: 4,
  decode: readTxnOffsetCommitRequest,
  encode: writeTxnOffsetCommitResponse,
  handle(broker, req: TxnOffsetCommitRequest) {
    const member = broker.groups.checkTransactionalCommit(
      req.groupId,
      req.memberId,
      req.groupInstanceId,
      req.generationId,
    )
    const perPartition = new Map<string, number>()
    const accepted = []
    for (const t of req.topics) {
      for (const p of t.partitions) {
        let code: number = member
        if (code === KafkaError.NONE && broker.topics.getPartition(t.name, p.partitionIndex) === undefined) {
          code = KafkaError.UNKNOWN_TOPIC_OR_PARTITION
        } else if (
          code === KafkaError.NONE &&
          p.committedMetadata !== null &&
          Buffer.byteLength(p.committedMetadata) > MAX_METADATA_BYTES
        ) {
          code = KafkaError.OFFSET_METADATA_TOO_LARGE
        }
        if (code === KafkaError.NONE) {
          accepted.push({
            topic: t.name,
            partition: p.partitionIndex,
            offset: Number(p.committedOffset),
            leaderEpoch: p.committedLeaderEpoch,
            metadata: p.committedMetadata,
          })
        }
        perPartition.set(`${t.name}:${p.partitionIndex}`, code)
      }
    }
    if (accepted.length > 0) {
      const code = broker.transactions.txnOffsetCommit(
        req.transactionalId,
        req.groupId,
        Number(req.producerId),
        req.producerEpoch,
        accepted,
      )
      for (const a of accepted) perPartition.set(`${a.topic}:${a.partition}`, code)
    }
    return {
      topics: req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({
          partitionIndex: p.partitionIndex,
          errorCode: perPartition.get(`${t.name}:${p.partitionIndex}`) ?? KafkaError.NONE,
        })),
      })),
    }
  },
})
