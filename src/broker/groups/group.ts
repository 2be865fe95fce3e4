/**
 * One consumer group under the classic protocol: Kafka's GroupMetadata state machine
 *
 *   Empty -> PreparingRebalance -> CompletingRebalance -> Stable  (any -> Dead when deleted)
 *
 * PreparingRebalance parks every member's JoinGroup until all known members have rejoined (or the
 * largest rebalance timeout expires and the stragglers are evicted); the generation then advances,
 * a protocol is chosen by vote, and the joins are answered (the leader gets every member's
 * metadata). CompletingRebalance parks SyncGroups until the leader sends the assignment; the group
 * is then Stable. Heartbeats keep members alive; a member whose session expires, or that leaves,
 * triggers a new rebalance.
 *
 * Everything here runs on the event loop's single thread: calls never interleave, so parked
 * requests are plain resolver functions and timers simply call back in.
 */
import { randomUUID } from 'node:crypto'
import { KafkaError } from '../../protocol/error-codes.ts'
import { Reader } from '../../protocol/reader.ts'
import type {
  GroupDescription,
  GroupProtocol,
  GroupState,
  HeartbeatRequest,
  JoinGroupMember,
  JoinGroupRequest,
  JoinGroupResult,
  LeaveGroupMember,
  LeaveGroupResult,
  SyncGroupRequest,
  SyncGroupResult,
} from './types.ts'

/** Timer functions, injectable so tests can drive time; handles are opaque. */
export interface GroupTimers {
  set(fn: () => void, ms: number): unknown
  clear(handle: unknown): void
}

/** What a group needs from its coordinator. */
export interface GroupContext {
  now(): number
  timers: GroupTimers
  initialRebalanceDelayMs: number
  /** Called after every generation bump, to make the generation survive a restart. */
  generationChanged(group: ClassicGroup): void
}

const EMPTY = Buffer.alloc(0)

interface Member {
  readonly memberId: string
  readonly groupInstanceId: string | null
  clientId: string
  clientHost: string
  protocols: GroupProtocol[]
  sessionTimeoutMs: number
  rebalanceTimeoutMs: number
  assignment: Buffer
  /** A parked JoinGroup (PreparingRebalance). */
  joinWaiter: ((result: JoinGroupResult) => void) | null
  /** A parked SyncGroup (CompletingRebalance). */
  syncWaiter: ((result: SyncGroupResult) => void) | null
  expiresAt: number
  timer: unknown
  timerAt: number
}

/** A member id handed out with MEMBER_ID_REQUIRED, not yet used to join. */
interface PendingMember {
  readonly memberId: string
  timer: unknown
}

interface InitialDelay {
  remainingMs: number
  newMemberAdded: boolean
}

/** A JoinGroup answer carrying only an error. */
export function joinError(errorCode: number, memberId = ''): JoinGroupResult {
  return {
    errorCode,
    generationId: -1,
    protocolType: null,
    protocolName: null,
    leader: '',
    memberId,
    skipAssignment: false,
    members: [],
  }
}

/** A SyncGroup answer carrying only an error. */
export function syncError(errorCode: number): SyncGroupResult {
  return { errorCode, protocolType: null, protocolName: null, assignment: EMPTY }
}

/** One classic consumer group; owned and serialized by the {@link GroupCoordinator}. */
export class ClassicGroup {
  readonly groupId: string
  state: GroupState = 'Empty'
  generationId: number
  protocolType: string | null
  protocolName: string | null = null
  leaderId: string | null = null
  private readonly ctx: GroupContext
  private readonly members = new Map<string, Member>()
  private readonly pending = new Map<string, PendingMember>()
  // groupInstanceId -> memberId of the static members.
  private readonly staticMembers = new Map<string, string>()
  // Members of the current generation that have not sent SyncGroup yet.
  private readonly pendingSync = new Set<string>()
  private joinTimer: unknown = undefined
  private syncTimer: unknown = undefined
  private initialDelay: InitialDelay | null = null

