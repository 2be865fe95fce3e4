/**
 * InitProducerId (key 22): a fresh producer id, epoch 0, for an idempotent producer. As in Kafka,
 * a request without a transactional id always gets a new id: the id and epoch it may carry (v3+)
 * only matter for transactional producers. Transactional ids are refused: this broker does not
 * implement transactions yet.
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
  handle(broker, req: InitProducerIdRequest) {
    if (req.transactionalId !== null) {
      return { errorCode: KafkaError.TRANSACTIONAL_ID_AUTHORIZATION_FAILED, producerId: -1n, producerEpoch: -1 }
    }
    return { errorCode: KafkaError.NONE, producerId: BigInt(broker.allocateProducerId()), producerEpoch: 0 }
  },
})
