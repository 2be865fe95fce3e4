/**
 * Prometheus metrics of a stream processor, and the HTTP endpoint that serves them
 * (`--metrics-port`).
 *
 * Each processor gets its own prom-client registry ({@link createProcessorMetrics}) whose every
 * series carries the label `processor="<name>"`, plus Node's default process metrics collected into
 * that same registry (never prom-client's global one), so two processors in one process neither
 * collide nor share counters. {@link serveMetrics} serves a registry as `GET /metrics` in the
 * Prometheus text format, with `GET /healthz` beside it.
 *
 * Observability costs nothing when off: the runtime takes {@link NO_METRICS}, whose methods do
 * nothing, and prom-client (about 30 ms to load) is loaded only by the first
 * {@link createProcessorMetrics} call, not by importing this module.
 *
 * Metric names (all series also carry `processor`):
 *
 * | name                                          | type      | labels      |
 * | --------------------------------------------- | --------- | ----------- |
 * | `tickflow_stream_records_in_total`            | counter   | `partition` |
 * | `tickflow_stream_records_out_total`           | counter   | `topic`     |
 * | `tickflow_stream_invalid_records_total`       | counter   |             |
 * | `tickflow_stream_late_records_total`          | counter   |             |
 * | `tickflow_stream_consumer_lag_records`        | gauge     | `partition` |
 * | `tickflow_stream_event_time_lag_seconds`      | gauge     | `partition` |
 * | `tickflow_stream_processing_latency_seconds`  | histogram |             |
 * | `tickflow_stream_checkpoint_duration_seconds` | histogram |             |
 * | `tickflow_stream_transactions_total`          | counter   | `outcome`   |
 * | `tickflow_stream_assigned_partitions`         | gauge     |             |
 * | `tickflow_stream_dropped_observations_total`  | counter   | `method`    |
 */
