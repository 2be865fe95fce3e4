/**
 * The stream runtime: runs a {@link ProcessorDefinition} as one member of a consumer group.
 *
 * Loop: join the group → open a {@link Task} per assigned partition (fence the previous owner,
 * restore its checkpoint) → fetch, process, commit in transactions → on a rebalance, commit what
 * is pending and rejoin. Fetching and processing go on while a task's transaction commits: a task
 * commits at most one transaction at a time, and when one ends it starts the next with what was
 * processed meanwhile, so a record waits for at most the commit in flight and its own. A task
 * holding more than {@link MAX_PENDING_BYTES} of uncommitted output stops the fetching until its
 * commit is done, which bounds memory.
 */
import { ensureTopic, openAdmin } from '../bus/admin.ts'
import type { BusConfig } from '../bus/client.ts'
import { KafkaCluster, KafkaErrors, sleep } from '../bus/cluster.ts'
import { dlqTopicOf } from '../bus/dlq.ts'
import { GroupMember } from '../bus/group-member.ts'
import { listOffsets, OffsetSpec } from '../bus/partition-io.ts'
import { RETRIABLE_FETCH_ERRORS } from '../bus/read-committed.ts'
import { walkBatches } from '../bus/scan.ts'
import { ErrorCodes, TickflowError } from '../errors.ts'
import { checkpointTopicOf } from './checkpoint.ts'
import { NO_METRICS, type ProcessorMetrics } from './metrics.ts'
import type { ProcessorDefinition } from './processor.ts'
import { Task, type RestoreReport, type TaskContext } from './task.ts'

export interface RuntimeOptions {
  bus: BusConfig
  /** The consumer group (default `tickflow-<processor name>`). */
  groupId?: string
  /** Where partitions without a committed offset start (default earliest). */
  startFrom?: 'earliest' | 'latest'
  /** A snapshot at least this often while input flows (default 1000 ms). */
  checkpointIntervalMs?: number
  /** Group session timeout: how soon a crashed member's partitions move (default 10 s). */
  sessionTimeoutMs?: number
  /** Longest wait of a fetch for new input (default 100 ms). */
  fetchMaxWaitMs?: number
  /** Bytes per partition per fetch (default 1 MiB). */
  partitionMaxBytes?: number
  /** How often to look for partitions added to the input (default {@link METADATA_CHECK_MS}). */
  metadataCheckMs?: number
  metrics?: ProcessorMetrics
  /** Stops the runtime: pending work is committed, the member leaves the group. */
  signal?: AbortSignal
  /** One line per event (assignment, restore, failure). */
  log?(line: string): void
  /** Called after each restored task (tests, progress). */
  onRestore?(report: RestoreReport): void
}

/** Live counters of a running processor. */
export interface RuntimeStats {
  /** Records processed (not counting restore replays). */
  processed: number
  /** Partitions owned now. */
  assigned: number[]
  generation: number
  restores: number
}

/** Partition-topic configs of a checkpoint topic: size-bounded, never time-bounded (a stopped processor keeps its snapshot). */
export const CHECKPOINT_TOPIC_CONFIGS = {
  'retention.ms': '-1',
  'retention.bytes': String(1024 * 1024 * 1024),
  'segment.bytes': String(64 * 1024 * 1024),
}

/**
 * Runs `definition` until `options.signal` aborts; resolves once pending work is committed and the
 * member has left the group.
 */
