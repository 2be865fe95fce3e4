/**
 * The transaction coordinator: Kafka's transactional-id state machine on one broker.
 *
 *   Empty ──AddPartitions/AddOffsets──► Ongoing ──EndTxn──► PrepareCommit/PrepareAbort
 *     ▲                                                     │ markers written to every partition,
 *     └─────────── CompleteCommit/CompleteAbort ◄───────────┘ offsets of a commit materialised
 *
 * A transactional id maps to one producer id; InitProducerId bumps its epoch, which fences older
 * instances of the producer, and aborts a transaction left open. Transactions open longer than
 * their timeout are aborted with an epoch bump. State changes are journaled before they are
 * acknowledged; on start, prepared transactions are completed and open ones aborted.
 *
 * A producer presenting an epoch other than its id's current one is fenced: PRODUCER_FENCED, as
 * Kafka's coordinator answers, which the request handlers turn into INVALID_PRODUCER_EPOCH for
 * request versions older than the code (KIP-588, {@link fencedFor}). Transactional writes
 * (Produce, TxnOffsetCommit) get INVALID_PRODUCER_EPOCH at every version, as in Kafka.
 *
 * Pure of the network and of the logs: writing markers and committing offsets are hooks.
 */
import path from 'node:path'
import { KafkaError } from '../../protocol/error-codes.ts'
import type { Logger } from '../config.ts'
import type { OffsetCommitEntry } from '../groups/offset-store.ts'
import { Journal } from '../state/journal.ts'

export type TransactionState =
  'Empty' | 'Ongoing' | 'PrepareCommit' | 'PrepareAbort' | 'CompleteCommit' | 'CompleteAbort'

/** A partition in a transaction: [topic, partition]. */
export type TopicPartition = readonly [string, number]

export interface TransactionHooks {
  allocateProducerId(): number
  /**
   * Appends COMMIT or ABORT markers to the partitions before it returns (readers see them at once),
   * throwing when it cannot; the promise resolves once they are durable.
   */
  writeMarkers(producerId: number, producerEpoch: number, commit: boolean, partitions: TopicPartition[]): Promise<void>
  /**
   * Makes a committed transaction's offsets the group's committed offsets before it returns;
   * resolves once they are durable.
   */
  commitOffsets(groupId: string, entries: OffsetCommitEntry[]): Promise<void>
}

export interface TransactionCoordinatorOptions {
  dataDir: string
  hooks: TransactionHooks
  /** fsync the journal before acknowledging (default true). */
  fsync?: boolean
  /** Largest transaction timeout a producer may ask for (Kafka's transaction.max.timeout.ms, 15 min). */
  maxTimeoutMs?: number
  /** How often open transactions are checked against their timeout (default 1 s). */
  checkIntervalMs?: number
  /**
   * How long a request for a transactional id whose previous transaction is still being completed
   * (markers, offsets) waits for that completion before it is answered CONCURRENT_TRANSACTIONS
   * (default 5 s).
   */
  completionWaitMs?: number
  logger: Logger
  now?: () => number
}

interface Transaction {
  transactionalId: string
  producerId: number
  producerEpoch: number
  /**
   * The epoch before the last bump asked for by a producer presenting its id and epoch (KIP-360),
   * else -1: that producer may repeat the request after losing the answer.
   */
  lastProducerEpoch: number
  timeoutMs: number
  state: TransactionState
  /** topic -> partitions in the open transaction. */
  partitions: Map<string, Set<number>>
  groups: Set<string>
  /** groupId -> "topic:partition" -> the offset to commit with the transaction. */
  pendingOffsets: Map<string, Map<string, OffsetCommitEntry>>
  startedAt: number
}

/** The journal entry of a transactional id (its whole state: the last entry wins). */
interface Entry {
  transactionalId: string
  producerId: number
  producerEpoch: number
  /** Absent in entries written before it existed. */
  lastProducerEpoch?: number
  timeoutMs: number
  state: TransactionState
  partitions: Array<[string, number[]]>
  groups: string[]
  pendingOffsets: Array<[string, OffsetCommitEntry[]]>
  startedAt: number
}

const MAX_EPOCH = 32767

/**
 * The error code to answer a request of version `apiVersion` with: PRODUCER_FENCED for versions
 * from `since` (the first one that carries it: InitProducerId 4, AddPartitionsToTxn,
 * AddOffsetsToTxn and EndTxn 2), INVALID_PRODUCER_EPOCH before, as Kafka answers older clients.
 */
