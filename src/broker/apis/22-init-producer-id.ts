/**
 * InitProducerId (key 22): a producer id and epoch for an idempotent producer. A producer that
 * presents its current id and epoch (v3+, KIP-360) gets the epoch bumped instead of a new id.
 * Transactional ids are refused: this broker does not implement transactions yet.
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readInitProducerIdRequest,
  writeInitProducerIdResponse,
  type InitProducerIdRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

const MAX_EPOCH = 32767

export default defineApi({
  key: 22,
  name: 'InitProducerId',
  minVersion: 0,
  maxVersion: 5,
  decode: readInitProducerIdRequest,
  encode: writeInitProducerIdResponse,
  handle(broker, req: InitProducerIdRequest) {
    if (req.transactionalId !== null) {
      return { errorCode: KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1n, producerEpoch: -1 }
    }
    if (req.producerId >= 0n && req.producerEpoch >= 0 && req.producerEpoch < MAX_EPOCH - 1) {
      return { errorCode: KafkaError.NONE, producerId: req.producerId, producerEpoch: req.producerEpoch + 1 }
    }
    return { errorCode: KafkaError.NONE, producerId: BigInt(broker.allocateProducerId()), producerEpoch: 0 }
  },
})
