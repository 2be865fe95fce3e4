import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import net from 'node:net'
import { ErrorCodes, isTickflowError } from '../../src/errors.ts'
import {
  LATENCY_BUCKETS,
  NO_METRICS,
  createProcessorMetrics,
  serveMetrics,
  type MetricsServer,
} from '../../src/stream/metrics.ts'

interface Sample {
  name: string
  labels: Record<string, string>
  value: number
}

interface Exposition {
  samples: Sample[]
  /** `# TYPE` of each metric family. */
  types: Map<string, string>
  /** Metric families with a `# HELP` line. */
  helps: Set<string>
}

const SAMPLE_LINE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"(?:,|$)/y

/** Parses the Prometheus text exposition format strictly: any line it does not understand fails the test. */
function parseExposition(text: string): Exposition {
  const samples: Sample[] = []
  const types = new Map<string, string>()
  const helps = new Set<string>()
  for (const line of text.split('\n')) {
    if (line === '') continue
    if (line.startsWith('# HELP ')) {
      helps.add(line.split(' ')[2])
      continue
    }
    if (line.startsWith('# TYPE ')) {
      const [, , name, type] = line.split(' ')
      assert.match(type, /^(counter|gauge|histogram|summary|untyped)$/, line)
      assert.equal(types.has(name), false, `duplicate TYPE for ${name}`)
      types.set(name, type)
      continue
    }
    const m = SAMPLE_LINE.exec(line)
    assert.ok(m, `not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    if (m[2] !== undefined && m[2] !== '') {
      LABEL.lastIndex = 0
      while (LABEL.lastIndex < m[2].length) {
        const l = LABEL.exec(m[2])
        assert.ok(l, `bad labels in: ${line}`)
        labels[l[1]] = l[2].replace(/\\(.)/g, (_, c: string) => (c === 'n' ? '\n' : c))
      }
    }
    // Prometheus parses values with Go's ParseFloat, which takes NaN in any case (prom-client writes "Nan").
    const value = m[3] === '+Inf' ? Infinity : m[3] === '-Inf' ? -Infinity : Number(m[3])
    assert.ok(!Number.isNaN(value) || /^nan$/i.test(m[3]), `bad value in: ${line}`)
    samples.push({ name: m[1], labels, value })
  }
  return { samples, types, helps }
}

/** The single sample named `name` whose labels are exactly `labels`. */
function sample(exp: Exposition, name: string, labels: Record<string, string>): number {
  const found = exp.samples.filter((s) => s.name === name && sameLabels(s.labels, labels))
  assert.equal(found.length, 1, `${name}${JSON.stringify(labels)}: ${found.length} samples`)
  return found[0].value
}

function sameLabels(a: Record<string, string>, b: Record<string, string>): boolean {
  const ka = Object.keys(a).sort()
  const kb = Object.keys(b).sort()
  return ka.length === kb.length && ka.every((k, i) => k === kb[i] && a[k] === b[k])
}

/** `le` → cumulative count of a histogram's buckets. */
function buckets(exp: Exposition, name: string, labels: Record<string, string>): Map<string, number> {
  const out = new Map<string, number>()
  for (const s of exp.samples) {
    if (s.name !== `${name}_bucket`) continue
    const { le, ...rest } = s.labels
    if (sameLabels(rest, labels)) out.set(le, s.value)
  }
  return out
}

async function start(registry: Parameters<typeof serveMetrics>[0], t: { after(fn: () => unknown): void }) {
  const server = await serveMetrics(registry, { port: 0 })
  t.after(() => server.close())
  return server
}

async function scrape(server: MetricsServer): Promise<{ res: Response; exp: Exposition }> {
  const res = await fetch(`http://127.0.0.1:${server.port}/metrics`)
  assert.equal(res.status, 200)
  return { res, exp: parseExposition(await res.text()) }
}

test('serves exact counter, gauge and histogram values with the processor label', async (t) => {
  const metrics = createProcessorMetrics('analyze')
  const server = await start(metrics.registry, t)
  assert.ok(server.port > 0)
  assert.equal(server.host, '127.0.0.1')

  metrics.recordsIn(0, 5)
  metrics.recordsIn(0, 7)
  metrics.recordsIn(2, 1)
  metrics.recordsOut('analytics', 10)
  metrics.recordsOut('dlq.prices', 3)
  metrics.recordsOut('analytics', 2)
  metrics.invalid(2)
  metrics.late(1)
  metrics.late(4)
  metrics.consumerLag(0, 120)
  metrics.consumerLag(0, 40) // a gauge: the last value counts
  metrics.consumerLag(2, -3) // stale high watermark: reported as 0
  metrics.eventTimeLag(0, 2500)
  metrics.eventTimeLag(2, 125)
  const latencies = [0.00005, 0.003, 0.003, 0.01, 0.7, 20]
  for (const s of latencies) metrics.processingLatency(s)
  metrics.processingLatency(-0.002) // clock skew: recorded as 0
  metrics.checkpointDuration(0.04)
  metrics.checkpointDuration(0.3)
  metrics.transactions('committed', 3)
  metrics.transactions('committed', 1)
  metrics.transactions('aborted', 1)
  metrics.assignedPartitions(2)

  const { res, exp } = await scrape(server)
  assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4; charset=utf-8$/)

  const p = { processor: 'analyze' }
  assert.equal(sample(exp, 'tickflow_stream_records_in_total', { ...p, partition: '0' }), 12)
  assert.equal(sample(exp, 'tickflow_stream_records_in_total', { ...p, partition: '2' }), 1)
  assert.equal(sample(exp, 'tickflow_stream_records_out_total', { ...p, topic: 'analytics' }), 12)
  assert.equal(sample(exp, 'tickflow_stream_records_out_total', { ...p, topic: 'dlq.prices' }), 3)
  assert.equal(sample(exp, 'tickflow_stream_invalid_records_total', p), 2)
  assert.equal(sample(exp, 'tickflow_stream_late_records_total', p), 5)
  assert.equal(sample(exp, 'tickflow_stream_consumer_lag_records', { ...p, partition: '0' }), 40)
  assert.equal(sample(exp, 'tickflow_stream_consumer_lag_records', { ...p, partition: '2' }), 0)
  assert.equal(sample(exp, 'tickflow_stream_event_time_lag_seconds', { ...p, partition: '0' }), 2.5)
  assert.equal(sample(exp, 'tickflow_stream_event_time_lag_seconds', { ...p, partition: '2' }), 0.125)
  assert.equal(sample(exp, 'tickflow_stream_transactions_total', { ...p, outcome: 'committed' }), 4)
  assert.equal(sample(exp, 'tickflow_stream_transactions_total', { ...p, outcome: 'aborted' }), 1)
  assert.equal(sample(exp, 'tickflow_stream_assigned_partitions', p), 2)

  // Histogram: count, sum (in observation order, as the registry adds them) and cumulative buckets.
  const latency = 'tickflow_stream_processing_latency_seconds'
  assert.equal(sample(exp, `${latency}_count`, p), 7)
  assert.equal(
    sample(exp, `${latency}_sum`, p),
    [...latencies, 0].reduce((a, b) => a + b, 0),
  )
  const lb = buckets(exp, latency, p)
  assert.deepEqual([...lb.keys()], [...LATENCY_BUCKETS.map(String), '+Inf'], 'buckets from 0.1 ms to 10 s, then +Inf')
  assert.equal(lb.get('0.0001'), 2) // 0.00005 and the clamped -0.002
  assert.equal(lb.get('0.0025'), 2)
  assert.equal(lb.get('0.005'), 4) // + 0.003 twice
  assert.equal(lb.get('0.01'), 5) // le is inclusive: 0.01 lands in le="0.01"
  assert.equal(lb.get('0.5'), 5)
  assert.equal(lb.get('1'), 6) // + 0.7
  assert.equal(lb.get('10'), 6)
  assert.equal(lb.get('+Inf'), 7) // + 20
  const checkpoint = 'tickflow_stream_checkpoint_duration_seconds'
  assert.equal(sample(exp, `${checkpoint}_count`, p), 2)
  assert.equal(sample(exp, `${checkpoint}_sum`, p), 0.04 + 0.3)
  assert.equal(buckets(exp, checkpoint, p).get('0.025'), 0)
  assert.equal(buckets(exp, checkpoint, p).get('0.05'), 1)
  assert.equal(buckets(exp, checkpoint, p).get('0.5'), 2)

  // Every family is typed and documented, counters end in _total, and every series names the processor.
  const expectedTypes: Record<string, string> = {
    tickflow_stream_records_in_total: 'counter',
    tickflow_stream_records_out_total: 'counter',
    tickflow_stream_invalid_records_total: 'counter',
    tickflow_stream_late_records_total: 'counter',
    tickflow_stream_consumer_lag_records: 'gauge',
    tickflow_stream_event_time_lag_seconds: 'gauge',
    tickflow_stream_processing_latency_seconds: 'histogram',
    tickflow_stream_checkpoint_duration_seconds: 'histogram',
    tickflow_stream_transactions_total: 'counter',
    tickflow_stream_assigned_partitions: 'gauge',
    tickflow_stream_dropped_observations_total: 'counter',
  }
  const ours = [...exp.types].filter(([name]) => name.startsWith('tickflow_'))
  assert.deepEqual(Object.fromEntries(ours), expectedTypes)
  for (const [name, type] of exp.types) {
    assert.ok(exp.helps.has(name), `${name} has HELP`)
    if (type === 'counter') assert.match(name, /_total$/)
  }
  for (const s of exp.samples) assert.equal(s.labels.processor, 'analyze', `${s.name} has processor label`)

  // Default process metrics are in the processor's own registry.
  assert.equal(exp.types.get('process_cpu_user_seconds_total'), 'counter')
  assert.equal(exp.types.get('nodejs_heap_size_total_bytes'), 'gauge')
  assert.ok(sample(exp, 'process_resident_memory_bytes', p) > 0)
  assert.equal(
    exp.samples.some((s) => s.name === 'tickflow_stream_dropped_observations_total'),
    false,
    'no call was dropped',
  )
})

test('counters start at zero and grow between scrapes', async (t) => {
  const metrics = createProcessorMetrics('match', { defaultMetrics: false })
  const server = await start(metrics.registry, t)
  const p = { processor: 'match' }

  const before = (await scrape(server)).exp
  assert.equal(sample(before, 'tickflow_stream_invalid_records_total', p), 0)
  assert.equal(sample(before, 'tickflow_stream_transactions_total', { ...p, outcome: 'committed' }), 0)
  assert.equal(sample(before, 'tickflow_stream_transactions_total', { ...p, outcome: 'aborted' }), 0)
  assert.equal(sample(before, 'tickflow_stream_processing_latency_seconds_count', p), 0)
  assert.equal(
    before.samples.some((s) => s.name === 'tickflow_stream_records_in_total'),
    false,
    'no partition series before a partition is seen',
  )
  assert.equal(
    before.samples.some((s) => s.name.startsWith('process_') || s.name.startsWith('nodejs_')),
    false,
    'defaultMetrics: false leaves the process metrics out',
  )

  metrics.invalid(3)
  metrics.recordsIn(1, 4)
  const after = (await scrape(server)).exp
  assert.equal(sample(after, 'tickflow_stream_invalid_records_total', p), 3)
  assert.equal(sample(after, 'tickflow_stream_records_in_total', { ...p, partition: '1' }), 4)
  metrics.invalid(1)
  assert.equal(sample((await scrape(server)).exp, 'tickflow_stream_invalid_records_total', p), 4)
})

test('two processors in one process have separate registries, each with the process metrics', async (t) => {
  const a = createProcessorMetrics('analyze')
  const b = createProcessorMetrics('match')
  assert.notEqual(a.registry, b.registry)
  const sa = await start(a.registry, t)
  const sb = await start(b.registry, t)
  assert.notEqual(sa.port, sb.port)

  a.recordsIn(0, 10)
  b.recordsIn(0, 3)
  a.transactions('aborted', 2)

  const ea = (await scrape(sa)).exp
  const eb = (await scrape(sb)).exp
  assert.equal(sample(ea, 'tickflow_stream_records_in_total', { processor: 'analyze', partition: '0' }), 10)
  assert.equal(sample(eb, 'tickflow_stream_records_in_total', { processor: 'match', partition: '0' }), 3)
  assert.equal(sample(ea, 'tickflow_stream_transactions_total', { processor: 'analyze', outcome: 'aborted' }), 2)
  assert.equal(sample(eb, 'tickflow_stream_transactions_total', { processor: 'match', outcome: 'aborted' }), 0)
  for (const exp of [ea, eb]) {
    assert.equal(exp.types.get('process_cpu_user_seconds_total'), 'counter')
    assert.equal(exp.types.get('nodejs_eventloop_lag_seconds'), 'gauge')
  }
  assert.ok(eb.samples.every((s) => s.labels.processor === 'match'))
})

test('partitionRevoked drops the partition gauges but keeps its counter', async (t) => {
  const metrics = createProcessorMetrics('analyze', { defaultMetrics: false })
  const server = await start(metrics.registry, t)
  const p = { processor: 'analyze' }
  metrics.recordsIn(1, 6)
  metrics.consumerLag(1, 9)
  metrics.eventTimeLag(1, 1000)
  metrics.consumerLag(0, 4)
  metrics.partitionRevoked(1)

  const { exp } = await scrape(server)
  const lagPartitions = exp.samples
    .filter(
      (s) => s.name === 'tickflow_stream_consumer_lag_records' || s.name === 'tickflow_stream_event_time_lag_seconds',
    )
    .map((s) => `${s.name}/${s.labels.partition}`)
  assert.deepEqual(lagPartitions, ['tickflow_stream_consumer_lag_records/0'])
  assert.equal(sample(exp, 'tickflow_stream_records_in_total', { ...p, partition: '1' }), 6)
})

test('serves /healthz, answers 404 for other paths and 405 for other methods', async (t) => {
  const metrics = createProcessorMetrics('analyze', { defaultMetrics: false })
  const server = await start(metrics.registry, t)
  const base = `http://127.0.0.1:${server.port}`

  const health = await fetch(`${base}/healthz`)
  assert.equal(health.status, 200)
  assert.equal(await health.text(), 'ok\n')

  for (const path of ['/', '/metric', '/metrics/x', '/favicon.ico']) {
    const res = await fetch(`${base}${path}`)
    assert.equal(res.status, 404, path)
    await res.arrayBuffer()
  }

  const withQuery = await fetch(`${base}/metrics?name[]=x`)
  assert.equal(withQuery.status, 200)
  assert.match(await withQuery.text(), /^# HELP tickflow_stream_records_in_total /m)

  const post = await fetch(`${base}/metrics`, { method: 'POST', body: 'x' })
  assert.equal(post.status, 405)
  assert.equal(post.headers.get('allow'), 'GET, HEAD')
  await post.arrayBuffer()

  const head = await fetch(`${base}/metrics`, { method: 'HEAD' })
  assert.equal(head.status, 200)
  assert.match(head.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/)
  assert.equal(await head.text(), '')
})

test('answers 500 when the registry cannot collect', async (t) => {
  const failing = {
    contentType: 'text/plain; version=0.0.4; charset=utf-8',
    metrics: () => Promise.reject(new Error('collector broke')),
  }
  const server = await start(failing, t)
  const res = await fetch(`http://127.0.0.1:${server.port}/metrics`)
  assert.equal(res.status, 500)
  assert.match(await res.text(), /collector broke/)
})

test('a port already in use gives a TickflowError LISTEN', async (t) => {
  const metrics = createProcessorMetrics('analyze', { defaultMetrics: false })
  const first = await start(metrics.registry, t)
  await assert.rejects(serveMetrics(metrics.registry, { port: first.port }), (err: unknown) => {
    assert.ok(isTickflowError(err, ErrorCodes.LISTEN), String(err))
    assert.match(err.message, /EADDRINUSE/)
    return true
  })
  // The first one still serves.
  assert.equal((await fetch(`http://127.0.0.1:${first.port}/healthz`)).status, 200)
})

test('an invalid port gives a TickflowError INVALID_ARGUMENT', async () => {
  const metrics = createProcessorMetrics('analyze', { defaultMetrics: false })
  for (const port of [-1, 65536, 1.5, Number.NaN]) {
    await assert.rejects(serveMetrics(metrics.registry, { port }), (err: unknown) => {
      assert.ok(isTickflowError(err, ErrorCodes.INVALID_ARGUMENT), `${port}: ${String(err)}`)
      return true
    })
  }
})

test('close() frees the port, drops kept-alive connections and is idempotent', async () => {
  const metrics = createProcessorMetrics('analyze', { defaultMetrics: false })
  const server = await serveMetrics(metrics.registry, { port: 0 })
  const { port } = server
  // fetch keeps the connection alive: close() must not wait for it.
  assert.equal((await fetch(`http://127.0.0.1:${port}/metrics`)).status, 200)
  await server.close()
  await server.close()
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`))

  const probe = net.createServer()
  await new Promise<void>((resolve, reject) => {
    probe.once('error', reject)
    probe.listen(port, '127.0.0.1', () => resolve())
  })
  assert.equal((probe.address() as net.AddressInfo).port, port)
  await new Promise<void>((resolve) => probe.close(() => resolve()))
})

test('never throws on bad arguments: drops them and counts the drops by method', async (t) => {
  assert.throws(
    () => createProcessorMetrics(''),
    (err: unknown) => isTickflowError(err, ErrorCodes.INVALID_ARGUMENT),
  )
  const metrics = createProcessorMetrics('analyze', { defaultMetrics: false })
  const server = await start(metrics.registry, t)
  const p = { processor: 'analyze' }
  metrics.recordsIn(0, 2)
  metrics.processingLatency(0.5)

  metrics.recordsIn(-1, 1)
  metrics.recordsIn(0.5, 1)
  metrics.recordsIn(0, -1)
  metrics.recordsIn(0, 1.5)
  metrics.recordsOut('', 1)
  metrics.recordsOut('analytics', Number.NaN)
  metrics.invalid(-2)
  metrics.late(Infinity)
  metrics.consumerLag(0, Number.NaN)
  metrics.eventTimeLag(-3, 10)
  metrics.processingLatency(Number.NaN)
  metrics.checkpointDuration(-Infinity)
  metrics.transactions('unknown' as 'committed', 1)
  metrics.transactions('toString' as 'committed', 1)
  metrics.assignedPartitions(-1)
  metrics.partitionRevoked(Number.NaN)

  const { exp } = await scrape(server)
  const drops = Object.fromEntries(
    exp.samples
      .filter((s) => s.name === 'tickflow_stream_dropped_observations_total')
      .map((s) => [s.labels.method, s.value]),
  )
  assert.deepEqual(drops, {
    recordsIn: 4,
    recordsOut: 2,
    invalid: 1,
    late: 1,
    consumerLag: 1,
    eventTimeLag: 1,
    processingLatency: 1,
    checkpointDuration: 1,
    transactions: 2,
    assignedPartitions: 1,
    partitionRevoked: 1,
  })
  // Nothing of the bad calls reached the real metrics.
  assert.equal(sample(exp, 'tickflow_stream_records_in_total', { ...p, partition: '0' }), 2)
  assert.equal(
    exp.samples.some((s) => s.name === 'tickflow_stream_records_in_total' && s.labels.partition !== '0'),
    false,
  )
  assert.equal(
    exp.samples.some((s) => s.name === 'tickflow_stream_records_out_total'),
    false,
  )
  assert.equal(sample(exp, 'tickflow_stream_invalid_records_total', p), 0)
  assert.equal(sample(exp, 'tickflow_stream_late_records_total', p), 0)
  assert.equal(
    exp.samples.some((s) => s.name === 'tickflow_stream_consumer_lag_records'),
    false,
  )
  assert.equal(sample(exp, 'tickflow_stream_processing_latency_seconds_count', p), 1)
  assert.equal(sample(exp, 'tickflow_stream_processing_latency_seconds_sum', p), 0.5)
  assert.equal(sample(exp, 'tickflow_stream_checkpoint_duration_seconds_count', p), 0)
  assert.equal(sample(exp, 'tickflow_stream_transactions_total', { ...p, outcome: 'committed' }), 0)
  assert.equal(sample(exp, 'tickflow_stream_assigned_partitions', p), 0)
})

test('NO_METRICS does nothing, and prom-client is loaded only when metrics are created', () => {
  assert.ok(Object.isFrozen(NO_METRICS))
  assert.equal(NO_METRICS.recordsIn(0, 1), undefined)
  assert.equal(NO_METRICS.processingLatency(Number.NaN), undefined, 'no validation cost either')

  // A fresh process: importing the module and using NO_METRICS must not load prom-client.
  const moduleUrl = new URL('../../src/stream/metrics.ts', import.meta.url).href
  const script = `
    import { createRequire } from 'node:module'
    const { NO_METRICS, createProcessorMetrics } = await import(${JSON.stringify(moduleUrl)})
    const cache = createRequire(${JSON.stringify(moduleUrl)}).cache
    const loaded = () => Object.keys(cache).some((k) => /[\\\\/]node_modules[\\\\/]prom-client[\\\\/]/.test(k))
    NO_METRICS.recordsIn(0, 1)
    NO_METRICS.transactions('committed', 1)
    const off = loaded()
    createProcessorMetrics('analyze', { defaultMetrics: false })
    console.log(JSON.stringify({ off, on: loaded() }))
  `
  const child = spawnSync(process.execPath, ['--input-type=module', '--eval', script], { encoding: 'utf8' })
  assert.equal(child.status, 0, child.stderr)
  assert.deepEqual(JSON.parse(child.stdout), { off: false, on: true })
})
