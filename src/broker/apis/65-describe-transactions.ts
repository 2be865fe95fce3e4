/** DescribeTransactions (key 65): state, producer and partitions of transactional ids. */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readDescribeTransactionsRequest,
  writeDescribeTransactionsResponse,
  type DescribeTransactionsRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 65,
  name: 'DescribeTransactions',
  minVersion: 0,
  maxVersion: 0,
  decode: readDescribeTransactionsRequest,
  encode: writeDescribeTransactionsResponse,
  handle(broker, req: DescribeTransactionsRequest) {
    return {
      transactionStates: req.transactionalIds.map((id) => {
        const t = broker.transactions.describe(id)
        if (t === undefined) {
          return {
            errorCode: KafkaError.TRANSACTIONAL_ID_NOT_FOUND,
            transactionalId: id,
            transactionState: '',
            topics: [],
          }
        }
        return {
          errorCode: KafkaError.NONE,
          transactionalId: id,
          transactionState: t.state,
          transactionTimeoutMs: t.timeoutMs,
          transactionStartTimeMs: BigInt(t.startedAt),
          producerId: BigInt(t.producerId),
          producerEpoch: t.producerEpoch,
          topics: t.partitions.map(([topic, partitions]) => ({ topic, partitions })),
        }
      }),
    }
  },
})