export async function runProcessor(
  definition: ProcessorDefinition,
  options: RuntimeOptions,
  stats: RuntimeStats = { processed: 0, assigned: [], generation: -1, restores: 0 },
): Promise<RuntimeStats> {
  const log = options.log ?? (() => undefined)
  const signal = options.signal ?? new AbortController().signal
  const groupId = options.groupId ?? `tickflow-${definition.name}`
  const metrics = options.metrics ?? NO_METRICS
  const cluster = await KafkaCluster.connect(options.bus)
  const tasks = new Map<number, Task>()
  let member: GroupMember | undefined
  try {
    const input = await cluster.topic(definition.input)
    let partitions = input.leaders.length
    const checkpointTopic = checkpointTopicOf(groupId)
    await ensureProcessorTopics(options.bus, definition, partitions, checkpointTopic)
    const partitionsOf = new Map<string, number>()
    for (const [name, layout] of await cluster.topics([
      ...definition.outputs,
      dlqTopicOf(definition.input),
      checkpointTopic,
    ])) {
      partitionsOf.set(name, layout.leaders.length)
    }
    const ctx: TaskContext = {
      cluster,
      definition,
      groupId,
      partitionsOf,
      startFrom: options.startFrom ?? 'earliest',
      checkpointIntervalMs: options.checkpointIntervalMs ?? 1000,
      transactionTimeoutMs: 60_000,
      metrics,
      log,
      stats,
    }
    member = new GroupMember(cluster, {
      groupId,
      topics: [definition.input],
      sessionTimeoutMs: options.sessionTimeoutMs ?? 10_000,
    })
    const fetchMaxWaitMs = options.fetchMaxWaitMs ?? 100
    const partitionMaxBytes = options.partitionMaxBytes ?? 1 << 20
    let leaders = input.leaders

    const open = async (partition: number): Promise<void> => {
      const { task, report } = await retrying(
        `opening partition ${partition}`,
        () => Task.open(ctx, partition),
        log,
        signal,
      )
      tasks.set(partition, task)
      stats.restores++
      log(
        `partition ${partition}: at offset ${report.position}` +
          (report.snapshotBytes > 0
            ? `, restored ${report.snapshotBytes} snapshot bytes and replayed ${report.replayed} records in ${report.ms.toFixed(0)} ms`
            : ''),
      )
      options.onRestore?.(report)
    }

    while (!signal.aborted) {
      const joining = member
      const assignment = await retrying('joining the group', () => joining.join(), log, signal)
      const owned = assignment.partitions.get(definition.input) ?? []
      stats.generation = assignment.generationId
      log(`generation ${assignment.generationId}: partitions [${owned.join(',')}] of ${definition.input}`)
      // Tasks kept across the rebalance keep their state: everything was committed before rejoining,
      // and the transactional id's epoch tells if another member wrote in between (the next commit
      // then fails as fenced and the task is reopened).
      for (const [p, task] of tasks) {
        if (!owned.includes(p) || task.failure !== undefined) {
          tasks.delete(p)
          if (!owned.includes(p)) metrics.partitionRevoked?.(p)
        }
      }
      for (const p of owned) if (!tasks.has(p)) await open(p)
      stats.assigned = [...owned]
      metrics.assignedPartitions(owned.length)
      let lastIdleCheck = performance.now()
      let lastMetadataCheck = performance.now()
      let rejoin = false

      while (!signal.aborted && !member.rebalanceNeeded && !rejoin) {
        if (tasks.size === 0) {
          await Promise.race([member.rebalance(), abortPromise(signal), sleep(fetchMaxWaitMs)])
          continue
        }
        const fetched = await fetchRound(cluster, definition.input, leaders, tasks, {
          maxWaitMs: fetchMaxWaitMs,
          partitionMaxBytes,
          metrics,
        })
        if (fetched.refreshLeaders) {
          leaders = (await retrying('reading metadata', () => cluster.topic(definition.input), log, signal)).leaders
        }
        const now = performance.now()
        // Like Kafka's consumers: partitions added to the input are noticed from metadata, and
        // the group rebalances so that they are assigned.
        if (now - lastMetadataCheck >= (options.metadataCheckMs ?? METADATA_CHECK_MS)) {
          lastMetadataCheck = now
          const layout = await retrying('reading metadata', () => cluster.topic(definition.input), log, signal)
          leaders = layout.leaders
          if (leaders.length > partitions) {
            log(`${definition.input} has ${leaders.length} partitions now (was ${partitions}); rebalancing`)
            partitions = leaders.length
            await ensureProcessorTopics(options.bus, definition, partitions, checkpointTopic)
            for (const [name, l] of await cluster.topics([...partitionsOf.keys()]))
              partitionsOf.set(name, l.leaders.length)
            rejoin = true
          }
        }
        if (now - lastIdleCheck >= 1000) {
          lastIdleCheck = now
          const wall = Date.now()
          for (const task of tasks.values()) {
            task.checkIdle(wall)
            const max = task.maxEventTime
            if (max !== undefined) metrics.eventTimeLag(task.partition, wall - max)
          }
        }
        for (const task of tasks.values()) {
          // A task commits again by itself when its transaction ends (see Task.commit).
          if (task.failure === undefined && task.inflight === undefined && task.dirty) void task.commit()
        }
        for (const task of tasks.values()) {
          if (task.inflight !== undefined && task.pendingBytes >= MAX_PENDING_BYTES) await task.inflight
        }
        for (const [p, task] of tasks) {
          if (task.failure === undefined) continue
          tasks.delete(p)
          if ((task.failure as TickflowError).code === ErrorCodes.FENCED) {
            // Another member owns the partition now: rejoin to learn the new assignment.
            log(`partition ${p}: ${task.failure.message}; rejoining the group`)
            rejoin = true
          } else {
            log(`partition ${p}: ${task.failure.message}; reopening from its checkpoint`)
            await open(p)
          }
        }
      }
      for (const task of tasks.values()) await task.flush()
      for (const [p, task] of tasks) if (task.failure !== undefined) tasks.delete(p)
    }
  } finally {
    for (const task of tasks.values()) {
      try {
        await task.flush()
      } catch {
        // Aborted by the coordinator at its timeout, or fenced by the next owner.
      }
    }
    await member?.leave()
    await cluster.close()
  }
  return stats
}

/** Uncommitted output of a task above which fetching waits for its commit in flight. */
export const MAX_PENDING_BYTES = 16 * 1024 * 1024

