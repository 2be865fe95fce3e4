/**
 * IncrementalAlterConfigs (key 44): SET (0) or DELETE (1) single topic configs; APPEND (2) and
 * SUBTRACT (3) apply to list configs, and the only list config here (cleanup.policy) has one legal value.
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readIncrementalAlterConfigsRequest,
  writeIncrementalAlterConfigsResponse,
  type IncrementalAlterConfigsRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'
import { alterTopicConfigs } from './alter-topic-configs.ts'

const SET = 0
const DELETE = 1

export default defineApi({
  key: 44,
  name: 'IncrementalAlterConfigs',
  minVersion: 0,
  maxVersion: 1,
  decode: readIncrementalAlterConfigsRequest,
  encode: writeIncrementalAlterConfigsResponse,
  handle(broker, req: IncrementalAlterConfigsRequest) {
    return {
      responses: req.resources.map((r) => {
        const changes: Record<string, string | null> = {}
        for (const c of r.configs) {
          if (c.configOperation !== SET && c.configOperation !== DELETE) {
            return {
              resourceType: r.resourceType,
              resourceName: r.resourceName,
              errorCode: KafkaError.INVALID_CONFIG,
              errorMessage: `operation ${c.configOperation} on ${c.name} is not supported`,
            }
          }
          changes[c.name] = c.configOperation === DELETE ? null : c.value
        }
        return alterTopicConfigs(broker, r, changes, true, req.validateOnly)
      }),
    }
  },
})
