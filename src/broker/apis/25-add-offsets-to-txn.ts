/**
 * AddOffsetsToTxn (key 25): a consumer group's offsets will be committed with the transaction. A
 * fenced producer gets PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before (KIP-588).
 */
import {
  readAddOffsetsToTxnRequest,
  writeAddOffsetsToTxnResponse,
  type AddOffsetsToTxnRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'
import { fencedFor } from '../transactions/coordinator.ts'

/** The first version that carries PRODUCER_FENCED (older ones get INVALID_PRODUCER_EPOCH). */
const PRODUCER_FENCED_VERSION = 2

export default defineApi({
  key: 25,
  name: 'AddOffsetsToTxn',
  minVersion: 0,
  maxVersion: 4,
  decode: readAddOffsetsToTxnRequest,
  encode: writeAddOffsetsToTxnResponse,
  async handle(broker, req: AddOffsetsToTxnRequest, info) {
    const errorCode = await broker.transactions.addOffsets(
      req.transactionalId,
      Number(req.producerId),
      req.producerEpoch,
      req.groupId,
    )
    return { errorCode: fencedFor(errorCode, info.apiVersion, PRODUCER_FENCED_VERSION) }
  },
})
