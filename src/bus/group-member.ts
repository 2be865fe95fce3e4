/**
 * A member of a Kafka consumer group (the classic protocol, protocol type "consumer", so
 * kafka-consumer-groups, AKHQ and `tickflow` tools describe it like any consumer): joins, takes
 * part in assignment, heartbeats, and tells its owner when a rebalance asks it to rejoin.
 *
 * Assignment is done by the leader with the range strategy per topic (partitions split in
 * contiguous runs over the members sorted by id), under the protocol name `range`, so a group
 * can be inspected with standard tools. Members that join with an unknown protocol are refused
 * by the coordinator (INCONSISTENT_GROUP_PROTOCOL), as Kafka does.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import {
  readConsumerProtocolAssignment,
  readConsumerProtocolSubscription,
  readHeartbeatResponse,
  readJoinGroupResponse,
  readLeaveGroupResponse,
  readSyncGroupResponse,
  writeConsumerProtocolAssignment,
  writeConsumerProtocolSubscription,
  writeHeartbeatRequest,
  writeJoinGroupRequest,
  writeLeaveGroupRequest,
  writeSyncGroupRequest,
} from '../protocol/messages/index.ts'
import { Reader } from '../protocol/reader.ts'
import { Writer } from '../protocol/writer.ts'
import type { KafkaCluster } from './cluster.ts'
import { COORDINATOR_ERRORS, CoordinatorType, KafkaErrors, sleep } from './cluster.ts'
import type { FetchConnection } from './fetch-connection.ts'

const JOIN_GROUP = 11
const JOIN_GROUP_VERSION = 7
const HEARTBEAT = 12
const HEARTBEAT_VERSION = 4
const LEAVE_GROUP = 13
const LEAVE_GROUP_VERSION = 4
const SYNC_GROUP = 14
const SYNC_GROUP_VERSION = 5
const PROTOCOL_TYPE = 'consumer'
const PROTOCOL_NAME = 'range'

export interface GroupMemberOptions {
  groupId: string
  /** Topics the member consumes. */
  topics: string[]
  /** The coordinator evicts a member silent this long (default 10 s). */
  sessionTimeoutMs?: number
  /** How long a rebalance waits for members to rejoin (default 30 s). */
  rebalanceTimeoutMs?: number
  /** Default a third of the session timeout. */
  heartbeatIntervalMs?: number
}

/** What one generation of the group gave this member. */
export interface Assignment {
  generationId: number
  memberId: string
  /** topic → partitions owned, sorted. */
  partitions: Map<string, number[]>
}

export class GroupMember {
  readonly groupId: string
  private readonly cluster: KafkaCluster
  private readonly topics: string[]
  private readonly sessionTimeoutMs: number
  private readonly rebalanceTimeoutMs: number
  private readonly heartbeatIntervalMs: number
  private memberId = ''
  private generationId = -1
  private heartbeatTimer: NodeJS.Timeout | undefined
  private rejoin = false
  private rejoinWaiters: (() => void)[] = []

  constructor(cluster: KafkaCluster, options: GroupMemberOptions) {
    this.cluster = cluster
    this.groupId = options.groupId
    this.topics = [...options.topics].sort()
    this.sessionTimeoutMs = options.sessionTimeoutMs ?? 10_000
    this.rebalanceTimeoutMs = options.rebalanceTimeoutMs ?? 30_000
    this.heartbeatIntervalMs = options.heartbeatIntervalMs ?? Math.max(100, Math.floor(this.sessionTimeoutMs / 3))
  }

  /** True once the group asked this member to rejoin (a rebalance); call {@link join} again. */
  get rebalanceNeeded(): boolean {
    return this.rejoin
  }

  /** Resolves when a rebalance is needed (immediately if it already is). */
  rebalance(): Promise<void> {
    if (this.rejoin) return Promise.resolve()
    return new Promise((resolve) => this.rejoinWaiters.push(resolve))
  }

