/**
 * Committed offsets and each group's last generation, in memory and in one journal
 * (`group-offsets.journal` under the data dir). The in-memory maps are changed synchronously when
 * an entry is written, so the journal order and the memory order are the same, and a compaction
 * snapshot taken from memory always covers every entry written before it.
 *
 * Entries are JSON objects (small, debuggable, forward compatible: unknown kinds are skipped):
 *   { k: 'c', g, o: [[topic, partition, offset, leaderEpoch, metadata, timestamp], ...] }  commit
 *   { k: 'g', g, gen, pt }                                   group generation and protocol type
 *   { k: 'do', g, o: [[topic, partition], ...] }             offsets deleted (OffsetDelete)
 *   { k: 'dg', g }                                           group deleted
 *   { k: 'dt', t }                                           topic deleted: drop it from every group
 */
import path from 'node:path'
import { Journal } from '../state/journal.ts'

/** One committed offset. */
export interface CommittedOffset {
  offset: number
  leaderEpoch: number
  metadata: string | null
  /** Wall-clock ms of the commit (for a future offsets.retention). */
  commitTimestamp: number
}

/** What survives a restart of a group besides its offsets. */
export interface StoredGroup {
  generationId: number
  protocolType: string | null
}

/** One partition's commit, as handed to {@link OffsetStore.commit}. */
export interface OffsetCommitEntry {
  topic: string
  partition: number
  offset: number
  leaderEpoch: number
  metadata: string | null
}

/** Options of {@link OffsetStore.open}. */
export interface OffsetStoreOptions {
  /** fsync before commits resolve (default true). */
  fsync?: boolean
  /** Passed to the journal: minimum size before compaction is considered (default 1 MiB). */
  compactMinBytes?: number
}

/** The journal's file name under the data dir. */
export const OFFSETS_JOURNAL_FILE = 'group-offsets.journal'

// A compaction writes a group's offsets in records of at most this many partitions.
const SNAPSHOT_CHUNK = 1000

type CommitTuple = [string, number, number, number, string | null, number]

type Entry =
  | { k: 'c'; g: string; o: CommitTuple[] }
  | { k: 'g'; g: string; gen: number; pt: string | null }
  | { k: 'do'; g: string; o: [string, number][] }
  | { k: 'dg'; g: string }
  | { k: 'dt'; t: string }

/** Durable committed offsets and group generations; one owner (the group coordinator). */
export class OffsetStore {
  /** The underlying journal (size and fsync counts, for metrics and tests). */
  readonly journal: Journal
  // group -> topic -> partition -> offset
  private readonly offsets = new Map<string, Map<string, Map<number, CommittedOffset>>>()
  private readonly groupMeta = new Map<string, StoredGroup>()

  private constructor(journal: Journal) {
    this.journal = journal
  }

  /** Opens the store under `dataDir` and replays its journal (synchronously). */
  static open(dataDir: string, options: OffsetStoreOptions = {}): OffsetStore {
    const { journal, entries } = Journal.open(path.join(dataDir, OFFSETS_JOURNAL_FILE), {
      fsync: options.fsync ?? true,
      compactMinBytes: options.compactMinBytes,
    })
    const store = new OffsetStore(journal)
    for (const raw of entries) {
      let entry: Entry
      try {
        entry = JSON.parse(raw.toString('utf8')) as Entry
      } catch {
        continue // CRC-valid but unparsable: written by a future version, skip it
      }
      store.apply(entry)
    }
    // A file bloated by a previous run is compacted at once rather than after it grows 4x more.
    const snapshot = store.snapshot()
    const liveBytes = snapshot.reduce((n, b) => n + b.length + 8, 0)
    if (journal.shouldCompact(liveBytes)) journal.compact(snapshot)
    return store
  }

  /** Ids of every group with committed offsets or a recorded generation. */
  groupIds(): string[] {
    const ids = new Set<string>(this.groupMeta.keys())
    for (const id of this.offsets.keys()) ids.add(id)
    return [...ids]
  }

  /** The recorded generation and protocol type of a group, if any. */
  group(groupId: string): StoredGroup | undefined {
    return this.groupMeta.get(groupId)
  }

  /** One committed offset, or undefined when none. */
  get(groupId: string, topic: string, partition: number): CommittedOffset | undefined {
    return this.offsets.get(groupId)?.get(topic)?.get(partition)
  }

  /** All committed offsets of a group, topic -> partition -> offset (read-only view). */
  topics(groupId: string): ReadonlyMap<string, ReadonlyMap<number, CommittedOffset>> {
    return this.offsets.get(groupId) ?? new Map()
  }

