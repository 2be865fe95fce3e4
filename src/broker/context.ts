/**
 * The broker's state and the services handlers use: topics and their logs, the group coordinator,
 * producer ids, durability (flush policy) and parked fetches. One owner: handlers change state
 * only through this object, on the event loop.
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs'
import path from 'node:path'
import { buildControlBatch, readBatchHeader } from '../protocol/record-batch.ts'
import { GroupCoordinator } from './groups/index.ts'
import { writeFileAtomic } from '../files/atomic-file.ts'
import { TransactionCoordinator, type TopicPartition } from './transactions/coordinator.ts'
import type { ApiRegistry } from './registry.ts'
import type { ResolvedBrokerOptions } from './config.ts'
import { TopicManager, type Partition, type Topic } from './topics.ts'

/** Producer ids are handed out from persisted blocks, so none is reused after a restart. */
const PRODUCER_ID_BLOCK = 1000

interface BrokerFile {
  version: 1
  clusterId: string
  nodeId: number
  producerIdBlockEnd: number
}

export class BrokerContext {
  readonly options: ResolvedBrokerOptions
  readonly registry: ApiRegistry
  readonly topics: TopicManager
  readonly groups: GroupCoordinator
  readonly transactions: TransactionCoordinator
  readonly clusterId: string
  readonly nodeId: number
  /** The data directory as an absolute path (resolved once: a later chdir changes nothing). */
  readonly logDir: string
  /** The address clients are told to connect to; set once the server listens. */
  advertised = { host: '127.0.0.1', port: 0 }

  private readonly stateFile: string
  private nextProducerId: number
  private producerIdBlockEnd: number
  private readonly timers: NodeJS.Timeout[] = []
  private closed = false

  /** True once close() has begun: long polls stop waiting and answer with what they have. */
  get closing(): boolean {
    return this.closed
  }

  constructor(options: ResolvedBrokerOptions, registry: ApiRegistry) {
    this.options = options
    this.registry = registry
    this.logDir = path.resolve(options.dataDir)
    fs.mkdirSync(options.dataDir, { recursive: true })
    this.stateFile = path.join(options.dataDir, 'broker.json')
    const state = this.readState()
    this.clusterId = state.clusterId
    this.nodeId = options.nodeId
    this.nextProducerId = state.producerIdBlockEnd
    this.producerIdBlockEnd = state.producerIdBlockEnd
    this.topics = new TopicManager(options.dataDir, options.topicDefaults, options.logger)
    this.topics.load()
    this.groups = new GroupCoordinator({
      dataDir: path.join(options.dataDir, 'groups'),
      initialRebalanceDelayMs: options.initialRebalanceDelayMs,
      fsync: options.flushPolicy !== 'none',
    })
    this.transactions = new TransactionCoordinator({
      dataDir: options.dataDir,
      fsync: options.flushPolicy !== 'none',
      logger: options.logger,
      hooks: {
        allocateProducerId: () => this.allocateProducerId(),
        writeMarkers: (pid, epoch, commit, partitions) => this.writeMarkers(pid, epoch, commit, partitions),
        commitOffsets: (groupId, entries) => this.groups.commitTransactionalOffsets(groupId, entries),
      },
    })
    this.startTimers()
  }

  /** Allocates a new producer id; persists the next block before handing out its first id. */
  allocateProducerId(): number {
    if (this.nextProducerId >= this.producerIdBlockEnd) {
      this.producerIdBlockEnd = this.nextProducerId + PRODUCER_ID_BLOCK
      this.writeState()
    }
    return this.nextProducerId++
  }

