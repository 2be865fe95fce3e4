/**
 * Consumer-group requests over the raw client for the group API tests: join (answering
 * MEMBER_ID_REQUIRED like a client), sync, heartbeat, commit and fetch offsets, leave.
 */
import {
  readConsumerProtocolAssignment,
  readHeartbeatResponse,
  readJoinGroupResponse,
  readLeaveGroupResponse,
  readOffsetCommitResponse,
  readOffsetFetchResponse,
  readSyncGroupResponse,
  writeConsumerProtocolAssignment,
  writeConsumerProtocolSubscription,
  writeHeartbeatRequest,
  writeJoinGroupRequest,
  writeLeaveGroupRequest,
  writeOffsetCommitRequest,
  writeOffsetFetchRequest,
  writeSyncGroupRequest,
  type JoinGroupResponse,
  type SyncGroupResponse,
} from '../../src/protocol/messages/index.ts'
import { KafkaError } from '../../src/protocol/error-codes.ts'
import { Reader } from '../../src/protocol/reader.ts'
import { Writer } from '../../src/protocol/writer.ts'
import type { RawClient } from './raw-client.ts'

// Consumer-protocol blobs start with their int16 version, then the struct of that version.

/** A consumer-protocol subscription blob (v0) for `topics`. */
export function subscription(topics: string[]): Buffer {
  return writeConsumerProtocolSubscription(Writer.create().appendInt16(0), 0, { topics, userData: null }).toBuffer()
}

/** A consumer-protocol assignment blob (v0). */
export function assignment(partitions: Record<string, number[]>): Buffer {
  return writeConsumerProtocolAssignment(Writer.create().appendInt16(0), 0, {
    assignedPartitions: Object.entries(partitions).map(([topic, p]) => ({ topic, partitions: p })),
    userData: null,
  }).toBuffer()
}

/** The topic -> partitions map of an assignment blob. */
export function assignedPartitions(blob: Buffer): Record<string, number[]> {
  if (blob.length === 0) return {}
  const r = new Reader(blob)
  const a = readConsumerProtocolAssignment(r, r.readInt16())
  return Object.fromEntries(a.assignedPartitions.map((tp) => [tp.topic, tp.partitions]))
}

export interface JoinOptions {
  version?: number
  memberId?: string
  topics?: string[]
  protocolType?: string
  protocols?: string[]
  sessionTimeoutMs?: number
  rebalanceTimeoutMs?: number
  groupInstanceId?: string | null
}

/** JoinGroup once, exactly as given. */
export function joinOnce(c: RawClient, groupId: string, o: JoinOptions = {}): Promise<JoinGroupResponse> {
  const metadata = subscription(o.topics ?? ['t'])
  return c.request(11, o.version ?? 9, writeJoinGroupRequest, readJoinGroupResponse, {
    groupId,
    sessionTimeoutMs: o.sessionTimeoutMs ?? 30_000,
    rebalanceTimeoutMs: o.rebalanceTimeoutMs ?? 60_000,
    memberId: o.memberId ?? '',
    groupInstanceId: o.groupInstanceId ?? null,
    protocolType: o.protocolType ?? 'consumer',
    protocols: (o.protocols ?? ['range']).map((name) => ({ name, metadata })),
    reason: null,
  })
}

/** JoinGroup like a client: a MEMBER_ID_REQUIRED answer is followed by a join with that id. */
export async function join(c: RawClient, groupId: string, o: JoinOptions = {}): Promise<JoinGroupResponse> {
  const first = await joinOnce(c, groupId, o)
  if (first.errorCode !== KafkaError.MEMBER_ID_REQUIRED) return first
  return joinOnce(c, groupId, { ...o, memberId: first.memberId })
}

export function sync(
  c: RawClient,
  groupId: string,
  generationId: number,
  memberId: string,
  assignments: Record<string, Buffer> = {},
  o: { version?: number; protocolType?: string | null; protocolName?: string | null } = {},
): Promise<SyncGroupResponse> {
  return c.request(14, o.version ?? 5, writeSyncGroupRequest, readSyncGroupResponse, {
    groupId,
    generationId,
    memberId,
    groupInstanceId: null,
    protocolType: o.protocolType === undefined ? 'consumer' : o.protocolType,
    protocolName: o.protocolName === undefined ? 'range' : o.protocolName,
    assignments: Object.entries(assignments).map(([m, a]) => ({ memberId: m, assignment: a })),
  })
}

export async function heartbeat(
  c: RawClient,
  groupId: string,
  generationId: number,
  memberId: string,
  version = 4,
): Promise<number> {
  const res = await c.request(12, version, writeHeartbeatRequest, readHeartbeatResponse, {
    groupId,
    generationId,
    memberId,
    groupInstanceId: null,
  })
  return res.errorCode
}

/** LeaveGroup v5 for some members; returns [top-level error, per-member errors]. */
export async function leave(c: RawClient, groupId: string, memberIds: string[]): Promise<[number, number[]]> {
  const res = await c.request(13, 5, writeLeaveGroupRequest, readLeaveGroupResponse, {
    groupId,
    members: memberIds.map((memberId) => ({ memberId, groupInstanceId: null, reason: null })),
  })
  return [res.errorCode, res.members.map((m) => m.errorCode)]
}

/** OffsetCommit (v9 unless told); returns the error of every partition, in request order. */
export async function commit(
  c: RawClient,
  groupId: string,
  offsets: Array<{ topic: string; partition: number; offset: number; metadata?: string | null }>,
  o: { version?: number; generationId?: number; memberId?: string } = {},
): Promise<number[]> {
  const topics = new Map<
    string,
    Array<{ partitionIndex: number; committedOffset: bigint; committedMetadata: string | null }>
  >()
  for (const x of offsets) {
    const list = topics.get(x.topic) ?? []
    list.push({ partitionIndex: x.partition, committedOffset: BigInt(x.offset), committedMetadata: x.metadata ?? null })
    topics.set(x.topic, list)
  }
  const res = await c.request(8, o.version ?? 9, writeOffsetCommitRequest, readOffsetCommitResponse, {
    groupId,
    generationIdOrMemberEpoch: o.generationId ?? -1,
    memberId: o.memberId ?? '',
    groupInstanceId: null,
    topics: [...topics].map(([name, partitions]) => ({ name, partitions })),
  })
  return res.topics.flatMap((t) => t.partitions.map((p) => p.errorCode))
}

/** Committed offset and metadata of one partition (OffsetFetch v7). */
export async function committed(
  c: RawClient,
  groupId: string,
  topic: string,
  partition: number,
): Promise<{ offset: number; metadata: string | null }> {
  const res = await c.request(9, 7, writeOffsetFetchRequest, readOffsetFetchResponse, {
    groupId,
    topics: [{ name: topic, partitionIndexes: [partition] }],
    requireStable: false,
  })
  const p = res.topics[0].partitions[0]
  return { offset: Number(p.committedOffset), metadata: p.metadata }
}
