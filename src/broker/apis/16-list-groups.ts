/** ListGroups (key 16): every group, optionally filtered by state (v4+) and type (v5+). */
import { KafkaError } from '../../protocol/error-codes.ts'
import {
  readListGroupsRequest,
  writeListGroupsResponse,
  type ListGroupsRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 16,
  name: 'ListGroups',
  minVersion: 0,
  maxVersion: 5,
  decode: readListGroupsRequest,
  encode: writeListGroupsResponse,
  handle(broker, req: ListGroupsRequest) {
    const states = req.statesFilter.length > 0 ? req.statesFilter : undefined
    // Every group here is a classic group.
    const typeOk = req.typesFilter.length === 0 || req.typesFilter.some((t) => t.toLowerCase() === 'classic')
    const groups = typeOk ? broker.groups.listGroups(states) : []
    return {
      errorCode: KafkaError.NONE,
      groups: groups.map((g) => ({ ...g, groupType: 'classic' })),
    }
  },
})
