/**
 * `tickflow stats`: statistics of every message of a topic as of the job's start. The partitions
 * are split among workers (threads when there is more than one), each reading its ranges with its
 * own client; their Welford partials merge exactly (Chan et al.), then each worker finds the
 * outliers of its share against the merged per-symbol mean and std.
 */
import { Worker } from 'node:worker_threads'
import { KeyedStats, type SummaryStats } from '../../analytics/batch-stats.ts'
import type { BusConfig } from '../../bus/client.ts'
import { openReaderClient, partitionBounds, type PartitionRange } from '../../bus/reader.ts'
import { ErrorCodes, TickflowError } from '../../errors.ts'
import type { InvalidRecord, Outlier } from './accumulator.ts'
import { StatsTask, type PassOneResult, type TaskSpec } from './task.ts'

export interface StatsJobOptions {
  bus: BusConfig
  topic: string
  /** Outlier threshold in standard deviations. */
  k: number
  /** Parallel readers; 1 reads in this thread. */
  workers: number
  /** Rows of the outlier cache across all workers (0 = read the topic twice). */
  cacheRecords: number
  /** Records read so far, of `total`. */
  onProgress?(read: number, total: number): void
}

export interface StatsResult {
  topic: string
  /** Messages read: valid and invalid. */
  count: number
  symbols: Record<string, SummaryStats>
  /** By timestamp, then partition and offset. */
  outliers: Outlier[]
  invalid: number
  invalidExamples: InvalidRecord[]
  /** End offsets the job read up to, by partition. */
  endOffsets: string[]
}

/** A share of the job: passOne then passTwo, inline or in a worker thread. */
interface Share {
  passOne(onProgress: (read: number) => void): Promise<PassOneResult>
  passTwo(summaries: Record<string, SummaryStats>, k: number): Promise<Outlier[]>
  close(): Promise<void>
}

export async function runStatsJob(options: StatsJobOptions): Promise<StatsResult> {
  const client = openReaderClient(options.bus)
  let bounds
  try {
    bounds = await partitionBounds(client, options.topic)
  } finally {
    await client.close()
  }
  const ranges = bounds
    .filter((b) => b.end > b.start)
    .map((b) => ({ partition: b.partition, from: b.start, to: b.end }))
  const total = ranges.reduce((a, r) => a + Number(r.to - r.from), 0)
  const groups = splitRanges(ranges, Math.max(1, Math.min(options.workers, ranges.length)))
  const cacheEach = Math.floor(options.cacheRecords / Math.max(1, groups.length))
  const shares: Share[] = groups.map((group) => {
    const spec: TaskSpec = { bus: options.bus, topic: options.topic, ranges: group, cacheRecords: cacheEach }
    return groups.length === 1 ? new StatsTask(spec) : new WorkerShare(spec)
  })
  try {
    const reads = shares.map(() => 0)
    const one = await Promise.all(
      shares.map((share, i) =>
        share.passOne((read) => {
          reads[i] = read
          options.onProgress?.(
            reads.reduce((a, b) => a + b, 0),
            total,
          )
        }),
      ),
    )
    const stats = new KeyedStats()
    for (const r of one) stats.merge(KeyedStats.fromJSON(r.stats))
    const symbols = stats.summary()
    const outliers = (await Promise.all(shares.map((s) => s.passTwo(symbols, options.k)))).flat()
    outliers.sort((a, b) =>
      a.ts !== b.ts
        ? a.ts < b.ts
          ? -1
          : 1
        : a.partition - b.partition || (BigInt(a.offset) < BigInt(b.offset) ? -1 : 1),
    )
    return {
      topic: options.topic,
      count: one.reduce((a, r) => a + r.count, 0),
      symbols,
      outliers,
      invalid: one.reduce((a, r) => a + r.invalid, 0),
      invalidExamples: one.flatMap((r) => r.invalidExamples),
      endOffsets: bounds.map((b) => String(b.end)),
    }
  } finally {
    await Promise.all(shares.map((s) => s.close()))
  }
}

/** Splits ranges into `n` groups of about equal record counts (largest first, to the lightest group). */
export function splitRanges(ranges: Required<PartitionRange>[], n: number): Required<PartitionRange>[][] {
  const groups: Required<PartitionRange>[][] = Array.from({ length: n }, () => [])
  const load = new Array<bigint>(n).fill(0n)
  const sorted = ranges.slice().sort((a, b) => (b.to - b.from > a.to - a.from ? 1 : -1))
  for (const r of sorted) {
    let best = 0
    for (let i = 1; i < n; i++) if (load[i] < load[best]) best = i
    groups[best].push(r)
    load[best] += r.to - r.from
  }
  return groups.filter((g) => g.length > 0)
}

/** A share run by worker.ts in a thread of its own. */
class WorkerShare implements Share {
  private readonly worker: Worker
  private readonly messages: { type: string; [k: string]: unknown }[] = []
  private waiter: (() => void) | undefined
  private failure: Error | undefined

  constructor(spec: TaskSpec) {
    this.worker = new Worker(new URL('./worker.ts', import.meta.url), { workerData: spec })
    this.worker.on('message', (m: { type: string }) => {
      this.messages.push(m)
      this.waiter?.()
    })
    this.worker.on('error', (err) => {
      this.failure = err
      this.waiter?.()
    })
    this.worker.on('exit', () => {
      this.failure ??= new TickflowError(ErrorCodes.CLOSED, 'a stats worker exited early')
      this.waiter?.()
    })
  }

  async passOne(onProgress: (read: number) => void): Promise<PassOneResult> {
    for (;;) {
      const m = await this.next()
      if (m.type === 'progress') onProgress(m.read as number)
      else if (m.type === 'pass-one') return m.result as PassOneResult
    }
  }

  async passTwo(summaries: Record<string, SummaryStats>, k: number): Promise<Outlier[]> {
    this.worker.postMessage({ summaries, k })
    for (;;) {
      const m = await this.next()
      if (m.type === 'pass-two') return m.outliers as Outlier[]
    }
  }

  async close(): Promise<void> {
    await this.worker.terminate()
  }

  private async next(): Promise<{ type: string; [k: string]: unknown }> {
    for (;;) {
      const m = this.messages.shift()
      if (m !== undefined) {
        if (m.type === 'error') throw new TickflowError(ErrorCodes.CLOSED, `stats worker: ${String(m.message)}`)
        return m
      }
      if (this.failure !== undefined) throw this.failure
      await new Promise<void>((resolve) => (this.waiter = resolve))
      this.waiter = undefined
    }
  }
}
