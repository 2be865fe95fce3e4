/**
 * The archiver: consumes topics and writes every record to the raw archive table, and to its
 * typed or routed table when it has one, exactly once.
 *
 * Exactly once: the next offset of each partition is stored in `consumer_offsets` in the same
 * database transaction as the rows of the records before it, and the archiver starts from those
 * offsets (not from a consumer group's), so whatever moment it is killed at, a restart rewrites
 * nothing and skips nothing. One archiver per consumer name holds an advisory lock; a second one
 * refuses to start. It reads read_committed: records of aborted transactions are never archived.
 *
 * Records a typed or routed table cannot take go to `dlq.<topic>` with the reason (their raw row
 * is archived anyway), before the transaction commits: a crash between the two may dead-letter a
 * record twice, never lose it.
 *
 * Batches: up to `maxBatchRecords` records or `maxBatchBytes`, written at the latest `lingerMs`
 * after their first record, with COPY. A database that fails (connection lost, server
 * restarting) is retried with backoff, the same batch again, for as long as it takes; fetching
 * waits meanwhile. A batch some of whose rows are already in the tables (the offsets table was
 * reset by hand) is written through temporary tables with ON CONFLICT DO NOTHING; a batch the
 * database refuses for its data is split until the one record at fault is found, which then goes
 * to the archive as bytes and to the dead-letter topic.
 */
import { ensureTopics } from '../bus/admin.ts'
import type { BusConfig } from '../bus/client.ts'
import { KafkaErrors, sleep, type KafkaCluster, type TopicLayout } from '../bus/cluster.ts'
import { deadLetterMessage, dlqTopicOf } from '../bus/dlq.ts'
import { listOffsets, OffsetSpec } from '../bus/partition-io.ts'
import { TopicWriter } from '../bus/producer.ts'
import { RETRIABLE_FETCH_ERRORS } from '../bus/read-committed.ts'
import { walkBatchesFull } from '../bus/scan.ts'
import { ErrorCodes, TickflowError } from '../errors.ts'
import { ArchiveBatch, type ArchiveRecord, type RejectedRecord } from './archive-batch.ts'
import { quoteIdentifier, sqlState, type Database, type DatabaseLock, type Sql } from './database.ts'
import { migrate } from './migrations.ts'
import { copyTarget, createTableSql, type RouteSpec, type TableSpec } from './tables.ts'

export interface ArchiverOptions {
  cluster: KafkaCluster
  /** For the dead-letter writers. */
  bus: BusConfig
  db: Database
  /** Topics to archive, or `all` (every topic but internal ones, including topics created later). */
  topics: readonly string[] | 'all'
  /** Routed tables (the config file's `archive.routes`). */
  routes: readonly RouteSpec[]
  /** Name of the offsets in `consumer_offsets` (default `archive`): one archiver per name. */
  consumer?: string
  maxBatchRecords?: number
  maxBatchBytes?: number
  lingerMs?: number
  /** Longest wait of a fetch for new records (default 500 ms). */
  fetchMaxWaitMs?: number
  /** How often the topic list and partition counts are looked at again (default 10 s). */
  metadataCheckMs?: number
  signal?: AbortSignal
  log?(line: string): void
  /** After each committed batch (tests, progress). */
  onCommit?(stats: ArchiverStats): void
}

/** Counters of a running archiver. */
export interface ArchiverStats {
  /** Records archived (committed). */
  records: number
  /** Rows written per typed or routed table. */
  rows: Record<string, number>
  /** Records dead-lettered because their table could not take them. */
  rejected: number
  batches: number
  /** Failed attempts at writing a batch (retried). */
  retries: number
  /** The partitions being read, as `topic/partition`. */
  partitions: number
}

/** Topics `--all` leaves out: Kafka's and the runtime's internal ones. */
export function isInternalTopic(topic: string): boolean {
  return topic.startsWith('__') || topic.endsWith('.checkpoints')
}

interface PartitionState {
  topic: string
  partition: number
  /** The next offset to fetch. */
  position: number
}

const MAX_BACKOFF_MS = 5000