  constructor(groupId: string, ctx: GroupContext, restored?: { generationId: number; protocolType: string | null }) {
    this.groupId = groupId
    this.ctx = ctx
    this.generationId = restored?.generationId ?? 0
    this.protocolType = restored?.protocolType ?? null
  }

  /** Handles a JoinGroup whose group id and session timeout the coordinator has validated. */
  join(req: JoinGroupRequest): Promise<JoinGroupResult> {
    if (this.state === 'Dead') return Promise.resolve(joinError(KafkaError.COORDINATOR_NOT_AVAILABLE, req.memberId))
    if (!this.supportsProtocols(req)) {
      return Promise.resolve(joinError(KafkaError.INCONSISTENT_GROUP_PROTOCOL, req.memberId))
    }
    return req.memberId === '' ? this.joinNewMember(req) : this.joinKnownMember(req)
  }

  /** Handles a SyncGroup; followers' calls stay parked until the leader's assignment arrives. */
  sync(req: SyncGroupRequest): Promise<SyncGroupResult> {
    if (this.state === 'Dead') return Promise.resolve(syncError(KafkaError.COORDINATOR_NOT_AVAILABLE))
    if (this.isFenced(req.groupInstanceId, req.memberId)) {
      return Promise.resolve(syncError(KafkaError.FENCED_INSTANCE_ID))
    }
    const m = this.members.get(req.memberId)
    if (m === undefined) return Promise.resolve(syncError(KafkaError.UNKNOWN_MEMBER_ID))
    if (req.generationId !== this.generationId) return Promise.resolve(syncError(KafkaError.ILLEGAL_GENERATION))
    if (
      (req.protocolType !== null && req.protocolType !== this.protocolType) ||
      (req.protocolName !== null && req.protocolName !== this.protocolName)
    ) {
      return Promise.resolve(syncError(KafkaError.INCONSISTENT_GROUP_PROTOCOL))
    }
    switch (this.state) {
      case 'PreparingRebalance':
        return Promise.resolve(syncError(KafkaError.REBALANCE_IN_PROGRESS))
      case 'CompletingRebalance': {
        this.pendingSync.delete(m.memberId)
        const parked = this.parkSync(m)
        if (m.memberId === this.leaderId) this.completeSync(req.assignments)
        return parked
      }
      case 'Stable':
        // A follower whose SyncGroup arrives after the leader's: answer from the stored assignment.
        this.pendingSync.delete(m.memberId)
        this.touch(m)
        return Promise.resolve(this.syncResult(m))
      default:
        return Promise.resolve(syncError(KafkaError.UNKNOWN_MEMBER_ID))
    }
  }

  /** Handles a Heartbeat; returns its error code. */
  heartbeat(req: HeartbeatRequest): number {
    if (this.state === 'Dead') return KafkaError.COORDINATOR_NOT_AVAILABLE
    if (this.isFenced(req.groupInstanceId, req.memberId)) return KafkaError.FENCED_INSTANCE_ID
    const m = this.members.get(req.memberId)
    if (m === undefined) return KafkaError.UNKNOWN_MEMBER_ID
    if (req.generationId !== this.generationId) return KafkaError.ILLEGAL_GENERATION
    switch (this.state) {
      case 'PreparingRebalance':
        this.touch(m)
        return KafkaError.REBALANCE_IN_PROGRESS // tells the member to rejoin
      case 'CompletingRebalance':
      case 'Stable':
        this.touch(m)
        return KafkaError.NONE
      default:
        return KafkaError.UNKNOWN_MEMBER_ID
    }
  }

  /** Handles a LeaveGroup: removes the members and rebalances the rest. */
  leave(leaving: LeaveGroupMember[]): LeaveGroupResult {
    if (this.state === 'Dead') return { errorCode: KafkaError.COORDINATOR_NOT_AVAILABLE, members: [] }
    const members = leaving.map((lm) => ({
      memberId: lm.memberId,
      groupInstanceId: lm.groupInstanceId,
      errorCode: this.leaveOne(lm),
    }))
    return { errorCode: KafkaError.NONE, members }
  }