/** How often the runtime looks for partitions added to its input. */
export const METADATA_CHECK_MS = 10_000

/** How long the runtime keeps retrying while the cluster is unreachable before it gives up. */
export const UNREACHABLE_TIMEOUT_MS = 120_000

/**
 * Runs `fn`, retrying with backoff while it fails on transport errors (a broker restarting, a
 * coordinator moving) for up to {@link UNREACHABLE_TIMEOUT_MS}; other errors pass through.
 */
async function retrying<T>(
  what: string,
  fn: () => Promise<T>,
  log: (line: string) => void,
  signal: AbortSignal,
): Promise<T> {
  const deadline = performance.now() + UNREACHABLE_TIMEOUT_MS
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      const transient =
        err instanceof TickflowError && (err.retriable || err.code === ErrorCodes.CLOSED) && !signal.aborted
      if (!transient || performance.now() > deadline) throw err
      if (attempt === 1 || attempt % 10 === 0) log(`${what}: ${err.message}; retrying`)
      await sleep(Math.min(2000, 100 * attempt))
    }
  }
}

function abortPromise(signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal.aborted) resolve()
    else signal.addEventListener('abort', () => resolve(), { once: true })
  })
}

/** Creates the processor's output, dead-letter and checkpoint topics when missing. */
async function ensureProcessorTopics(
  bus: BusConfig,
  definition: ProcessorDefinition,
  partitions: number,
  checkpointTopic: string,
): Promise<void> {
  const admin = openAdmin(bus)
  try {
    for (const t of [...definition.outputs, dlqTopicOf(definition.input)]) await ensureTopic(admin, t, partitions)
    await ensureTopic(admin, checkpointTopic, partitions, CHECKPOINT_TOPIC_CONFIGS)
    // The input may have gained partitions since the checkpoint topic was made: each task writes
    // its snapshots to the partition of its own number.
    const metadata = await admin.metadata({ topics: [checkpointTopic], forceUpdate: true })
    const have = metadata.topics.get(checkpointTopic)?.partitionsCount ?? partitions
    if (have < partitions) await admin.createPartitions({ topics: [{ name: checkpointTopic, count: partitions }] })
  } finally {
    await admin.close()
  }
}

interface FetchRoundOptions {
  maxWaitMs: number
  partitionMaxBytes: number
  metrics: ProcessorMetrics
}

// One fetch per leader for the tasks' partitions; records go straight into their tasks.
async function fetchRound(
  cluster: KafkaCluster,
  topic: string,
  leaders: number[],
  tasks: Map<number, Task>,
  o: FetchRoundOptions,
): Promise<{ refreshLeaders: boolean }> {
  const byLeader = new Map<number, Task[]>()
  for (const task of tasks.values()) {
    const leader = leaders[task.partition] ?? -1
    byLeader.set(leader, [...(byLeader.get(leader) ?? []), task])
  }
  let refreshLeaders = false
  await Promise.all(
    [...byLeader].map(async ([node, list]) => {
      if (node < 0) {
        refreshLeaders = true
        await sleep(100)
        return
      }
      let response
      try {
        response = await (
          await cluster.connection(node, 'fetch')
        ).fetch({
          maxWaitMs: o.maxWaitMs,
          minBytes: 1,
          maxBytes: 64 << 20,
          isolationLevel: 1,
          topics: [
            {
              topic,
              partitions: list.map((t) => ({
                partition: t.partition,
                fetchOffset: BigInt(t.position),
                partitionMaxBytes: o.partitionMaxBytes,
              })),
            },
          ],
        })
      } catch {
        cluster.drop(node, 'fetch')
        refreshLeaders = true
        await sleep(100)
        return
      }
      for (const t of response.responses) {
        for (const p of t.partitions) {
          const task = tasks.get(p.partitionIndex)
          if (task === undefined) continue
          if (p.errorCode === KafkaErrors.OFFSET_OUT_OF_RANGE) {
            // Retention removed input this task had not read: go on from the log start.
            const start =
              (await listOffsets(cluster, topic, [task.partition], OffsetSpec.EARLIEST)).get(task.partition) ?? 0
            if (start > task.position) task.skipTo(start)
            continue
          }
          if (p.errorCode !== 0) {
            if (RETRIABLE_FETCH_ERRORS.has(p.errorCode)) refreshLeaders = true
            else
              task.failure ??= new TickflowError(
                ErrorCodes.CLOSED,
                `fetch of ${topic}/${p.partitionIndex}: Kafka error ${p.errorCode}`,
              )
            continue
          }
          const walked = walkBatches(
            p.records,
            task.position,
            Number.MAX_SAFE_INTEGER,
            p.abortedTransactions,
            task.partition,
            (value, _p, offset, ts) => task.handle(value, offset, ts),
          )
          task.skipTo(walked.next)
          o.metrics.consumerLag(task.partition, Math.max(0, Number(p.highWatermark) - task.position))
        }
      }
    }),
  )
  return { refreshLeaders }
}