/** Runs until `options.signal` aborts; resolves once the last batch is committed. */
export async function runArchiver(options: ArchiverOptions): Promise<ArchiverStats> {
  const { cluster, db } = options
  const log = options.log ?? (() => undefined)
  const signal = options.signal ?? new AbortController().signal
  const consumer = options.consumer ?? 'archive'
  const maxRecords = options.maxBatchRecords ?? 20_000
  const maxBytes = options.maxBatchBytes ?? 32 * 1024 * 1024
  const lingerMs = options.lingerMs ?? 200
  const fetchMaxWaitMs = options.fetchMaxWaitMs ?? 500
  const metadataCheckMs = options.metadataCheckMs ?? 10_000
  const stats: ArchiverStats = { records: 0, rows: {}, rejected: 0, batches: 0, retries: 0, partitions: 0 }
  const s = db.schema

  await retryingDb('preparing the database', signal, log, stats, () => prepare(db, options.routes))
  const lockKey = `tickflow-archiver:${s}:${consumer}`
  let lock: DatabaseLock | undefined = await takeLock(db, lockKey, consumer)
  const dlq = new Map<string, TopicWriter>()
  const partitions = new Map<string, PartitionState>()
  // The batch being written while the next one fills: fetching and encoding overlap the database.
  let inflight: { batch: ArchiveBatch; done: Promise<void> } | undefined
  try {
    const refresh = async (): Promise<Map<string, TopicLayout>> => {
      const layouts =
        options.topics === 'all'
          ? new Map([...(await cluster.allTopics())].filter(([name]) => !isInternalTopic(name)))
          : await cluster.topics([...options.topics])
      if (options.topics !== 'all') {
        const missing = options.topics.filter((t) => !layouts.has(t))
        if (missing.length > 0 && partitions.size === 0) {
          throw new TickflowError(ErrorCodes.UNKNOWN_TOPIC, `topic ${missing.join(', ')} does not exist`)
        }
      }
      const added: PartitionState[] = []
      for (const [topic, layout] of layouts) {
        for (let p = 0; p < layout.leaders.length; p++) {
          const id = `${topic}/${p}`
          if (partitions.has(id)) continue
          const state = { topic, partition: p, position: -1 }
          partitions.set(id, state)
          added.push(state)
        }
      }
      if (added.length > 0) await startPositions(db, cluster, consumer, added, log)
      stats.partitions = partitions.size
      return layouts
    }
    let layouts = await refresh()
    let lastMetadata = performance.now()
    let batch = new ArchiveBatch(options.routes)
    let batchStarted = 0
    const sizing: FetchSizing = { bytesPerOffset: 0 }

    // Writes one batch and its offsets; the caller keeps at most one in flight.
    const write = async (batch: ArchiveBatch): Promise<void> => {
      if (lock === undefined || !lock.held) {
        // The session holding the lock went away (a server restart): take it again first.
        await lock?.release()
        lock = undefined
        lock = await retryingDb('taking the archiver lock again', signal, log, stats, () =>
          takeLock(db, lockKey, consumer),
        )
      }
      await deadLetter(options.bus, dlq, batch.rejected)
      let written = batch
      try {
        await retryingDb(`writing a batch of ${written.records} records`, signal, log, stats, () =>
          writeBatch(db, consumer, written),
        )
      } catch (err) {
        if (!(err instanceof TickflowError) || err.code !== ErrorCodes.DATABASE) throw err
        // The database refuses some record's data: find it, archive it as bytes, dead-letter it.
        const refused = await retryingDb('looking for the records the database refuses', signal, log, stats, () =>
          findRefused(db, written),
        )
        if (refused.size === 0) throw err
        for (const [r, why] of refused) log(`${r.topic}/${r.partition}@${r.offset}: the database refused it (${why})`)
        const before = new Set(written.rejected.map((x) => x.record))
        written = written.rebuilt(refused)
        await deadLetter(
          options.bus,
          dlq,
          written.rejected.filter((x) => !before.has(x.record)),
        )
        const final = written
        await retryingDb(`writing a batch of ${final.records} records`, signal, log, stats, () =>
          writeBatch(db, consumer, final),
        )
      }
      stats.records += written.records
      stats.rejected += written.rejected.length
      stats.batches++
      for (const [table, t] of written.tables) stats.rows[table] = (stats.rows[table] ?? 0) + t.rows.rows
      for (const [topic, byPartition] of written.positions) {
        for (const [p, next] of byPartition) {
          const state = partitions.get(`${topic}/${p}`)
          if (state !== undefined && next > state.position) state.position = next
        }
      }
      options.onCommit?.(stats)
    }
    const commit = async (): Promise<void> => {
      if (inflight !== undefined) {
        await inflight.done
        inflight = undefined
      }
      if (batch.records === 0 && !positionsMoved(batch, partitions)) return
      const full = batch
      batch = new ArchiveBatch(options.routes)
      const done = write(full)
      // Observed at the next commit; not left unhandled meanwhile.
      done.catch(() => undefined)
      inflight = { batch: full, done }
    }
    // Where a partition's next fetch starts: after the batch filling, else after the one in flight.
    const startOf = (p: PartitionState): number =>
      batch.positions.get(p.topic)?.get(p.partition) ??
      inflight?.batch.positions.get(p.topic)?.get(p.partition) ??
      p.position

    while (!signal.aborted) {
      const waiting = batch.records > 0 ? Math.max(0, lingerMs - (performance.now() - batchStarted)) : fetchMaxWaitMs
      const before = batch.records
      const refreshLeaders = await fetchRound(
        cluster,
        layouts,
        partitions,
        batch,
        startOf,
        maxRecords,
        waiting,
        sizing,
        log,
      )
      if (before === 0 && batch.records > 0) batchStarted = performance.now()
      const due =
        batch.records >= maxRecords ||
        batch.bytes >= maxBytes ||
        (batch.records > 0 && performance.now() - batchStarted >= lingerMs) ||
        (batch.records === 0 && positionsMoved(batch, partitions))
      if (due) await commit()
      if (refreshLeaders || performance.now() - lastMetadata >= metadataCheckMs) {
        lastMetadata = performance.now()
        try {
          layouts = await refresh()
        } catch (err) {
          if (!(err instanceof TickflowError) || !(err.retriable || err.code === ErrorCodes.CLOSED)) throw err
          log(`reading metadata: ${err.message}; retrying`)
          await sleep(500)
        }
      }
    }
    await commit()
    await inflight?.done
  } finally {
    // A write still in flight after a failure is left to finish before the lock goes.
    await inflight?.done.catch(() => undefined)
    for (const w of dlq.values()) await w.close().catch(() => undefined)
    await lock?.release()
  }
  return stats
}

