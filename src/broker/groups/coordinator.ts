/**
 * The group coordinator (classic protocol) of the embedded broker: owns every consumer group and
 * the committed offsets. Pure of the network: the broker's JoinGroup, SyncGroup, Heartbeat,
 * LeaveGroup, OffsetCommit, OffsetFetch, OffsetDelete, ListGroups, DescribeGroups and
 * DeleteGroups handlers call these methods and encode the results. Kafka errors are returned as
 * numbers in the results, never thrown.
 *
 * Durability: committed offsets and each group's last generation are journaled under `dataDir`;
 * a commit's promise resolves only after its entry is fsynced (one fsync shared by concurrent
 * commits). After a restart every known group comes back Empty with its generation, so
 * generations stay monotonic and members of the old incarnation are told to rejoin.
 */
import { KafkaError } from '../../protocol/error-codes.ts'
import { ClassicGroup, joinError, syncError } from './group.ts'
import type { GroupContext, GroupTimers } from './group.ts'
import { OffsetStore } from './offset-store.ts'
import type { OffsetCommitEntry } from './offset-store.ts'
import type {
  DeleteGroupResult,
  GroupDescription,
  GroupListing,
  HeartbeatRequest,
  JoinGroupRequest,
  JoinGroupResult,
  LeaveGroupMember,
  LeaveGroupResult,
  OffsetCommitRequest,
  OffsetCommitTopicResult,
  OffsetDeleteResult,
  OffsetFetchPartition,
  OffsetFetchResult,
  SyncGroupRequest,
  SyncGroupResult,
} from './types.ts'

/** Options of the {@link GroupCoordinator}. */
export interface CoordinatorOptions {
  /** Where the offsets journal lives. */
  dataDir: string
  /** Delay of the first rebalance of an empty group, so a fleet joins as one generation (default 0; Kafka 3000). */
  initialRebalanceDelayMs?: number
  /** Smaller session timeouts get INVALID_SESSION_TIMEOUT (default 1000). */
  minSessionTimeoutMs?: number
  /** Larger session timeouts get INVALID_SESSION_TIMEOUT (default 30 min). */
  maxSessionTimeoutMs?: number
  /** fsync the journal before answering commits (default true). */
  fsync?: boolean
  /** Longest commit metadata string in UTF-8 bytes (default 4096, Kafka's offset.metadata.max.bytes). */
  maxMetadataBytes?: number
  /** Journal size below which it is never compacted (default 1 MiB). */
  compactMinBytes?: number
  /** Wall clock (default Date.now). */
  now?: () => number
  /** Timer functions (default: unref'd setTimeout); tests inject a fake clock here. */
  timers?: GroupTimers
}

/** Real timers that never keep the process alive. */
const systemTimers: GroupTimers = {
  set(fn, ms) {
    const t = setTimeout(fn, ms)
    t.unref()
    return t
  },
  clear(handle) {
    clearTimeout(handle as ReturnType<typeof setTimeout>)
  },
}

/** Kafka's classic group coordinator with durable committed offsets; see the module comment. */
export class GroupCoordinator {
  private readonly groups = new Map<string, ClassicGroup>()
  private readonly store: OffsetStore
  private readonly ctx: GroupContext
  private readonly minSessionTimeoutMs: number
  private readonly maxSessionTimeoutMs: number
  private readonly maxMetadataBytes: number
  private readonly now: () => number
  private closed = false

  /** Opens the offsets journal under `options.dataDir` and restores the groups (synchronously). */
  constructor(options: CoordinatorOptions) {
    this.now = options.now ?? Date.now
    this.minSessionTimeoutMs = options.minSessionTimeoutMs ?? 1000
    this.maxSessionTimeoutMs = options.maxSessionTimeoutMs ?? 30 * 60 * 1000
    this.maxMetadataBytes = options.maxMetadataBytes ?? 4096
    this.store = OffsetStore.open(options.dataDir, {
      fsync: options.fsync ?? true,
      compactMinBytes: options.compactMinBytes,
    })
    this.ctx = {
      now: this.now,
      timers: options.timers ?? systemTimers,
      initialRebalanceDelayMs: options.initialRebalanceDelayMs ?? 0,
      generationChanged: (group) => {
        if (!this.closed) this.store.recordGeneration(group.groupId, group.generationId, group.protocolType)
      },
    }
    for (const groupId of this.store.groupIds()) {
      const stored = this.store.group(groupId)
      this.groups.set(
        groupId,
        new ClassicGroup(groupId, this.ctx, {
          generationId: stored?.generationId ?? 0,
          protocolType: stored?.protocolType ?? null,
        }),
      )
    }
  }

