/**
 * The conformance suite driven by kcat (librdkafka) through child processes: every operation is
 * one or more `kcat` runs, fed on stdin and read on stdout/stderr. kcat must be on PATH (Debian:
 * `apt-get install kcat`); without it, or without one of the codecs, this file fails at load.
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process'
import { eventually } from '../../helpers/broker.ts'
import { listEndOffsets } from '../../helpers/admin.ts'
import {
  conformanceSuite,
  type ConformanceClient,
  type ConsumedRecord,
  type ProduceOptions,
  type TestRecord,
} from './suite.ts'

const KCAT = 'kcat'

// Fail loudly (not skip) when kcat or one of the codecs the suite produces with is missing.
let version: string
try {
  version = execFileSync(KCAT, ['-V'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] })
} catch (err) {
  throw new Error('kcat is required on PATH for the kcat conformance suite (Debian: apt-get install kcat)', {
    cause: err,
  })
}
const features = /builtin\.features=([^\s)]+)/.exec(version)?.[1].split(',') ?? []
for (const codec of ['gzip', 'snappy', 'lz4', 'zstd']) {
  if (!features.includes(codec)) throw new Error(`this kcat's librdkafka lacks ${codec}: ${version.trim()}`)
}

// Producer input framing: control bytes that cannot occur in the test data (checked per record).
const KEY_DELIM = '\x1f'
const MSG_DELIM = '\x1e'
/**
 * Consumer output framing: a text header with the lengths, then exactly that many key and value
 * bytes, so that any payload (newlines included) parses unambiguously. -1 means NULL.
 */
const FORMAT = '%p %o %T %K %S\\n%k%s'
const HEADER = /^(-?\d+) (-?\d+) (-?\d+) (-?\d+) (-?\d+)$/

// Ignore the user's kcat configuration files: only the options given here apply.
const env = { ...process.env }
delete env.KCAT_CONFIG
delete env.KAFKACAT_CONFIG

let clients = 0
/**
 * Options of every run. `-E` keeps kcat running on non-fatal errors: by default it exits as soon as
 * librdkafka reports all brokers down, e.g. on the single dropped connection an idempotent retry
 * is meant to survive. Real failures still surface (delivery reports, consume errors, exit codes).
 */
const common = (brokers: string): string[] => [
  '-F',
  'none',
  '-b',
  brokers,
  '-E',
  '-X',
  `client.id=kcat-conformance-${++clients}`,
]

interface KcatRun {
  child: ChildProcess
  /** Resolves once the process exited and its stdout and stderr were fully read. */
  closed: Promise<{ code: number | null; signal: NodeJS.Signals | null }>
  /** Asks kcat to stop cleanly (SIGTERM: it closes its client, committing in group mode). */
  stop(): void
  stopped: boolean
  /** The last stderr lines, for error messages. */
  tail(): string
}

function startKcat(
  args: string[],
  onStdout: (chunk: Buffer) => void = () => {},
  onStderrLine: (line: string) => boolean = () => false,
): KcatRun {
  const child = spawn(KCAT, args, { env, stdio: ['pipe', 'pipe', 'pipe'] })
  const lines: string[] = []
  let partial = ''
  child.stderr?.setEncoding('utf8')
  child.stderr?.on('data', (d: string) => {
    const parts = (partial + d).split('\n')
    partial = parts.pop() ?? ''
    for (const line of parts) {
      // Lines the caller consumed (e.g. one delivery report per message) stay out of the tail.
      if (onStderrLine(line)) continue
      lines.push(line)
      if (lines.length > 30) lines.shift()
    }
  })
  child.stdout?.on('data', onStdout)
  // A producer that died early must not turn its stdin's EPIPE into an uncaught error: the exit code tells.
  child.stdin?.on('error', () => {})
  const closed = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolve({ code, signal }))
  })
  const run: KcatRun = {
    child,
    closed,
    stopped: false,
    stop() {
      run.stopped = true
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
    },
    tail: () => [...lines, partial].filter((l) => l !== '').join('\n'),
  }
  return run
}

function failure(what: string, run: KcatRun, r: { code: number | null; signal: NodeJS.Signals | null }): Error {
  return new Error(`kcat ${what} exited with ${r.code ?? r.signal}:\n${run.tail()}`)
}

/** Incremental parser of {@link FORMAT} output. */
class RecordParser {
  private buf: Buffer = Buffer.alloc(0)
  private readonly onRecord: (r: ConsumedRecord) => void

