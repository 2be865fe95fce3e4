/** JoinGroup (key 11): parks until the group's rebalance completes; see groups/coordinator.ts. */
import { KafkaError } from '../../protocol/error-codes.ts'
import { readJoinGroupRequest, writeJoinGroupResponse, type JoinGroupRequest } from '../../protocol/messages/index.ts'
import { defineApi } from '../registry.ts'

export default defineApi({
  key: 11,
  name: 'JoinGroup',
  minVersion: 2,
  maxVersion: 9,
  decode: readJoinGroupRequest,
  encode: writeJoinGroupResponse,
  async handle(broker, req: JoinGroupRequest, info) {
    if (req.groupId === '') {
      return {
        errorCode: KafkaError.INVALID_GROUP_ID,
        generationId: -1,
        protocolName: '',
        leader: '',
        memberId: '',
        members: [],
      }
    }
    const result = await broker.groups.join({
      groupId: req.groupId,
      memberId: req.memberId,
      groupInstanceId: req.groupInstanceId,
      protocolType: req.protocolType,
      protocols: req.protocols.map((p) => ({ name: p.name, metadata: p.metadata })),
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs === -1 ? req.sessionTimeoutMs : req.rebalanceTimeoutMs,
      clientId: info.clientId ?? '',
      clientHost: info.clientHost,
      requireKnownMemberId: info.apiVersion >= 4,
      reason: req.reason,
    })
    return {
      ...result,
      // Before v7 the protocol name is not nullable: an error answer carries an empty one.
      protocolName: info.apiVersion < 7 ? (result.protocolName ?? '') : result.protocolName,
    }
  },
})