  /**
   * Joins (or rejoins) the group and returns this member's assignment; heartbeats run until the
   * next rebalance or {@link leave}.
   */
  async join(): Promise<Assignment> {
    this.stopHeartbeats()
    for (let round = 0; ; round++) {
      const outcome = await this.tryJoin()
      if (outcome !== undefined) {
        this.rejoin = false
        this.startHeartbeats()
        return outcome
      }
      await sleep(Math.min(1000, 20 * (round + 1)))
    }
  }

  /** Leaves the group, so its partitions move to the other members at once. */
  async leave(): Promise<void> {
    this.stopHeartbeats()
    if (this.memberId === '') return
    try {
      await this.toCoordinator((c) =>
        c.request(LEAVE_GROUP, LEAVE_GROUP_VERSION, writeLeaveGroupRequest, readLeaveGroupResponse, {
          groupId: this.groupId,
          members: [{ memberId: this.memberId, groupInstanceId: null }],
        }),
      )
    } catch {
      // The session timeout evicts the member anyway.
    }
    this.memberId = ''
    this.generationId = -1
  }

  /** Stops heartbeating without leaving (the member is evicted at its session timeout). */
  stopHeartbeats(): void {
    if (this.heartbeatTimer !== undefined) clearTimeout(this.heartbeatTimer)
    this.heartbeatTimer = undefined
  }

  // One JoinGroup + SyncGroup round; undefined when it must be retried.
  private async tryJoin(): Promise<Assignment | undefined> {
    const join = await this.toCoordinator((c) =>
      c.request(JOIN_GROUP, JOIN_GROUP_VERSION, writeJoinGroupRequest, readJoinGroupResponse, {
        groupId: this.groupId,
        sessionTimeoutMs: this.sessionTimeoutMs,
        rebalanceTimeoutMs: this.rebalanceTimeoutMs,
        memberId: this.memberId,
        groupInstanceId: null,
        protocolType: PROTOCOL_TYPE,
        protocols: [{ name: PROTOCOL_NAME, metadata: encodeSubscription(this.topics) }],
      }),
    )
    if (join.errorCode === KafkaErrors.MEMBER_ID_REQUIRED) {
      this.memberId = join.memberId
      return undefined
    }
    if (join.errorCode === KafkaErrors.UNKNOWN_MEMBER_ID) {
      this.memberId = ''
      return undefined
    }
    if (join.errorCode === KafkaErrors.REBALANCE_IN_PROGRESS || COORDINATOR_ERRORS.has(join.errorCode)) {
      return undefined
    }
    if (join.errorCode !== 0) {
      throw new TickflowError(ErrorCodes.CLOSED, `JoinGroup ${this.groupId} failed with Kafka error ${join.errorCode}`)
    }
    this.memberId = join.memberId
    this.generationId = join.generationId
    const assignments =
      join.leader === join.memberId
        ? assignRange(
            join.members.map((m) => ({ memberId: m.memberId, topics: decodeSubscription(m.metadata) })),
            {
              partitionsOf: await this.partitionCounts(join.members.map((m) => decodeSubscription(m.metadata))),
            },
          )
        : new Map<string, Map<string, number[]>>()
    const sync = await this.toCoordinator((c) =>
      c.request(SYNC_GROUP, SYNC_GROUP_VERSION, writeSyncGroupRequest, readSyncGroupResponse, {
        groupId: this.groupId,
        generationId: this.generationId,
        memberId: this.memberId,
        groupInstanceId: null,
        protocolType: PROTOCOL_TYPE,
        protocolName: PROTOCOL_NAME,
        assignments: [...assignments].map(([memberId, partitions]) => ({
          memberId,
          assignment: encodeAssignment(partitions),
        })),
      }),
    )
    if (sync.errorCode === KafkaErrors.UNKNOWN_MEMBER_ID) this.memberId = ''
    if (sync.errorCode !== 0) return undefined
    return { generationId: this.generationId, memberId: this.memberId, partitions: decodeAssignment(sync.assignment) }
  }

  private async partitionCounts(subscriptions: string[][]): Promise<Map<string, number>> {
    const names = [...new Set(subscriptions.flat())]
    const layouts = await this.cluster.topics(names)
    return new Map([...layouts].map(([name, layout]) => [name, layout.leaders.length]))
  }

