/**
 * Client commands against kcat (`npm run bench:produce-stats`).
 *
 * Starts `tickflow broker` in a child process (3 partitions per topic) and measures, each as a
 * spawned process timed from spawn to exit:
 *   - `tickflow produce prices --count N --rate max` against kcat producing the same N lines of the
 *     same format (`SYMBOL<TAB>{"ts":…,"symbol":…,"price":…}`, key = symbol) with the settings the
 *     tickflow producer uses: acks=all, idempotence on, no compression. Both topics must end with
 *     exactly N messages (the sum of their end offsets).
 *   - `tickflow stats --json` over a topic of M price messages (loaded by kcat) against kcat reading
 *     the same M messages from the beginning to /dev/null (the raw consume rate), plus stats with
 *     `--workers 2` (the default is one worker per CPU but one, so this shows the other setting on a
 *     2-core machine) and with `--cache-records 0` (the topic read twice). stats must count exactly M.
 * Every measurement runs BENCH_REPEATS times (default 3), tickflow and kcat interleaved so that
 * noise from other work on the machine hits both; the tables give the median.
 *
 * Environment: BENCH_PRODUCE_COUNT (default 1,000,000), BENCH_STATS_COUNT (default 10,000,000),
 * BENCH_REPEATS (default 3).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { describeTopics, ensureTopic, openAdmin } from '../src/bus/admin.ts'
import { encodePriceTick } from '../src/bus/topics/index.ts'
import { createPriceGenerator } from '../src/feeds/synthetic-prices.ts'
import { envCount } from './env.ts'

const PRODUCE_COUNT = envCount('BENCH_PRODUCE_COUNT', 1_000_000)
const STATS_COUNT = envCount('BENCH_STATS_COUNT', 10_000_000)
const REPEATS = envCount('BENCH_REPEATS', 3)
const PARTITIONS = 3

// ---- the broker process ---------------------------------------------------------------------

const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickflow-bench-ps-'))
const dataDir = path.join(tmpDir, 'data')
const bin = path.join(import.meta.dirname, '../bin/tickflow.js')
const broker: ChildProcess = spawn(
  process.execPath,
  [
    bin,
    'broker',
    '--listen',
    '127.0.0.1:0',
    '--data-dir',
    dataDir,
    '--partitions',
    String(PARTITIONS),
    '--log-level',
    'warn',
  ],
  { stdio: ['ignore', 'pipe', 'inherit'] },
)
const address = await new Promise<string>((resolve, reject) => {
  let out = ''
  broker.stdout?.on('data', (d: Buffer) => {
    out += d.toString()
    const m = /listening on (\S+)/.exec(out)
    if (m) resolve(m[1])
  })
  broker.once('exit', (code) => reject(new Error(`broker exited with ${code}`)))
})
const bus = { bootstrapBrokers: [address], clientId: 'bench-produce-stats' }

/** Creates `topic` with 3 partitions (unless it exists) and checks that it has 3. */
async function createTopic(topic: string): Promise<void> {
  const admin = openAdmin(bus)
  try {
    await ensureTopic(admin, topic, PARTITIONS)
    const [described] = await describeTopics(admin, [topic])
    if (described?.partitions.length !== PARTITIONS) {
      throw new Error(`topic ${topic} has ${described?.partitions.length} partitions, expected ${PARTITIONS}`)
    }
  } finally {
    await admin.close()
  }
}

/** Fails unless the end offsets of `topic`'s partitions add up to `expected`. */
async function checkMessages(topic: string, expected: number): Promise<void> {
  const admin = openAdmin(bus)
  try {
    const [described] = await describeTopics(admin, [topic])
    const partitions = described?.partitions ?? []
    const total = partitions.reduce((a, p) => a + Number(p.end), 0)
    if (partitions.length !== PARTITIONS || total !== expected) {
      throw new Error(
        `topic ${topic}: ${partitions.length} partitions with ${fmt(total)} messages (end offsets ` +
          `${partitions.map((p) => p.end).join(', ')}), expected ${PARTITIONS} with ${fmt(expected)}`,
      )
    }
  } finally {
    await admin.close()
  }
}

// ---- processes --------------------------------------------------------------------------------

interface RunResult {
  seconds: number
  stdout: string
}

/** Runs a command to completion, timed from spawn to exit; stdout is kept unless `discard`. */
function run(
  command: string,
  argv: string[],
  discard = false,
  stdin?: (child: ChildProcess) => void,
): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint()
    const child = spawn(command, argv, { stdio: [stdin ? 'pipe' : 'ignore', discard ? 'ignore' : 'pipe', 'pipe'] })
    const out: Buffer[] = []
    let stderr = ''
    child.stdout?.on('data', (d: Buffer) => out.push(d))
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    child.once('error', reject)
    child.once('close', (code) => {
      const seconds = Number(process.hrtime.bigint() - t0) / 1e9
      if (code === 0) resolve({ seconds, stdout: Buffer.concat(out).toString() })
      else reject(new Error(`${command} ${argv.join(' ')} exited ${code}: ${stderr.slice(0, 2000)}`))
    })
    stdin?.(child)
  })
}

