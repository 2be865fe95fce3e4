/**
 * EndTxn (key 26): commits or aborts a transaction — markers in every partition it wrote and, for
 * a commit, its consumer offsets — answered once that is durable.
 */
import { readEndTxnRequest, writeEndTxnResponse, type EndTxnRequest } from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 26,
  name: 'EndTxn',
  minVersion: 0,
  maxVersion: 4,
  decode: readEndTxnRequest,
  encode: writeEndTxnResponse,
  async handle(broker, req: EndTxnRequest) {
    const errorCode = await broker.transactions.endTxn(
      req.transactionalId,
      Number(req.producerId),
      req.producerEpoch,
      req.committed,
    )
    return { errorCode }
  },
})
