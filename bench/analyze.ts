/**
 * The analytics processor end to end through the broker (`npm run bench:analyze`).
 *
 * `tickflow broker` runs in a child process; the processors run in this process on the stream
 * runtime (exactly-once transactions, checkpoints), one member owning all 3 partitions.
 *   1. Throughput: N ticks loaded first (`tickflow produce`), then the time for the processor to
 *      consume and commit all of them — `analyze` beside a pass-through processor on the same
 *      runtime (one output record per tick, no analytics), which shows what the analytics cost.
 *   2. Restore: the analyze state of S symbols is restored from its checkpoint (snapshot plus the
 *      input after it), beside rebuilding it by processing the whole input again.
 *   3. Latency: `tickflow produce --rate R` feeds prices while `tickflow analyze` runs in its own
 *      process; this process reads `volatility` (read_committed) and `prices` and reports, per
 *      record, the time from the price's create timestamp to its arrival here. `prices` itself is
 *      the floor: the broker's own produce-to-consume latency.
 *
 * Environment: BENCH_TICKS (default 1,000,000), BENCH_RESTORE_SYMBOLS (10,000), BENCH_RATE (50,000),
 * BENCH_LATENCY_SECONDS (20), BENCH_SECTIONS (throughput,restore,latency).
 */
import os from 'node:os'
import { KafkaCluster } from '../src/bus/cluster.ts'
import { FetchConnection } from '../src/bus/fetch-connection.ts'
import { listOffsets, OffsetSpec } from '../src/bus/partition-io.ts'
import { walkBatches } from '../src/bus/scan.ts'
import { analyzeProcessor, DEFAULT_ANALYZE_CONFIG } from '../src/stream/analyze.ts'
import { envCount } from './env.ts'
import { benchProcesses, exited, fmt, passThrough, restoreAll, timeToProcess } from './processes.ts'

const TICKS = envCount('BENCH_TICKS', 1_000_000)
const RESTORE_SYMBOLS = envCount('BENCH_RESTORE_SYMBOLS', 10_000)
const RATE = envCount('BENCH_RATE', 50_000)
const LATENCY_SECONDS = envCount('BENCH_LATENCY_SECONDS', 20)
const PARTITIONS = 3
// BENCH_SECTIONS=throughput,restore,latency (default all) runs only some.
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? 'throughput,restore,latency').split(','))

const processes = benchProcesses('tickflow-bench-analyze-')
const { tickflow } = processes
const startBrokerProcess = (name: string, extra: string[] = []) => processes.startBroker(name, PARTITIONS, extra)

function symbols(n: number): string {
  return Array.from({ length: n }, (_, i) => `S${String(i).padStart(5, '0')}`).join(',')
}

function produce(address: string, count: number, nSymbols: number): Promise<void> {
  const argv = ['--start', '2024-01-02 09:30:00', '--symbols', symbols(nSymbols)]
  return processes.produce(address, 'prices', count, [...argv, '--partitions', String(PARTITIONS)])
}

// ---- 1. throughput ---------------------------------------------------------------------------

const lines: string[] = []
if (SECTIONS.has('throughput')) {
  const address = await startBrokerProcess('throughput')
  await produce(address, TICKS, 100)
  const analyzeSeconds = await timeToProcess(address, analyzeProcessor(DEFAULT_ANALYZE_CONFIG), 'bench-analyze', TICKS)
  const copySeconds = await timeToProcess(address, passThrough('prices'), 'bench-passthrough', TICKS)
  lines.push(
    `throughput, ${fmt(TICKS)} ticks of 100 symbols loaded first, one process, 3 partitions, exactly-once:`,
    `  analyze       ${fmt(TICKS / analyzeSeconds)} ticks/s (${analyzeSeconds.toFixed(2)} s, incl. joining the group)`,
    `  pass-through  ${fmt(TICKS / copySeconds)} ticks/s (${copySeconds.toFixed(2)} s): analyze runs at ${((copySeconds / analyzeSeconds) * 100).toFixed(0)}% of the bare runtime`,
  )
  console.log(lines.slice(-3).join('\n'))
}

// ---- 2. restore ------------------------------------------------------------------------------