  constructor(onRecord: (r: ConsumedRecord) => void) {
    this.onRecord = onRecord
  }

  push(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk])
    let pos = 0
    for (;;) {
      const nl = this.buf.indexOf(0x0a, pos)
      if (nl < 0) break
      const header = HEADER.exec(this.buf.toString('latin1', pos, nl))
      if (!header) throw new Error(`unparseable kcat output: ${JSON.stringify(this.buf.toString('latin1', pos, nl))}`)
      const [partition, offset, timestamp, keyLen, valueLen] = header.slice(1).map(Number)
      const keyStart = nl + 1
      const valueStart = keyStart + Math.max(keyLen, 0)
      const end = valueStart + Math.max(valueLen, 0)
      if (end > this.buf.length) break // the rest of this record has not arrived yet
      this.onRecord({
        partition,
        offset,
        timestamp,
        key: keyLen < 0 ? null : this.buf.toString('utf8', keyStart, valueStart),
        value: valueLen < 0 ? null : this.buf.toString('utf8', valueStart, end),
      })
      pos = end
    }
    this.buf = this.buf.subarray(pos)
  }

  /** Bytes received that do not form a whole record (non-zero after exit means truncated output). */
  get pending(): number {
    return this.buf.length
  }
}

/** The producer input for `records`: key, KEY_DELIM, value, MSG_DELIM each. */
function producerInput(records: TestRecord[]): Buffer {
  const input: string[] = []
  for (const r of records) {
    for (const s of [r.key, r.value]) {
      if (s.includes(KEY_DELIM) || s.includes(MSG_DELIM)) {
        throw new Error(`record ${JSON.stringify(r.key)} contains a kcat delimiter byte`)
      }
    }
    input.push(r.key, KEY_DELIM, r.value, MSG_DELIM)
  }
  return Buffer.from(input.join(''))
}

/** One kcat producer run for records that share a partition (or all go through the partitioner). */
async function produceRun(
  o: ProduceOptions,
  partition: number | undefined,
  records: TestRecord[],
  autoCreate: boolean,
  idempotent: boolean,
): Promise<void> {
  let delivered = 0
  let failed = 0
  const run = startKcat(
    [
      ...common(o.brokers),
      '-P',
      '-t',
      o.topic,
      ...(partition === undefined ? [] : ['-p', String(partition)]),
      '-K',
      '\\x1f',
      '-D',
      '\\x1e',
      // Verbosity 3: one "Message delivered" line per acknowledged message, counted below.
      '-v',
      '-v',
      '-X',
      `compression.codec=${o.compression ?? 'none'}`,
      '-X',
      `acks=${o.acks === 1 ? '1' : 'all'}`,
      '-X',
      `enable.idempotence=${idempotent}`,
      // librdkafka producers ask the broker to create unknown topics unless told not to.
      '-X',
      `allow.auto.create.topics=${autoCreate}`,
      // Give up (and so reject) within a minute rather than librdkafka's default five.
      '-X',
      'message.timeout.ms=60000',
      // librdkafka sends a batch uncompressed when compressing made it larger, which happens to
      // the one-record batch its default 5 ms linger cuts while the connection is being set up.
      // A longer linger fills batches (up to batch.num.messages) before they leave.
      ...(o.compression === undefined || o.compression === 'none' ? [] : ['-X', 'linger.ms=1000']),
    ],
    undefined,
    (line) => {
      if (line.startsWith('% Message delivered to partition')) {
        delivered++
        return true
      }
      if (line.startsWith('% Delivery failed')) failed++
      return false
    },
  )
  run.child.stdin?.end(producerInput(records))
  const r = await run.closed
  // kcat exits 1 when a delivery report failed; it can also exit 0 after a fatal error left
  // messages undelivered, so every message must also have its own success report.
  if (r.code !== 0 || failed > 0 || delivered !== records.length) {
    throw new Error(
      `kcat produce: ${delivered}/${records.length} delivered, ${failed} failed, exit ${r.code ?? r.signal}:\n${run.tail()}`,
    )
  }
}

/** kcat takes one partition (or the partitioner) per run: the records grouped by target partition. */
function byTargetPartition(records: TestRecord[]): Map<number | undefined, TestRecord[]> {
  const groups = new Map<number | undefined, TestRecord[]>()
  for (const r of records) {
    const group = groups.get(r.partition)
    if (group) group.push(r)
    else groups.set(r.partition, [r])
  }
  return groups
}