  /**
   * The member and generation check of OffsetCommit; returns NONE when the commit may proceed.
   * A commit with a negative generation is a standalone commit, accepted only while the group
   * has no members.
   */
  checkCommit(memberId: string, groupInstanceId: string | null, generationId: number): number {
    if (this.state === 'Dead') return KafkaError.COORDINATOR_NOT_AVAILABLE
    if (this.isFenced(groupInstanceId, memberId)) return KafkaError.FENCED_INSTANCE_ID
    if (generationId < 0 && this.state === 'Empty') return KafkaError.NONE
    const m = this.members.get(memberId)
    if (m === undefined) return KafkaError.UNKNOWN_MEMBER_ID
    if (generationId !== this.generationId) return KafkaError.ILLEGAL_GENERATION
    if (this.state === 'CompletingRebalance') {
      // The member has its JoinGroup answer but no assignment yet: it must not commit for the
      // partitions it owned before; Kafka answers REBALANCE_IN_PROGRESS.
      return KafkaError.REBALANCE_IN_PROGRESS
    }
    // Stable, or PreparingRebalance: the member still owns its partitions until it rejoins.
    this.touch(m)
    return KafkaError.NONE
  }

  /**
   * OffsetDelete's group check: the error for the whole request, and the topics whose offsets
   * are in use (GROUP_SUBSCRIBED_TO_TOPIC) when the group is an active consumer group.
   */
  offsetDeleteCheck(): { errorCode: number; subscribed: Set<string> } {
    switch (this.state) {
      case 'Dead':
        return { errorCode: KafkaError.GROUP_ID_NOT_FOUND, subscribed: new Set() }
      case 'Empty':
        return { errorCode: KafkaError.NONE, subscribed: new Set() }
      default:
        if (this.protocolType !== 'consumer') return { errorCode: KafkaError.NON_EMPTY_GROUP, subscribed: new Set() }
        return { errorCode: KafkaError.NONE, subscribed: this.subscribedTopics() }
    }
  }

  /** DescribeGroups' view: metadata and assignments only when Stable, as Kafka reports them. */
  describe(): GroupDescription {
    const stable = this.state === 'Stable'
    return {
      errorCode: KafkaError.NONE,
      groupId: this.groupId,
      groupState: this.state,
      protocolType: this.protocolType ?? '',
      protocolData: stable ? (this.protocolName ?? '') : '',
      members: [...this.members.values()].map((m) => ({
        memberId: m.memberId,
        groupInstanceId: m.groupInstanceId,
        clientId: m.clientId,
        clientHost: m.clientHost,
        memberMetadata: stable ? this.metadataFor(m) : EMPTY,
        memberAssignment: stable ? m.assignment : EMPTY,
      })),
    }
  }

  /** Cancels every timer, answers parked calls with `errorCode` and marks the group Dead. */
  shutdown(errorCode: number): void {
    this.clearJoinTimer()
    this.clearSyncTimer()
    this.initialDelay = null
    for (const p of this.pending.values()) this.ctx.timers.clear(p.timer)
    this.pending.clear()
    for (const m of this.members.values()) {
      this.clearSession(m)
      this.answerJoin(m, joinError(errorCode, m.memberId))
      this.answerSync(m, syncError(errorCode))
    }
    this.state = 'Dead'
  }

  // ---- joining ----