if (SECTIONS.has('restore')) {
  const address = await startBrokerProcess('restore')
  const ticks = RESTORE_SYMBOLS * 150
  await produce(address, ticks, RESTORE_SYMBOLS)
  const buildSeconds = await timeToProcess(address, analyzeProcessor(DEFAULT_ANALYZE_CONFIG), 'bench-restore', ticks)
  // Restart: every partition comes back from its checkpoint; measured as the restore reports say.
  const cluster = await KafkaCluster.connect({ bootstrapBrokers: [address], clientId: 'bench-analyze' })
  const ends = await listOffsets(cluster, 'prices', [0, 1, 2], OffsetSpec.LATEST)
  await cluster.close()
  const restored = await restoreAll(address, analyzeProcessor(DEFAULT_ANALYZE_CONFIG), 'bench-restore', PARTITIONS)
  lines.push(
    `restore, ${fmt(RESTORE_SYMBOLS)} symbols (${fmt(ticks)} ticks, end offsets ${[...ends.values()].join('/')}):`,
    `  from checkpoints  ${restored.ms.toFixed(0)} ms for 3 partitions (${(restored.snapshotBytes / 1e6).toFixed(1)} MB of snapshots, ${fmt(restored.replayed)} records replayed)`,
    `  rebuilt from the whole input  ${(buildSeconds * 1000).toFixed(0)} ms`,
  )
  console.log(lines.slice(-3).join('\n'))
}

// ---- 3. latency at a fixed rate ----------------------------------------------------------------

for (const flush of SECTIONS.has('latency') ? ['sync', 'none'] : []) {
  const address = await startBrokerProcess(`latency-${flush}`, ['--flush', flush])
  // Topics exist before the processor starts: an empty prices topic first.
  await produce(address, 1, 100)
  const analyze = tickflow(address, ['analyze', '--quiet', '--from', 'latest'])
  await new Promise<void>((resolve) => {
    let err = ''
    analyze.stderr?.on('data', (d: Buffer) => {
      err += d.toString()
      if (/partition 2: at offset/.test(err)) resolve()
    })
  })
  const cluster = await KafkaCluster.connect({ bootstrapBrokers: [address], clientId: 'bench-latency' })
  const latencies = { prices: [] as number[], volatility: [] as number[] }
  let measuring = false
  let stop = false
  const follow = async (topic: 'prices' | 'volatility', committed: boolean): Promise<void> => {
    const position = await listOffsets(cluster, topic, [0, 1, 2], OffsetSpec.LATEST, committed)
    // A connection of its own per topic: a fetch parked on one topic's connection would hold up
    // the other's responses (a broker answers a connection's requests in order).
    const [host, port] = address.split(':')
    const connection = await FetchConnection.connect(host, Number(port), `bench-latency-${topic}`)
    while (!stop) {
      const response = await connection.fetch({
        maxWaitMs: 50,
        minBytes: 1,
        maxBytes: 64 << 20,
        isolationLevel: committed ? 1 : 0,
        topics: [
          {
            topic,
            partitions: [0, 1, 2].map((p) => ({
              partition: p,
              fetchOffset: BigInt(position.get(p)!),
              partitionMaxBytes: 8 << 20,
            })),
          },
        ],
      })
      const now = Date.now()
      for (const p of response.responses[0]?.partitions ?? []) {
        const walked = walkBatches(
          p.records,
          position.get(p.partitionIndex)!,
          Number.MAX_SAFE_INTEGER,
          p.abortedTransactions,
          p.partitionIndex,
          (_v, _p, _o, ts) => {
            if (measuring) latencies[topic].push(now - ts)
          },
        )
        position.set(p.partitionIndex, Math.max(position.get(p.partitionIndex)!, walked.next))
      }
    }
    connection.close()
  }
  const followers = [follow('prices', false), follow('volatility', true)]
  const feed = tickflow(address, [
    'produce',
    'prices',
    '--rate',
    String(RATE),
    '--count',
    String(RATE * LATENCY_SECONDS),
    '--symbols',
    symbols(100),
    '--quiet',
  ])
  // The first seconds (JIT warm-up, first snapshots) are left out.
  await new Promise((r) => setTimeout(r, 3000))
  measuring = true
  await exited(feed)
  await new Promise((r) => setTimeout(r, 1000))
  measuring = false
  stop = true
  await Promise.all(followers)
  analyze.kill('SIGINT')
  await exited(analyze)
  await cluster.close()
  const pct = (xs: number[], q: number): number => {
    const sorted = [...xs].sort((a, b) => a - b)
    return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN
  }
  lines.push(
    `latency at ${fmt(RATE)} ticks/s for ${LATENCY_SECONDS} s, broker --flush ${flush} (tickflow analyze in its own process), create time → read here:`,
    `  volatility (analyze, read_committed)  p50 ${pct(latencies.volatility, 0.5)} ms  p99 ${pct(latencies.volatility, 0.99)} ms  max ${pct(latencies.volatility, 1)} ms  (${fmt(latencies.volatility.length)} records)`,
    `  prices (the broker alone)             p50 ${pct(latencies.prices, 0.5)} ms  p99 ${pct(latencies.prices, 0.99)} ms  max ${pct(latencies.prices, 1)} ms  (${fmt(latencies.prices.length)} records)`,
  )
  console.log(lines.slice(-3).join('\n'))
}

console.log(`\n${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`)
console.log('command: npm run bench:analyze')
process.exit(0)
