/**
 * Topics and partitions: the broker's catalogue and the owner of every partition log.
 *
 * On disk: `<dataDir>/topics/<topic>/topic.json` (id, partition count, config overrides), one
 * directory per partition `<dataDir>/topics/<topic>/<n>/` holding the log segments, and
 * `<n>.producers` beside it (the idempotent-producer snapshot). topic.json is written last and
 * atomically, so a topic directory without it is a creation that did not finish and is removed.
 * A deleted topic's directory is first moved to `<dataDir>/trash/`, emptied on the next start if a
 * crash interrupted the removal.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { ErrorCodes, TickflowError } from '../errors.ts'
import { KafkaError } from '../protocol/error-codes.ts'
import { parseTopicConfigs, logConfigOf, type Logger, type TopicConfig } from './config.ts'
import { Attributes, readControlType, type BatchHeader } from '../protocol/record-batch.ts'
import { PartitionLog, type AppendResult } from './log/index.ts'
import { PartitionProducers } from './producers.ts'
import { writeFileAtomic } from '../files/atomic-file.ts'

/** Producer state of idle producers is forgotten after this long (Kafka's producer.id.expiration.ms). */
const PRODUCER_EXPIRATION_MS = 24 * 3600_000

export class Partition {
  readonly topic: Topic
  readonly index: number
  readonly log: PartitionLog
  readonly producers = new PartitionProducers()
  private readonly waiters = new Set<() => void>()
  private readonly snapshotFile: string

  constructor(topic: Topic, index: number, log: PartitionLog, snapshotFile: string) {
    this.topic = topic
    this.index = index
    this.log = log
    this.snapshotFile = snapshotFile
  }

  get highWatermark(): number {
    return this.log.logEndOffset
  }

  /**
   * The first offset of the oldest open transaction, or the high watermark when none is open;
   * never below the log start (DeleteRecords may have removed the transaction's first records).
   */
  get lastStableOffset(): number {
    const first = this.producers.firstUnstableOffset()
    return first === undefined ? this.log.logEndOffset : Math.max(first, this.log.logStartOffset)
  }

  /**
   * Appends a batch the caller validated and records it in the producer state; wakes parked
   * fetches. Returns the offsets assigned.
   */
  append(batch: Buffer, header: BatchHeader, now: number): AppendResult {
    const appended = this.log.append(batch)
    if (header.attributes & Attributes.control) {
      const type = readControlType(batch)
      if (type !== null)
        this.producers.recordMarker(
          header.producerId,
          header.producerEpoch,
          type === 'commit',
          appended.baseOffset,
          now,
        )
    } else {
      this.producers.record(header, appended.baseOffset, now)
    }
    this.notify()
    return appended
  }

  /** Registers a callback run once on the next append (or deletion); returns an unregister function. */
  onAppend(fn: () => void): () => void {
    this.waiters.add(fn)
    return () => this.waiters.delete(fn)
  }

  /** Wakes every parked fetch of this partition. */
  notify(): void {
    if (this.waiters.size === 0) return
    const list = [...this.waiters]
    this.waiters.clear()
    for (const fn of list) fn()
  }

  /** Rebuilds producer state from the snapshot and the batch headers after it. */
  recoverProducers(now: number): void {
    let from = this.producers.loadSnapshot(this.snapshotFile)
    if (from > this.log.logEndOffset) {
      // The log lost its tail after the snapshot was taken: start over from the log.
      this.producers.reset()
      from = 0
    }
    from = Math.max(from, this.log.logStartOffset)
    if (from < this.log.logEndOffset) {
      this.log.scanHeaders(from, (h) => {
        if (h.baseOffset < from) return
        if (!(h.attributes & Attributes.control)) this.producers.record(h, h.baseOffset, now)
        else this.replayMarker(h, now)
      })
    }
    this.producers.trimAborted(this.log.logStartOffset)
  }

  /** A marker's type is in its record, not its header: read it (scanHeaders allows reads). */
  private replayMarker(h: BatchHeader, now: number): void {
    const type = readControlType(this.log.read(h.baseOffset, 1))
    if (type !== null) this.producers.recordMarker(h.producerId, h.producerEpoch, type === 'commit', h.baseOffset, now)
  }

  saveProducers(now: number): void {
    this.producers.trimAborted(this.log.logStartOffset)
    this.producers.expire(now, PRODUCER_EXPIRATION_MS)
    this.producers.saveSnapshot(this.snapshotFile, this.log.logEndOffset)
  }

  close(now: number): void {
    this.saveProducers(now)
    this.log.close()
    this.notify()
  }

