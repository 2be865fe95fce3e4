/**
 * One share of a `stats` job: a set of partition ranges read by one client into one accumulator.
 * Runs inline or in a worker thread (worker.ts); the job merges the shares' partials exactly.
 */
import type { KeyedStatsJSON, SummaryStats } from '../../analytics/batch-stats.ts'
import type { BusConfig } from '../../bus/client.ts'
import { openReaderClient, type PartitionRange } from '../../bus/reader.ts'
import { scanRanges, type ScanRange } from '../../bus/scan.ts'
import { PriceAccumulator, type InvalidRecord, type Outlier } from './accumulator.ts'

export interface TaskSpec {
  bus: BusConfig
  topic: string
  ranges: PartitionRange[]
  /** Rows the column cache may hold; beyond it the outlier pass reads the topic again. */
  cacheRecords: number
}

/** What the first pass of a share reports. */
export interface PassOneResult {
  count: number
  invalid: number
  invalidExamples: InvalidRecord[]
  stats: KeyedStatsJSON
}

export class StatsTask {
  private readonly spec: TaskSpec
  private readonly acc: PriceAccumulator
  private readonly client

  constructor(spec: TaskSpec) {
    this.spec = spec
    this.acc = new PriceAccumulator(spec.cacheRecords)
    this.client = openReaderClient(spec.bus)
  }

  /** Reads the ranges into the accumulator; `onProgress` gets records read so far. */
  async passOne(onProgress?: (read: number) => void): Promise<PassOneResult> {
    const acc = this.acc
    await scanRanges(this.client, {
      topic: this.spec.topic,
      ranges: this.ranges(),
      clientId: this.spec.bus.clientId,
      onRecord: (value, partition, offset) => acc.add(value, partition, offset),
      onProgress: () => onProgress?.(acc.count),
    })
    return { count: acc.count, invalid: acc.invalid, invalidExamples: acc.invalidExamples, stats: acc.stats().toJSON() }
  }

  /** The outliers of this share, given the merged per-symbol summaries. */
  async passTwo(summaries: Record<string, SummaryStats>, k: number): Promise<Outlier[]> {
    if (this.acc.cacheComplete) return this.acc.cachedOutliers(summaries, k)
    const out: Outlier[] = []
    await scanRanges(this.client, {
      topic: this.spec.topic,
      ranges: this.ranges(),
      clientId: this.spec.bus.clientId,
      onRecord: (value, partition, offset) => {
        const o = this.acc.outlierOf(value, summaries, k, partition, offset)
        if (o !== undefined) out.push(o)
      },
    })
    return out
  }

  // Stats ranges are always bounded: the job reads up to the end offsets seen at its start.
  private ranges(): ScanRange[] {
    return this.spec.ranges.map((r) => ({ partition: r.partition, from: r.from, to: r.to! }))
  }

  async close(): Promise<void> {
    await this.client.close()
  }
}