import { createRequire } from 'node:module'
import type { IncomingMessage, Server, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import type * as PromClient from 'prom-client'
import { ErrorCodes, TickflowError } from '../errors.ts'

/** What a stream processor reports. Every method is cheap and synchronous. */
export interface ProcessorMetrics {
  /** `n` records read from input partition `partition` (counter). */
  recordsIn(partition: number, n: number): void
  /** `n` records produced to `topic` (counter). */
  recordsOut(topic: string, n: number): void
  /** `n` records that failed to parse or validate and were dead-lettered (counter). */
  invalid(n: number): void
  /** `n` records that arrived too late for their window and were dead-lettered (counter). */
  late(n: number): void
  /**
   * Consumer lag of `partition` in records: high watermark − position (gauge). A negative value (a
   * high watermark older than the position) is reported as 0.
   */
  consumerLag(partition: number, lag: number): void
  /** Event-time lag of `partition` in milliseconds: now − max event time processed (gauge, exported in seconds). */
  eventTimeLag(partition: number, lagMs: number): void
  /**
   * Latency in seconds from an input record's append/produce time to its output being committed
   * (histogram). A negative value (clock skew) is recorded as 0.
   */
  processingLatency(seconds: number): void
  /** Duration of one checkpoint in seconds (histogram). A negative value is recorded as 0. */
  checkpointDuration(seconds: number): void
  /** `n` transactions ended with `outcome` (counter). */
  transactions(outcome: 'committed' | 'aborted', n: number): void
  /** Number of input partitions currently assigned (gauge). */
  assignedPartitions(n: number): void
  /**
   * Drops the per-partition gauges (consumer lag, event-time lag) of a partition that is no longer
   * assigned, so that they do not report stale values. Its records-in counter stays.
   */
  partitionRevoked?(partition: number): void
}

/** The prom-client registry of a processor; what {@link serveMetrics} serves. */
export type MetricsRegistry = PromClient.Registry

/** What {@link serveMetrics} needs of a registry (a prom-client `Registry` is one). */
export interface MetricsSource {
  /** The exposition text. */
  metrics(): Promise<string>
  /** Its content type, e.g. `text/plain; version=0.0.4; charset=utf-8`. */
  readonly contentType: string
}

/** Options of {@link createProcessorMetrics}. */
export interface ProcessorMetricsOptions {
  /** Also collect Node's default process metrics (`process_*`, `nodejs_*`) into the registry; default true. */
  defaultMetrics?: boolean
}

/** Prefix of every tickflow stream-processor metric. */
export const METRIC_PREFIX = 'tickflow_stream_'

/**
 * Histogram buckets (upper bounds, seconds) of the latency and duration histograms: 0.1 ms to 10 s
 * in 1–2.5–5 steps.
 */
export const LATENCY_BUCKETS: readonly number[] = Object.freeze([
  0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
])

const noop = (): void => {}

/** A no-op implementation for when metrics are off. */
export const NO_METRICS: Required<ProcessorMetrics> = Object.freeze({
  recordsIn: noop,
  recordsOut: noop,
  invalid: noop,
  late: noop,
  consumerLag: noop,
  eventTimeLag: noop,
  processingLatency: noop,
  checkpointDuration: noop,
  transactions: noop,
  assignedPartitions: noop,
  partitionRevoked: noop,
})

let promClient: typeof PromClient | undefined

/** prom-client, loaded on first use (it is CommonJS, so synchronously). */
function loadPromClient(): typeof PromClient {
  promClient ??= createRequire(import.meta.url)('prom-client') as typeof PromClient
  return promClient
}

function invalid(message: string): TickflowError {
  return new TickflowError(ErrorCodes.INVALID_ARGUMENT, message)
}

const isCount = (n: number): boolean => Number.isSafeInteger(n) && n >= 0

/** Label sets per partition, cached so that the hot path allocates nothing; undefined for a bad partition. */
function partitionLabels(cache: Map<number, { partition: string }>, p: number): { partition: string } | undefined {
  let labels = cache.get(p)
  if (labels === undefined && isCount(p)) {
    labels = { partition: String(p) }
    cache.set(p, labels)
  }
  return labels
}

/**
 * Metrics of one processor (label `processor=<name>`, e.g. "analyze"); all metric names prefixed
 * `tickflow_` (see the module doc for the list). An empty name throws a TickflowError
 * INVALID_ARGUMENT.
 *
 * Recording never throws: a metrics call must not fail the processor (the runtime records after a
 * transaction has committed). A call with an argument out of range (a negative or fractional count
 * or partition, a non-finite value, an unknown outcome) records nothing and counts one in
 * `tickflow_stream_dropped_observations_total{method}` instead, where a dashboard can see it.
 */
export function createProcessorMetrics(
  processor: string,
  options: ProcessorMetricsOptions = {},
): Required<ProcessorMetrics> & { registry: MetricsRegistry } {
  if (typeof processor !== 'string' || processor === '') throw invalid('processor name must be a non-empty string')
  const prom = loadPromClient()
  const registry = new prom.Registry()
  registry.setDefaultLabels({ processor })
  if (options.defaultMetrics ?? true) prom.collectDefaultMetrics({ register: registry })

  const registers = [registry]
  const buckets = [...LATENCY_BUCKETS]
  const recordsIn = new prom.Counter({
    name: `${METRIC_PREFIX}records_in_total`,
    help: 'Records read, by input partition.',
    labelNames: ['partition'],
    registers,
  })
  const recordsOut = new prom.Counter({
    name: `${METRIC_PREFIX}records_out_total`,
    help: 'Records produced, by output topic.',
    labelNames: ['topic'],
    registers,
  })
  const invalidRecords = new prom.Counter({
    name: `${METRIC_PREFIX}invalid_records_total`,
    help: 'Records that failed to parse or validate (dead-lettered).',
    registers,
  })
  const lateRecords = new prom.Counter({
    name: `${METRIC_PREFIX}late_records_total`,
    help: 'Records that arrived after their window closed (dead-lettered).',
    registers,
  })
  const consumerLag = new prom.Gauge({
    name: `${METRIC_PREFIX}consumer_lag_records`,
    help: 'Records behind the high watermark, by input partition.',
    labelNames: ['partition'],
    registers,
  })
  const eventTimeLag = new prom.Gauge({
    name: `${METRIC_PREFIX}event_time_lag_seconds`,
    help: 'Wall-clock time minus the latest event time processed, by input partition.',
    labelNames: ['partition'],
    registers,
  })
  const processingLatency = new prom.Histogram({
    name: `${METRIC_PREFIX}processing_latency_seconds`,
    help: "Time from an input record's append to its output being committed.",
    buckets,
    registers,
  })
  const checkpointDuration = new prom.Histogram({
    name: `${METRIC_PREFIX}checkpoint_duration_seconds`,
    help: 'Duration of a checkpoint (state flush, offsets and transaction commit).',
    buckets,
    registers,
  })
  const transactions = new prom.Counter({
    name: `${METRIC_PREFIX}transactions_total`,
    help: 'Transactions ended, by outcome.',
    labelNames: ['outcome'],
    registers,
  })
  const assignedPartitions = new prom.Gauge({
    name: `${METRIC_PREFIX}assigned_partitions`,
    help: 'Input partitions currently assigned.',
    registers,
  })

  // Known label values start at 0, so that rate() sees the first increment.
  const outcomeLabels = { committed: { outcome: 'committed' }, aborted: { outcome: 'aborted' } } as const
  transactions.inc(outcomeLabels.committed, 0)
  transactions.inc(outcomeLabels.aborted, 0)

  const partitions = new Map<number, { partition: string }>()
  const topics = new Map<string, { topic: string }>()

  const dropped = new prom.Counter({
    name: `${METRIC_PREFIX}dropped_observations_total`,
    help: 'Metric calls ignored because an argument was out of range (a bug in the caller), by method.',
    labelNames: ['method'],
    registers,
  })
  const drop = (method: keyof ProcessorMetrics): void => dropped.inc({ method }, 1)

  return {
    registry,
    recordsIn(partition, n) {
      const labels = partitionLabels(partitions, partition)
      if (labels === undefined || !isCount(n)) return drop('recordsIn')
      recordsIn.inc(labels, n)
    },
    recordsOut(topic, n) {
      let labels = topics.get(topic)
      if (labels === undefined && typeof topic === 'string' && topic !== '') {
        labels = { topic }
        topics.set(topic, labels)
      }
      if (labels === undefined || !isCount(n)) return drop('recordsOut')
      recordsOut.inc(labels, n)
    },
    invalid(n) {
      if (!isCount(n)) return drop('invalid')
      invalidRecords.inc(n)
    },
    late(n) {
      if (!isCount(n)) return drop('late')
      lateRecords.inc(n)
    },
    consumerLag(partition, lag) {
      const labels = partitionLabels(partitions, partition)
      if (labels === undefined || !Number.isFinite(lag)) return drop('consumerLag')
      consumerLag.set(labels, Math.max(0, lag))
    },
    eventTimeLag(partition, lagMs) {
      const labels = partitionLabels(partitions, partition)
      if (labels === undefined || !Number.isFinite(lagMs)) return drop('eventTimeLag')
      eventTimeLag.set(labels, lagMs / 1000)
    },
    processingLatency(seconds) {
      if (!Number.isFinite(seconds)) return drop('processingLatency')
      processingLatency.observe(Math.max(0, seconds))
    },
    checkpointDuration(seconds) {
      if (!Number.isFinite(seconds)) return drop('checkpointDuration')
      checkpointDuration.observe(Math.max(0, seconds))
    },
    transactions(outcome, n) {
      const labels = Object.hasOwn(outcomeLabels, outcome) ? outcomeLabels[outcome] : undefined
      if (labels === undefined || !isCount(n)) return drop('transactions')
      transactions.inc(labels, n)
    },
    assignedPartitions(n) {
      if (!isCount(n)) return drop('assignedPartitions')
      assignedPartitions.set(n)
    },
    partitionRevoked(partition) {
      const labels = partitionLabels(partitions, partition)
      if (labels === undefined) return drop('partitionRevoked')
      consumerLag.remove(labels)
      eventTimeLag.remove(labels)
    },
  }
}

/** Options of {@link serveMetrics}. */
export interface ServeMetricsOptions {
  /** TCP port; 0 picks a free one. */
  port: number
  /** Interface to bind; default `127.0.0.1` (use `0.0.0.0` for scrapes from other machines). */
  host?: string
}

/** A running metrics endpoint. */
export interface MetricsServer {
  /** The bound host. */
  readonly host: string
  /** The bound port (the one picked when 0 was asked). */
  readonly port: number
  /** Stops listening and drops open connections; resolves when the port is free. Idempotent. */
  close(): Promise<void>
}

/**
 * Serves `GET /metrics` (Prometheus text format, the registry's content type) and `GET /healthz`
 * (`ok`) on host:port (port 0 = any free port); resolves when listening. Other paths answer 404,
 * other methods 405. A port that cannot be opened rejects with a TickflowError LISTEN; an invalid
 * port with INVALID_ARGUMENT.
 */
export async function serveMetrics(registry: MetricsSource, options: ServeMetricsOptions): Promise<MetricsServer> {
  const { port } = options
  const host = options.host ?? '127.0.0.1'
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw invalid(`metrics port must be an integer from 0 to 65535, got ${port}`)
  }
  const http = await import('node:http')
  const server = http.createServer((req, res) => handle(registry, req, res))
  await new Promise<void>((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      reject(
        new TickflowError(ErrorCodes.LISTEN, `cannot listen on ${host}:${port}: ${err.code ?? err.message}`, {
          cause: err,
        }),
      )
    }
    server.once('error', onError)
    server.listen(port, host, () => {
      server.off('error', onError)
      resolve()
    })
  })
  const address = server.address() as AddressInfo
  let closing: Promise<void> | undefined
  return {
    host: address.address,
    port: address.port,
    close() {
      closing ??= closeServer(server)
      return closing
    },
  }
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve())
    server.closeAllConnections()
  })
}

function handle(registry: MetricsSource, req: IncomingMessage, res: ServerResponse): void {
  const path = new URL(req.url ?? '/', 'http://localhost').pathname
  if (path !== '/metrics' && path !== '/healthz') {
    reply(res, 404, 'text/plain; charset=utf-8', 'not found\n')
    return
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD')
    reply(res, 405, 'text/plain; charset=utf-8', 'method not allowed\n')
    return
  }
  if (path === '/healthz') {
    reply(res, 200, 'text/plain; charset=utf-8', 'ok\n')
    return
  }
  registry.metrics().then(
    (text) => reply(res, 200, registry.contentType, text),
    (err: unknown) => reply(res, 500, 'text/plain; charset=utf-8', `cannot collect metrics: ${String(err)}\n`),
  )
}

function reply(res: ServerResponse, status: number, contentType: string, body: string): void {
  res.writeHead(status, { 'content-type': contentType, 'content-length': Buffer.byteLength(body) })
  res.end(res.req.method === 'HEAD' ? undefined : body)
}
