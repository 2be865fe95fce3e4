/**
 * The exchange processor end to end through the broker (`npm run bench:exchange-processor`).
 *
 * `tickflow broker` runs in a child process; the processor runs in this process on the stream
 * runtime (exactly-once transactions, checkpoints), one member owning all 3 partitions of `orders`.
 *   1. Throughput: N orders loaded first (`tickflow produce orders`), then the time for `exchange`
 *      to consume them and commit its outputs (trades, order events, book updates, P&L, trade
 *      statistics) — beside a pass-through processor on the same runtime and input (one output
 *      record per order, no matching), which shows what the exchange itself costs.
 *   2. Restore: the same group started again restores every partition from its checkpoint (the
 *      books and ledgers from the snapshot, the orders after it replayed), beside the time the
 *      first run took to build that state from the whole input.
 *
 * Environment: BENCH_ORDERS (default 500,000), BENCH_INSTRUMENTS (default 100).
 */
import os from 'node:os'
import { KafkaCluster } from '../src/bus/cluster.ts'
import { listOffsets, OffsetSpec } from '../src/bus/partition-io.ts'
import { DEFAULT_EXCHANGE_CONFIG, exchangeProcessor } from '../src/stream/exchange.ts'
import { envCount } from './env.ts'
import { benchProcesses, fmt, passThrough, restoreAll, timeToProcess } from './processes.ts'

const ORDERS = envCount('BENCH_ORDERS', 500_000)
const INSTRUMENTS = envCount('BENCH_INSTRUMENTS', 100)
const PARTITIONS = 3

const processes = benchProcesses('tickflow-bench-exchange-')
const address = await processes.startBroker('exchange', PARTITIONS)
const instruments = Array.from({ length: INSTRUMENTS }, (_, i) => `I${String(i).padStart(4, '0')}`).join(',')
const argv = ['--start', '2024-01-02 09:30:00', '--instruments', instruments]
await processes.produce(address, 'orders', ORDERS, [...argv, '--partitions', String(PARTITIONS)])

const exchange = exchangeProcessor(DEFAULT_EXCHANGE_CONFIG)
const matchedSeconds = await timeToProcess(address, exchange, 'bench-exchange', ORDERS)
const copySeconds = await timeToProcess(address, passThrough('orders'), 'bench-passthrough', ORDERS)

// What the exchange wrote, per topic (committed records, markers excluded, are what readers see;
// end offsets count the transaction markers too, so this is an upper bound per topic).
const cluster = await KafkaCluster.connect({ bootstrapBrokers: [address], clientId: 'bench-exchange' })
const outputs: string[] = []
for (const topic of exchange.outputs) {
  const ends = await listOffsets(cluster, topic, [0, 1, 2], OffsetSpec.LATEST, true)
  outputs.push(`${topic} ${fmt([...ends.values()].reduce((a, b) => a + b, 0))}`)
}
await cluster.close()

const restored = await restoreAll(address, exchange, 'bench-exchange', PARTITIONS)

console.log(
  [
    `throughput, ${fmt(ORDERS)} orders over ${fmt(INSTRUMENTS)} instruments loaded first, one process, 3 partitions, exactly-once:`,
    `  exchange      ${fmt(ORDERS / matchedSeconds)} orders/s (${matchedSeconds.toFixed(2)} s, incl. joining the group)`,
    `  pass-through  ${fmt(ORDERS / copySeconds)} orders/s (${copySeconds.toFixed(2)} s): the exchange runs at ${((copySeconds / matchedSeconds) * 100).toFixed(0)}% of the bare runtime`,
    `  written (end offsets, markers included): ${outputs.join(', ')}`,
    `restore of the same group:`,
    `  from checkpoints  ${restored.ms.toFixed(0)} ms for 3 partitions (${(restored.snapshotBytes / 1e6).toFixed(2)} MB of snapshots, ${fmt(restored.replayed)} orders replayed)`,
    `  built from the whole input by the first run  ${(matchedSeconds * 1000).toFixed(0)} ms`,
    '',
    `${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, node ${process.version}`,
    'command: npm run bench:exchange-processor',
  ].join('\n'),
)
process.exit(0)