async function produce(o: ProduceOptions, autoCreate: boolean, idempotent: boolean): Promise<void> {
  for (const [partition, records] of byTargetPartition(o.records)) {
    await produceRun(o, partition, records, autoCreate, idempotent)
  }
}

/**
 * One transactional kcat run (`-X transactional.id`): kcat begins a transaction, produces every
 * input message in it and commits when stdin closes; a termination signal makes it abort instead.
 * To abort, the records are written and kcat is interrupted (SIGINT) only once the broker has them
 * all: kcat serves delivery reports only while it produces, so with stdin open they would come
 * too late to wait for; the partitions' end offsets (read_uncommitted) tell instead. The delivery
 * reports are still counted, printed when kcat flushes before exiting.
 */
async function transactionalRun(
  o: ProduceOptions & { transactionalId: string; commit: boolean },
  partition: number | undefined,
  records: TestRecord[],
): Promise<void> {
  let delivered = 0
  let failed = 0
  let committed = false
  let aborting = false
  const run = startKcat(
    [
      ...common(o.brokers),
      '-P',
      '-t',
      o.topic,
      ...(partition === undefined ? [] : ['-p', String(partition)]),
      '-K',
      '\\x1f',
      '-D',
      '\\x1e',
      '-v',
      '-v',
      '-X',
      `transactional.id=${o.transactionalId}`,
      '-X',
      `compression.codec=${o.compression ?? 'none'}`,
      '-X',
      'message.timeout.ms=60000',
      // The timeout of init, commit and abort (seconds; kcat's default 5 is short on a busy machine).
      '-m',
      '60',
    ],
    undefined,
    (line) => {
      if (line.startsWith('% Message delivered to partition')) {
        delivered++
        return true
      }
      if (line.startsWith('% Delivery failed')) failed++
      if (line.includes('Transaction successfully committed')) committed = true
      if (line.includes('Aborting transaction due to termination signal')) aborting = true
      return false
    },
  )
  const input = producerInput(records)
  if (o.commit) run.child.stdin?.end(input)
  else await interrupt(o, run, records, input)
  const r = await run.closed
  const outcome = o.commit ? committed : aborting
  if (r.code !== 0 || failed > 0 || delivered !== records.length || !outcome) {
    throw new Error(
      `kcat transactional produce (${o.commit ? 'commit' : 'abort'}): ${delivered}/${records.length} delivered, ` +
        `${failed} failed, outcome ${outcome ? 'seen' : 'not seen'}, exit ${r.code ?? r.signal}:\n${run.tail()}`,
    )
  }
}

/** Writes the records of a transaction to abort, waits until the broker has them all, then interrupts kcat. */
async function interrupt(o: ProduceOptions, run: KcatRun, records: TestRecord[], input: Buffer): Promise<void> {
  try {
    // kcat reads one 128-byte fread() (which waits for a full chunk) before it returns each next
    // message, even one already buffered: until stdin ends it handles message n only once
    // 128 * (n + 1) bytes arrived. Empty messages (bare delimiters, which kcat skips) pad the input
    // so that every record gets through while stdin stays open.
    const padding = Math.max(0, 128 * (records.length + 2) - input.length)
    const total = async () => (await listEndOffsets({ address: o.brokers }, o.topic)).reduce((a, b) => a + b, 0)
    const before = await total()
    run.child.stdin?.write(Buffer.concat([input, Buffer.from(MSG_DELIM.repeat(padding))]))
    let exited = false
    void run.closed.then(() => (exited = true))
    await eventually(
      async () => exited || (await total()) - before >= records.length,
      60_000,
      'the broker to have every record of the transaction',
    )
    if (exited) throw failure('transactional produce', run, await run.closed)
    run.child.kill('SIGINT')
    // The signal handler only clears kcat's run flag: the read loop notices once stdin ends.
    run.child.stdin?.end()
  } catch (err) {
    // Never leave kcat waiting on its input.
    run.child.kill('SIGKILL')
    throw err
  }
}

