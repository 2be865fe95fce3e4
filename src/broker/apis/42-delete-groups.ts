/** DeleteGroups (key 42): removes empty groups and their committed offsets. */
import {
  readDeleteGroupsRequest,
  writeDeleteGroupsResponse,
  type DeleteGroupsRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 42,
  name: 'DeleteGroups',
  minVersion: 0,
  maxVersion: 2,
  decode: readDeleteGroupsRequest,
  encode: writeDeleteGroupsResponse,
  handle(broker, req: DeleteGroupsRequest) {
    return { results: broker.groups.deleteGroups(req.groupsNames) }
  },
})