  private joinNewMember(req: JoinGroupRequest): Promise<JoinGroupResult> {
    const memberId = `${req.clientId}-${randomUUID()}`
    if (req.groupInstanceId !== null) {
      // Static members skip MEMBER_ID_REQUIRED; a known instance id replaces its old member.
      const oldId = this.staticMembers.get(req.groupInstanceId)
      const old = oldId === undefined ? undefined : this.members.get(oldId)
      if (old !== undefined) return this.replaceStaticMember(old, memberId, req)
      return this.addMemberAndRebalance(memberId, req)
    }
    if (req.requireKnownMemberId) {
      // The member id is remembered so the rejoin that carries it counts as this member, and a
      // rebalance waits for it (like a member that has not rejoined yet) until its session ends.
      const timer = this.ctx.timers.set(() => this.expirePending(memberId), req.sessionTimeoutMs)
      this.pending.set(memberId, { memberId, timer })
      return Promise.resolve(joinError(KafkaError.MEMBER_ID_REQUIRED, memberId))
    }
    return this.addMemberAndRebalance(memberId, req)
  }

  private joinKnownMember(req: JoinGroupRequest): Promise<JoinGroupResult> {
    const pending = this.pending.get(req.memberId)
    if (pending !== undefined) {
      this.ctx.timers.clear(pending.timer)
      this.pending.delete(req.memberId)
      return this.addMemberAndRebalance(req.memberId, req)
    }
    if (req.groupInstanceId !== null) {
      const known = this.staticMembers.get(req.groupInstanceId)
      if (known === undefined) return Promise.resolve(joinError(KafkaError.UNKNOWN_MEMBER_ID, req.memberId))
      if (known !== req.memberId) return Promise.resolve(joinError(KafkaError.FENCED_INSTANCE_ID, req.memberId))
    }
    const m = this.members.get(req.memberId)
    if (m === undefined) return Promise.resolve(joinError(KafkaError.UNKNOWN_MEMBER_ID, req.memberId))
    switch (this.state) {
      case 'PreparingRebalance':
        return this.updateMemberAndRebalance(m, req)
      case 'CompletingRebalance':
        // The member lost our JoinGroup answer (e.g. a retry): answer it again unless it changed.
        if (sameProtocols(m.protocols, req.protocols)) {
          this.touch(m)
          return Promise.resolve(this.joinResult(m))
        }
        return this.updateMemberAndRebalance(m, req)
      case 'Stable':
        // A follower rejoining unchanged needs no rebalance; the leader rejoining asks for one
        // (that is how a client forces a reassignment, e.g. after a metadata change).
        if (m.memberId !== this.leaderId && sameProtocols(m.protocols, req.protocols)) {
          this.touch(m)
          return Promise.resolve(this.joinResult(m))
        }
        return this.updateMemberAndRebalance(m, req)
      default:
        return Promise.resolve(joinError(KafkaError.UNKNOWN_MEMBER_ID, req.memberId))
    }
  }

  private addMemberAndRebalance(memberId: string, req: JoinGroupRequest): Promise<JoinGroupResult> {
    if (this.members.size === 0) this.protocolType = req.protocolType
    const m: Member = {
      memberId,
      groupInstanceId: req.groupInstanceId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      protocols: copyProtocols(req.protocols),
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      assignment: EMPTY,
      joinWaiter: null,
      syncWaiter: null,
      expiresAt: 0,
      timer: undefined,
      timerAt: 0,
    }
    this.members.set(memberId, m)
    if (req.groupInstanceId !== null) this.staticMembers.set(req.groupInstanceId, memberId)
    if (this.leaderId === null) this.leaderId = memberId
    if (this.initialDelay !== null) this.initialDelay.newMemberAdded = true
    this.touch(m)
    const parked = this.parkJoin(m)
    this.maybePrepareRebalance()
    this.tryCompleteJoin()
    return parked
  }

  private updateMemberAndRebalance(m: Member, req: JoinGroupRequest): Promise<JoinGroupResult> {
    m.protocols = copyProtocols(req.protocols)
    m.sessionTimeoutMs = req.sessionTimeoutMs
    m.rebalanceTimeoutMs = req.rebalanceTimeoutMs
    m.clientId = req.clientId
    m.clientHost = req.clientHost
    this.touch(m)
    const parked = this.parkJoin(m)
    this.maybePrepareRebalance()
    this.tryCompleteJoin()
    return parked
  }