  /**
   * JoinGroup. Resolves when the rebalance completes (or at once for errors, MEMBER_ID_REQUIRED
   * and unchanged rejoins). Errors: INVALID_GROUP_ID, INVALID_SESSION_TIMEOUT,
   * INCONSISTENT_GROUP_PROTOCOL, UNKNOWN_MEMBER_ID, MEMBER_ID_REQUIRED, FENCED_INSTANCE_ID,
   * REBALANCE_IN_PROGRESS (a duplicate join superseded this one), NOT_COORDINATOR (closing).
   */
  join(req: JoinGroupRequest): Promise<JoinGroupResult> {
    if (this.closed) return Promise.resolve(joinError(KafkaError.NOT_COORDINATOR, req.memberId))
    if (req.groupId === '') return Promise.resolve(joinError(KafkaError.INVALID_GROUP_ID, req.memberId))
    if (req.sessionTimeoutMs < this.minSessionTimeoutMs || req.sessionTimeoutMs > this.maxSessionTimeoutMs) {
      return Promise.resolve(joinError(KafkaError.INVALID_SESSION_TIMEOUT, req.memberId))
    }
    let group = this.groups.get(req.groupId)
    if (group === undefined) {
      if (req.memberId !== '') return Promise.resolve(joinError(KafkaError.UNKNOWN_MEMBER_ID, req.memberId))
      if (req.protocolType === '' || req.protocols.length === 0) {
        return Promise.resolve(joinError(KafkaError.INCONSISTENT_GROUP_PROTOCOL, req.memberId))
      }
      group = this.createGroup(req.groupId)
    }
    return group.join(req)
  }

  /**
   * SyncGroup. The leader's call carries every assignment; the others resolve when it arrives.
   * Errors: UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, INCONSISTENT_GROUP_PROTOCOL,
   * FENCED_INSTANCE_ID, INVALID_GROUP_ID, NOT_COORDINATOR.
   */
  sync(req: SyncGroupRequest): Promise<SyncGroupResult> {
    if (this.closed) return Promise.resolve(syncError(KafkaError.NOT_COORDINATOR))
    if (req.groupId === '') return Promise.resolve(syncError(KafkaError.INVALID_GROUP_ID))
    const group = this.groups.get(req.groupId)
    if (group === undefined) return Promise.resolve(syncError(KafkaError.UNKNOWN_MEMBER_ID))
    return group.sync(req)
  }

  /** Heartbeat: NONE, REBALANCE_IN_PROGRESS (rejoin), ILLEGAL_GENERATION, UNKNOWN_MEMBER_ID, ... */
  heartbeat(req: HeartbeatRequest): { errorCode: number } {
    if (this.closed) return { errorCode: KafkaError.NOT_COORDINATOR }
    if (req.groupId === '') return { errorCode: KafkaError.INVALID_GROUP_ID }
    const group = this.groups.get(req.groupId)
    if (group === undefined) return { errorCode: KafkaError.UNKNOWN_MEMBER_ID }
    return { errorCode: group.heartbeat(req) }
  }

