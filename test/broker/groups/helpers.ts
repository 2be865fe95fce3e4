// Shared helpers of the group coordinator tests: a fake clock that drives the coordinator's
// timers deterministically, and a simulated consumer that performs the join/sync dance.
import assert from 'node:assert/strict'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestContext } from 'node:test'
import { GroupCoordinator } from '../../../src/broker/groups/coordinator.ts'
import type { CoordinatorOptions } from '../../../src/broker/groups/coordinator.ts'
import type { GroupTimers } from '../../../src/broker/groups/group.ts'
import type { GroupProtocol, JoinGroupRequest } from '../../../src/broker/groups/types.ts'
import { KafkaError } from '../../../src/protocol/error-codes.ts'

interface FakeTimer {
  at: number
  fn: () => void
}

/** A manual clock: timers fire only inside advance(), in due order, with now() at their due time. */
export class FakeClock {
  time = 1_700_000_000_000
  private seq = 0
  private readonly pending = new Map<number, FakeTimer>()
  readonly now = (): number => this.time
  readonly timers: GroupTimers = {
    set: (fn, ms) => {
      const id = ++this.seq
      this.pending.set(id, { at: this.time + Math.max(0, ms), fn })
      return id
    },
    clear: (handle) => {
      this.pending.delete(handle as number)
    },
  }

  /** Timers armed and not yet fired or cleared. */
  get timerCount(): number {
    return this.pending.size
  }

  /** Moves time forward by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const target = this.time + ms
    for (;;) {
      let nextId = -1
      let next: FakeTimer | undefined
      for (const [id, timer] of this.pending) {
        if (timer.at <= target && (next === undefined || timer.at < next.at)) {
          nextId = id
          next = timer
        }
      }
      if (next === undefined) break
      this.pending.delete(nextId)
      this.time = next.at
      next.fn()
    }
    this.time = target
  }
}

/** Lets resolved promises and their continuations run. */
export function tick(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** Several ticks: for chains of awaits (join -> sync -> ...). */
export async function settle(turns = 5): Promise<void> {
  for (let i = 0; i < turns; i++) await tick()
}

/** A promise whose state can be inspected. */
export interface Tracked<T> {
  done: boolean
  value: T | undefined
  promise: Promise<T>
}

export function track<T>(promise: Promise<T>): Tracked<T> {
  const t: Tracked<T> = { done: false, value: undefined, promise }
  promise.then((v) => {
    t.done = true
    t.value = v
  })
  return t
}

export function tempDir(t: TestContext): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickflow-'))
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }))
  return dir
}

export interface Setup {
  coord: GroupCoordinator
  clock: FakeClock
  dir: string
}

/** A coordinator on a fresh dir with a fake clock; closed after the test. */
export function setup(t: TestContext, options: Partial<CoordinatorOptions> = {}): Setup {
  const clock = new FakeClock()
  const dir = options.dataDir ?? tempDir(t)
  const coord = new GroupCoordinator({
    dataDir: dir,
    fsync: false,
    minSessionTimeoutMs: 10,
    now: clock.now,
    timers: clock.timers,
    ...options,
  })
  t.after(() => coord.close())
  return { coord, clock, dir }
}

export function joinReq(groupId: string, over: Partial<JoinGroupRequest> = {}): JoinGroupRequest {
  return {
    groupId,
    memberId: '',
    groupInstanceId: null,
    protocolType: 'consumer',
    protocols: [{ name: 'range', metadata: Buffer.from('meta') }],
    sessionTimeoutMs: 10_000,
    rebalanceTimeoutMs: 10_000,
    clientId: 'client',
    clientHost: '/127.0.0.1',
    requireKnownMemberId: false,
    ...over,
  }
}

/** ConsumerProtocolSubscription v0 bytes: version, topics, empty user data. */
export function subscription(topics: string[]): Buffer {
  const parts: Buffer[] = [Buffer.from([0, 0]), int32(topics.length)]
  for (const t of topics) {
    const b = Buffer.from(t)
    parts.push(Buffer.from([b.length >> 8, b.length & 0xff]), b)
  }
  parts.push(int32(0))
  return Buffer.concat(parts)
}

