/** Shared by AlterConfigs and IncrementalAlterConfigs: applies topic config changes. */
import { KafkaError } from '../../protocol/error-codes.ts'
import type { BrokerContext } from '../context.ts'
import { TopicError } from '../topics.ts'
import { ResourceType } from './32-describe-configs.ts'

export function alterTopicConfigs(
  broker: BrokerContext,
  resource: { resourceType: number; resourceName: string },
  changes: Record<string, string | null>,
  incremental: boolean,
  validateOnly: boolean,
): { resourceType: number; resourceName: string; errorCode: number; errorMessage: string | null } {
  const base = { resourceType: resource.resourceType, resourceName: resource.resourceName }
  if (resource.resourceType !== ResourceType.topic) {
    return { ...base, errorCode: KafkaError.INVALID_REQUEST, errorMessage: 'only topic configs can be altered' }
  }
  try {
    broker.topics.alterConfigs(resource.resourceName, changes, incremental, validateOnly)
    return { ...base, errorCode: KafkaError.NONE, errorMessage: null }
  } catch (err) {
    if (err instanceof TopicError) return { ...base, errorCode: err.errorCode, errorMessage: err.message }
    throw err
  }
}