  /**
   * Writes a transaction's COMMIT or ABORT marker to each of its partitions (a deleted partition is
   * skipped) before it returns, throwing when an append fails; resolves once they are durable.
   */
  writeMarkers(
    producerId: number,
    producerEpoch: number,
    commit: boolean,
    partitions: TopicPartition[],
  ): Promise<void> {
    const written: Partition[] = []
    const now = Date.now()
    for (const [topic, index] of partitions) {
      const partition = this.topics.getPartition(topic, index)
      if (partition === undefined) continue
      const marker = buildControlBatch({ producerId, producerEpoch, commit, timestamp: now })
      partition.append(marker, readBatchHeader(marker), now)
      written.push(partition)
    }
    return this.durable(written)
  }

  /** Creates a topic with the broker's default partition count, when auto-creation is enabled. */
  autoCreate(name: string): Topic | undefined {
    if (!this.options.autoCreateTopics) return undefined
    return this.topics.create(name, this.options.defaultPartitions)
  }

  /**
   * Resolves once data appended to these partitions is as durable as the flush policy promises
   * for acks=all: fsynced under `sync`, written to the OS otherwise.
   */
  async durable(partitions: Iterable<Partition>): Promise<void> {
    if (this.options.flushPolicy !== 'sync') return
    const flushes: Promise<void>[] = []
    for (const p of partitions) flushes.push(p.log.flush())
    await Promise.all(flushes)
  }

  /**
   * Waits until one of the partitions gets an append, or `timeoutMs` passes; says which. Used by
   * Fetch long polls; the caller re-reads afterwards.
   */
  waitForAppend(partitions: readonly Partition[], timeoutMs: number): Promise<'append' | 'timeout'> {
    return new Promise((resolve) => {
      const unregister: Array<() => void> = []
      const done = (reason: 'append' | 'timeout'): void => {
        clearTimeout(timer)
        for (const u of unregister) u()
        resolve(reason)
      }
      const timer = setTimeout(() => done('timeout'), Math.max(0, timeoutMs))
      // A parked fetch must not keep the process alive; close() wakes every parked fetch anyway.
      timer.unref()
      for (const p of partitions) unregister.push(p.onAppend(() => done('append')))
    })
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    for (const t of this.timers) clearInterval(t)
    await this.transactions.close()
    await this.groups.close()
    this.topics.close()
  }

  private startTimers(): void {
    const { flushPolicy, flushIntervalMs, retentionCheckIntervalMs, logger } = this.options
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(fn, ms)
      t.unref()
      this.timers.push(t)
    }
    if (flushPolicy === 'interval') {
      every(flushIntervalMs, () => {
        for (const t of this.topics.list()) {
          for (const p of t.partitions) {
            p.log.flush().catch((err: unknown) => logger.error({ err }, 'periodic flush failed'))
          }
        }
      })
    }
    every(retentionCheckIntervalMs, () => this.enforceRetention())
    // Producer snapshots bound how much log a restart has to scan to rebuild idempotence state.
    every(60_000, () => this.topics.saveProducerSnapshots())
  }

  /** Applies retention to every partition; returns the number of segments deleted. */
  enforceRetention(now = Date.now()): number {
    let deleted = 0
    for (const t of this.topics.list()) for (const p of t.partitions) deleted += p.log.enforceRetention(now)
    return deleted
  }

  private readState(): BrokerFile {
    try {
      const parsed = JSON.parse(fs.readFileSync(this.stateFile, 'utf8')) as BrokerFile
      if (parsed.version === 1) return parsed
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
    }
    const fresh: BrokerFile = {
      version: 1,
      clusterId: randomBytes(16).toString('base64url').slice(0, 22),
      nodeId: this.options.nodeId,
      producerIdBlockEnd: 0,
    }
    this.writeStateFile(fresh)
    return fresh
  }

  private writeState(): void {
    this.writeStateFile({
      version: 1,
      clusterId: this.clusterId,
      nodeId: this.nodeId,
      producerIdBlockEnd: this.producerIdBlockEnd,
    })
  }

  private writeStateFile(state: BrokerFile): void {
    writeFileAtomic(this.stateFile, JSON.stringify(state, null, 2))
  }
}