  /**
   * KIP-345: a static member restarted and joined with its instance id and no member id. The new
   * member id takes over the old member's place and assignment; the old id is fenced. A Stable
   * group whose protocols did not change skips the rebalance.
   */
  private replaceStaticMember(old: Member, memberId: string, req: JoinGroupRequest): Promise<JoinGroupResult> {
    this.answerJoin(old, joinError(KafkaError.FENCED_INSTANCE_ID, old.memberId))
    this.answerSync(old, syncError(KafkaError.FENCED_INSTANCE_ID))
    this.clearSession(old)
    const m: Member = {
      ...old,
      memberId,
      clientId: req.clientId,
      clientHost: req.clientHost,
      protocols: copyProtocols(req.protocols),
      sessionTimeoutMs: req.sessionTimeoutMs,
      rebalanceTimeoutMs: req.rebalanceTimeoutMs,
      joinWaiter: null,
      syncWaiter: null,
      timer: undefined,
    }
    this.members.delete(old.memberId)
    this.members.set(memberId, m)
    this.staticMembers.set(m.groupInstanceId as string, memberId)
    if (this.pendingSync.delete(old.memberId)) this.pendingSync.add(memberId)
    if (this.leaderId === old.memberId) this.leaderId = memberId
    this.touch(m)
    if (this.state === 'Stable' && sameProtocols(old.protocols, m.protocols)) {
      const result = this.joinResult(m)
      result.skipAssignment = m.memberId === this.leaderId
      return Promise.resolve(result)
    }
    const parked = this.parkJoin(m)
    this.maybePrepareRebalance()
    this.tryCompleteJoin()
    return parked
  }

  private supportsProtocols(req: JoinGroupRequest): boolean {
    if (req.protocolType === '' || req.protocols.length === 0) return false
    // The joiner's own previous protocols (or those of the static member it replaces) do not count.
    const self =
      req.memberId !== ''
        ? req.memberId
        : req.groupInstanceId !== null
          ? this.staticMembers.get(req.groupInstanceId)
          : ''
    const others = [...this.members.values()].filter((m) => m.memberId !== self)
    if (others.length === 0) return true
    if (req.protocolType !== this.protocolType) return false
    const common = commonProtocols(others)
    return req.protocols.some((p) => common.includes(p.name))
  }

  // ---- rebalancing ----

  private maybePrepareRebalance(): void {
    if (this.state === 'Empty' || this.state === 'Stable' || this.state === 'CompletingRebalance') {
      this.prepareRebalance()
    }
  }

  private prepareRebalance(): void {
    if (this.state === 'CompletingRebalance') {
      // The assignment being distributed is void: parked SyncGroups learn to rejoin.
      for (const m of this.members.values()) {
        m.assignment = EMPTY
        this.answerSync(m, syncError(KafkaError.REBALANCE_IN_PROGRESS))
      }
    }
    this.clearSyncTimer()
    this.pendingSync.clear()
    const wasEmpty = this.state === 'Empty'
    this.state = 'PreparingRebalance'
    this.clearJoinTimer()
    const rebalanceTimeoutMs = this.maxRebalanceTimeoutMs()
    if (wasEmpty && this.ctx.initialRebalanceDelayMs > 0) {
      // group.initial.rebalance.delay.ms: let a starting fleet join one generation, not one each.
      const delay = Math.min(this.ctx.initialRebalanceDelayMs, rebalanceTimeoutMs)
      this.initialDelay = { remainingMs: Math.max(rebalanceTimeoutMs - delay, 0), newMemberAdded: false }
      this.joinTimer = this.ctx.timers.set(() => this.onInitialDelay(), delay)
      return
    }
    this.joinTimer = this.ctx.timers.set(() => {
      this.joinTimer = undefined
      this.completeJoin()
    }, rebalanceTimeoutMs)
    this.tryCompleteJoin()
  }