  /**
   * LeaveGroup (v3+ shape: a batch of members). Per-member errors; for v0-2 the handler reports
   * `members[0].errorCode` as the response's error.
   */
  leave(req: { groupId: string; members: LeaveGroupMember[] }): LeaveGroupResult {
    if (this.closed) return { errorCode: KafkaError.NOT_COORDINATOR, members: [] }
    if (req.groupId === '') return { errorCode: KafkaError.INVALID_GROUP_ID, members: [] }
    const group = this.groups.get(req.groupId)
    if (group === undefined) {
      const members = req.members.map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        errorCode: KafkaError.UNKNOWN_MEMBER_ID,
      }))
      return { errorCode: KafkaError.NONE, members }
    }
    return group.leave(req.members)
  }

  /**
   * OffsetCommit. Resolves once the accepted offsets are durable. Per-partition errors:
   * UNKNOWN_MEMBER_ID, ILLEGAL_GENERATION, REBALANCE_IN_PROGRESS, FENCED_INSTANCE_ID,
   * OFFSET_METADATA_TOO_LARGE, COORDINATOR_NOT_AVAILABLE (the journal failed), NOT_COORDINATOR.
   * Topic existence is the handler's check (UNKNOWN_TOPIC_OR_PARTITION) before calling this.
   */
  async commitOffsets(req: OffsetCommitRequest): Promise<OffsetCommitTopicResult[]> {
    const fill = (errorCode: number): OffsetCommitTopicResult[] =>
      req.topics.map((t) => ({
        name: t.name,
        partitions: t.partitions.map((p) => ({ partitionIndex: p.partitionIndex, errorCode })),
      }))
    if (this.closed) return fill(KafkaError.NOT_COORDINATOR)
    let group = this.groups.get(req.groupId)
    if (group === undefined) {
      // An unknown group accepts only a standalone commit, which creates it (Empty).
      if (req.generationId >= 0) return fill(KafkaError.ILLEGAL_GENERATION)
      group = this.createGroup(req.groupId)
    }
    const check = group.checkCommit(req.memberId, req.groupInstanceId, req.generationId)
    if (check !== KafkaError.NONE) return fill(check)

    const accepted: OffsetCommitEntry[] = []
    const results: OffsetCommitTopicResult[] = req.topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((p) => {
        const metadata = p.committedMetadata
        if (metadata !== null && Buffer.byteLength(metadata, 'utf8') > this.maxMetadataBytes) {
          return { partitionIndex: p.partitionIndex, errorCode: KafkaError.OFFSET_METADATA_TOO_LARGE }
        }
        accepted.push({
          topic: t.name,
          partition: p.partitionIndex,
          offset: p.committedOffset,
          leaderEpoch: p.committedLeaderEpoch,
          metadata,
        })
        return { partitionIndex: p.partitionIndex, errorCode: KafkaError.NONE }
      }),
    }))
    if (accepted.length === 0) return results
    try {
      await this.store.commit(req.groupId, accepted, this.now())
    } catch {
      // The journal is unusable (write or fsync failed): the commit may not survive a crash, so
      // it is not acknowledged; COORDINATOR_NOT_AVAILABLE is retriable for clients.
      for (const t of results) {
        for (const p of t.partitions) {
          if (p.errorCode === KafkaError.NONE) p.errorCode = KafkaError.COORDINATOR_NOT_AVAILABLE
        }
      }
    }
    return results
  }

  /**
   * The member check of TxnOffsetCommit v3+ (a zombie member of an older generation is fenced).
   * Without a generation (older versions, or -1) there is nothing to check.
   */
  checkTransactionalCommit(
    groupId: string,
    memberId: string,
    groupInstanceId: string | null,
    generationId: number,
  ): number {
    if (this.closed) return KafkaError.NOT_COORDINATOR
    if (generationId < 0) return KafkaError.NONE
    const group = this.groups.get(groupId)
    if (group === undefined) return KafkaError.ILLEGAL_GENERATION
    return group.checkCommit(memberId, groupInstanceId, generationId)
  }

  /** Commits the offsets of a committed transaction; TxnOffsetCommit checked the member already. */
  async commitTransactionalOffsets(groupId: string, entries: OffsetCommitEntry[]): Promise<void> {
    if (entries.length === 0) return
    if (!this.groups.has(groupId)) this.createGroup(groupId)
    await this.store.commit(groupId, entries, this.now())
  }

  /**
   * OffsetFetch. `topics` null = every committed offset of the group. A partition without a
   * commit answers offset -1, leader epoch -1, metadata null. An unknown group is not an error.
   */
  fetchOffsets(groupId: string, topics: { name: string; partitions: number[] }[] | null): OffsetFetchResult {
    if (this.closed) return { errorCode: KafkaError.NOT_COORDINATOR, topics: [] }
    const toPartition = (partitionIndex: number, topic: string): OffsetFetchPartition => {
      const c = this.store.get(groupId, topic, partitionIndex)
      return {
        partitionIndex,
        committedOffset: c?.offset ?? -1,
        committedLeaderEpoch: c?.leaderEpoch ?? -1,
        metadata: c === undefined ? null : c.metadata,
        errorCode: KafkaError.NONE,
      }
    }
    if (topics === null) {
      const all = [...this.store.topics(groupId)].map(([name, parts]) => ({
        name,
        partitions: [...parts.keys()].sort((a, b) => a - b).map((p) => toPartition(p, name)),
      }))
      return { errorCode: KafkaError.NONE, topics: all }
    }
    return {
      errorCode: KafkaError.NONE,
      topics: topics.map((t) => ({ name: t.name, partitions: t.partitions.map((p) => toPartition(p, t.name)) })),
    }
  }

  /**
   * OffsetDelete. GROUP_ID_NOT_FOUND for an unknown group; NON_EMPTY_GROUP for an active group
   * that is not a consumer group; GROUP_SUBSCRIBED_TO_TOPIC per partition of a topic an active
   * consumer group subscribes to. Deleting an offset that was never committed succeeds.
   */
  deleteOffsets(groupId: string, topics: { name: string; partitions: number[] }[]): OffsetDeleteResult {
    if (this.closed) return { errorCode: KafkaError.NOT_COORDINATOR, topics: [] }
    if (groupId === '') return { errorCode: KafkaError.INVALID_GROUP_ID, topics: [] }
    const group = this.groups.get(groupId)
    if (group === undefined) return { errorCode: KafkaError.GROUP_ID_NOT_FOUND, topics: [] }
    const { errorCode, subscribed } = group.offsetDeleteCheck()
    if (errorCode !== KafkaError.NONE) return { errorCode, topics: [] }
    const deleted: { topic: string; partition: number }[] = []
    const result = topics.map((t) => ({
      name: t.name,
      partitions: t.partitions.map((partitionIndex) => {
        if (subscribed.has(t.name)) return { partitionIndex, errorCode: KafkaError.GROUP_SUBSCRIBED_TO_TOPIC }
        if (this.store.get(groupId, t.name, partitionIndex) !== undefined) {
          deleted.push({ topic: t.name, partition: partitionIndex })
        }
        return { partitionIndex, errorCode: KafkaError.NONE }
      }),
    }))
    this.store.deleteOffsets(groupId, deleted)
    return { errorCode: KafkaError.NONE, topics: result }
  }

  /** A topic was deleted: drop every group's committed offsets for it. */
  forgetTopic(topic: string): void {
    if (this.closed) return
    this.store.forgetTopic(topic)
  }

  /** ListGroups; `statesFilter` (ListGroups v4+) matches state names case-insensitively. */
  listGroups(statesFilter?: string[]): GroupListing[] {
    const wanted =
      statesFilter !== undefined && statesFilter.length > 0 ? statesFilter.map((s) => s.toLowerCase()) : null
    const out: GroupListing[] = []
    for (const g of this.groups.values()) {
      if (g.state === 'Dead') continue
      if (wanted !== null && !wanted.includes(g.state.toLowerCase())) continue
      out.push({ groupId: g.groupId, protocolType: g.protocolType ?? '', groupState: g.state })
    }
    return out
  }

  /**
   * DescribeGroups for one group. An unknown group is described as Dead with error NONE (what
   * DescribeGroups v0-5 answer; a v6+ handler turns state Dead into GROUP_ID_NOT_FOUND).
   */
  describeGroup(groupId: string): GroupDescription {
    const unknown = (errorCode: number): GroupDescription => ({
      errorCode,
      groupId,
      groupState: 'Dead',
      protocolType: '',
      protocolData: '',
      members: [],
    })
    if (this.closed) return unknown(KafkaError.NOT_COORDINATOR)
    const group = this.groups.get(groupId)
    return group === undefined ? unknown(KafkaError.NONE) : group.describe()
  }

  /** DeleteGroups: NONE (the group and its offsets are gone), GROUP_ID_NOT_FOUND, NON_EMPTY_GROUP. */
  deleteGroups(groupIds: string[]): DeleteGroupResult[] {
    return groupIds.map((groupId) => {
      if (this.closed) return { groupId, errorCode: KafkaError.NOT_COORDINATOR }
      const group = this.groups.get(groupId)
      if (group === undefined || group.state === 'Dead') return { groupId, errorCode: KafkaError.GROUP_ID_NOT_FOUND }
      if (group.state !== 'Empty') return { groupId, errorCode: KafkaError.NON_EMPTY_GROUP }
      // Pending member ids (MEMBER_ID_REQUIRED) die with the group; their rejoin gets UNKNOWN_MEMBER_ID.
      group.shutdown(KafkaError.UNKNOWN_MEMBER_ID)
      this.groups.delete(groupId)
      this.store.deleteGroup(groupId)
      return { groupId, errorCode: KafkaError.NONE }
    })
  }

  /**
   * Cancels every timer, answers parked joins and syncs with NOT_COORDINATOR, and flushes and
   * closes the journal. Later calls answer NOT_COORDINATOR. Idempotent.
   */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const group of this.groups.values()) group.shutdown(KafkaError.NOT_COORDINATOR)
    await this.store.close()
  }

  private createGroup(groupId: string): ClassicGroup {
    const group = new ClassicGroup(groupId, this.ctx)
    this.groups.set(groupId, group)
    return group
  }
}
