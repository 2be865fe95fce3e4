/** AddOffsetsToTxn (key 25): a consumer group's offsets will be committed with the transaction. */
import {
  readAddOffsetsToTxnRequest,
  writeAddOffsetsToTxnResponse,
  type AddOffsetsToTxnRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 25,
  name: 'AddOffsetsToTxn',
  minVersion: 0,
  maxVersion: 4,
  decode: readAddOffsetsToTxnRequest,
  encode: writeAddOffsetsToTxnResponse,
  async handle(broker, req: AddOffsetsToTxnRequest) {
    const errorCode = await broker.transactions.addOffsets(
      req.transactionalId,
      Number(req.producerId),
      req.producerEpoch,
      req.groupId,
    )
    return { errorCode }
  },
})