  private onInitialDelay(): void {
    this.joinTimer = undefined
    const d = this.initialDelay
    if (d !== null && d.newMemberAdded && d.remainingMs > 0) {
      // Members are still arriving: wait another delay, within the rebalance timeout.
      d.newMemberAdded = false
      const delay = Math.min(this.ctx.initialRebalanceDelayMs, d.remainingMs)
      d.remainingMs -= delay
      this.joinTimer = this.ctx.timers.set(() => this.onInitialDelay(), delay)
      return
    }
    this.initialDelay = null
    this.completeJoin()
  }

  private tryCompleteJoin(): void {
    if (this.state !== 'PreparingRebalance' || this.initialDelay !== null) return
    if (this.pending.size > 0) return
    for (const m of this.members.values()) if (m.joinWaiter === null) return
    this.completeJoin()
  }

  /** Ends PreparingRebalance: evicts stragglers, advances the generation, answers the joins. */
  private completeJoin(): void {
    this.clearJoinTimer()
    this.initialDelay = null
    if (this.state !== 'PreparingRebalance') return
    for (const m of [...this.members.values()]) {
      if (m.joinWaiter === null) this.removeMember(m, KafkaError.UNKNOWN_MEMBER_ID)
    }
    this.generationId++
    if (this.members.size === 0) {
      this.protocolName = null
      this.leaderId = null
      this.state = 'Empty'
      this.ctx.generationChanged(this)
      return
    }
    if (this.leaderId === null || !this.members.has(this.leaderId)) this.leaderId = this.members.keys().next().value!
    this.protocolName = this.selectProtocol()
    this.state = 'CompletingRebalance'
    this.ctx.generationChanged(this)
    for (const m of this.members.values()) {
      this.pendingSync.add(m.memberId)
      this.answerJoin(m, this.joinResult(m))
      this.touch(m)
    }
    // Members that got their JoinGroup answer but never sync within the rebalance timeout are
    // evicted, or a lost follower would leave the group without an owner for its partitions.
    const generation = this.generationId
    this.syncTimer = this.ctx.timers.set(() => this.onSyncTimeout(generation), this.maxRebalanceTimeoutMs())
  }

  private completeSync(assignments: { memberId: string; assignment: Buffer }[]): void {
    const given = new Map<string, Buffer>()
    for (const a of assignments) given.set(a.memberId, Buffer.from(a.assignment))
    for (const m of this.members.values()) m.assignment = given.get(m.memberId) ?? EMPTY
    this.state = 'Stable'
    for (const m of this.members.values()) {
      if (m.syncWaiter === null) continue
      this.answerSync(m, this.syncResult(m))
      this.touch(m)
    }
  }

  private onSyncTimeout(generation: number): void {
    this.syncTimer = undefined
    if (generation !== this.generationId || this.pendingSync.size === 0) return
    if (this.state !== 'CompletingRebalance' && this.state !== 'Stable') return
    for (const id of this.pendingSync) {
      const m = this.members.get(id)
      if (m !== undefined) this.removeMember(m, KafkaError.UNKNOWN_MEMBER_ID)
    }
    this.pendingSync.clear()
    this.prepareRebalance()
  }

  /**
   * Kafka's protocol vote: among the protocols every member supports, each member votes for the
   * first one in its own preference order; the most votes wins (ties: the leader's order).
   */
  private selectProtocol(): string {
    const all = [...this.members.values()]
    const leader = this.members.get(this.leaderId ?? '') ?? all[0]
    const candidates = leader.protocols
      .map((p) => p.name)
      .filter((name) => all.every((m) => m.protocols.some((p) => p.name === name)))
    if (candidates.length === 0) return leader.protocols[0].name // unreachable: joins are checked
    const votes = new Map<string, number>()
    for (const m of all) {
      const vote = m.protocols.find((p) => candidates.includes(p.name))
      if (vote !== undefined) votes.set(vote.name, (votes.get(vote.name) ?? 0) + 1)
    }
    let best = candidates[0]
    for (const name of candidates) if ((votes.get(name) ?? 0) > (votes.get(best) ?? 0)) best = name
    return best
  }

