/**
 * Broker throughput and latency benchmark (`npm run bench:broker`).
 *
 * Starts `tickflow broker` in a child process (its own event loop and CPU accounting, as in
 * production) and drives it with kcat (librdkafka, C) and the Node clients @platformatic/kafka and
 * KafkaJS, for 100-byte and 1 KB records with acks=1 and acks=all:
 *   - produce throughput (records/s, MB/s) and the broker's CPU use while serving it;
 *   - consume throughput from the beginning of the topic;
 *   - produce latency percentiles (one message per request, sequentially) for the Node clients.
 * The comparisons in the same run: the three clients against the same broker; the broker's CPU
 * share next to the client's (a broker below 100% of a core while the client is at 100% is not
 * the bottleneck); and the disk's own sequential write rate (the same bytes written in 1 MB
 * `fs.writeSync` calls, no broker), the ceiling for produce throughput.
 *
 * Options: --records N (kcat, default 2,000,000), --node-records N (Node clients, default 200,000),
 * --latency-samples N (default 2,000), --sizes 100,1024, --acks 1,all, --flush sync|interval|none.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { parseArgs } from 'node:util'
import { Consumer, Producer, ProduceAcks } from '@platformatic/kafka'
import kafkajs from 'kafkajs'

const { values: args } = parseArgs({
  options: {
    records: { type: 'string', default: '2000000' },
    'node-records': { type: 'string', default: '200000' },
    'latency-samples': { type: 'string', default: '2000' },
    sizes: { type: 'string', default: '100,1024' },
    acks: { type: 'string', default: '1,all' },
    flush: { type: 'string', default: 'sync' },
  },
})
const KCAT_RECORDS = Number(args.records)
const NODE_RECORDS = Number(args['node-records'])
const LATENCY_SAMPLES = Number(args['latency-samples'])
const SIZES = (args.sizes as string).split(',').map(Number)
const ACKS = (args.acks as string).split(',') as Array<'1' | 'all'>
const CLK_TCK = Number(spawnSync('getconf', ['CLK_TCK']).stdout.toString().trim() || 100)

interface Row {
  client: string
  op: string
  size: number
  acks: string
  records: number
  seconds: number
  brokerCpu: number
  clientCpu: number | null
}
const rows: Row[] = []
const latencies: Array<{
  client: string
  size: number
  acks: string
  p50: number
  p95: number
  p99: number
  max: number
}> = []

// ---- the broker process ---------------------------------------------------------------------

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tickflow-bench-'))
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
    '--flush',
    args.flush as string,
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

/** CPU seconds (user + system) the broker process has used so far. */
function brokerCpuSeconds(): number {
  const stat = fs.readFileSync(`/proc/${broker.pid}/stat`, 'utf8')
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return (Number(fields[11]) + Number(fields[12])) / CLK_TCK
}

async function measure(
  client: string,
  op: string,
  size: number,
  acks: string,
  records: number,
  fn: () => Promise<void>,
  clientCpu?: () => number,
): Promise<void> {
  const cpu0 = brokerCpuSeconds()
  const self0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  await fn()
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9
  const self = process.cpuUsage(self0)
  rows.push({
    client,
    op,
    size,
    acks,
    records,
    seconds,
    brokerCpu: (brokerCpuSeconds() - cpu0) / seconds,
    clientCpu: clientCpu ? clientCpu() / seconds : (self.user + self.system) / 1e6 / seconds,
  })
  const r = rows[rows.length - 1]
  console.error(
    `${client} ${op} ${size}B acks=${acks}: ${fmt(records / seconds)} rec/s, broker CPU ${(r.brokerCpu * 100).toFixed(0)}%`,
  )
}

// ---- kcat ---------------------------------------------------------------------------------------

function recordsFile(size: number, n: number): string {
  const file = path.join(dataDir, `records-${size}-${n}.txt`)
  if (!fs.existsSync(file)) {
    const line = Buffer.alloc(size + 1, 'x')
    line[size] = 0x0a
    const chunk = Buffer.concat(Array.from({ length: 10_000 }, () => line))
    const fd = fs.openSync(file, 'w')
    for (let i = 0; i < n; i += 10_000)
      fs.writeSync(fd, i + 10_000 <= n ? chunk : chunk.subarray(0, (n - i) * (size + 1)))
    fs.closeSync(fd)
  }
  return file
}