  /**
   * Records commits: memory and the journal are updated now, and the promise resolves once the
   * entry is durable. Rejects (TICKFLOW_ERR_LOG_CORRUPT) when the journal cannot be written.
   */
  commit(groupId: string, entries: OffsetCommitEntry[], timestamp: number): Promise<void> {
    if (entries.length === 0) return Promise.resolve()
    const o: CommitTuple[] = entries.map((e) => [e.topic, e.partition, e.offset, e.leaderEpoch, e.metadata, timestamp])
    const entry: Entry = { k: 'c', g: groupId, o }
    let durable: Promise<void>
    try {
      durable = this.journal.append(encode(entry))
    } catch (err) {
      return Promise.reject(err)
    }
    this.apply(entry)
    this.maybeCompact()
    return durable
  }

  /** Records a group's new generation (written now, made durable by the next fsync). */
  recordGeneration(groupId: string, generationId: number, protocolType: string | null): void {
    this.writeNoWait({ k: 'g', g: groupId, gen: generationId, pt: protocolType })
  }

  /** Deletes some committed offsets of a group. */
  deleteOffsets(groupId: string, partitions: { topic: string; partition: number }[]): void {
    if (partitions.length === 0) return
    this.writeNoWait({ k: 'do', g: groupId, o: partitions.map((p) => [p.topic, p.partition]) })
  }

  /** Deletes a group's offsets and recorded generation. */
  deleteGroup(groupId: string): void {
    if (!this.offsets.has(groupId) && !this.groupMeta.has(groupId)) return
    this.writeNoWait({ k: 'dg', g: groupId })
  }

  /** Drops every group's offsets of a deleted topic. */
  forgetTopic(topic: string): void {
    let found = false
    for (const topics of this.offsets.values()) if (topics.has(topic)) found = true
    if (found) this.writeNoWait({ k: 'dt', t: topic })
  }

  /** Resolves when everything written so far is durable. */
  flush(): Promise<void> {
    return this.journal.flush()
  }

  /** Flushes and closes the journal. */
  close(): Promise<void> {
    return this.journal.close()
  }

  private writeNoWait(entry: Entry): void {
    // Memory is updated even when the journal refuses the write: the journal has then failed for
    // good (every later commit reports it), and the group state machine must not be left half-done.
    this.apply(entry)
    try {
      this.journal.write(encode(entry))
    } catch {
      return
    }
    // Nobody awaits deletions and generations; start an fsync so they do not wait for the next
    // commit. A failure is remembered by the journal and fails the next commit.
    this.journal.sync().catch(() => undefined)
    this.maybeCompact()
  }

  private maybeCompact(): void {
    if (!this.journal.shouldCompact()) return
    try {
      this.journal.compact(this.snapshot())
    } catch {
      // A compaction that failed before its rename left the journal as it was (e.g. disk full);
      // one that failed after it marked the journal failed. Either way the write itself stands.
    }
  }

  private apply(entry: Entry): void {
    switch (entry.k) {
      case 'c': {
        let topics = this.offsets.get(entry.g)
        if (topics === undefined) this.offsets.set(entry.g, (topics = new Map()))
        for (const [topic, partition, offset, leaderEpoch, metadata, commitTimestamp] of entry.o) {
          let parts = topics.get(topic)
          if (parts === undefined) topics.set(topic, (parts = new Map()))
          parts.set(partition, { offset, leaderEpoch, metadata, commitTimestamp })
        }
        break
      }
      case 'g':
        this.groupMeta.set(entry.g, { generationId: entry.gen, protocolType: entry.pt })
        break
      case 'do': {
        const topics = this.offsets.get(entry.g)
        if (topics === undefined) break
        for (const [topic, partition] of entry.o) {
          const parts = topics.get(topic)
          parts?.delete(partition)
          if (parts?.size === 0) topics.delete(topic)
        }
        if (topics.size === 0) this.offsets.delete(entry.g)
        break
      }
      case 'dg':
        this.offsets.delete(entry.g)
        this.groupMeta.delete(entry.g)
        break
      case 'dt':
        for (const [group, topics] of this.offsets) {
          topics.delete(entry.t)
          if (topics.size === 0) this.offsets.delete(group)
        }
        break
    }
  }

  /** The live state as journal entries: what a compaction writes. */
  private snapshot(): Buffer[] {
    const out: Buffer[] = []
    for (const [g, meta] of this.groupMeta)
      out.push(encode({ k: 'g', g, gen: meta.generationId, pt: meta.protocolType }))
    for (const [g, topics] of this.offsets) {
      let o: CommitTuple[] = []
      for (const [topic, parts] of topics) {
        for (const [p, c] of parts) {
          o.push([topic, p, c.offset, c.leaderEpoch, c.metadata, c.commitTimestamp])
          if (o.length === SNAPSHOT_CHUNK) {
            out.push(encode({ k: 'c', g, o }))
            o = []
          }
        }
      }
      if (o.length > 0) out.push(encode({ k: 'c', g, o }))
    }
    return out
  }
}

function encode(entry: Entry): Buffer {
  return Buffer.from(JSON.stringify(entry), 'utf8')
}