export function fencedFor(errorCode: number, apiVersion: number, since: number): number {
  return errorCode === KafkaError.PRODUCER_FENCED && apiVersion < since ? KafkaError.INVALID_PRODUCER_EPOCH : errorCode
}

export const TRANSACTIONS_JOURNAL_FILE = 'transactions.journal'

export class TransactionCoordinator {
  private readonly txns = new Map<string, Transaction>()
  private readonly byProducerId = new Map<number, Transaction>()
  private readonly journal: Journal
  private readonly hooks: TransactionHooks
  private readonly maxTimeoutMs: number
  private readonly logger: Logger
  private readonly now: () => number
  private readonly timer: NodeJS.Timeout
  /** Completions (markers, offsets) running now, by transaction: a retry must not start a second one. */
  private readonly completions = new Map<Transaction, Promise<void>>()
  private readonly completionWaitMs: number
  private closed = false

  constructor(options: TransactionCoordinatorOptions) {
    this.hooks = options.hooks
    this.maxTimeoutMs = options.maxTimeoutMs ?? 15 * 60_000
    this.completionWaitMs = options.completionWaitMs ?? 5000
    this.logger = options.logger
    this.now = options.now ?? Date.now
    const { journal, entries } = Journal.open(path.join(options.dataDir, TRANSACTIONS_JOURNAL_FILE), {
      fsync: options.fsync ?? true,
    })
    this.journal = journal
    for (const raw of entries) this.load(JSON.parse(raw.toString('utf8')) as Entry)
    this.timer = setInterval(() => void this.checkTransactions(), options.checkIntervalMs ?? 1000)
    this.timer.unref()
  }

  /** Completes transactions a crash left prepared and aborts those left open. Call once the logs are open. */
  async recover(): Promise<void> {
    for (const txn of this.txns.values()) {
      // One the periodic check is already completing is left to it.
      if (this.completions.has(txn)) continue
      if (txn.state === 'PrepareCommit' || txn.state === 'PrepareAbort') await this.completePrepared(txn)
      else if (txn.state === 'Ongoing') await this.abortWithBump(txn, 'the broker restarted')
    }
  }

  /** InitProducerId with a transactional id. */
  async initProducerId(
    transactionalId: string,
    timeoutMs: number,
    producerId: number,
    producerEpoch: number,
  ): Promise<{ errorCode: number; producerId: number; producerEpoch: number }> {
    const fail = (errorCode: number) => ({ errorCode, producerId: -1, producerEpoch: -1 })
    if (this.closed) return fail(KafkaError.COORDINATOR_NOT_AVAILABLE)
    if (timeoutMs <= 0 || timeoutMs > this.maxTimeoutMs) return fail(KafkaError.INVALID_TRANSACTION_TIMEOUT)
    if (!(await this.settled(transactionalId))) return fail(KafkaError.CONCURRENT_TRANSACTIONS)
    let txn = this.txns.get(transactionalId)
    if (txn === undefined) {
      txn = {
        transactionalId,
        producerId: this.hooks.allocateProducerId(),
        producerEpoch: 0,
        lastProducerEpoch: -1,
        timeoutMs,
        state: 'Empty',
        partitions: new Map(),
        groups: new Set(),
        pendingOffsets: new Map(),
        startedAt: 0,
      }
      this.index(txn)
      await this.persist(txn)
      return { errorCode: KafkaError.NONE, producerId: txn.producerId, producerEpoch: 0 }
    }
    if (txn.state === 'PrepareCommit' || txn.state === 'PrepareAbort') return fail(KafkaError.CONCURRENT_TRANSACTIONS)
    const presented = producerId >= 0
    // KIP-360: a producer presenting its id and epoch may only re-initialise its current
    // incarnation, or repeat the bump whose answer it lost: that gets the current epoch again.
    const retry =
      presented &&
      txn.state !== 'Ongoing' &&
      producerId === txn.producerId &&
      producerEpoch === txn.lastProducerEpoch &&
      producerEpoch >= 0
    if (presented && !retry && (producerId !== txn.producerId || producerEpoch !== txn.producerEpoch)) {
      return fail(KafkaError.PRODUCER_FENCED)
    }
    if (txn.state === 'Ongoing') {
      await this.abortWithBump(txn, 'the producer re-initialised')
      // The abort fenced with the last epoch of this producer id, which could never be fenced
      // again: hand out a new producer id instead.
      if (txn.producerEpoch >= MAX_EPOCH) this.bumpEpoch(txn)
    } else if (!retry) {
      const previous = txn.producerEpoch
      this.bumpEpoch(txn)
      // Only a presenting producer can retry (a new instance would just bump again).
      txn.lastProducerEpoch = presented && txn.producerEpoch > 0 ? previous : -1
    }
    txn.timeoutMs = timeoutMs
    txn.state = 'Empty'
    await this.persist(txn)
    return { errorCode: KafkaError.NONE, producerId: txn.producerId, producerEpoch: txn.producerEpoch }
  }

