/**
 * One share of a `stats` job: a set of partition ranges read by one client into one accumulator.
 * Runs inline or in a worker thread (worker.ts); the job merges the shares' partials exactly.
 */
import type { KeyedStatsJSON, SummaryStats } from '../../analytics/batch-stats.ts'
import type { BusConfig } from '../../bus/client.ts'
import { openReaderClient, readRanges, type PartitionRange } from '../../bus/reader.ts'
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
    for await (const chunk of readRanges(this.client, { topic: this.spec.topic, ranges: this.spec.ranges })) {
      const { records, offsets, partition } = chunk
      for (let i = 0; i < records.length; i++) acc.add(records[i].value, partition, offsets[i])
      onProgress?.(acc.count)
    }
    return { count: acc.count, invalid: acc.invalid, invalidExamples: acc.invalidExamples, stats: acc.stats().toJSON() }
  }

  /** The outliers of this share, given the merged per-symbol summaries. */
  async passTwo(summaries: Record<string, SummaryStats>, k: number): Promise<Outlier[]> {
    if (this.acc.cacheComplete) return this.acc.cachedOutliers(summaries, k)
    const out: Outlier[] = []
    for await (const chunk of readRanges(this.client, { topic: this.spec.topic, ranges: this.spec.ranges })) {
      const { records, offsets, partition } = chunk
      for (let i = 0; i < records.length; i++) {
        const o = this.acc.outlierOf(records[i].value, summaries, k, partition, offsets[i])
        if (o !== undefined) out.push(o)
      }
    }
    return out
  }

  async close(): Promise<void> {
    await this.client.close()
  }
}