  /** Closes without saving producer state: the topic is being deleted. */
  discard(): void {
    this.log.close()
    this.notify()
  }
}

export class Topic {
  readonly name: string
  /** The topic id (16 bytes) and its hex form, used as a map key. */
  readonly id: Buffer
  readonly idHex: string
  readonly partitions: Partition[] = []
  /** Explicitly set configs (DescribeConfigs reports these as topic-level). */
  overrides: Record<string, string>
  config: TopicConfig
  readonly dir: string

  constructor(name: string, id: Buffer, dir: string, overrides: Record<string, string>, config: TopicConfig) {
    this.name = name
    this.id = id
    this.idHex = id.toString('hex')
    this.dir = dir
    this.overrides = overrides
    this.config = config
  }
}

interface TopicFile {
  version: 1
  name: string
  id: string
  partitions: number
  configs: Record<string, string>
}

const TOPIC_NAME = /^[a-zA-Z0-9._-]+$/

/** Null when `name` is a legal Kafka topic name, else why not. */
export function topicNameProblem(name: string | null): string | null {
  if (name === null || name.length === 0) return 'topic name is empty'
  if (name.length > 249) return 'topic name is longer than 249 characters'
  if (name === '.' || name === '..') return 'topic name cannot be "." or ".."'
  if (!TOPIC_NAME.test(name)) return 'topic name may contain only ASCII letters, digits, ".", "_" and "-"'
  return null
}

export class TopicError extends Error {
  readonly errorCode: number
  constructor(errorCode: number, message: string) {
    super(message)
    this.errorCode = errorCode
  }
}

export class TopicManager {
  private readonly byName = new Map<string, Topic>()
  private readonly byId = new Map<string, Topic>()
  private readonly root: string
  private readonly trash: string
  private readonly defaults: TopicConfig
  private readonly logger: Logger
  private readonly now: () => number

  constructor(dataDir: string, defaults: TopicConfig, logger: Logger, now: () => number = Date.now) {
    this.root = path.join(dataDir, 'topics')
    this.trash = path.join(dataDir, 'trash')
    this.defaults = defaults
    this.logger = logger
    this.now = now
    fs.mkdirSync(this.root, { recursive: true })
    fs.rmSync(this.trash, { recursive: true, force: true })
    fs.mkdirSync(this.trash, { recursive: true })
  }

  /** Opens every topic found on disk, recovering each partition's log. */
  load(): void {
    for (const entry of fs.readdirSync(this.root, { withFileTypes: true })) {
      if (!entry.isDirectory()) continue
      const dir = path.join(this.root, entry.name)
      const file = path.join(dir, 'topic.json')
      if (!fs.existsSync(file)) {
        // A creation that did not finish: remove it.
        fs.rmSync(dir, { recursive: true, force: true })
        continue
      }
      const meta = JSON.parse(fs.readFileSync(file, 'utf8')) as TopicFile
      const config = parseTopicConfigs(meta.configs, this.defaults)
      if (typeof config === 'string') {
        throw new TickflowError(ErrorCodes.LOG_CORRUPT, `topic ${meta.name}: ${config}`)
      }
      const topic = new Topic(meta.name, Buffer.from(meta.id, 'hex'), dir, meta.configs, config)
      this.openPartitions(topic, meta.partitions)
      this.add(topic)
      for (const p of topic.partitions) {
        if (p.log.recovery.truncatedBytes > 0) {
          this.logger.warn(
            { topic: topic.name, partition: p.index, ...p.log.recovery },
            'recovered a partition log: truncated a torn or corrupt tail',
          )
        }
      }
    }
  }

  get(name: string): Topic | undefined {
    return this.byName.get(name)
  }

  getById(id: Buffer): Topic | undefined {
    return this.byId.get(id.toString('hex'))
  }

  getPartition(name: string, index: number): Partition | undefined {
    return this.byName.get(name)?.partitions[index]
  }

  list(): Topic[] {
    return [...this.byName.values()]
  }

  /** Validates a creation without performing it; throws TopicError with the Kafka error code. */
  validateCreate(name: string, partitions: number, overrides: Record<string, string | null>): TopicConfig {
    const problem = topicNameProblem(name)
    if (problem !== null) throw new TopicError(KafkaError.INVALID_TOPIC_EXCEPTION, problem)
    if (this.byName.has(name)) throw new TopicError(KafkaError.TOPIC_ALREADY_EXISTS, `topic ${name} already exists`)
    if (!Number.isInteger(partitions) || partitions < 1 || partitions > 100_000) {
      throw new TopicError(KafkaError.INVALID_PARTITIONS, `partitions must be between 1 and 100000, got ${partitions}`)
    }
    const config = parseTopicConfigs(overrides, this.defaults)
    if (typeof config === 'string') throw new TopicError(KafkaError.INVALID_CONFIG, config)
    return config
  }