  // ---- leaving and expiry ----

  private leaveOne(lm: LeaveGroupMember): number {
    if (lm.memberId === '') {
      // Administrative removal of a static member by its instance id (KIP-345).
      const id = lm.groupInstanceId === null ? undefined : this.staticMembers.get(lm.groupInstanceId)
      const m = id === undefined ? undefined : this.members.get(id)
      if (m === undefined) return KafkaError.UNKNOWN_MEMBER_ID
      this.removeMemberAndRebalance(m)
      return KafkaError.NONE
    }
    const pending = this.pending.get(lm.memberId)
    if (pending !== undefined) {
      this.ctx.timers.clear(pending.timer)
      this.pending.delete(lm.memberId)
      this.tryCompleteJoin()
      return KafkaError.NONE
    }
    if (this.isFenced(lm.groupInstanceId, lm.memberId)) return KafkaError.FENCED_INSTANCE_ID
    const m = this.members.get(lm.memberId)
    if (m === undefined) return KafkaError.UNKNOWN_MEMBER_ID
    this.removeMemberAndRebalance(m)
    return KafkaError.NONE
  }

  private expirePending(memberId: string): void {
    if (!this.pending.delete(memberId)) return
    this.tryCompleteJoin()
  }

  private removeMemberAndRebalance(m: Member): void {
    this.removeMember(m, KafkaError.UNKNOWN_MEMBER_ID)
    if (this.state === 'Stable' || this.state === 'CompletingRebalance') this.prepareRebalance()
    else this.tryCompleteJoin() // the others may all be parked already
  }

  private removeMember(m: Member, errorCode: number): void {
    this.clearSession(m)
    this.answerJoin(m, joinError(errorCode, m.memberId))
    this.answerSync(m, syncError(errorCode))
    this.members.delete(m.memberId)
    if (m.groupInstanceId !== null && this.staticMembers.get(m.groupInstanceId) === m.memberId) {
      this.staticMembers.delete(m.groupInstanceId)
    }
    this.pendingSync.delete(m.memberId)
    if (this.leaderId === m.memberId) this.leaderId = this.members.keys().next().value ?? null
  }

  /** Resets a member's session deadline. One timer per member, re-armed lazily when it fires. */
  private touch(m: Member): void {
    m.expiresAt = this.ctx.now() + m.sessionTimeoutMs
    if (m.timer !== undefined && m.timerAt <= m.expiresAt) return
    this.clearSession(m)
    m.timerAt = m.expiresAt
    m.timer = this.ctx.timers.set(() => this.onSessionTimer(m), m.sessionTimeoutMs)
  }

  private onSessionTimer(m: Member): void {
    m.timer = undefined
    if (this.members.get(m.memberId) !== m || this.state === 'Dead') return
    const now = this.ctx.now()
    // A member parked in JoinGroup or SyncGroup is waiting on us, not silent (Kafka's
    // hasSatisfiedHeartbeat); the rebalance and sync timeouts bound those waits.
    if (m.joinWaiter !== null || m.syncWaiter !== null) m.expiresAt = Math.max(m.expiresAt, now + m.sessionTimeoutMs)
    if (now < m.expiresAt) {
      m.timerAt = m.expiresAt
      m.timer = this.ctx.timers.set(() => this.onSessionTimer(m), m.expiresAt - now)
      return
    }
    this.removeMemberAndRebalance(m)
  }

  // ---- helpers ----

  private isFenced(groupInstanceId: string | null, memberId: string): boolean {
    if (groupInstanceId === null) return false
    const known = this.staticMembers.get(groupInstanceId)
    return known !== undefined && known !== memberId
  }

  private parkJoin(m: Member): Promise<JoinGroupResult> {
    const previous = m.joinWaiter
    const parked = new Promise<JoinGroupResult>((resolve) => {
      m.joinWaiter = resolve
    })
    // A duplicate join (a client retry on a new connection) supersedes the parked one.
    previous?.(joinError(KafkaError.REBALANCE_IN_PROGRESS, m.memberId))
    return parked
  }

