/**
 * `tickflow analyze`: the streaming analytics processor — `prices` in; `volatility`, `bars.<interval>`
 * and `signals` out, exactly once — as one member of its consumer group. Run several to scale out.
 */
import { indicatorConfig } from '../../analytics/indicators.ts'
import { parseIntervals } from '../../analytics/intervals.ts'
import { signalConfig } from '../../analytics/signals.ts'
import { ErrorCodes, TickflowError } from '../../errors.ts'
import { analyzeProcessor, DEFAULT_ANALYZE_CONFIG, type AnalyzeConfig } from '../../stream/analyze.ts'
import { defineCommand, durationOption, intOption } from '../command.ts'
import { processorOptions, runProcessorCommand } from '../processor-command.ts'
import { formatCount } from '../progress.ts'

export default defineCommand({
  name: 'analyze',
  summary: 'Compute EMA, volatility, bars and signals from prices, exactly once (Ctrl-C to stop).',
  usage: 'tickflow analyze [--window N] [--bars 1s,1m,5m] [--group ID] [--metrics-port PORT]',
  options: {
    input: { type: 'string', value: 'TOPIC', default: 'prices', description: 'The price topic to read' },
    window: {
      type: 'string',
      value: 'N',
      default: '100',
      description: 'Window of SMA, price_std, volatility and z-score; EMA span too unless --ema-span',
    },
    'ema-span': { type: 'string', value: 'N', description: 'EMA span, alpha = 2/(N+1) (default: --window)' },
    'ema-adjust': {
      type: 'boolean',
      description: "EMA in pandas' adjust=True form (normalised weights) instead of the recursive form",
    },
    'z-threshold': { type: 'string', value: 'Z', default: '3', description: 'Outlier when |z-score| > Z' },
    bars: { type: 'string', value: 'LIST', default: '1m', description: 'Bar intervals, e.g. 1s,1m,5m,1h' },
    lateness: {
      type: 'string',
      value: 'DURATION',
      default: '1s',
      description: 'Allowed lateness: the watermark trails the latest event time by this much',
    },
    grace: {
      type: 'string',
      value: 'DURATION',
      default: '0ms',
      description: 'A bar is final once the watermark passes its end plus this',
    },
    'idle-timeout': {
      type: 'string',
      value: 'DURATION',
      default: '5s',
      description: 'Advance the watermark of a partition silent this long (0 = never)',
    },
    ...processorOptions('analyze'),
  },
  async run(values, positionals, io) {
    if (positionals.length > 0) {
      throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `unexpected argument ${positionals[0]}`)
    }
    const config = analyzeConfigFromOptions(values)
    const { stats, seconds } = await runProcessorCommand(
      analyzeProcessor(config),
      values,
      io,
      (st) =>
        `analyze: ${formatCount(st.processed)} ticks, partitions [${st.assigned.join(',')}] (generation ${st.generation})`,
    )
    io.out(`analyzed ${formatCount(stats.processed)} ticks in ${seconds.toFixed(1)} s`)
    return 0
  },
})

/** The analyze settings from command-line values (shared with `up`). */
export function analyzeConfigFromOptions(values: Record<string, string | boolean | undefined>): AnalyzeConfig {
  const window = intOption('window', values.window, 2) ?? 100
  const zThreshold = Number(values['z-threshold'] ?? 3)
  if (!(zThreshold > 0)) {
    throw new TickflowError(
      ErrorCodes.INVALID_ARGUMENT,
      `--z-threshold must be a positive number, got ${values['z-threshold']}`,
    )
  }
  return {
    ...DEFAULT_ANALYZE_CONFIG,
    input: (values.input as string | undefined) ?? 'prices',
    indicators: indicatorConfig({
      window,
      emaSpan: intOption('ema-span', values['ema-span'], 1) ?? window,
      emaAdjust: values['ema-adjust'] === true,
      zThreshold,
    }),
    signals: signalConfig(),
    bars: parseIntervals((values.bars as string | undefined) ?? '1m'),
    graceMs: durationOption('grace', values.grace) ?? 0,
    watermark: {
      allowedLatenessMs: durationOption('lateness', values.lateness) ?? 1000,
      idleTimeoutMs: durationOption('idle-timeout', values['idle-timeout']) ?? 5000,
    },
  }
}
