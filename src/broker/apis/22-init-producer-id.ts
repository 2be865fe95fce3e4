/**
 * InitProducerId (key 22). Without a transactional id: a fresh producer id at epoch 0 for an
 * idempotent producer — as in Kafka, the id and epoch a request may carry (v3+) are ignored then.
 * With one: the transaction coordinator bumps the id's epoch (fencing older instances) and aborts
 * a transaction the previous instance left open.
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readInitProducerIdRequest,
  writeInitProducerIdResponse,
  type InitProducerIdRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 5,
  decode: readInitProducerIdRequest,
  encode: writeInitProducerIdResponse,
  async handle(broker, req: InitProducerIdRequest) {
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
    return { errorCode: res.errorCode, producerId: BigInt(res.producerId), producerEpoch: res.producerEpoch }
  },
})
