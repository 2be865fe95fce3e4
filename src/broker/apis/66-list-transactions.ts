/** ListTransactions (key 66): transactional ids, filtered by state and producer id. */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readListTransactionsRequest,
  writeListTransactionsResponse,
  type ListTransactionsRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

const STATES = ['Empty', 'Ongoing', 'PrepareCommit', 'PrepareAbort', 'CompleteCommit', 'CompleteAbort']

export default defineApi({
  key: 66,
  name: 'ListTransactions',
  minVersion: 0,
  maxVersion: 1,
  decode: readListTransactionsRequest,
  encode: writeListTransactionsResponse,
  handle(broker, req: ListTransactionsRequest) {
    const unknownStateFilters = req.stateFilters.filter((s) => !STATES.includes(s))
    const listed = broker.transactions.list(
      req.stateFilters,
      req.producerIdFilters.map((id) => Number(id)),
      req.durationFilter >= 0n ? Number(req.durationFilter) : undefined,
    )
    return {
      errorCode: KafkaError.NONE,
      unknownStateFilters,
      transactionStates: listed.map((t) => ({
        transactionalId: t.transactionalId,
        producerId: BigInt(t.producerId),
        transactionState: t.state,
      })),
    }
  },
})
