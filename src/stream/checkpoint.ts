/**
 * Checkpoints of a task's state in Kafka, written inside the task's transactions.
 *
 * A task (one input partition) writes to the same partition of its processor's checkpoint topic:
 * - snapshot records: the processor's whole state after consuming input up to offset `at`, cut
 *   into chunks of at most {@link CHUNK_BYTES};
 * - punctuation records: decisions taken from wall-clock time (a watermark advanced because the
 *   partition was idle), with the input position where they were applied.
 * Each transaction also commits the input offset with metadata pointing at the latest snapshot
 * (`{"tickflow":1,"cp":<checkpoint offset>,"at":<input offset>}`). Restoring = load the snapshot,
 * then replay the input from `at` to the committed offset without emitting, applying the
 * punctuations at their positions. The replay is bounded by the checkpoint interval, not by the
 * history: state is restored, never rebuilt from the beginning.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'

/** Largest chunk of snapshot bytes per record (below Kafka's default 1 MiB message limit). */
export const CHUNK_BYTES = 900 * 1024
const SNAPSHOT_MAGIC = 0x54465331 // "TFS1"
const PUNCTUATION_MAGIC = 0x54465031 // "TFP1"
const SNAPSHOT_HEADER = 20
const PUNCTUATION_SIZE = 20

/** Where the latest snapshot is: its first record in the checkpoint partition, and its input position. */
export interface CheckpointPointer {
  /** Offset of the snapshot's first chunk in the checkpoint partition. */
  cp: number
  /** The input offset the snapshot's state has consumed up to (exclusive). */
  at: number
}

/** A watermark advance taken from wall-clock time, applied once input before `inputOffset` was processed. */
export interface Punctuation {
  inputOffset: number
  watermark: number
}

/** The name of a processor's checkpoint topic. */
export function checkpointTopicOf(groupId: string): string {
  return `${groupId}.checkpoints`
}

/** The offset-commit metadata of a pointer. */
export function encodePointer(p: CheckpointPointer): string {
  return JSON.stringify({ tickflow: 1, cp: p.cp, at: p.at })
}

/** The pointer in offset-commit metadata; undefined for metadata that is not ours. */
export function decodePointer(metadata: string | null): CheckpointPointer | undefined {
  if (metadata === null || metadata === '') return undefined
  let parsed: unknown
  try {
    parsed = JSON.parse(metadata)
  } catch {
    return undefined
  }
  const o = parsed as { tickflow?: unknown; cp?: unknown; at?: unknown }
  if (o?.tickflow !== 1 || !Number.isSafeInteger(o.cp) || !Number.isSafeInteger(o.at)) return undefined
  return { cp: o.cp as number, at: o.at as number }
}

/** The records of a snapshot of `state` taken at input offset `at`. */
export function snapshotRecords(state: Buffer, at: number): Buffer[] {
  const count = Math.max(1, Math.ceil(state.length / CHUNK_BYTES))
  const out: Buffer[] = []
  for (let i = 0; i < count; i++) {
    const slice = state.subarray(i * CHUNK_BYTES, Math.min(state.length, (i + 1) * CHUNK_BYTES))
    const record = Buffer.allocUnsafe(SNAPSHOT_HEADER + slice.length)
    record.writeUInt32BE(SNAPSHOT_MAGIC, 0)
    record.writeInt32BE(i, 4)
    record.writeInt32BE(count, 8)
    record.writeDoubleBE(at, 12)
    slice.copy(record, SNAPSHOT_HEADER)
    out.push(record)
  }
  return out
}

/** The record of a punctuation. */
export function punctuationRecord(p: Punctuation): Buffer {
  const record = Buffer.allocUnsafe(PUNCTUATION_SIZE)
  record.writeUInt32BE(PUNCTUATION_MAGIC, 0)
  record.writeDoubleBE(p.inputOffset, 4)
  record.writeDoubleBE(p.watermark, 12)
  return record
}

/** A snapshot and the punctuations after it, as read back. */
export interface LoadedCheckpoint {
  at: number
  state: Buffer
  punctuations: Punctuation[]
}

/**
 * Collects, from the committed records of a checkpoint partition read from `pointer.cp` on, the
 * snapshot the pointer names and every punctuation after it.
 */
export class CheckpointAssembler {
  private readonly pointer: CheckpointPointer
  private readonly chunks: Buffer[] = []
  private expected = -1
  private readonly punctuations: Punctuation[] = []

  constructor(pointer: CheckpointPointer) {
    this.pointer = pointer
  }

  /** Feeds the next record (in offset order). */
  add(value: Buffer | null, offset: number): void {
    if (value === null || value.length < 4) return
    const magic = value.readUInt32BE(0)
    if (magic === SNAPSHOT_MAGIC && value.length >= SNAPSHOT_HEADER) {
      const index = value.readInt32BE(4)
      const count = value.readInt32BE(8)
      const at = value.readDoubleBE(12)
      if (this.expected < 0) {
        // The pointer's snapshot starts exactly at cp.
        if (offset !== this.pointer.cp || index !== 0 || at !== this.pointer.at) {
          throw new TickflowError(
            ErrorCodes.CHECKPOINT,
            `checkpoint offset ${this.pointer.cp} does not hold the start of the snapshot at input offset ${this.pointer.at}`,
          )
        }
        this.expected = count
      }
      // Chunks of later snapshots are ignored: the committed offset still points at this one.
      if (at === this.pointer.at && this.chunks.length < this.expected && index === this.chunks.length) {
        this.chunks.push(value.subarray(SNAPSHOT_HEADER))
      }
    } else if (magic === PUNCTUATION_MAGIC && value.length >= PUNCTUATION_SIZE) {
      const p = { inputOffset: value.readDoubleBE(4), watermark: value.readDoubleBE(12) }
      if (p.inputOffset >= this.pointer.at) this.punctuations.push(p)
    }
  }

  /** The assembled checkpoint. @throws TICKFLOW_ERR_CHECKPOINT when chunks are missing */
  finish(): LoadedCheckpoint {
    if (this.expected < 0 || this.chunks.length !== this.expected) {
      throw new TickflowError(
        ErrorCodes.CHECKPOINT,
        `snapshot at checkpoint offset ${this.pointer.cp}: ${this.chunks.length} of ${Math.max(0, this.expected)} chunks found (was the checkpoint topic truncated?)`,
      )
    }
    return { at: this.pointer.at, state: Buffer.concat(this.chunks), punctuations: this.punctuations }
  }
}