// Migrations, then the routed tables (created when missing; an existing one must have the columns).
async function prepare(db: Database, routes: readonly RouteSpec[]): Promise<void> {
  await migrate(db)
  for (const route of routes) {
    await db.query(createTableSql(db.schema, route))
    const have = await db.query<{ column_name: string }>(
      `SELECT column_name FROM information_schema.columns WHERE table_schema = $1 AND table_name = $2`,
      [db.schema.slice(1, -1).replaceAll('""', '"'), route.table],
    )
    const names = new Set(have.rows.map((r) => r.column_name))
    const missing = route.columns.filter((c) => !names.has(c.column)).map((c) => c.column)
    if (missing.length > 0) {
      throw new TickflowError(
        ErrorCodes.INVALID_CONFIG,
        `table ${route.table} exists without the column(s) ${missing.join(', ')} its route declares: alter it or route to another table`,
      )
    }
  }
}

async function takeLock(db: Database, key: string, consumer: string): Promise<DatabaseLock> {
  const lock = await db.tryLock(key)
  if (lock === undefined) {
    throw new TickflowError(
      ErrorCodes.DATABASE,
      `another archiver named ${consumer} is writing to ${db.description} (schema ${db.schema}): stop it, or use another --name`,
    )
  }
  return lock
}

// Stored offsets, else the log start.
async function startPositions(
  db: Database,
  cluster: KafkaCluster,
  consumer: string,
  added: PartitionState[],
  log: (line: string) => void,
): Promise<void> {
  const stored = await db.query<{ topic: string; partition: number; next_offset: string | number }>(
    `SELECT topic, partition, next_offset::text AS next_offset FROM ${db.schema}.consumer_offsets WHERE consumer = $1`,
    [consumer],
  )
  const known = new Map(stored.rows.map((r) => [`${r.topic}/${r.partition}`, Number(r.next_offset)]))
  const byTopic = new Map<string, PartitionState[]>()
  for (const p of added) {
    const at = known.get(`${p.topic}/${p.partition}`)
    if (at !== undefined) p.position = at
    else byTopic.set(p.topic, [...(byTopic.get(p.topic) ?? []), p])
  }
  for (const [topic, list] of byTopic) {
    const starts = await listOffsets(
      cluster,
      topic,
      list.map((p) => p.partition),
      OffsetSpec.EARLIEST,
    )
    for (const p of list) p.position = starts.get(p.partition) ?? 0
  }
  if (added.length > 0) {
    const resumed = added.filter((p) => known.has(`${p.topic}/${p.partition}`)).length
    log(
      `reading ${added.length} partition(s): ${resumed} from stored offsets, ${added.length - resumed} from the start`,
    )
  }
}

