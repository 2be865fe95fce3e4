/** LeaveGroup (key 13): one member (v0–2) or a batch of members (v3+) leave; the group rebalances. */
import {
  readLeaveGroupRequest,
  writeLeaveGroupResponse,
  type LeaveGroupRequest,
} from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 13,
  name: 'LeaveGroup',
  minVersion: 0,
  maxVersion: 5,
  decode: readLeaveGroupRequest,
  encode: writeLeaveGroupResponse,
  handle(broker, req: LeaveGroupRequest, info) {
    const members =
      info.apiVersion >= 3
        ? req.members.map((m) => ({ memberId: m.memberId, groupInstanceId: m.groupInstanceId, reason: m.reason }))
        : [{ memberId: req.memberId, groupInstanceId: null }]
    const result = broker.groups.leave({ groupId: req.groupId, members })
    if (info.apiVersion >= 3) return result
    // v0–2 carry one member and report its outcome as the top-level error.
    return { errorCode: result.errorCode || (result.members[0]?.errorCode ?? 0) }
  },
})