/** Runs kcat to completion; returns its CPU seconds (from wait4 via /proc is not available, so time -f). */
function kcat(argv: string[]): Promise<number> {
  return new Promise((resolve, reject) => {
    // GNU time is not guaranteed; measure the child's CPU from /proc just before it exits instead.
    const child = spawn('kcat', argv, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    let cpu = 0
    const timer = setInterval(() => {
      try {
        const stat = fs.readFileSync(`/proc/${child.pid}/stat`, 'utf8')
        const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
        cpu = (Number(f[11]) + Number(f[12])) / CLK_TCK
      } catch {
        // exited
      }
    }, 50)
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()))
    child.once('exit', (code) => {
      clearInterval(timer)
      if (code === 0) resolve(cpu)
      else reject(new Error(`kcat ${argv.join(' ')} exited ${code}: ${stderr.slice(0, 500)}`))
    })
  })
}

/** The same number of bytes written to a file in 1 MB writes, then fsynced once: the disk's ceiling. */
async function benchDisk(size: number): Promise<void> {
  const file = path.join(dataDir, 'disk-baseline')
  const chunk = Buffer.alloc(1024 * 1024, 'x')
  const bytes = KCAT_RECORDS * (size + 70) // record plus its batch and record overhead, roughly
  await measure('fs.writeSync (no broker)', 'write', size, '–', KCAT_RECORDS, async () => {
    const fd = fs.openSync(file, 'w')
    for (let written = 0; written < bytes; written += chunk.length) fs.writeSync(fd, chunk)
    fs.fsyncSync(fd)
    fs.closeSync(fd)
  })
  fs.rmSync(file)
}

async function benchKcat(size: number, acks: '1' | 'all'): Promise<void> {
  const topic = `kcat-${size}-${acks}`
  const file = recordsFile(size, KCAT_RECORDS)
  let cpu = 0
  await measure(
    'kcat',
    'produce',
    size,
    acks,
    KCAT_RECORDS,
    async () => {
      cpu = await kcat(['-P', '-b', address, '-t', topic, '-l', file, '-X', `acks=${acks}`, '-X', 'linger.ms=5'])
    },
    () => cpu,
  )
  await measure(
    'kcat',
    'consume',
    size,
    acks,
    KCAT_RECORDS,
    async () => {
      cpu = await kcat([
        '-C',
        '-b',
        address,
        '-t',
        topic,
        '-o',
        'beginning',
        '-e',
        '-q',
        '-c',
        String(KCAT_RECORDS),
        '-f',
        '%o\n',
      ])
    },
    () => cpu,
  )
}

// ---- @platformatic/kafka ---------------------------------------------------------------------