function positionsMoved(batch: ArchiveBatch, partitions: Map<string, PartitionState>): boolean {
  for (const [topic, byPartition] of batch.positions) {
    for (const [p, next] of byPartition) if (next > (partitions.get(`${topic}/${p}`)?.position ?? 0)) return true
  }
  return false
}

/** What fetches have returned so far, to ask for about as many bytes as the batch has room for. */
interface FetchSizing {
  /** Average bytes a fetched offset took (0 before the first fetch). */
  bytesPerOffset: number
}

const MIN_PARTITION_FETCH_BYTES = 64 << 10
const MAX_PARTITION_FETCH_BYTES = 4 << 20

// One fetch per leader for every partition, records into the batch. True when metadata is stale.
async function fetchRound(
  cluster: KafkaCluster,
  layouts: Map<string, TopicLayout>,
  partitions: Map<string, PartitionState>,
  batch: ArchiveBatch,
  startOf: (p: PartitionState) => number,
  maxRecords: number,
  maxWaitMs: number,
  sizing: FetchSizing,
  log: (line: string) => void,
): Promise<boolean> {
  const byLeader = new Map<number, PartitionState[]>()
  let stale = false
  for (const p of partitions.values()) {
    const leader = layouts.get(p.topic)?.leaders[p.partition] ?? -1
    if (leader < 0) {
      stale = true
      continue
    }
    // The batch may already hold this partition's next records.
    byLeader.set(leader, [...(byLeader.get(leader) ?? []), p])
  }
  if (byLeader.size === 0) {
    await sleep(Math.min(maxWaitMs, 200))
    return true
  }
  // Records beyond the batch's room would be fetched again next time: ask for about its share (a
  // broker still returns a whole first batch larger than that).
  const room = Math.ceil(Math.max(1, maxRecords - batch.records) / Math.max(1, partitions.size))
  const partitionMaxBytes =
    sizing.bytesPerOffset === 0
      ? MAX_PARTITION_FETCH_BYTES
      : Math.min(
          MAX_PARTITION_FETCH_BYTES,
          Math.max(MIN_PARTITION_FETCH_BYTES, Math.ceil(1.25 * room * sizing.bytesPerOffset)),
        )
  await Promise.all(
    [...byLeader].map(async ([node, list]) => {
      const from = startOf
      const topics = new Map<string, PartitionState[]>()
      for (const p of list) topics.set(p.topic, [...(topics.get(p.topic) ?? []), p])
      let response
      try {
        response = await (
          await cluster.connection(node, 'fetch')
        ).fetch({
          maxWaitMs,
          minBytes: 1,
          maxBytes: 32 << 20,
          isolationLevel: 1,
          topics: [...topics].map(([topic, ps]) => ({
            topic,
            partitions: ps.map((p) => ({
              partition: p.partition,
              fetchOffset: BigInt(from(p)),
              partitionMaxBytes,
            })),
          })),
        })
      } catch (err) {
        cluster.drop(node, 'fetch')
        log(`fetching from broker ${node}: ${(err as Error).message}; retrying`)
        stale = true
        await sleep(200)
        return
      }
      // Partitions of this response still to walk: each takes at most its share of the batch's room.
      let left = response.responses.reduce((n, t) => n + t.partitions.length, 0)
      for (const t of response.responses) {
        for (const r of t.partitions) {
          const share = Math.ceil(Math.max(0, maxRecords - batch.records) / left--)
          const state = topics.get(t.topic)?.find((p) => p.partition === r.partitionIndex)
          if (state === undefined) continue
          if (r.errorCode === KafkaErrors.OFFSET_OUT_OF_RANGE) {
            const start =
              (await listOffsets(cluster, state.topic, [state.partition], OffsetSpec.EARLIEST)).get(state.partition) ??
              0
            const at = from(state)
            if (start > at) {
              log(
                `${state.topic}/${state.partition}: offsets ${at}..${start - 1} were deleted by retention before they were archived`,
              )
              batch.skipTo(state.topic, state.partition, start)
            }
            continue
          }
          if (r.errorCode !== 0) {
            if (RETRIABLE_FETCH_ERRORS.has(r.errorCode)) stale = true
            else log(`fetching ${state.topic}/${state.partition}: Kafka error ${r.errorCode}`)
            continue
          }
          const topic = state.topic
          const start = from(state)
          // No more than the batch's room (a fetch returns up to 4 MiB a partition): the rest is fetched again.
          if (share === 0) continue
          const to = start + share
          const walked = walkBatchesFull(
            r.records,
            start,
            to,
            r.abortedTransactions,
            state.partition,
            (rec) => batch.add(rec),
            topic,
          )
          if (walked.next > start && r.records !== null) {
            const perOffset = r.records.length / (walked.next - start)
            sizing.bytesPerOffset =
              sizing.bytesPerOffset === 0 ? perOffset : 0.8 * sizing.bytesPerOffset + 0.2 * perOffset
          }
          // Past markers and aborted records: only a real move is a position to store.
          const next = Math.min(walked.next, to)
          if (next > start) batch.skipTo(topic, state.partition, next)
        }
      }
    }),
  )
  return stale
}

