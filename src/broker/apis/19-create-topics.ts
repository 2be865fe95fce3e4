/**
 * CreateTopics (key 19): partitions (or an explicit assignment naming this broker), replication
 * factor 1 (or -1 for the default), and topic configs validated against config.ts.
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readCreateTopicsRequest,
  writeCreateTopicsResponse,
  type CreateTopicsRequest,
} from '../../protocol/messages/index.ts'
import { ConfigSource } from '../config.ts'
import { defineApi } from '../registry.ts'
import { TopicError } from '../topics.ts'

export default defineApi({
  key: 19,
  name: 'CreateTopics',
  minVersion: 2,
  maxVersion: 7,
  decode: readCreateTopicsRequest,
  encode: writeCreateTopicsResponse,
  handle(broker, req: CreateTopicsRequest) {
    const seen = new Set<string>()
    return {
      topics: req.topics.map((t) => {
        const fail = (errorCode: number, errorMessage: string) => ({
          name: t.name,
          errorCode,
          errorMessage,
          configs: null,
        })
        if (seen.has(t.name)) return fail(KafkaError.INVALID_REQUEST, `topic ${t.name} is listed twice`)
        seen.add(t.name)
        if (t.replicationFactor !== -1 && t.replicationFactor !== 1 && t.assignments.length === 0) {
          return fail(
            KafkaError.INVALID_REPLICATION_FACTOR,
            `replication factor ${t.replicationFactor} is impossible with a single broker`,
          )
        }
        let partitions = t.numPartitions === -1 ? broker.options.defaultPartitions : t.numPartitions
        if (t.assignments.length > 0) {
          if (t.numPartitions !== -1 || t.replicationFactor !== -1) {
            return fail(KafkaError.INVALID_REQUEST, 'give either an assignment or partitions and replication factor')
          }
          const indexes = t.assignments.map((a) => a.partitionIndex).sort((a, b) => a - b)
          const bad = t.assignments.find((a) => a.brokerIds.length !== 1 || a.brokerIds[0] !== broker.nodeId)
          if (bad !== undefined || indexes.some((p, i) => p !== i)) {
            return fail(
              KafkaError.INVALID_REPLICA_ASSIGNMENT,
              `assignments must place partitions 0..n-1 on broker ${broker.nodeId}`,
            )
          }
          partitions = indexes.length
        }
        const overrides = Object.fromEntries(t.configs.map((c) => [c.name, c.value]))
        try {
          const topic = req.validateOnly ? undefined : broker.topics.create(t.name, partitions, overrides)
          const config = topic?.config ?? broker.topics.validateCreate(t.name, partitions, overrides)
          return {
            name: t.name,
            topicId: topic?.id,
            errorCode: KafkaError.NONE,
            errorMessage: null,
            numPartitions: partitions,
            replicationFactor: 1,
            configs: Object.entries(config).map(([name, value]) => ({
              name,
              value,
              readOnly: false,
              configSource: overrides[name] !== undefined ? ConfigSource.topic : ConfigSource.default,
              isSensitive: false,
            })),
          }
        } catch (err) {
          if (err instanceof TopicError) return fail(err.errorCode, err.message)
          throw err
        }
      }),
    }
  },
})
