/**
 * EndTxn (key 26): commits or aborts a transaction — markers in every partition it wrote and, for
 * a commit, its consumer offsets — answered once that is durable. A fenced producer (an epoch other
 * than the current one) gets PRODUCER_FENCED from v2, INVALID_PRODUCER_EPOCH before (KIP-588).
 */
import { readEndTxnRequest, writeEndTxnResponse, type EndTxnRequest } from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'
import { fencedFor } from '../transactions/coordinator.ts'

/** The first version that carries PRODUCER_FENCED (older ones get INVALID_PRODUCER_EPOCH). */
const PRODUCER_FENCED_VERSION = 2

export default defineApi({
  key: 26,
  name: 'EndTxn',
  minVersion: 0,
  maxVersion: 4,
  decode: readEndTxnRequest,
  encode: writeEndTxnResponse,
  async handle(broker, req: EndTxnRequest, info) {
    const errorCode = await broker.transactions.endTxn(
      req.transactionalId,
      Number(req.producerId),
      req.producerEpoch,
      req.committed,
    )
    return { errorCode: fencedFor(errorCode, info.apiVersion, PRODUCER_FENCED_VERSION) }
  },
})
