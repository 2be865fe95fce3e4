/**
 * Request and result shapes of the group coordinator: the broker's JoinGroup, SyncGroup,
 * Heartbeat, LeaveGroup, OffsetCommit, OffsetFetch, OffsetDelete, ListGroups, DescribeGroups and
 * DeleteGroups handlers translate wire messages to and from these. Error codes are Kafka's numbers
 * (`KafkaError` in src/protocol/error-codes.ts); protocol metadata and assignments are opaque bytes.
 */

/** Kafka's classic group states, spelled as DescribeGroups and ListGroups report them. */
export type GroupState = 'Empty' | 'PreparingRebalance' | 'CompletingRebalance' | 'Stable' | 'Dead'

/** Every {@link GroupState}, in the order of the state machine. */
export const GROUP_STATES: readonly GroupState[] = [
  'Empty',
  'PreparingRebalance',
  'CompletingRebalance',
  'Stable',
  'Dead',
]

/** One protocol a member supports (e.g. an assignor name) and its metadata for it. */
export interface GroupProtocol {
  name: string
  metadata: Buffer
}

export interface JoinGroupRequest {
  groupId: string
  /** '' on a first join. */
  memberId: string
  /** Static membership (KIP-345), null for dynamic members. */
  groupInstanceId: string | null
  protocolType: string
  /** In the member's order of preference. */
  protocols: GroupProtocol[]
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  clientId: string
  clientHost: string
  /** True for JoinGroup v4+: a dynamic first join is answered MEMBER_ID_REQUIRED with its new id. */
  requireKnownMemberId: boolean
  reason?: string | null
}

export interface JoinGroupMember {
  memberId: string
  groupInstanceId: string | null
  metadata: Buffer
}

export interface JoinGroupResult {
  errorCode: number
  generationId: number
  protocolType: string | null
  protocolName: string | null
  leader: string
  memberId: string
  /** JoinGroup v9+: the (static) leader keeps the current assignment and need not compute one. */
  skipAssignment: boolean
  /** Every member with its metadata for the chosen protocol, for the leader only; [] for followers. */
  members: JoinGroupMember[]
}

export interface SyncGroupRequest {
  groupId: string
  generationId: number
  memberId: string
  groupInstanceId: string | null
  protocolType: string | null
  protocolName: string | null
  /** The leader's assignment of every member; [] from followers. */
  assignments: { memberId: string; assignment: Buffer }[]
}

export interface SyncGroupResult {
  errorCode: number
  protocolType: string | null
  protocolName: string | null
  /** This member's assignment; an empty Buffer when the leader gave it none. */
  assignment: Buffer
}

export interface HeartbeatRequest {
  groupId: string
  generationId: number
  memberId: string
  groupInstanceId: string | null
}

export interface LeaveGroupMember {
  /** '' with a groupInstanceId removes that static member (administrative removal). */
  memberId: string
  groupInstanceId: string | null
  reason?: string | null
}

export interface LeaveGroupResult {
  /** Group-level error; for LeaveGroup v0-2 the handler reports `members[0].errorCode` instead. */
  errorCode: number
  members: { memberId: string; groupInstanceId: string | null; errorCode: number }[]
}

export interface OffsetCommitPartition {
  partitionIndex: number
  committedOffset: number
  /** -1 when the request version has no leader epoch. */
  committedLeaderEpoch: number
  committedMetadata: string | null
}

export interface OffsetCommitRequest {
  groupId: string
  /** -1 with memberId '' for a standalone commit (a group not managed by the coordinator). */
  generationId: number
  memberId: string
  groupInstanceId: string | null
  topics: { name: string; partitions: OffsetCommitPartition[] }[]
}

export interface OffsetCommitTopicResult {
  name: string
  partitions: { partitionIndex: number; errorCode: number }[]
}

export interface OffsetFetchPartition {
  partitionIndex: number
  /** -1 when nothing is committed. */
  committedOffset: number
  committedLeaderEpoch: number
  metadata: string | null
  errorCode: number
}

export interface OffsetFetchResult {
  errorCode: number
  topics: { name: string; partitions: OffsetFetchPartition[] }[]
}

export interface OffsetDeleteResult {
  errorCode: number
  topics: { name: string; partitions: { partitionIndex: number; errorCode: number }[] }[]
}

export interface GroupListing {
  groupId: string
  /** '' for a group that only stores offsets. */
  protocolType: string
  groupState: string
}

export interface GroupMemberDescription {
  memberId: string
  groupInstanceId: string | null
  clientId: string
  clientHost: string
  /** Metadata for the chosen protocol; empty unless the group is Stable. */
  memberMetadata: Buffer
  /** Empty unless the group is Stable. */
  memberAssignment: Buffer
}

export interface GroupDescription {
  errorCode: number
  groupId: string
  groupState: string
  protocolType: string
  /** The chosen protocol when Stable, else ''. */
  protocolData: string
  members: GroupMemberDescription[]
}

export interface DeleteGroupResult {
  groupId: string
  errorCode: number
}
