/**
 * DescribeConfigs (key 32): topic configs (resource type 2) with their source — set on the topic
 * or the default — and the broker's own settings (type 4), which are read-only here.
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readDescribeConfigsRequest,
  writeDescribeConfigsResponse,
  type DescribeConfigsRequest,
} from '../../protocol/messages/index.ts'
import { ConfigSource, ConfigType, TOPIC_CONFIG_DEFS } from '../config.ts'
import type { BrokerContext } from '../context.ts'
import { defineApi } from '../registry.ts'

export const ResourceType = { topic: 2, broker: 4 } as const

interface ConfigEntry {
  name: string
  value: string
  source: number
  readOnly: boolean
  type: number
  doc: string
}

export default defineApi({
  key: 32,
  name: 'DescribeConfigs',
  minVersion: 1,
  maxVersion: 4,
  decode: readDescribeConfigsRequest,
  encode: writeDescribeConfigsResponse,
  handle(broker, req: DescribeConfigsRequest, info) {
    return {
      results: req.resources.map((r) => {
        const base = { resourceType: r.resourceType, resourceName: r.resourceName }
        let entries: ConfigEntry[]
        if (r.resourceType === ResourceType.topic) {
          const topic = broker.topics.get(r.resourceName)
          if (topic === undefined) {
            return {
              ...base,
              errorCode: KafkaError.UNKNOWN_TOPIC_OR_PARTITION,
              errorMessage: `no topic ${r.resourceName}`,
              configs: [],
            }
          }
          entries = Object.entries(TOPIC_CONFIG_DEFS).map(([name, def]) => ({
            name,
            value: topic.config[name],
            source: topic.overrides[name] !== undefined ? ConfigSource.topic : ConfigSource.default,
            readOnly: false,
            type: ConfigType[def.type],
            doc: def.doc,
          }))
        } else if (r.resourceType === ResourceType.broker) {
          if (r.resourceName !== '' && r.resourceName !== String(broker.nodeId)) {
            return {
              ...base,
              errorCode: KafkaError.INVALID_REQUEST,
              errorMessage: `no broker ${r.resourceName}`,
              configs: [],
            }
          }
          entries = brokerConfigs(broker)
        } else {
          return {
            ...base,
            errorCode: KafkaError.INVALID_REQUEST,
            errorMessage: `resource type ${r.resourceType} is not supported`,
            configs: [],
          }
        }
        const wanted = r.configurationKeys
        if (wanted !== null && wanted.length > 0) entries = entries.filter((e) => wanted.includes(e.name))
        return {
          ...base,
          errorCode: KafkaError.NONE,
          errorMessage: null,
          configs: entries.map((e) => ({
            name: e.name,
            value: e.value,
            readOnly: e.readOnly,
            isDefault: e.source === ConfigSource.default,
            configSource: e.source,
            isSensitive: false,
            synonyms:
              req.includeSynonyms && info.apiVersion >= 1 ? [{ name: e.name, value: e.value, source: e.source }] : [],
            configType: e.type,
            documentation: req.includeDocumentation ? e.doc : null,
          })),
        }
      }),
    }
  },
})

function brokerConfigs(broker: BrokerContext): ConfigEntry[] {
  const o = broker.options
  const entry = (
    name: string,
    value: string | number | boolean,
    type: keyof typeof ConfigType,
    doc: string,
  ): ConfigEntry => ({
    name,
    value: String(value),
    source: ConfigSource.staticBroker,
    readOnly: true,
    type: ConfigType[type],
    doc,
  })
  return [
    entry('broker.id', broker.nodeId, 'int', 'This broker node id.'),
    entry(
      'advertised.listeners',
      `PLAINTEXT://${broker.advertised.host}:${broker.advertised.port}`,
      'string',
      'The address clients are given.',
    ),
    entry('log.dirs', o.dataDir, 'string', 'Where partitions and broker state are stored.'),
    entry('num.partitions', o.defaultPartitions, 'int', 'Partitions of auto-created topics.'),
    entry('auto.create.topics.enable', o.autoCreateTopics, 'boolean', 'Create unknown topics on Metadata requests.'),
    entry('log.flush.policy', o.flushPolicy, 'string', 'sync, interval or none: when appended data is fsynced.'),
    entry('log.flush.interval.ms', o.flushIntervalMs, 'long', 'fsync period under the interval policy.'),
    entry('socket.request.max.bytes', o.maxRequestBytes, 'int', 'Largest request frame accepted.'),
    entry(
      'group.initial.rebalance.delay.ms',
      o.initialRebalanceDelayMs,
      'int',
      'Delay of the first rebalance of a group.',
    ),
    entry('log.retention.check.interval.ms', o.retentionCheckIntervalMs, 'long', 'How often retention runs.'),
    entry('log.retention.ms', o.topicDefaults['retention.ms'], 'long', 'Default retention.ms of topics.'),
    entry('log.retention.bytes', o.topicDefaults['retention.bytes'], 'long', 'Default retention.bytes of topics.'),
    entry('log.segment.bytes', o.topicDefaults['segment.bytes'], 'int', 'Default segment.bytes of topics.'),
    entry('message.max.bytes', o.topicDefaults['max.message.bytes'], 'int', 'Default max.message.bytes of topics.'),
  ]
}
