/**
 * What a stream processor is, for the runtime: an input topic, output topics, and a factory of
 * per-partition processing state. The runtime (runtime.ts) owns consuming, transactions,
 * checkpoints and group membership; a processor only maps records to outputs, deterministically.
 *
 * Determinism is the contract that makes exactly-once restore work: given the same snapshot and
 * the same input records (and the same recorded watermark advances), a partition processor must
 * emit the same outputs and reach the same state. Wall-clock time may only enter through
 * {@link PartitionProcessor.idleAdvance}, whose decisions the runtime records.
 */

/** One input record as the runtime hands it over. */
export interface InputRecord {
  partition: number
  offset: number
  /** The record's timestamp (create or log-append time), epoch ms. */
  timestamp: number
  /** The value bytes: a view valid only during the call. */
  value: Buffer | null
}

/** Why a record went to the dead-letter topic, for metrics. */
export type DeadLetterKind = 'invalid' | 'late'

/** Where a processor sends its results. */
export interface Emitter {
  /**
   * An output record, partitioned by `key` like Kafka's default partitioner. Buffers are copied at
   * once, so the caller may reuse them (a key or value view of the input record, a writer's view).
   */
  emit(topic: string, key: string | Buffer, value: string | Buffer): void
  /** Sends the record being processed to `dlq.<input topic>` with the reason. */
  deadLetter(reason: string, kind: DeadLetterKind): void
}

/** The processing state of one input partition. */
export interface PartitionProcessor {
  /** Handles one record; records arrive in offset order. */
  process(record: InputRecord, out: Emitter): void
  /**
   * Asked about once a second with wall-clock time: the watermark the partition should advance to
   * because it has been idle, or undefined.
   */
  idleAdvance?(nowMs: number): number | undefined
  /** Applies a watermark advance (live after idleAdvance, or replayed from a checkpoint). */
  advanceTo?(watermark: number, out: Emitter): void
  /** The largest event time processed (epoch ms), for the event-time lag metric; undefined when none. */
  readonly maxEventTime?: number
  /** The whole state, for a checkpoint. */
  snapshot(): Buffer
}

export interface ProcessorDefinition {
  /** A short name for logs and metrics (`analyze`). */
  name: string
  /** The input topic. */
  input: string
  /** Every topic `emit` may write to; created when missing, with the input's partition count. */
  outputs: string[]
  /**
   * The processing state of `partition`: fresh when `snapshot` is undefined, else restored from it.
   * @throws TICKFLOW_ERR_CHECKPOINT when the snapshot does not fit this processor's configuration
   */
  create(partition: number, snapshot: Buffer | undefined): PartitionProcessor
}