function int32(n: number): Buffer {
  const b = Buffer.alloc(4)
  b.writeInt32BE(n)
  return b
}

/** A simulated consumer: joins, syncs (assigning `<memberId>@<generation>` when leader), retries. */
export class TestMember {
  readonly coord: GroupCoordinator
  readonly groupId: string
  readonly name: string
  memberId = ''
  generationId = -1
  leader = ''
  assignment: Buffer = Buffer.alloc(0)
  joins = 0
  protocols: GroupProtocol[]
  options: Partial<JoinGroupRequest>

  constructor(coord: GroupCoordinator, groupId: string, name: string, options: Partial<JoinGroupRequest> = {}) {
    this.coord = coord
    this.groupId = groupId
    this.name = name
    this.options = options
    this.protocols = options.protocols ?? [{ name: 'range', metadata: Buffer.from(name) }]
  }

  /** Joins and syncs until it holds an assignment of the current generation. */
  async joinAndSync(): Promise<void> {
    for (;;) {
      this.joins++
      const j = await this.coord.join(
        joinReq(this.groupId, {
          clientId: this.name,
          ...this.options,
          memberId: this.memberId,
          protocols: this.protocols,
        }),
      )
      if (j.errorCode === KafkaError.MEMBER_ID_REQUIRED || j.errorCode === KafkaError.UNKNOWN_MEMBER_ID) {
        this.memberId = j.errorCode === KafkaError.UNKNOWN_MEMBER_ID ? '' : j.memberId
        continue
      }
      if (j.errorCode === KafkaError.REBALANCE_IN_PROGRESS) continue
      assert.equal(j.errorCode, KafkaError.NONE, `join of ${this.name}`)
      this.memberId = j.memberId
      this.generationId = j.generationId
      this.leader = j.leader
      const assignments = j.members.map((m) => ({
        memberId: m.memberId,
        assignment: Buffer.from(`${m.memberId}@${j.generationId}`),
      }))
      const s = await this.coord.sync({
        groupId: this.groupId,
        generationId: j.generationId,
        memberId: this.memberId,
        groupInstanceId: this.options.groupInstanceId ?? null,
        protocolType: j.protocolType,
        protocolName: j.protocolName,
        assignments,
      })
      if (
        s.errorCode === KafkaError.REBALANCE_IN_PROGRESS ||
        s.errorCode === KafkaError.ILLEGAL_GENERATION ||
        s.errorCode === KafkaError.UNKNOWN_MEMBER_ID
      ) {
        continue
      }
      assert.equal(s.errorCode, KafkaError.NONE, `sync of ${this.name}`)
      this.assignment = s.assignment
      return
    }
  }

  heartbeat(): number {
    return this.coord.heartbeat({
      groupId: this.groupId,
      generationId: this.generationId,
      memberId: this.memberId,
      groupInstanceId: this.options.groupInstanceId ?? null,
    }).errorCode
  }
}

/**
 * Drives `members` like real consumers (rejoin when a heartbeat says so) until all of them sit in
 * one Stable generation. Fake timers never fire here, so this only converges through rejoins.
 */
export async function stabilize(members: TestMember[]): Promise<void> {
  const running = new Set<TestMember>()
  const errors: unknown[] = []
  for (let round = 0; round < 2000; round++) {
    for (const m of members) {
      if (running.has(m)) continue
      if (m.generationId >= 0 && m.heartbeat() === KafkaError.NONE) continue
      running.add(m)
      m.joinAndSync().then(
        () => running.delete(m),
        (err: unknown) => {
          errors.push(err)
          running.delete(m)
        },
      )
    }
    if (errors.length > 0) throw errors[0]
    if (running.size === 0) {
      const generations = new Set(members.map((m) => m.generationId))
      if (generations.size === 1 && members.every((m) => m.heartbeat() === KafkaError.NONE)) return
    }
    await tick()
  }
  throw new Error('the group did not stabilize')
}
