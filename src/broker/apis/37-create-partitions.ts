/** CreatePartitions (key 37): grows a topic's partition count. */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readCreatePartitionsRequest,
  writeCreatePartitionsResponse,
  type CreatePartitionsRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'
import { TopicError } from '../topics.ts'

export default defineApi({
  key: 37,
  name: 'CreatePartitions',
  minVersion: 0,
  maxVersion: 3,
  decode: readCreatePartitionsRequest,
  encode: writeCreatePartitionsResponse,
  handle(broker, req: CreatePartitionsRequest) {
    return {
      results: req.topics.map((t) => {
        if (t.assignments !== null && t.assignments.some((a) => a.brokerIds.some((id) => id !== broker.nodeId))) {
          return {
            name: t.name,
            errorCode: KafkaError.INVALID_REPLICA_ASSIGNMENT,
            errorMessage: `only broker ${broker.nodeId} exists`,
          }
        }
        try {
          broker.topics.addPartitions(t.name, t.count, req.validateOnly)
          return { name: t.name, errorCode: KafkaError.NONE, errorMessage: null }
        } catch (err) {
          if (err instanceof TopicError) return { name: t.name, errorCode: err.errorCode, errorMessage: err.message }
          throw err
        }
      }),
    }
  },
})