function tickflow(argv: string[]): Promise<RunResult> {
  return run(process.execPath, [bin, ...argv])
}

// ---- price lines for kcat -----------------------------------------------------------------------

/**
 * `count` lines `SYMBOL<TAB>{"ts":…,"symbol":…,"price":…}`, from the same generator and encoder as
 * `tickflow produce prices` (seed 1, a simulated clock 1 ms per message), handed out in chunks.
 */
function* priceLines(count: number, startMs: number): Generator<string> {
  let i = 0
  const generator = createPriceGenerator({ seed: 1, clock: () => startMs + i++ })
  const lines: string[] = []
  for (let n = 0; n < count; n++) {
    const tick = generator.next()
    lines.push(tick.symbol + '\t' + encodePriceTick(tick) + '\n')
    if (lines.length === 10_000 || n === count - 1) {
      yield lines.join('')
      lines.length = 0
    }
  }
}

const START_MS = Date.UTC(2026, 10, 22)

function writeLinesFile(file: string, count: number): void {
  const fd = fs.openSync(file, 'w')
  for (const chunk of priceLines(count, START_MS)) fs.writeSync(fd, chunk)
  fs.closeSync(fd)
}

/** The kcat producer settings matching tickflow's writer: acks=all, idempotent, uncompressed. */
const KCAT_PRODUCE = [
  '-X',
  'acks=all',
  '-X',
  'enable.idempotence=true',
  '-X',
  'compression.codec=none',
  '-X',
  'linger.ms=5',
]

/** Loads `count` price messages into `topic` by piping generated lines into one kcat. */
async function loadTopic(topic: string, count: number): Promise<void> {
  await run('kcat', ['-P', '-b', address, '-t', topic, '-K', '\t', ...KCAT_PRODUCE], true, (child) => {
    const stdin = child.stdin!
    const lines = priceLines(count, START_MS)
    const pump = (): void => {
      for (let next = lines.next(); !next.done; next = lines.next()) {
        if (!stdin.write(next.value)) {
          stdin.once('drain', pump)
          return
        }
      }
      stdin.end()
    }
    pump()
  })
}

// ---- measurements -------------------------------------------------------------------------------

/** Rates (messages/s) of each repetition, by series. */
const samples = new Map<string, number[]>()

function record(series: string, rate: number): void {
  samples.set(series, [...(samples.get(series) ?? []), rate])
  console.error(`  ${series}: ${fmt(rate)} msg/s`)
}

function median(series: string): number {
  const s = [...(samples.get(series) ?? [])].sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const mid = s.length >> 1
  return s.length % 2 === 1 ? s[mid] : (s[mid - 1] + s[mid]) / 2
}