async function benchPlatformatic(size: number, acks: '1' | 'all'): Promise<void> {
  const topic = `plt-${size}-${acks}`
  const value = Buffer.alloc(size, 'x')
  const producer = new Producer({ clientId: 'bench', bootstrapBrokers: [address], autocreateTopics: true })
  const ack = acks === 'all' ? ProduceAcks.ALL : ProduceAcks.LEADER
  const batch = Array.from({ length: 1000 }, () => ({ topic, value }))
  await producer.send({ messages: [{ topic, value }], acks: ack }) // metadata, topic creation
  await measure('@platformatic/kafka', 'produce', size, acks, NODE_RECORDS, async () => {
    const inFlight = new Set<Promise<unknown>>()
    for (let sent = 0; sent < NODE_RECORDS; sent += batch.length) {
      const p = producer.send({ messages: batch, acks: ack })
      inFlight.add(p)
      void p.then(() => inFlight.delete(p))
      if (inFlight.size >= 8) await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
  })
  const samples: number[] = []
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t0 = process.hrtime.bigint()
    await producer.send({ messages: [{ topic, value }], acks: ack })
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  latencies.push({ client: '@platformatic/kafka', size, acks, ...percentiles(samples) })
  await producer.close()

  const consumer = new Consumer({
    clientId: 'bench',
    groupId: `bench-${topic}`,
    bootstrapBrokers: [address],
    maxBytes: 8 * 1024 * 1024,
  })
  await measure('@platformatic/kafka', 'consume', size, acks, NODE_RECORDS, async () => {
    const stream = await consumer.consume({ topics: [topic], mode: 'earliest' })
    let n = 0
    for await (const _ of stream) if (++n >= NODE_RECORDS) break
    await stream.close()
  })
  await consumer.close()
}

// ---- KafkaJS --------------------------------------------------------------------------------------

async function benchKafkajs(size: number, acks: '1' | 'all'): Promise<void> {
  process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
  const topic = `kafkajs-${size}-${acks}`
  const kafka = new kafkajs.Kafka({ brokers: [address], clientId: 'bench', logLevel: kafkajs.logLevel.NOTHING })
  const producer = kafka.producer()
  await producer.connect()
  const value = Buffer.alloc(size, 'x')
  const messages = Array.from({ length: 1000 }, () => ({ value }))
  const ack = acks === 'all' ? -1 : 1
  await producer.send({ topic, messages: [{ value }], acks: ack })
  await measure('kafkajs', 'produce', size, acks, NODE_RECORDS, async () => {
    const inFlight = new Set<Promise<unknown>>()
    for (let sent = 0; sent < NODE_RECORDS; sent += messages.length) {
      const p = producer.send({ topic, messages, acks: ack })
      inFlight.add(p)
      void p.then(() => inFlight.delete(p))
      if (inFlight.size >= 8) await Promise.race(inFlight)
    }
    await Promise.all(inFlight)
  })
  const samples: number[] = []
  for (let i = 0; i < LATENCY_SAMPLES; i++) {
    const t0 = process.hrtime.bigint()
    await producer.send({ topic, messages: [{ value }], acks: ack })
    samples.push(Number(process.hrtime.bigint() - t0) / 1e6)
  }
  latencies.push({ client: 'kafkajs', size, acks, ...percentiles(samples) })
  await producer.disconnect()
}

function percentiles(samples: number[]): { p50: number; p95: number; p99: number; max: number } {
  const s = [...samples].sort((a, b) => a - b)
  const at = (q: number) => s[Math.min(s.length - 1, Math.floor(q * s.length))]
  return { p50: at(0.5), p95: at(0.95), p99: at(0.99), max: s[s.length - 1] }
}

function fmt(n: number): string {
  return Math.round(n).toLocaleString('en-US')
}

// ---- run ------------------------------------------------------------------------------------------

try {
  for (const size of SIZES) {
    await benchDisk(size)
    for (const acks of ACKS) {
      await benchKcat(size, acks)
      await benchPlatformatic(size, acks)
      await benchKafkajs(size, acks)
    }
  }
} finally {
  broker.kill('SIGTERM')
  await new Promise((r) => broker.once('exit', r))
  fs.rmSync(dataDir, { recursive: true, force: true })
}

const cpus = os.cpus()
console.log(`\n## Broker benchmark — ${new Date().toISOString().slice(0, 10)}`)
console.log(
  `machine: ${cpus.length} × ${cpus[0]?.model ?? 'cpu'}, ${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, flush=${args.flush}`,
)
console.log(`command: npm run bench:broker -- ${process.argv.slice(2).join(' ')}\n`)
console.log('| client | op | record | acks | records | records/s | MB/s | broker CPU | client CPU |')
console.log('|---|---|---|---|---|---|---|---|---|')
for (const r of rows) {
  const rate = r.records / r.seconds
  console.log(
    `| ${r.client} | ${r.op} | ${r.size} B | ${r.acks} | ${fmt(r.records)} | ${fmt(rate)} | ${((rate * r.size) / 1e6).toFixed(1)} | ${(r.brokerCpu * 100).toFixed(0)}% | ${r.clientCpu === null ? '–' : `${(r.clientCpu * 100).toFixed(0)}%`} |`,
  )
}
console.log('\nProduce latency, one record per request, sequential (ms):\n')
console.log('| client | record | acks | p50 | p95 | p99 | max |')
console.log('|---|---|---|---|---|---|---|')
for (const l of latencies) {
  console.log(
    `| ${l.client} | ${l.size} B | ${l.acks} | ${l.p50.toFixed(2)} | ${l.p95.toFixed(2)} | ${l.p99.toFixed(2)} | ${l.max.toFixed(2)} |`,
  )
}