  private parkSync(m: Member): Promise<SyncGroupResult> {
    const previous = m.syncWaiter
    const parked = new Promise<SyncGroupResult>((resolve) => {
      m.syncWaiter = resolve
    })
    previous?.(syncError(KafkaError.REBALANCE_IN_PROGRESS))
    return parked
  }

  private answerJoin(m: Member, result: JoinGroupResult): void {
    const waiter = m.joinWaiter
    if (waiter === null) return
    m.joinWaiter = null
    waiter(result)
  }

  private answerSync(m: Member, result: SyncGroupResult): void {
    const waiter = m.syncWaiter
    if (waiter === null) return
    m.syncWaiter = null
    waiter(result)
  }

  private joinResult(m: Member): JoinGroupResult {
    return {
      errorCode: KafkaError.NONE,
      generationId: this.generationId,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      leader: this.leaderId ?? '',
      memberId: m.memberId,
      skipAssignment: false,
      members: m.memberId === this.leaderId ? this.memberList() : [],
    }
  }

  private syncResult(m: Member): SyncGroupResult {
    return {
      errorCode: KafkaError.NONE,
      protocolType: this.protocolType,
      protocolName: this.protocolName,
      assignment: m.assignment,
    }
  }

  private memberList(): JoinGroupMember[] {
    return [...this.members.values()].map((m) => ({
      memberId: m.memberId,
      groupInstanceId: m.groupInstanceId,
      metadata: this.metadataFor(m),
    }))
  }

  private metadataFor(m: Member): Buffer {
    return m.protocols.find((p) => p.name === this.protocolName)?.metadata ?? EMPTY
  }

  private maxRebalanceTimeoutMs(): number {
    let max = 0
    for (const m of this.members.values()) max = Math.max(max, m.rebalanceTimeoutMs)
    return max
  }

  /** Topics named in the members' consumer-protocol subscriptions (unparsable ones are skipped). */
  private subscribedTopics(): Set<string> {
    const topics = new Set<string>()
    for (const m of this.members.values()) {
      for (const p of m.protocols) for (const t of parseSubscriptionTopics(p.metadata)) topics.add(t)
    }
    return topics
  }

  private clearSession(m: Member): void {
    if (m.timer !== undefined) this.ctx.timers.clear(m.timer)
    m.timer = undefined
  }

  private clearJoinTimer(): void {
    if (this.joinTimer !== undefined) this.ctx.timers.clear(this.joinTimer)
    this.joinTimer = undefined
  }

  private clearSyncTimer(): void {
    if (this.syncTimer !== undefined) this.ctx.timers.clear(this.syncTimer)
    this.syncTimer = undefined
  }
}

function copyProtocols(protocols: GroupProtocol[]): GroupProtocol[] {
  // Request buffers may be views into a network frame that gets reused: keep our own copies.
  return protocols.map((p) => ({ name: p.name, metadata: Buffer.from(p.metadata) }))
}

function sameProtocols(a: GroupProtocol[], b: GroupProtocol[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) {
    if (a[i].name !== b[i].name || !a[i].metadata.equals(b[i].metadata)) return false
  }
  return true
}

function commonProtocols(members: Member[]): string[] {
  return members[0].protocols
    .map((p) => p.name)
    .filter((name) => members.every((m) => m.protocols.some((p) => p.name === name)))
}

/**
 * Topics of a consumer-protocol subscription:
 *   ConsumerProtocolSubscription => version:int16 topics:[string] user_data:bytes ...
 * Returns [] when the bytes are not one.
 */
export function parseSubscriptionTopics(metadata: Buffer): string[] {
  try {
    const r = new Reader(metadata)
    r.readInt16()
    return r.readArray(false, (x) => x.readString())
  } catch {
    return []
  }
}