async function deadLetter(
  bus: BusConfig,
  writers: Map<string, TopicWriter>,
  rejected: readonly RejectedRecord[],
): Promise<void> {
  if (rejected.length === 0) return
  const topics = [...new Set(rejected.map((r) => r.record.topic))]
  const missing = topics.filter((t) => !writers.has(dlqTopicOf(t)))
  if (missing.length > 0) await ensureTopics(bus, Object.fromEntries(missing.map((t) => [dlqTopicOf(t), 1])))
  for (const { record, table, reason } of rejected) {
    const name = dlqTopicOf(record.topic)
    let writer = writers.get(name)
    if (writer === undefined) writers.set(name, (writer = new TopicWriter(bus, { topic: name })))
    void writer.writeMessage(
      deadLetterMessage({
        topic: record.topic,
        key: record.key,
        value: record.value,
        reason: `archive: ${table}: ${reason}`,
        partition: record.partition,
        offset: BigInt(record.offset),
      }),
    )
  }
  for (const w of writers.values()) await w.flush()
}

/** Runs `fn` until it succeeds, retrying retriable database errors with backoff; others are thrown. */
async function retryingDb<T>(
  what: string,
  signal: AbortSignal,
  log: (line: string) => void,
  stats: ArchiverStats,
  fn: () => Promise<T>,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn()
    } catch (err) {
      const retriable = err instanceof TickflowError && err.retriable
      if (!retriable) throw err
      stats.retries++
      if (attempt === 1 || attempt % 10 === 0) log(`${what}: ${(err as Error).message}; retrying (attempt ${attempt})`)
      // Stopping does not drop a batch: it is retried until written or the process is killed.
      const wait = Math.min(MAX_BACKOFF_MS, 100 * 2 ** Math.min(attempt - 1, 10))
      await sleep(signal.aborted ? Math.min(wait, 1000) : wait)
    }
  }
}

/**
 * Writes the batch and its offsets in one transaction. A unique violation (rows already there)
 * switches to the conflict-tolerant path; a data error splits the batch (see the module comment).
 */