  /** AddPartitionsToTxn: one error code for every partition of the request. */
  async addPartitions(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    partitions: TopicPartition[],
  ): Promise<number> {
    if (!(await this.settled(transactionalId))) return KafkaError.CONCURRENT_TRANSACTIONS
    const check = this.validate(transactionalId, producerId, producerEpoch)
    if (typeof check === 'number') return check
    const txn = check
    if (txn.state === 'PrepareCommit' || txn.state === 'PrepareAbort') return KafkaError.CONCURRENT_TRANSACTIONS
    const added = partitions.filter(([t, p]) => !txn.partitions.get(t)?.has(p))
    if (txn.state === 'Ongoing' && added.length === 0) return KafkaError.NONE
    this.begin(txn)
    for (const [t, p] of added) {
      let set = txn.partitions.get(t)
      if (set === undefined) txn.partitions.set(t, (set = new Set()))
      set.add(p)
    }
    // Durable before the producer writes: after a crash, recovery must know where to write markers.
    await this.persist(txn)
    return KafkaError.NONE
  }

  /** AddOffsetsToTxn: the group's offsets will be committed with the transaction. */
  async addOffsets(
    transactionalId: string,
    producerId: number,
    producerEpoch: number,
    groupId: string,
  ): Promise<number> {
    if (!(await this.settled(transactionalId))) return KafkaError.CONCURRENT_TRANSACTIONS
    const check = this.validate(transactionalId, producerId, producerEpoch)
    if (typeof check === 'number') return check
    const txn = check
    if (txn.state === 'PrepareCommit' || txn.state === 'PrepareAbort') return KafkaError.CONCURRENT_TRANSACTIONS
    if (txn.state === 'Ongoing' && txn.groups.has(groupId)) return KafkaError.NONE
    this.begin(txn)
    txn.groups.add(groupId)
    await this.persist(txn)
    return KafkaError.NONE
  }

  /** TxnOffsetCommit: offsets held until the transaction ends (committed) or dropped (aborted). */
  txnOffsetCommit(
    transactionalId: string,
    groupId: string,
    producerId: number,
    producerEpoch: number,
    entries: OffsetCommitEntry[],
  ): number {
    const check = this.validate(transactionalId, producerId, producerEpoch)
    // As in Kafka, where these offsets are a transactional write to the offsets log: a fenced
    // producer gets the Produce error (no TxnOffsetCommit version carries PRODUCER_FENCED).
    if (check === KafkaError.PRODUCER_FENCED) return KafkaError.INVALID_PRODUCER_EPOCH
    if (typeof check === 'number') return check
    if (check.state !== 'Ongoing' || !check.groups.has(groupId)) return KafkaError.INVALID_TXN_STATE
    let pending = check.pendingOffsets.get(groupId)
    if (pending === undefined) check.pendingOffsets.set(groupId, (pending = new Map()))
    for (const e of entries) pending.set(`${e.topic}:${e.partition}`, e)
    return KafkaError.NONE
  }

  /**
   * EndTxn: answers once the decision (PrepareCommit/PrepareAbort, with the offsets to commit) is
   * durable in the journal, as Kafka answers once it is in the transaction log, and its effects are
   * visible: the markers appended (read_committed readers see the outcome) and the offsets applied.
   * Their own fsync is not waited for: a crash before they are durable leaves the transaction
   * prepared, and recovery completes it again. The id's next requests wait for that fsync instead.
   */
  async endTxn(transactionalId: string, producerId: number, producerEpoch: number, commit: boolean): Promise<number> {
    if (!(await this.settled(transactionalId))) return KafkaError.CONCURRENT_TRANSACTIONS
    const check = this.validate(transactionalId, producerId, producerEpoch)
    if (typeof check === 'number') return check
    const txn = check
    // As Kafka: a retry of the EndTxn being (or already) completed is answered again, CONCURRENT_TRANSACTIONS
    // while its markers are written; the opposite outcome, or ending no transaction, is INVALID_TXN_STATE.
    switch (txn.state) {
      case 'Empty':
        return KafkaError.INVALID_TXN_STATE
      case 'PrepareCommit':
        return commit ? KafkaError.CONCURRENT_TRANSACTIONS : KafkaError.INVALID_TXN_STATE
      case 'PrepareAbort':
        return commit ? KafkaError.INVALID_TXN_STATE : KafkaError.CONCURRENT_TRANSACTIONS
      case 'CompleteCommit':
        return commit ? KafkaError.NONE : KafkaError.INVALID_TXN_STATE
      case 'CompleteAbort':
        return commit ? KafkaError.INVALID_TXN_STATE : KafkaError.NONE
    }
    const { prepared, done } = this.prepareAndComplete(txn, commit)
    done.catch((err: unknown) =>
      // Left prepared: the periodic check retries the completion.
      this.logger.error({ err, transactionalId }, 'completing a transaction failed'),
    )
    await prepared
    return KafkaError.NONE
  }

