/**
 * Metadata (key 3): this broker as the only node, controller and leader of every partition.
 * topics = null asks for all topics, [] for none. Unknown topics are created when the request
 * allows it and the broker is configured to.
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readMetadataRequest,
  writeMetadataResponse,
  type MetadataRequest,
  type MetadataResponseInput,
} from '../../protocol/messages/index.ts'
import type { BrokerContext } from '../context.ts'
import { defineApi } from '../registry.ts'
import { topicNameProblem, type Topic } from '../topics.ts'

const ZERO_UUID = Buffer.alloc(16)

export default defineApi({
  key: 3,
  name: 'Metadata',
  minVersion: 4,
  maxVersion: 12,
  decode: readMetadataRequest,
  encode: writeMetadataResponse,
  handle(broker, req: MetadataRequest, info): MetadataResponseInput {
    let topics: NonNullable<MetadataResponseInput['topics']>
    if (req.topics === null) {
      topics = broker.topics.list().map((t) => describeTopic(broker, t))
    } else {
      topics = req.topics.map((rt) => {
        const byId = rt.name === null || rt.name === undefined
        if (byId && info.apiVersion < 12) {
          // As Kafka: lookups by id start at v12, and v10-11 responses cannot carry a null name.
          return { errorCode: KafkaError.INVALID_REQUEST, name: '', topicId: rt.topicId, partitions: [] }
        }
        const topic = byId ? broker.topics.getById(rt.topicId) : broker.topics.get(rt.name as string)
        if (topic !== undefined) return describeTopic(broker, topic)
        if (byId) {
          return { errorCode: KafkaError.UNKNOWN_TOPIC_ID, name: null, topicId: rt.topicId, partitions: [] }
        }
        const name = rt.name as string
        const problem = topicNameProblem(name)
        if (problem !== null) {
          return { errorCode: KafkaError.INVALID_TOPIC_EXCEPTION, name, topicId: ZERO_UUID, partitions: [] }
        }
        const created = req.allowAutoTopicCreation ? broker.autoCreate(name) : undefined
        return created !== undefined
          ? describeTopic(broker, created)
          : { errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION, name, topicId: ZERO_UUID, partitions: [] }
      })
    }
    const { host, port } = broker.advertised
    return {
      brokers: [{ nodeId: broker.nodeId, host, port, rack: null }],
      clusterId: broker.clusterId,
      controllerId: broker.nodeId,
      topics,
    }
  },
})

function describeTopic(broker: BrokerContext, topic: Topic) {
  return {
    errorCode: KafkaError.NONE,
    name: topic.name,
    topicId: topic.id,
    isInternal: false,
    partitions: topic.partitions.map((p) => ({
      errorCode: KafkaError.NONE,
      partitionIndex: p.index,
      leaderId: broker.nodeId,
      leaderEpoch: 0,
      replicaNodes: [broker.nodeId],
      isrNodes: [broker.nodeId],
      offlineReplicas: [],
    })),
  }
}
