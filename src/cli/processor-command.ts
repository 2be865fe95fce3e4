/**
 * What `tickflow analyze` and `tickflow exchange` share: the options of a stream processor
 * (group, start, checkpoints, session timeout, metrics, quiet) and running one as a member of its
 * consumer group until Ctrl-C, with a progress line and optional Prometheus metrics.
 */
import { ErrorCodes, TickflowError } from '../errors.ts'
import { createProcessorMetrics, serveMetrics } from '../stream/metrics.ts'
import type { ProcessorDefinition } from '../stream/processor.ts'
import { runProcessor, type RuntimeStats } from '../stream/runtime.ts'
import { durationOption, intOption, type CommandIO, type OptionSpec } from './command.ts'
import { CONNECT_OPTIONS, connectFromOptions } from './connect.ts'
import { progress } from './progress.ts'

/** The runtime options of a processor command; `group` defaults to `tickflow-<name>`. */
export function processorOptions(name: string): Record<string, OptionSpec> {
  return {
    group: {
      type: 'string',
      value: 'ID',
      default: `tickflow-${name}`,
      description: 'Consumer group of the processors',
    },
    from: {
      type: 'string',
      value: 'WHERE',
      default: 'earliest',
      description: 'Where partitions without a checkpoint start: earliest or latest',
    },
    'checkpoint-interval': {
      type: 'string',
      value: 'DURATION',
      default: '1s',
      description: 'Snapshot the state at least this often',
    },
    'session-timeout': {
      type: 'string',
      value: 'DURATION',
      default: '10s',
      description: 'How soon the group moves the partitions of a crashed processor',
    },
    'metrics-port': { type: 'string', value: 'PORT', description: 'Serve Prometheus metrics on this port' },
    quiet: { type: 'boolean', description: 'No progress line' },
    ...CONNECT_OPTIONS,
  }
}

/**
 * Runs `definition` until stopped, as `values` (from {@link processorOptions}) say; `line` is the
 * progress line. Returns the runtime's counters and the seconds it ran.
 */
export async function runProcessorCommand(
  definition: ProcessorDefinition,
  values: Record<string, string | boolean | undefined>,
  io: CommandIO,
  line: (stats: RuntimeStats) => string,
): Promise<{ stats: RuntimeStats; seconds: number }> {
  const name = definition.name
  const from = values.from as string
  if (from !== 'earliest' && from !== 'latest') {
    throw new TickflowError(ErrorCodes.INVALID_ARGUMENT, `--from must be earliest or latest, got ${from}`)
  }
  const metricsPort = intOption('metrics-port', values['metrics-port'], 0)
  const checkpointIntervalMs = durationOption('checkpoint-interval', values['checkpoint-interval'])
  const sessionTimeoutMs = durationOption('session-timeout', values['session-timeout'])
  const connection = await connectFromOptions(values, io, `tickflow-${name}`)
  const abort = new AbortController()
  void io.stopSignal.then(() => abort.abort())
  const metrics = metricsPort === undefined ? undefined : createProcessorMetrics(name)
  const server =
    metrics === undefined || metricsPort === undefined
      ? undefined
      : await serveMetrics(metrics.registry, { port: metricsPort }).catch(async (err: unknown) => {
          await connection.close()
          throw err
        })
  if (server !== undefined) io.err(`metrics on http://127.0.0.1:${server.port}/metrics`)
  const bar = progress(io, values.quiet === true)
  const stats: RuntimeStats = { processed: 0, assigned: [], generation: -1, restores: 0 }
  const started = performance.now()
  const timer = setInterval(() => bar.update(() => line(stats)), 200)
  try {
    await runProcessor(
      definition,
      {
        bus: connection.bus,
        groupId: values.group as string,
        startFrom: from,
        checkpointIntervalMs,
        sessionTimeoutMs,
        metrics,
        signal: abort.signal,
        log: (l) => io.err(`${name}: ${l}`),
      },
      stats,
    )
  } finally {
    clearInterval(timer)
    bar.done()
    await server?.close()
    await connection.close()
  }
  return { stats, seconds: (performance.now() - started) / 1000 }
}