  /** True when the producer (at this epoch) has the partition in its open transaction. */
  isInTransaction(producerId: number, producerEpoch: number, topic: string, partition: number): boolean {
    const txn = this.byProducerId.get(producerId)
    return (
      txn !== undefined &&
      txn.state === 'Ongoing' &&
      txn.producerEpoch === producerEpoch &&
      txn.partitions.get(topic)?.has(partition) === true
    )
  }

  /**
   * The error of a transactional batch of this producer for the partition: NONE when the partition
   * is in its open transaction, INVALID_PRODUCER_EPOCH when a newer epoch of the producer id exists
   * (a fenced instance), else INVALID_TXN_STATE.
   */
  checkTransactionalWrite(producerId: number, producerEpoch: number, topic: string, partition: number): number {
    if (this.isInTransaction(producerId, producerEpoch, topic, partition)) return KafkaError.NONE
    const txn = this.byProducerId.get(producerId)
    return txn !== undefined && producerEpoch < txn.producerEpoch
      ? KafkaError.INVALID_PRODUCER_EPOCH
      : KafkaError.INVALID_TXN_STATE
  }

  /**
   * True when a transaction not yet completed holds an offset for the partition (OffsetFetch
   * require_stable). Offsets stay pending until the markers are written, as in Kafka, where they
   * are pending until the marker reaches the offsets topic.
   */
  hasPendingOffsets(groupId: string, topic: string, partition: number): boolean {
    for (const txn of this.txns.values()) {
      if (txn.pendingOffsets.get(groupId)?.has(`${topic}:${partition}`)) return true
    }
    return false
  }

  /**
   * ListTransactions: ids, producer ids and states, optionally filtered by state, producer id and
   * (v1) open for at least `minDurationMs`.
   */
  list(
    states: string[] = [],
    producerIds: number[] = [],
    minDurationMs?: number,
  ): Array<{ transactionalId: string; producerId: number; state: string }> {
    const now = this.now()
    return [...this.txns.values()]
      .filter(
        (t) =>
          (states.length === 0 || states.includes(t.state)) &&
          (producerIds.length === 0 || producerIds.includes(t.producerId)) &&
          (minDurationMs === undefined || (t.state === 'Ongoing' && now - t.startedAt >= minDurationMs)),
      )
      .map((t) => ({ transactionalId: t.transactionalId, producerId: t.producerId, state: t.state }))
  }

