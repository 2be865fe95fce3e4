/**
 * kcat (librdkafka) as a reader for the transaction conformance tests: one partition read from its
 * start to its end (`-e`) at an isolation level. librdkafka's end of a read_committed read is the
 * last stable offset, of a read_uncommitted one the high watermark, so one run returns exactly
 * what a reader of that level may see right now. kcat must be on PATH (Debian: `apt-get install kcat`).
 */
import { execFile } from 'node:child_process'
import type { ReadRecord } from './txn-readers.ts'

export type Isolation = 'read_committed' | 'read_uncommitted'

const KCAT = 'kcat'

// Ignore the user's kcat configuration files: only the options given here apply.
const env = { ...process.env }
delete env.KCAT_CONFIG
delete env.KAFKACAT_CONFIG

/** Output framing: partition, offset and value length on a line, then exactly that many value bytes. */
const FORMAT = '%p %o %S\\n%s'
const HEADER = /^(-?\d+) (-?\d+) (-?\d+)$/

let runs = 0

/** Every record of `topic`-`partition` a reader at `isolation` gets, from the first offset to the end. */
export async function kcatRead(o: {
  brokers: string
  topic: string
  partition: number
  isolation: Isolation
}): Promise<ReadRecord[]> {
  const args = [
    '-F',
    'none',
    '-b',
    o.brokers,
    '-X',
    `client.id=kcat-txn-${++runs}`,
    '-C',
    '-t',
    o.topic,
    '-p',
    String(o.partition),
    '-o',
    'beginning',
    '-e',
    '-f',
    FORMAT,
    '-X',
    `isolation.level=${o.isolation}`,
    // librdkafka reports the end once a fetch from the end offset is answered, which the broker
    // long-polls for fetch.wait.max.ms (default 500): keep that short.
    '-X',
    'fetch.wait.max.ms=10',
  ]
  const stdout = await new Promise<Buffer>((resolve, reject) => {
    // The timeout only bounds a failure (a reader that never reaches the end); a read takes milliseconds.
    const options = { env, encoding: 'buffer' as const, maxBuffer: 64 * 1024 * 1024, timeout: 30_000 }
    execFile(KCAT, args, options, (err, out, errOut) => {
      if (err) reject(new Error(`kcat ${args.join(' ')} failed: ${errOut.toString()}`, { cause: err }))
      else resolve(out)
    })
  })
  return parse(stdout)
}

function parse(out: Buffer): ReadRecord[] {
  const records: ReadRecord[] = []
  let pos = 0
  while (pos < out.length) {
    const nl = out.indexOf(0x0a, pos)
    const header = nl < 0 ? null : HEADER.exec(out.toString('latin1', pos, nl))
    if (header === null) throw new Error(`unparseable kcat output at byte ${pos}: ${JSON.stringify(out.toString())}`)
    const [partition, offset, length] = header.slice(1).map(Number)
    const end = nl + 1 + Math.max(length, 0)
    if (end > out.length) throw new Error('truncated kcat output')
    records.push({ partition, offset, value: length < 0 ? null : out.toString('utf8', nl + 1, end) })
    pos = end
  }
  return records
}
