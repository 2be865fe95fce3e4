/** SyncGroup (key 14): the leader hands out assignments; followers wait for theirs. */
import { readSyncGroupRequest, writeSyncGroupResponse, type SyncGroupRequest } from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 14,
  name: 'SyncGroup',
  minVersion: 0,
  maxVersion: 5,
  decode: readSyncGroupRequest,
  encode: writeSyncGroupResponse,
  handle(broker, req: SyncGroupRequest) {
    return broker.groups.sync({
      groupId: req.groupId,
      generationId: req.generationId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      protocolType: req.protocolType,
      protocolName: req.protocolName,
      assignments: req.assignments.map((a) => ({ memberId: a.memberId, assignment: a.assignment })),
    })
  },
})
