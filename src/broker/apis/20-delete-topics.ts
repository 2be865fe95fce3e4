/** DeleteTopics (key 20): by name (v0–5) or by name or id (v6+); committed offsets go too. */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readDeleteTopicsRequest,
  writeDeleteTopicsResponse,
  type DeleteTopicsRequest,
} from '../../protocol/messages/index.ts'
import type { BrokerContext } from '../context.ts'
import { defineApi } from '../registry.ts'

const ZERO_UUID = Buffer.alloc(16)

export default defineApi({
  key: 20,
  name: 'DeleteTopics',
  minVersion: 1,
  maxVersion: 6,
  decode: readDeleteTopicsRequest,
  encode: writeDeleteTopicsResponse,
  handle(broker, req: DeleteTopicsRequest, info) {
    if (info.apiVersion < 6) {
      return { responses: req.topicNames.map((name) => remove(broker, name, null)) }
    }
    return {
      responses: req.topics.map((t) => {
        if (t.name !== null && t.name !== undefined) return remove(broker, t.name, null)
        const topic = broker.topics.getById(t.topicId)
        if (topic === undefined) {
          return {
            name: null,
            topicId: t.topicId,
            errorCode: KafkaError.UNKNOWN_TOPIC_ID,
            errorMessage: 'no such topic id',
          }
        }
        return remove(broker, topic.name, t.topicId)
      }),
    }
  },
})

function remove(broker: BrokerContext, name: string, id: Buffer | null) {
  const topic = broker.topics.get(name)
  if (topic === undefined) {
    return {
      name,
      topicId: id ?? ZERO_UUID,
      errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
      errorMessage: `no topic ${name}`,
    }
  }
  broker.topics.delete(name)
  broker.groups.forgetTopic(name)
  return { name, topicId: topic.id, errorCode: KafkaError.NONE, errorMessage: null }
}
