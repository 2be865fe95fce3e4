/** Heartbeat (key 12): keeps a member's session alive and tells it when to rejoin. */
import { readHeartbeatRequest, writeHeartbeatResponse, type HeartbeatRequest } from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 12,
  name: 'Heartbeat',
  minVersion: 0,
  maxVersion: 4,
  decode: readHeartbeatRequest,
  encode: writeHeartbeatResponse,
  handle(broker, req: HeartbeatRequest) {
    return broker.groups.heartbeat({
      groupId: req.groupId,
      generationId: req.generationId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
    })
  },
})