  private startHeartbeats(): void {
    const beat = async (): Promise<void> => {
      this.heartbeatTimer = undefined
      let code: number
      try {
        const response = await this.toCoordinator((c) =>
          c.request(HEARTBEAT, HEARTBEAT_VERSION, writeHeartbeatRequest, readHeartbeatResponse, {
            groupId: this.groupId,
            generationId: this.generationId,
            memberId: this.memberId,
            groupInstanceId: null,
          }),
        )
        code = response.errorCode
      } catch {
        code = KafkaErrors.COORDINATOR_NOT_AVAILABLE
      }
      if (code === KafkaErrors.UNKNOWN_MEMBER_ID) this.memberId = ''
      if (
        code === KafkaErrors.REBALANCE_IN_PROGRESS ||
        code === KafkaErrors.ILLEGAL_GENERATION ||
        code === KafkaErrors.UNKNOWN_MEMBER_ID ||
        code === 82 // FENCED_INSTANCE_ID
      ) {
        this.requestRejoin()
        return
      }
      if (this.generationId >= 0 && !this.rejoin) {
        this.heartbeatTimer = setTimeout(() => void beat(), this.heartbeatIntervalMs)
        this.heartbeatTimer.unref()
      }
    }
    this.heartbeatTimer = setTimeout(() => void beat(), this.heartbeatIntervalMs)
    this.heartbeatTimer.unref()
  }

  private requestRejoin(): void {
    this.rejoin = true
    const waiters = this.rejoinWaiters
    this.rejoinWaiters = []
    for (const w of waiters) w()
  }

  private toCoordinator<T extends { errorCode: number }>(send: (c: FetchConnection) => Promise<T>): Promise<T> {
    return this.cluster.toCoordinator(this.groupId, CoordinatorType.GROUP, send)
  }
}

/**
 * Kafka's range assignment: for each topic, its partitions in order are cut into contiguous runs,
 * one per subscribed member sorted by member id, the first (partitions mod members) runs one longer.
 */
export function assignRange(
  members: { memberId: string; topics: string[] }[],
  o: { partitionsOf: Map<string, number> },
): Map<string, Map<string, number[]>> {
  const out = new Map<string, Map<string, number[]>>()
  for (const m of members) out.set(m.memberId, new Map())
  const topics = [...new Set(members.flatMap((m) => m.topics))].sort()
  for (const topic of topics) {
    const subscribed = members
      .filter((m) => m.topics.includes(topic))
      .map((m) => m.memberId)
      .sort()
    const count = o.partitionsOf.get(topic) ?? 0
    const per = Math.floor(count / subscribed.length)
    const extra = count % subscribed.length
    let next = 0
    subscribed.forEach((memberId, i) => {
      const n = per + (i < extra ? 1 : 0)
      const partitions = Array.from({ length: n }, (_, k) => next + k)
      next += n
      out.get(memberId)!.set(topic, partitions)
    })
  }
  return out
}

// ConsumerProtocol blobs: an int16 version, then the struct in the non-flexible encoding.
function encodeSubscription(topics: string[]): Buffer {
  const w = Writer.create().appendInt16(0)
  writeConsumerProtocolSubscription(w, 0, { topics, userData: null })
  return w.toBuffer()
}

function decodeSubscription(bytes: Buffer): string[] {
  const r = new Reader(bytes)
  const version = r.readInt16()
  return readConsumerProtocolSubscription(r, Math.min(version, 3)).topics
}

function encodeAssignment(partitions: Map<string, number[]>): Buffer {
  const w = Writer.create().appendInt16(0)
  writeConsumerProtocolAssignment(w, 0, {
    assignedPartitions: [...partitions].map(([topic, p]) => ({ topic, partitions: p })),
    userData: null,
  })
  return w.toBuffer()
}

function decodeAssignment(bytes: Buffer): Map<string, number[]> {
  const out = new Map<string, number[]>()
  if (bytes.length === 0) return out
  const r = new Reader(bytes)
  const version = r.readInt16()
  for (const tp of readConsumerProtocolAssignment(r, Math.min(version, 3)).assignedPartitions) {
    out.set(
      tp.topic,
      [...tp.partitions].sort((a, b) => a - b),
    )
  }
  return out
}