  /** DescribeTransactions: the state of one transactional id, or undefined. */
  describe(transactionalId: string):
    | {
        state: TransactionState
        producerId: number
        producerEpoch: number
        timeoutMs: number
        startedAt: number
        partitions: Array<[string, number[]]>
      }
    | undefined {
    const t = this.txns.get(transactionalId)
    if (t === undefined) return undefined
    return {
      state: t.state,
      producerId: t.producerId,
      producerEpoch: t.producerEpoch,
      timeoutMs: t.timeoutMs,
      startedAt: t.state === 'Ongoing' ? t.startedAt : -1,
      partitions: [...t.partitions].map(([topic, set]) => [topic, [...set].sort((a, b) => a - b)]),
    }
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    clearInterval(this.timer)
    // Completions under way journal their end; a hanging one is completed by recovery instead.
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      Promise.allSettled([...this.completions.values()]),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, Math.min(1000, this.completionWaitMs)))),
    ])
    clearTimeout(timer)
    await this.journal.close()
  }

  // ----------------------------------------------------------------------------------------------

  private validate(transactionalId: string, producerId: number, producerEpoch: number): Transaction | number {
    if (this.closed) return KafkaError.COORDINATOR_NOT_AVAILABLE
    const txn = this.txns.get(transactionalId)
    if (txn === undefined || txn.producerId !== producerId) return KafkaError.INVALID_PRODUCER_ID_MAPPING
    if (producerEpoch !== txn.producerEpoch) return KafkaError.PRODUCER_FENCED
    return txn
  }

  /** Starts a new transaction when none is open. */
  private begin(txn: Transaction): void {
    if (txn.state === 'Ongoing') return
    txn.state = 'Ongoing'
    txn.partitions = new Map()
    txn.groups = new Set()
    txn.pendingOffsets = new Map()
    txn.startedAt = this.now()
  }

  private bumpEpoch(txn: Transaction): void {
    if (txn.producerEpoch + 1 >= MAX_EPOCH) {
      // No epoch left: the transactional id moves to a new producer id.
      this.byProducerId.delete(txn.producerId)
      txn.producerId = this.hooks.allocateProducerId()
      txn.producerEpoch = 0
      this.byProducerId.set(txn.producerId, txn)
    } else {
      txn.producerEpoch++
    }
  }

  /**
   * Aborts an open transaction under the next epoch, fencing the producer that opened it. The
   * markers must carry the producer id the partitions know the transaction by, so this bump never
   * moves to a new producer id (as Kafka's epoch fence); epochs handed out stop below MAX_EPOCH,
   * so the fence epoch always fits.
   */
  private async abortWithBump(txn: Transaction, reason: string): Promise<void> {
    this.logger.info({ transactionalId: txn.transactionalId, reason }, 'aborting a transaction')
    txn.producerEpoch++
    txn.lastProducerEpoch = -1
    await this.prepareAndComplete(txn, false).done
  }

  /**
   * Journals PrepareCommit/PrepareAbort, then completes the transaction. `prepared` resolves once
   * the decision is durable and its effects are visible (markers appended, offsets applied);
   * `done` once those are durable too.
   */
  private prepareAndComplete(txn: Transaction, commit: boolean): { prepared: Promise<void>; done: Promise<void> } {
    txn.state = commit ? 'PrepareCommit' : 'PrepareAbort'
    const applied = this.persist(txn).then(() => this.complete(txn, commit))
    return {
      prepared: applied.then(() => undefined),
      done: this.track(
        txn,
        applied.then((c) => c.durable),
      ),
    }
  }

  /** Completes a prepared transaction (after a restart, or when writing its markers failed). */
  private completePrepared(txn: Transaction): Promise<void> {
    return this.track(txn, this.complete(txn, txn.state === 'PrepareCommit').durable)
  }

  // Registered synchronously, before anything awaits: the periodic check must not start a second
  // completion of the same transaction.
  private track(txn: Transaction, completion: Promise<void>): Promise<void> {
    const tracked = completion.finally(() => {
      if (this.completions.get(txn) === tracked) this.completions.delete(txn)
    })
    this.completions.set(txn, tracked)
    return tracked
  }

  /**
   * Waits (at most completionWaitMs) for the completion of `transactionalId`'s previous
   * transaction, if one is running: the request then sees the completed state instead of
   * CONCURRENT_TRANSACTIONS, and the producer need not poll. False when it is still running.
   */
  private async settled(transactionalId: string): Promise<boolean> {
    const txn = this.txns.get(transactionalId)
    const completion = txn === undefined ? undefined : this.completions.get(txn)
    if (completion === undefined) return true
    let timer: NodeJS.Timeout | undefined
    await Promise.race([
      completion.catch(() => undefined),
      new Promise<void>((resolve) => (timer = setTimeout(resolve, this.completionWaitMs))),
    ])
    clearTimeout(timer)
    // Still running: nothing may start the id's next transaction before it is durable.
    return !this.completions.has(txn!)
  }

  /**
   * Appends the markers and applies the offsets of a prepared transaction, both at once (readers
   * and OffsetFetch see them from now on), and marks it completed; `durable` resolves once they are
   * on disk, and then the completion is journaled. Should they not become durable, the transaction
   * goes back to its prepared state for the periodic check to complete it again.
   */
  private complete(txn: Transaction, commit: boolean): { durable: Promise<void> } {
    const prepared = { partitions: txn.partitions, groups: txn.groups, pendingOffsets: txn.pendingOffsets }
    const partitions: TopicPartition[] = [...txn.partitions].flatMap(([t, set]) => [...set].map((p) => [t, p] as const))
    let writes: Promise<unknown>
    try {
      // The hooks take effect before they return (the offsets only once the markers are in); their
      // promises tell durability.
      const pending = [this.hooks.writeMarkers(txn.producerId, txn.producerEpoch, commit, partitions)]
      if (commit) {
        for (const [groupId, offsets] of txn.pendingOffsets) {
          pending.push(this.hooks.commitOffsets(groupId, [...offsets.values()]))
        }
      }
      writes = Promise.all(pending)
    } catch (err) {
      // Nothing was appended (or not everywhere): still prepared, for the periodic check to retry.
      return { durable: Promise.reject(err as Error) }
    }
    const completed = commit ? 'CompleteCommit' : 'CompleteAbort'
    txn.state = completed
    txn.partitions = new Map()
    txn.groups = new Set()
    txn.pendingOffsets = new Map()
    const durable = writes.then(
      () => {
        // Written without an fsync of its own: the markers and offsets are durable already, so
        // losing this entry in a crash only makes recovery complete the transaction once more (a
        // marker closing no open transaction changes nothing, the offsets are the same). The
        // journal is written in order, so the id's next entry is never durable without this one.
        try {
          this.journal.write(Buffer.from(JSON.stringify(this.entryOf(txn))))
        } catch (err) {
          this.logger.error({ err, transactionalId: txn.transactionalId }, 'journaling a completed transaction failed')
        }
      },
      (err: unknown) => {
        // Back to prepared (nothing can have begun the next transaction: requests wait for this).
        if (txn.state === completed) {
          txn.state = commit ? 'PrepareCommit' : 'PrepareAbort'
          txn.partitions = prepared.partitions
          txn.groups = prepared.groups
          txn.pendingOffsets = prepared.pendingOffsets
        }
        throw err
      },
    )
    return { durable }
  }

  /**
   * The periodic check: aborts transactions open longer than their timeout, and retries the
   * completion of prepared ones whose markers could not be written (a prepared transaction holds
   * back the last stable offset of its partitions until its markers are in).
   */
  private async checkTransactions(): Promise<void> {
    const now = this.now()
    for (const txn of this.txns.values()) {
      if (this.closed) return
      try {
        if (txn.state === 'Ongoing' && now - txn.startedAt > txn.timeoutMs) {
          await this.abortWithBump(txn, `open longer than its ${txn.timeoutMs} ms timeout`)
        } else if ((txn.state === 'PrepareCommit' || txn.state === 'PrepareAbort') && !this.completions.has(txn)) {
          await this.completePrepared(txn)
        }
      } catch (err) {
        this.logger.error({ err, transactionalId: txn.transactionalId }, 'completing a transaction failed')
      }
    }
  }

  private index(txn: Transaction): void {
    this.txns.set(txn.transactionalId, txn)
    this.byProducerId.set(txn.producerId, txn)
  }

  private persist(txn: Transaction): Promise<void> {
    const done = this.journal.append(Buffer.from(JSON.stringify(this.entryOf(txn))))
    if (this.journal.shouldCompact()) {
      this.journal.compact([...this.txns.values()].map((t) => Buffer.from(JSON.stringify(this.entryOf(t)))))
    }
    return done
  }

  private entryOf(txn: Transaction): Entry {
    return {
      transactionalId: txn.transactionalId,
      producerId: txn.producerId,
      producerEpoch: txn.producerEpoch,
      lastProducerEpoch: txn.lastProducerEpoch,
      timeoutMs: txn.timeoutMs,
      state: txn.state,
      partitions: [...txn.partitions].map(([t, set]) => [t, [...set]]),
      groups: [...txn.groups],
      pendingOffsets: [...txn.pendingOffsets].map(([g, m]) => [g, [...m.values()]]),
      startedAt: txn.startedAt,
    }
  }

  private load(e: Entry): void {
    const old = this.txns.get(e.transactionalId)
    if (old !== undefined) this.byProducerId.delete(old.producerId)
    this.index({
      transactionalId: e.transactionalId,
      producerId: e.producerId,
      producerEpoch: e.producerEpoch,
      lastProducerEpoch: e.lastProducerEpoch ?? -1,
      timeoutMs: e.timeoutMs,
      state: e.state,
      partitions: new Map(e.partitions.map(([t, ps]) => [t, new Set(ps)])),
      groups: new Set(e.groups),
      pendingOffsets: new Map(
        e.pendingOffsets.map(([g, list]) => [g, new Map(list.map((x) => [`${x.topic}:${x.partition}`, x]))]),
      ),
      startedAt: e.startedAt,
    })
  }
}