  create(name: string, partitions: number, overrides: Record<string, string | null> = {}): Topic {
    const config = this.validateCreate(name, partitions, overrides)
    const dir = path.join(this.root, name)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    const clean = Object.fromEntries(Object.entries(overrides).filter((e): e is [string, string] => e[1] !== null))
    const topic = new Topic(name, randomBytes(16), dir, clean, config)
    this.openPartitions(topic, partitions)
    this.writeTopicFile(topic)
    this.add(topic)
    this.logger.info({ topic: name, partitions }, 'created topic')
    return topic
  }

  /** Deletes a topic and its data. */
  delete(name: string): void {
    const topic = this.byName.get(name)
    if (topic === undefined) throw new TopicError(KafkaError.UNKNOWN_TOPIC_OR_PARTITION, `no topic ${name}`)
    this.byName.delete(name)
    this.byId.delete(topic.idHex)
    for (const p of topic.partitions) p.discard()
    // Move out of topics/ first (one atomic rename), so that a crash in the middle never leaves
    // half a topic that looks whole; the trash is emptied here or on the next start.
    const doomed = path.join(this.trash, `${topic.idHex}-${Date.now()}`)
    fs.renameSync(topic.dir, doomed)
    fs.rmSync(doomed, { recursive: true, force: true })
    this.logger.info({ topic: name }, 'deleted topic')
  }

  /** Grows a topic to `count` partitions (Kafka cannot shrink them). */
  addPartitions(name: string, count: number, validateOnly = false): void {
    const topic = this.byName.get(name)
    if (topic === undefined) throw new TopicError(KafkaError.UNKNOWN_TOPIC_OR_PARTITION, `no topic ${name}`)
    if (!Number.isInteger(count) || count <= topic.partitions.length || count > 100_000) {
      throw new TopicError(
        KafkaError.INVALID_PARTITIONS,
        `topic ${name} has ${topic.partitions.length} partitions; the new count must be larger`,
      )
    }
    if (validateOnly) return
    this.openPartitions(topic, count)
    this.writeTopicFile(topic)
  }

  /** Replaces (incremental = false) or updates a topic's config overrides; null removes a key. */
  alterConfigs(name: string, changes: Record<string, string | null>, incremental: boolean, validateOnly = false): void {
    const topic = this.byName.get(name)
    if (topic === undefined) throw new TopicError(KafkaError.UNKNOWN_TOPIC_OR_PARTITION, `no topic ${name}`)
    const next: Record<string, string> = incremental ? { ...topic.overrides } : {}
    for (const [k, v] of Object.entries(changes)) {
      if (v === null) delete next[k]
      else next[k] = v
    }
    const config = parseTopicConfigs(next, this.defaults)
    if (typeof config === 'string') throw new TopicError(KafkaError.INVALID_CONFIG, config)
    if (validateOnly) return
    topic.overrides = next
    topic.config = config
    for (const p of topic.partitions) p.log.setConfig(logConfigOf(config))
    this.writeTopicFile(topic)
  }

  /** Snapshots producer state of every partition (periodically and on close). */
  saveProducerSnapshots(): void {
    const now = this.now()
    for (const t of this.byName.values()) for (const p of t.partitions) p.saveProducers(now)
  }

  close(): void {
    const now = this.now()
    for (const t of this.byName.values()) for (const p of t.partitions) p.close(now)
    this.byName.clear()
    this.byId.clear()
  }

  private add(topic: Topic): void {
    this.byName.set(topic.name, topic)
    this.byId.set(topic.idHex, topic)
  }

  private openPartitions(topic: Topic, count: number): void {
    const now = this.now()
    for (let i = topic.partitions.length; i < count; i++) {
      const log = PartitionLog.open(path.join(topic.dir, String(i)), logConfigOf(topic.config))
      const partition = new Partition(topic, i, log, path.join(topic.dir, `${i}.producers`))
      partition.recoverProducers(now)
      topic.partitions.push(partition)
    }
  }

  private writeTopicFile(topic: Topic): void {
    const data: TopicFile = {
      version: 1,
      name: topic.name,
      id: topic.idHex,
      partitions: topic.partitions.length,
      configs: topic.overrides,
    }
    writeFileAtomic(path.join(topic.dir, 'topic.json'), JSON.stringify(data, null, 2))
  }
}