async function benchProduce(lineFile: string): Promise<void> {
  for (let i = 1; i <= REPEATS; i++) {
    console.error(`produce, run ${i} of ${REPEATS}`)
    const topic = `bench-produce-${i}`
    await createTopic(topic)
    const { seconds, stdout } = await tickflow([
      'produce',
      'prices',
      '--count',
      String(PRODUCE_COUNT),
      '--rate',
      'max',
      '--brokers',
      address,
      '--topic',
      topic,
      '--quiet',
      '--seed',
      '1',
    ])
    const reported = /produced [\d,]+ .*\(([\d,]+) msg\/s/.exec(stdout)
    if (reported === null) throw new Error(`tickflow produce printed no rate: ${stdout}`)
    await checkMessages(topic, PRODUCE_COUNT)
    record('produce: tickflow (wall)', PRODUCE_COUNT / seconds)
    record('produce: tickflow (reported)', Number(reported[1].replaceAll(',', '')))

    const kcatTopic = `bench-kcat-${i}`
    await createTopic(kcatTopic)
    const kcat = await run('kcat', ['-P', '-b', address, '-t', kcatTopic, '-K', '\t', '-l', lineFile, ...KCAT_PRODUCE])
    await checkMessages(kcatTopic, PRODUCE_COUNT)
    record('produce: kcat', PRODUCE_COUNT / kcat.seconds)
  }
}

const STATS_VARIANTS: Array<{ series: string; extra: string[] }> = [
  { series: 'stats: tickflow', extra: [] },
  { series: 'stats: tickflow --workers 2', extra: ['--workers', '2'] },
  { series: 'stats: tickflow --cache-records 0', extra: ['--cache-records', '0'] },
]

async function benchStats(): Promise<void> {
  const topic = 'bench-stats'
  await createTopic(topic)
  console.error(`loading ${fmt(STATS_COUNT)} price messages into ${topic} with kcat`)
  await loadTopic(topic, STATS_COUNT)
  await checkMessages(topic, STATS_COUNT)
  for (let i = 1; i <= REPEATS; i++) {
    console.error(`stats, run ${i} of ${REPEATS}`)
    for (const { series, extra } of STATS_VARIANTS) {
      const { seconds, stdout } = await tickflow([
        'stats',
        '--topic',
        topic,
        '--json',
        '--quiet',
        '--brokers',
        address,
        ...extra,
      ])
      const result = JSON.parse(stdout) as { count: number; invalid: number }
      if (result.count !== STATS_COUNT || result.invalid !== 0) {
        throw new Error(`${series}: counted ${result.count} (${result.invalid} invalid), expected ${STATS_COUNT}`)
      }
      record(series, STATS_COUNT / seconds)
    }
    const kcat = await run(
      'kcat',
      ['-C', '-b', address, '-t', topic, '-e', '-q', '-o', 'beginning', '-f', '%s\n'],
      true, // to /dev/null
    )
    record('stats: kcat consume', STATS_COUNT / kcat.seconds)
  }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

// ---- run ----------------------------------------------------------------------------------------

try {
  const lineFile = path.join(tmpDir, 'prices.tsv')
  writeLinesFile(lineFile, PRODUCE_COUNT)
  await benchProduce(lineFile)
  fs.rmSync(lineFile)
  await benchStats()
} finally {
  broker.kill('SIGTERM')
  await new Promise((r) => broker.once('exit', r))
  fs.rmSync(tmpDir, { recursive: true, force: true })
}

const rows: Array<{ scenario: string; tickflow: string; kcat: string }> = [
  {
    scenario: `produce ${fmt(PRODUCE_COUNT)} (wall time, incl. process start)`,
    tickflow: 'produce: tickflow (wall)',
    kcat: 'produce: kcat',
  },
  {
    scenario: `produce ${fmt(PRODUCE_COUNT)} (rate the command reports)`,
    tickflow: 'produce: tickflow (reported)',
    kcat: 'produce: kcat',
  },
  ...STATS_VARIANTS.map(({ series, extra }) => ({
    scenario: `stats ${fmt(STATS_COUNT)}${extra.length > 0 ? ` (${extra.join(' ')})` : ''} vs kcat consume`,
    tickflow: series,
    kcat: 'stats: kcat consume',
  })),
]

const cpus = os.cpus()
console.log(`\n## Client commands against kcat — ${new Date().toISOString().slice(0, 10)}`)
console.log(
  `machine: ${os.availableParallelism()} × ${cpus[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}`,
)
console.log(
  `command: npm run bench:produce-stats (BENCH_PRODUCE_COUNT=${PRODUCE_COUNT}, BENCH_STATS_COUNT=${STATS_COUNT}, ` +
    `BENCH_REPEATS=${REPEATS}); rates in messages/s, the median of ${REPEATS} runs each\n`,
)
console.log('| scenario | tickflow msg/s | kcat msg/s | ratio |')
console.log('|---|---|---|---|')
for (const r of rows) {
  const t = median(r.tickflow)
  const k = median(r.kcat)
  console.log(`| ${r.scenario} | ${fmt(t)} | ${fmt(k)} | ${(t / k).toFixed(2)} |`)
}

console.log(`\nEvery run (msg/s):\n`)
console.log('| series | runs | median |')
console.log('|---|---|---|')
for (const [series, rates] of samples) {
  console.log(`| ${series} | ${rates.map(fmt).join(', ')} | ${fmt(median(series))} |`)
}

const produceRatio = median('produce: tickflow (wall)') / median('produce: kcat')
const reportedRatio = median('produce: tickflow (reported)') / median('produce: kcat')
const statsRatio = median('stats: tickflow') / median('stats: kcat consume')
console.log('\nAims:')
console.log(
  `- produce within 2× of kcat (ratio ≥ 0.50): ${produceRatio >= 0.5 ? 'met' : 'NOT met'} by wall time ` +
    `(${produceRatio.toFixed(2)}); ${reportedRatio >= 0.5 ? 'met' : 'not met'} by the reported rate (${reportedRatio.toFixed(2)})`,
)
console.log(
  `- stats at least half of kcat's raw consume rate (ratio ≥ 0.50): ${statsRatio >= 0.5 ? 'met' : 'NOT met'} ` +
    `(${statsRatio.toFixed(2)})`,
)
