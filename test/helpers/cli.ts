/**
 * Helpers for end-to-end tests of the `tickflow` command: run `bin/tickflow.js` as a child process
 * (always asynchronously: a broker in the test process must keep serving while the child runs), in
 * an environment that no outer TICKFLOW_* variable or broker on the real 9092 can leak into, and
 * read a topic back with KafkaJS — a client independent of the one the CLI uses.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import kafkajs from 'kafkajs'

const { Kafka, logLevel } = kafkajs
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'

/** The `tickflow` executable. */
export const BIN = path.join(import.meta.dirname, '../../bin/tickflow.js')

/** What a finished command did. */
export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** A running command. */
export interface RunningCli {
  child: ChildProcessWithoutNullStreams
  stdout(): string
  stderr(): string
  /** Resolves with the first complete stderr line matching `re` (rejects if the command exits first). */
  waitForStderr(re: RegExp): Promise<string>
  exited: Promise<CliResult>
}

/**
 * A `127.0.0.1:PORT` nobody listens on (a port that was free a moment ago): TICKFLOW_LOCAL_BROKER
 * for tests of the paths without a local broker.
 */
export async function closedAddress(): Promise<string> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return `127.0.0.1:${port}`
}

/**
 * The child's environment: the parent's without any TICKFLOW_* variable, plus `vars`. Callers
 * always give TICKFLOW_LOCAL_BROKER (a test broker, or {@link closedAddress}) and TICKFLOW_DATA_DIR.
 */
export function cliEnv(vars: { TICKFLOW_LOCAL_BROKER: string; TICKFLOW_DATA_DIR: string } & Record<string, string>) {
  const env: NodeJS.ProcessEnv = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('TICKFLOW_')) env[k] = v
  return { ...env, ...vars }
}

/** Starts `tickflow args...`. */
export function startCli(args: string[], options: { env: NodeJS.ProcessEnv; cwd: string }): RunningCli {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: options.env,
    cwd: options.cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
  }) as unknown as ChildProcessWithoutNullStreams
  let stdout = ''
  let stderr = ''
  const stderrListeners: (() => void)[] = []
  child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d))
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    stderr += d
    for (const l of stderrListeners.slice()) l()
  })
  const exited = new Promise<CliResult>((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => {
      for (const l of stderrListeners.slice()) l()
      resolve({ code, signal, stdout, stderr })
    })
  })
  let done = false
  void exited.then(() => (done = true))
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    exited,
    waitForStderr(re) {
      return new Promise((resolve, reject) => {
        const check = (): void => {
          // Complete lines only: a chunk may end in the middle of one.
          const line = stderr
            .split('\n')
            .slice(0, -1)
            .find((l) => re.test(l))
          if (line !== undefined) {
            stderrListeners.splice(stderrListeners.indexOf(check), 1)
            resolve(line)
          } else if (done || child.exitCode !== null || child.signalCode !== null) {
            stderrListeners.splice(stderrListeners.indexOf(check), 1)
            reject(new Error(`the command exited without printing ${re} on stderr: ${stderr}`))
          }
        }
        stderrListeners.push(check)
        check()
      })
    },
  }
}

/** Runs `tickflow args...` to its end. */
export function runCli(args: string[], options: { env: NodeJS.ProcessEnv; cwd: string }): Promise<CliResult> {
  return startCli(args, options).exited
}

/** The non-empty lines of a command's output. */
export function lines(text: string): string[] {
  return text.split('\n').filter((l) => l !== '')
}

/** One record as read back. */
export interface ReadRecord {
  partition: number
  offset: number
  key: string | null
  value: string | null
}

let readers = 0
function kafka(address: string) {
  return new Kafka({
    brokers: [address],
    clientId: `cli-test-${process.pid}-${++readers}`,
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  })
}

/** Log start and end offsets of every partition of `topic`, by partition. */
export async function topicOffsets(
  address: string,
  topic: string,
): Promise<{ partition: number; low: number; high: number }[]> {
  const admin = kafka(address).admin()
  await admin.connect()
  try {
    const offsets = await admin.fetchTopicOffsets(topic)
    return offsets
      .map((o) => ({ partition: o.partition, low: Number(o.low), high: Number(o.high) }))
      .sort((a, b) => a.partition - b.partition)
  } finally {
    await admin.disconnect()
  }
}

/** Records in `topic` (sum of end minus start offsets). */
export async function topicSize(address: string, topic: string): Promise<number> {
  return (await topicOffsets(address, topic)).reduce((a, o) => a + o.high - o.low, 0)
}

/**
 * Every record of `topic` up to the end offsets seen first, with KafkaJS (a throwaway consumer
 * group reading from the beginning), sorted by partition and offset.
 */
export async function readTopic(address: string, topic: string): Promise<ReadRecord[]> {
  const bounds = await topicOffsets(address, topic)
  const remaining = new Map(bounds.filter((b) => b.high > b.low).map((b) => [b.partition, b.high]))
  const got: ReadRecord[] = []
  if (remaining.size === 0) return got
  const consumer = kafka(address).consumer({
    groupId: `cli-test-reader-${process.pid}-${++readers}`,
    maxWaitTimeInMs: 100,
  })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await new Promise<void>((resolve, reject) => {
      consumer
        .run({
          autoCommit: false,
          eachBatch: async ({ batch }) => {
            const end = remaining.get(batch.partition)
            if (end === undefined) return
            for (const m of batch.messages) {
              const offset = Number(m.offset)
              if (offset >= end) break
              got.push({
                partition: batch.partition,
                offset,
                key: m.key?.toString('utf8') ?? null,
                value: m.value?.toString('utf8') ?? null,
              })
              if (offset === end - 1) remaining.delete(batch.partition)
            }
            if (remaining.size === 0) resolve()
          },
        })
        .catch(reject)
    })
  } finally {
    await consumer.disconnect()
  }
  return got.sort((a, b) => a.partition - b.partition || a.offset - b.offset)
}

/** Produces records with KafkaJS (idempotent, acks=all); key = symbol unless given. */
export async function produceWithKafkajs(
  address: string,
  topic: string,
  records: { key?: string | null; value: string | null; partition?: number }[],
  clientId?: string,
): Promise<void> {
  const producer = new Kafka({
    brokers: [address],
    clientId: clientId ?? `cli-test-writer-${process.pid}-${++readers}`,
    logLevel: logLevel.NOTHING,
    retry: { retries: 8, initialRetryTime: 100 },
  }).producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false })
  await producer.connect()
  try {
    await producer.send({ topic, acks: -1, messages: records })
  } finally {
    await producer.disconnect()
  }
}
