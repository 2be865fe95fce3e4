/**
 * A task: the processing of one input partition by one member of the group. It owns the
 * partition's processor state, its transactional producer (transactional id
 * `<group>.<input>.<partition>`, so whoever opens the task next fences this one), the records of
 * the open transaction, and the checkpoint pointer.
 */
import { murmur2 } from '../bus/batch-writer.ts'
import type { KafkaCluster } from '../bus/cluster.ts'
import { DLQ_HEADERS, dlqTopicOf } from '../bus/dlq.ts'
import { fetchCommitted, listOffsets, OffsetSpec, readPartitionRange } from '../bus/partition-io.ts'
import { TransactionalProducer, TransactionRecords } from '../bus/transactional-producer.ts'
import {
  CheckpointAssembler,
  checkpointTopicOf,
  decodePointer,
  encodePointer,
  punctuationRecord,
  snapshotRecords,
  type CheckpointPointer,
  type Punctuation,
} from './checkpoint.ts'
import type { ProcessorMetrics } from './metrics.ts'
import type { DeadLetterKind, Emitter, InputRecord, PartitionProcessor, ProcessorDefinition } from './processor.ts'

/** What every task of a runtime shares. */
export interface TaskContext {
  cluster: KafkaCluster
  definition: ProcessorDefinition
  groupId: string
  /** Partition count of every topic a task writes to. */
  partitionsOf: Map<string, number>
  /** Where a partition without a committed offset starts. */
  startFrom: 'earliest' | 'latest'
  checkpointIntervalMs: number
  transactionTimeoutMs: number
  metrics: ProcessorMetrics
  log(line: string): void
  /** Shared counters: `processed` counts records processed live (not restore replays). */
  stats: { processed: number }
}

/** How a task came back: from a checkpoint (with how much input it replayed) or fresh. */
export interface RestoreReport {
  partition: number
  position: number
  snapshotBytes: number
  replayed: number
  ms: number
}

export class Task implements Emitter {
  readonly partition: number
  /** The next input offset to process. */
  position = 0
  /** The input offset of the last committed transaction. */
  committedPosition = 0
  /** Set when a transaction failed: the task must be reopened (or dropped when fenced). */
  failure: Error | undefined
  /** The commit in flight, if any. */
  inflight: Promise<void> | undefined

  private readonly ctx: TaskContext
  private readonly producer: TransactionalProducer
  private processor!: PartitionProcessor
  private pointer: CheckpointPointer | undefined
  private lastSnapshotWall = 0
  private pending = new TransactionRecords()
  private punctuations: Punctuation[] = []
  private timestamps: number[] = []
  private current: InputRecord | undefined
  private replaying = false
  private readonly inputTopic: string
  private readonly dlqTopic: string
  private readonly checkpointTopic: string
  private readonly keyCache = new Map<string, Buffer>()

  private constructor(ctx: TaskContext, partition: number) {
    this.ctx = ctx
    this.partition = partition
    this.inputTopic = ctx.definition.input
    this.dlqTopic = dlqTopicOf(this.inputTopic)
    this.checkpointTopic = checkpointTopicOf(ctx.groupId)
    this.producer = new TransactionalProducer(ctx.cluster, {
      transactionalId: `${ctx.groupId}.${this.inputTopic}.${partition}`,
      transactionTimeoutMs: ctx.transactionTimeoutMs,
    })
  }

  /**
   * Takes over `partition`: fences any previous owner (aborting its open transaction), then
   * restores the state from the latest checkpoint and replays the input after it.
   */
  static async open(ctx: TaskContext, partition: number): Promise<{ task: Task; report: RestoreReport }> {
    const started = performance.now()
    const task = new Task(ctx, partition)
    await task.producer.init()
    const committed = (await fetchCommitted(ctx.cluster, ctx.groupId, task.inputTopic, [partition])).get(partition)
    let snapshotBytes = 0
    let replayed = 0
    if (committed === undefined || committed.offset < 0) {
      const spec = ctx.startFrom === 'latest' ? OffsetSpec.LATEST : OffsetSpec.EARLIEST
      task.position = (await listOffsets(ctx.cluster, task.inputTopic, [partition], spec)).get(partition) ?? 0
      task.processor = ctx.definition.create(partition, undefined)
    } else {
      task.pointer = decodePointer(committed.metadata)
      if (task.pointer === undefined) {
        // Offsets committed by something else than this runtime: continue from them, state fresh.
        ctx.log(`partition ${partition}: committed offset ${committed.offset} has no checkpoint; state starts empty`)
        task.processor = ctx.definition.create(partition, undefined)
        task.position = committed.offset
      } else {
        const loaded = await task.loadCheckpoint(task.pointer)
        snapshotBytes = loaded.state.length
        task.processor = ctx.definition.create(partition, loaded.state)
        replayed = await task.replay(loaded.at, committed.offset, loaded.punctuations)
        task.position = committed.offset
      }
    }
    task.committedPosition = task.position
    task.lastSnapshotWall = performance.now()
    return {
      task,
      report: { partition, position: task.position, snapshotBytes, replayed, ms: performance.now() - started },
    }
  }

