/** `tickflow stats`: count, per-symbol statistics and outliers of every message in a prices topic. */
import os from 'node:os'
import { DEFAULT_OUTLIER_K } from '../../analytics/batch-stats.ts'
import { ErrorCodes, TickflowError } from '../../errors.ts'
import { runStatsJob, type StatsResult } from '../../stream/stats/job.ts'
import { defineCommand, intOption, type CommandIO } from '../command.ts'
import { CONNECT_OPTIONS, connectFromOptions } from '../connect.ts'
import { formatCount, progress } from '../progress.ts'
import { formatTable } from '../table.ts'

export default defineCommand({
  name: 'stats',
  summary: 'Statistics of every message in a prices topic as of now: counts, min/max/mean/std per symbol, outliers.',
  usage: 'tickflow stats [--topic prices] [--outlier-k 3] [--json]',
  options: {
    topic: { type: 'string', value: 'T', default: 'prices', description: 'Topic of {ts, symbol, price} messages' },
    'outlier-k': {
      type: 'string',
      value: 'K',
      default: String(DEFAULT_OUTLIER_K),
      description: "Outliers are messages more than K standard deviations from their symbol's mean",
    },
    json: { type: 'boolean', description: 'Print one JSON document {count, symbols, outliers, invalid}' },
    'max-outliers': { type: 'string', value: 'N', description: 'Text output: list at most N outliers (default: all)' },
    workers: {
      type: 'string',
      value: 'N',
      description: `Parallel readers (default: one per CPU but one, ${defaultWorkers()} here; at most one per partition)`,
    },
    'cache-records': {
      type: 'string',
      value: 'N',
      default: '20000000',
      description: 'Messages kept in memory (20 bytes each) for the outlier pass; beyond that the topic is read twice',
    },
    quiet: { type: 'boolean', short: 'q', description: 'No progress line' },
    ...CONNECT_OPTIONS,
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `unexpected argument ${positionals[0]} (use --topic)`)
    }
    const k = Number(values['outlier-k'])
    if (!(k > 0 && Number.isFinite(k))) {
      throw new TickflowError(
        ErrorCodes.INVALID_ARGUMENT,
        `--outlier-k must be a positive number, got ${String(values['outlier-k'])}`,
      )
    }
    const workers = intOption('workers', values.workers, 1) ?? defaultWorkers()
    const cacheRecords = intOption('cache-records', values['cache-records'], 0)!
    const maxOutliers = intOption('max-outliers', values['max-outliers'], 0)
    const connection = await connectFromOptions(values, io, 'tickflow-stats')
    const bar = progress(io, values.quiet === true)
    let result: StatsResult
    try {
      result = await runStatsJob({
        bus: connection.bus,
        topic: values.topic as string,
        k,
        workers,
        cacheRecords,
        onProgress: (read, total) =>
          bar.update(() => `stats: ${formatCount(read)} of ${formatCount(total)} messages read`),
      })
    } finally {
      bar.done()
      await connection.close()
    }
    if (values.json === true) {
      io.out(
        JSON.stringify({
          count: result.count,
          symbols: result.symbols,
          outliers: result.outliers.map((o) => ({ ts: o.ts, symbol: o.symbol, price: o.price })),
          invalid: result.invalid,
        }),
      )
    } else {
      printText(io, result, k, maxOutliers)
    }
    return 0
  },
})

function printText(io: CommandIO, r: StatsResult, k: number, maxOutliers: number | undefined): void {
  io.out(
    `${r.topic}: ${formatCount(r.count)} messages (${r.endOffsets.length} partitions, end offsets ${r.endOffsets.join(', ')})`,
  )
  const rows = Object.entries(r.symbols).map(([symbol, s]) => [
    symbol,
    formatCount(s.count),
    num(s.min),
    num(s.max),
    num(s.mean),
    num(s.std),
  ])
  const header = ['symbol', 'count', 'min', 'max', 'mean', 'std']
  if (rows.length > 0) {
    io.out('')
    for (const l of formatTable(header, rows, [false, true, true, true, true, true])) io.out(l)
  }
  io.out('')
  io.out(`outliers (|price - mean| > ${k} std of the symbol): ${formatCount(r.outliers.length)}`)
  const shown = maxOutliers === undefined ? r.outliers : r.outliers.slice(0, maxOutliers)
  for (const o of shown) io.out(`  ${o.ts}  ${o.symbol}  ${o.price}`)
  if (shown.length < r.outliers.length)
    io.out(`  ... ${formatCount(r.outliers.length - shown.length)} more (see --json)`)
  if (r.invalid > 0) {
    io.out('')
    io.out(`invalid messages (not counted in the statistics): ${formatCount(r.invalid)}`)
    for (const e of r.invalidExamples.slice(0, 10)) io.out(`  partition ${e.partition} offset ${e.offset}: ${e.reason}`)
  }
}

function num(v: number | null): string {
  return v === null ? '-' : Number(v.toPrecision(10)).toString()
}

// One CPU is left to the broker and the main thread, which receives the fetched bytes.
function defaultWorkers(): number {
  return Math.max(1, os.availableParallelism() - 1)
}