export async function writeBatch(db: Database, consumer: string, batch: ArchiveBatch): Promise<void> {
  try {
    await db.transaction((tx) => writeInto(tx, db.schema, consumer, batch, false))
  } catch (err) {
    if (!(err instanceof TickflowError) || err.retriable) throw err
    const state = sqlState(err)
    if (state === '23505') {
      await db.transaction((tx) => writeInto(tx, db.schema, consumer, batch, true))
      return
    }
    throw err
  }
}

/**
 * The records of `batch` the database refuses on their own (a data error), with its message:
 * halves of the batch are tried in transactions that are rolled back, down to single records.
 */
async function findRefused(db: Database, batch: ArchiveBatch): Promise<Map<ArchiveRecord, string>> {
  const refused = new Map<ArchiveRecord, string>()
  const probe = async (records: ArchiveRecord[]): Promise<string | undefined> => {
    const part = new ArchiveBatch(batch.routes)
    for (const r of records) part.add(r)
    try {
      await db.transaction(async (tx) => {
        await writeInto(tx, db.schema, undefined, part, true)
        throw PROBED
      })
    } catch (err) {
      if (err === PROBED) return undefined
      if (err instanceof TickflowError && err.retriable) throw err
      return (err as Error).message
    }
    return undefined
  }
  const search = async (records: ArchiveRecord[]): Promise<void> => {
    const failure = await probe(records)
    if (failure === undefined) return
    if (records.length === 1) {
      refused.set(records[0], failure)
      return
    }
    const half = records.length >> 1
    await search(records.slice(0, half))
    await search(records.slice(half))
  }
  await search(batch.list)
  return refused
}

// Thrown to roll back a probing transaction.
const PROBED = new Error('probe')

async function writeInto(
  tx: Sql,
  schema: string,
  consumer: string | undefined,
  batch: ArchiveBatch,
  tolerant: boolean,
): Promise<void> {
  const archive: TableSpec = ARCHIVE_TABLE
  if (batch.archive.rows > 0) await copy(tx, schema, archive, batch.archive.data(), tolerant)
  for (const t of batch.tables.values()) {
    if (t.rows.rows > 0) await copy(tx, schema, t.spec, t.rows.data(), tolerant)
  }
  const values: unknown[] = []
  const tuples: string[] = []
  for (const [topic, byPartition] of batch.positions) {
    for (const [partition, next] of byPartition) {
      const i = values.length
      values.push(topic, partition, next)
      tuples.push(`($1, $${i + 2}, $${i + 3}, $${i + 4})`)
    }
  }
  if (consumer !== undefined && tuples.length > 0) {
    await tx.query(
      `INSERT INTO ${schema}.consumer_offsets (consumer, topic, partition, next_offset) VALUES ${tuples.join(', ')} ` +
        `ON CONFLICT (consumer, topic, partition) DO UPDATE SET next_offset = EXCLUDED.next_offset, updated_at = now()`,
      [consumer, ...values],
    )
  }
}

// COPY straight in, or through a temporary table and ON CONFLICT DO NOTHING.
async function copy(tx: Sql, schema: string, spec: TableSpec, data: Buffer, tolerant: boolean): Promise<void> {
  if (!tolerant) {
    await tx.copyFrom(copyTarget(schema, spec), data)
    return
  }
  const staging = quoteIdentifier(`staging_${spec.table}`)
  await tx.query(
    `CREATE TEMP TABLE IF NOT EXISTS ${staging} (LIKE ${schema}.${quoteIdentifier(spec.table)}) ON COMMIT DROP`,
  )
  await tx.copyFrom(copyTarget('pg_temp', { ...spec, table: `staging_${spec.table}` }), data)
  await tx.query(`INSERT INTO ${schema}.${quoteIdentifier(spec.table)} SELECT * FROM ${staging} ON CONFLICT DO NOTHING`)
  await tx.query(`DROP TABLE ${staging}`)
}

/** The raw archive as a table spec, for COPY. */
const ARCHIVE_TABLE: TableSpec = {
  table: 'archive',
  columns: [
    { column: 'ts', field: '', type: 'timestamp' },
    { column: 'key', field: '', type: 'text' },
    { column: 'headers', field: '', type: 'json' },
    { column: 'value_json', field: '', type: 'json' },
    { column: 'value_bytes', field: '', type: 'text' },
  ],
}

export type { ArchiveRecord }