  /** Processes one input record (called by the fetch loop, in offset order). */
  handle(value: Buffer | null, offset: number, timestamp: number): void {
    const record: InputRecord = { partition: this.partition, offset, timestamp, value }
    this.current = record
    this.processor.process(record, this)
    this.current = undefined
    this.position = offset + 1
    if (!this.replaying) {
      this.ctx.stats.processed++
      this.timestamps.push(timestamp)
    }
  }

  /** Moves past offsets that held no data records (transaction markers, aborted records). */
  skipTo(next: number): void {
    if (next > this.position) this.position = next
  }

  /** The largest event time processed, if the processor tracks it. */
  get maxEventTime(): number | undefined {
    return this.processor.maxEventTime
  }

  emit(topic: string, key: string | Buffer, value: string | Buffer): void {
    if (this.replaying) return
    const partitions = this.ctx.partitionsOf.get(topic) ?? 1
    let keyBytes: Buffer | undefined
    if (typeof key !== 'string') keyBytes = key
    else {
      keyBytes = this.keyCache.get(key)
      if (keyBytes === undefined) {
        keyBytes = Buffer.from(key)
        if (this.keyCache.size < 100_000) this.keyCache.set(key, keyBytes)
      }
    }
    const partition = (murmur2(keyBytes) & 0x7fffffff) % partitions
    this.pending.add(topic, partition, keyBytes, value, this.current?.timestamp ?? Date.now())
  }

  deadLetter(reason: string, kind: DeadLetterKind): void {
    if (this.replaying || this.current === undefined) return
    const r = this.current
    if (kind === 'late') this.ctx.metrics.late(1)
    else this.ctx.metrics.invalid(1)
    const partitions = this.ctx.partitionsOf.get(this.dlqTopic) ?? 1
    // The value is a view of the fetched data: appending copies it into the batch at once.
    this.pending.add(this.dlqTopic, r.partition % partitions, null, r.value, r.timestamp, [
      [DLQ_HEADERS.reason, reason],
      [DLQ_HEADERS.topic, this.inputTopic],
      [DLQ_HEADERS.partition, String(r.partition)],
      [DLQ_HEADERS.offset, String(r.offset)],
      [DLQ_HEADERS.at, new Date().toISOString()],
    ])
  }

  /** Advances the watermark when the partition has been idle; the decision is checkpointed. */
  checkIdle(nowMs: number): void {
    const watermark = this.processor.idleAdvance?.(nowMs)
    if (watermark === undefined) return
    this.punctuations.push({ inputOffset: this.position, watermark })
    this.processor.advanceTo?.(watermark, this)
  }

  /** Bytes of output records waiting for the next transaction (an upper bound). */
  get pendingBytes(): number {
    return this.pending.bytes
  }

  /** True when a transaction has something to commit. */
  get dirty(): boolean {
    return this.pending.count > 0 || this.position !== this.committedPosition || this.punctuations.length > 0
  }

