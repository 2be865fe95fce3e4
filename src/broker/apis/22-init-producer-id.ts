/**
 * InitProducerId (key 22). Without a transactional id: a fresh producer id at epoch 0 for an
 * idempotent producer — as in Kafka, the id and epoch a request may carry (v3+) are ignored then.
 * With one: the transaction coordinator bumps the id's epoch (fencing older instances) and aborts
 * a transaction the previous instance left open. A producer presenting (v3+) an id and epoch that
 * are not its transactional id's current ones is fenced: PRODUCER_FENCED from v4, before that
 * INVALID_PRODUCER_EPOCH (KIP-588).
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readInitProducerIdRequest,
  writeInitProducerIdResponse,
  type InitProducerIdRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'
import { fencedFor } from '../transactions/coordinator.ts'

/** The first version that carries PRODUCER_FENCED (older ones get INVALID_PRODUCER_EPOCH). */
const PRODUCER_FENCED_VERSION = 4

export default defineApi({
  key: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 5,
  decode: readInitProducerIdRequest,
  encode: writeInitProducerIdResponse,
  async handle(broker, req: InitProducerIdRequest, info) {
    if (req.transactionalId === null) {
      return { errorCode: KafkaError.NONE, producerId: BigInt(broker.allocateProducerId()), producerEpoch: 0 }
    }
    if (req.transactionalId === '') {
      return { errorCode: KafkaError.INVALID_REQUEST, producerId: -1n, producerEpoch: -1 }
    }
    const res = await broker.transactions.initProducerId(
      req.transactionalId,
      req.transactionTimeoutMs,
      Number(req.producerId),
      req.producerEpoch,
    )
    return {
      errorCode: fencedFor(res.errorCode, info.apiVersion, PRODUCER_FENCED_VERSION),
      producerId: BigInt(res.producerId),
      producerEpoch: res.producerEpoch,
    }
  },
})