const client: ConformanceClient = {
  name: 'kcat',
  compressions: ['none', 'gzip', 'snappy', 'lz4', 'zstd'],

  produce: (o) => produce(o, false, o.idempotent ?? false),
  produceToNewTopic: (o) => produce(o, true, o.idempotent ?? true),

  async produceInTransaction(o) {
    // One transaction per kcat run: records aimed at several partitions make several transactions.
    for (const [partition, records] of byTargetPartition(o.records)) await transactionalRun(o, partition, records)
  },

  async consume(o) {
    const got: ConsumedRecord[] = []
    if (o.count <= 0) return got // kcat reads `-c 0` as no limit
    let error: Error | undefined
    const runs: KcatRun[] = []
    const stopAll = (): void => runs.forEach((run) => run.stop())
    // One simple (group-less) consumer per partition, each started at its own offset.
    for (const { partition, offset } of o.start) {
      const parser = new RecordParser((r) => {
        got.push(r)
        if (got.length >= o.count) stopAll()
      })
      const run = startKcat(
        [
          ...common(o.brokers),
          '-C',
          '-t',
          o.topic,
          '-p',
          String(partition),
          '-o',
          String(offset),
          '-c',
          String(o.count),
          '-f',
          FORMAT,
          // read_committed (librdkafka's default, set for the record): aborted records and markers are dropped.
          '-X',
          'isolation.level=read_committed',
          // A long-poll read waits for the records; otherwise stop at the end of the partition,
          // so that missing records fail with a count instead of a hang.
          ...(o.maxWaitMs === undefined ? ['-e'] : ['-X', `fetch.wait.max.ms=${o.maxWaitMs}`]),
        ],
        (chunk) => {
          try {
            parser.push(chunk)
          } catch (err) {
            error ??= err as Error
            stopAll()
          }
        },
      )
      runs.push(run)
      void run.closed.then(
        (r) => {
          if (r.code !== 0 && !run.stopped) {
            error ??= failure(`consume of ${o.topic}-${partition}`, run, r)
            stopAll()
          } else if (parser.pending > 0 && !run.stopped) {
            error ??= new Error(`kcat consume of ${o.topic}-${partition}: truncated output`)
          }
        },
        () => {},
      )
    }
    await Promise.all(runs.map((run) => run.closed))
    if (error) throw error
    if (got.length < o.count) {
      throw new Error(`kcat consume: ${got.length} of ${o.count} records before the end of the partitions`)
    }
    return got
  },

  async joinGroup(o) {
    const parser = new RecordParser(o.onRecord)
    let error: Error | undefined
    let assigned: () => void = () => {}
    const isAssigned = new Promise<void>((resolve) => (assigned = resolve))
    const run = startKcat(
      [
        ...common(o.brokers),
        '-G',
        o.groupId,
        // Unbuffered, so that records reach onRecord as kcat consumes them.
        '-u',
        '-f',
        FORMAT,
        // Not `-o beginning`: in group mode that would override the committed offsets.
        '-X',
        'auto.offset.reset=earliest',
        o.topic,
      ],
      (chunk) => {
        try {
          parser.push(chunk)
        } catch (err) {
          error ??= err as Error
          run.stop()
        }
      },
      (line) => {
        // Eager: "Group G rebalanced (memberid M): assigned: ...", cooperative: "... incremental assignment ...".
        if (/ rebalanced.*assign/.test(line)) assigned()
        return false
      },
    )
    // Joined once the first assignment arrived (possibly empty), or failed if kcat exited first.
    await Promise.race([
      isAssigned,
      run.closed.then((r) => {
        throw failure(`group member of ${o.groupId}`, run, r)
      }),
    ])
    return {
      async leave() {
        // librdkafka (auto-commit, its default) stores each offset as poll() hands the message to
        // kcat, which prints it before polling again; SIGTERM ends that loop and the consumer close
        // commits the stored offsets, then leaves the group. One race is kcat's own: a signal that
        // lands between poll() returning and kcat's run-flag check drops that message unprinted
        // after its offset was stored (a window of a few instructions).
        run.stop()
        const r = await run.closed
        if (error) throw error
        if (r.code !== 0) throw failure(`group member of ${o.groupId}`, run, r)
        if (parser.pending > 0) throw new Error(`kcat group member of ${o.groupId}: truncated output`)
      },
    }
  },

  async offsetForTimestamp(o) {
    let out = ''
    const run = startKcat([...common(o.brokers), '-Q', '-t', `${o.topic}:${o.partition}:${o.timestamp}`], (c) => {
      out += c.toString()
    })
    const r = await run.closed
    if (r.code !== 0) throw failure('offset query', run, r)
    // One line per partition: "<topic> [<partition>] offset <offset>".
    const prefix = `${o.topic} [${o.partition}] offset `
    const line = out.split('\n').find((l) => l.startsWith(prefix))
    if (line === undefined || !/^-?\d+$/.test(line.slice(prefix.length))) {
      throw new Error(`kcat offset query: unexpected output ${JSON.stringify(out)}\n${run.tail()}`)
    }
    return Number(line.slice(prefix.length))
  },
}

conformanceSuite(client)