  /**
   * Commits what was processed since the last commit, with the consumed offset, in one
   * transaction; includes a snapshot when the checkpoint interval has passed. When it has
   * committed and more was processed meanwhile, the next transaction starts at once. On failure
   * the task records it in {@link failure} (the caller reopens or drops the task). Call it only
   * with no commit in flight.
   */
  commit(): Promise<void> {
    const records = this.pending
    const punctuations = this.punctuations
    const timestamps = this.timestamps
    const position = this.position
    this.pending = new TransactionRecords()
    this.punctuations = []
    this.timestamps = []
    const now = performance.now()
    const snapshotDue =
      this.pointer === undefined ||
      (now - this.lastSnapshotWall >= this.ctx.checkpointIntervalMs &&
        (position !== this.pointer.at || punctuations.length > 0))
    // The snapshot is taken now, synchronously, so it matches `position` exactly.
    const snapshot = snapshotDue ? this.processor.snapshot() : undefined
    if (snapshot !== undefined) this.lastSnapshotWall = now
    const run = async (): Promise<void> => {
      let pointer = this.pointer
      if (snapshot !== undefined) {
        const started = performance.now()
        const chunks = new TransactionRecords()
        for (const c of snapshotRecords(snapshot, position)) {
          chunks.add(this.checkpointTopic, this.partition, null, c, Date.now())
        }
        const written = await this.producer.write(chunks)
        pointer = { cp: written[0].baseOffset, at: position }
        this.ctx.metrics.checkpointDuration((performance.now() - started) / 1000)
      } else {
        for (const p of punctuations) {
          records.add(this.checkpointTopic, this.partition, null, punctuationRecord(p), Date.now())
        }
      }
      await this.producer.commit(records, {
        groupId: this.ctx.groupId,
        topic: this.inputTopic,
        partition: this.partition,
        offset: position,
        metadata: encodePointer(pointer!),
      })
      this.pointer = pointer
      this.committedPosition = position
    }
    // Metrics only after a commit, outside its error handling: nothing there may abort a
    // transaction that has committed.
    const committed = (): void => {
      const done = Date.now()
      const metrics = this.ctx.metrics
      metrics.transactions('committed', 1)
      for (const [topic, n] of records.countsByTopic()) {
        if (topic !== this.checkpointTopic) metrics.recordsOut(topic, n)
      }
      metrics.recordsIn(this.partition, timestamps.length)
      for (const t of timestamps) metrics.processingLatency(Math.max(0, done - t) / 1000)
    }
    const promise = run().then(committed, async (err: Error) => {
      this.failure ??= err
      this.ctx.metrics.transactions('aborted', 1)
      await this.producer.abort()
    })
    const tracked: Promise<void> = promise.then(() => {
      if (this.inflight !== tracked) return undefined
      this.inflight = undefined
      // What was processed while this one committed goes next, without waiting for the loop.
      if (this.failure === undefined && this.dirty) return this.commit()
      return undefined
    })
    this.inflight = tracked
    return tracked
  }

  /** Waits until everything processed so far is committed (or a commit failed). */
  async flush(): Promise<void> {
    while (this.inflight !== undefined) await this.inflight
    if (this.failure === undefined && this.dirty) await this.commit()
  }

  private async loadCheckpoint(pointer: CheckpointPointer): Promise<ReturnType<CheckpointAssembler['finish']>> {
    const end =
      (await listOffsets(this.ctx.cluster, this.checkpointTopic, [this.partition], OffsetSpec.LATEST)).get(
        this.partition,
      ) ?? 0
    const assembler = new CheckpointAssembler(pointer)
    await readPartitionRange(
      this.ctx.cluster,
      this.checkpointTopic,
      this.partition,
      pointer.cp,
      end,
      (value, _p, offset) => assembler.add(value, offset),
    )
    return assembler.finish()
  }

  // Re-processes input [from, to) into the restored state without emitting anything (those outputs
  // were committed before), applying the recorded watermark advances where they happened.
  private async replay(from: number, to: number, punctuations: Punctuation[]): Promise<number> {
    this.replaying = true
    let next = 0
    const applyUpTo = (offset: number): void => {
      while (next < punctuations.length && punctuations[next].inputOffset <= offset) {
        this.processor.advanceTo?.(punctuations[next++].watermark, this)
      }
    }
    try {
      const count =
        from < to
          ? await readPartitionRange(
              this.ctx.cluster,
              this.inputTopic,
              this.partition,
              from,
              to,
              (value, _p, offset, ts) => {
                applyUpTo(offset)
                this.handle(value, offset, ts)
              },
            )
          : 0
      applyUpTo(to)
      return count
    } finally {
      this.replaying = false
    }
  }
}
