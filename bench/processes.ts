/**
 * What the end-to-end processor benches share: a `tickflow broker` child process on a data dir of
 * its own, `tickflow` commands as child processes, a processor run on the stream runtime in this
 * process until it has processed a number of records, and a pass-through processor (the runtime's
 * own cost, for comparison).
 */
import { spawn, type ChildProcess } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { ProcessorDefinition } from '../src/stream/processor.ts'
import { runProcessor, type RuntimeStats } from '../src/stream/runtime.ts'
import type { RestoreReport } from '../src/stream/task.ts'

const bin = path.join(import.meta.dirname, '../bin/tickflow.js')

export interface BenchProcesses {
  /** The temporary directory, removed at exit: the brokers' data dirs and anything else a bench keeps. */
  dir: string
  /** Starts a broker process on its own data dir; resolves with its address. */
  startBroker(name: string, partitions?: number, extra?: string[]): Promise<string>
  /** Runs `tickflow argv...` against the broker at `address`. */
  tickflow(address: string, argv: string[]): ChildProcess
}

/** Child processes and data dirs under a temporary directory, all removed when this process exits. */
export function benchProcesses(prefix: string): BenchProcesses {
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  const children: ChildProcess[] = []
  process.on('exit', () => {
    for (const c of children) c.kill('SIGKILL')
    fs.rmSync(tmpDir, { recursive: true, force: true })
  })
  return {
    dir: tmpDir,
    startBroker(name, partitions, extra = []) {
      const args = ['broker', '--listen', '127.0.0.1:0', '--data-dir', path.join(tmpDir, name)]
      if (partitions !== undefined) args.push('--partitions', String(partitions))
      args.push('--log-level', 'warn', ...extra)
      const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
      children.push(child)
      return new Promise((resolve, reject) => {
        let out = ''
        child.stdout?.on('data', (d: Buffer) => {
          out += d.toString()
          const m = /listening on (\S+)/.exec(out)
          if (m) resolve(m[1])
        })
        child.once('exit', (code) => reject(new Error(`broker exited with ${code}`)))
      })
    },
    tickflow(address, argv) {
      const env = { ...process.env, TICKFLOW_BROKERS: address }
      const child = spawn(process.execPath, [bin, ...argv], { env, stdio: ['ignore', 'ignore', 'pipe'] })
      children.push(child)
      return child
    },
  }
}

export function exited(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => child.once('exit', (code) => resolve(code)))
}

/** A processor that forwards every record of `input` to `copy`: the runtime's own cost. */
export function passThrough(input: string): ProcessorDefinition {
  return {
    name: 'passthrough',
    input,
    outputs: ['copy'],
    create: () => {
      let n = 0
      return {
        process(record, out) {
          n++
          out.emit('copy', 'k', record.value?.toString('latin1') ?? '')
        },
        snapshot: () => Buffer.from(String(n)),
      }
    },
  }
}

/** Runs `definition` from the start of its input until it has processed `count` records. */
export async function timeToProcess(
  address: string,
  definition: ProcessorDefinition,
  groupId: string,
  count: number,
  onRestore?: (r: RestoreReport) => void,
): Promise<{ seconds: number; restores: RestoreReport[] }> {
  const abort = new AbortController()
  const stats: RuntimeStats = { processed: 0, assigned: [], generation: -1, restores: 0 }
  const restores: RestoreReport[] = []
  const started = performance.now()
  const run = runProcessor(
    definition,
    {
      bus: { bootstrapBrokers: [address], clientId: `bench-${definition.name}` },
      groupId,
      signal: abort.signal,
      onRestore: (r) => {
        restores.push(r)
        onRestore?.(r)
      },
    },
    stats,
  )
  while (stats.processed < count) {
    await Promise.race([run, new Promise((r) => setTimeout(r, 5))])
  }
  const finished = performance.now()
  abort.abort()
  await run
  return { seconds: (finished - started) / 1000, restores }
}

/**
 * Starts `definition` again under `groupId` and waits until each of `partitions` has been restored
 * (its checkpoint's snapshot loaded and the input after it replayed); the restore reports, summed.
 */
export async function restoreAll(
  address: string,
  definition: ProcessorDefinition,
  groupId: string,
  partitions: number,
): Promise<{ ms: number; snapshotBytes: number; replayed: number }> {
  const sum = { ms: 0, snapshotBytes: 0, replayed: 0 }
  const abort = new AbortController()
  const stats: RuntimeStats = { processed: 0, assigned: [], generation: -1, restores: 0 }
  let allOpened: () => void = () => undefined
  const opened = new Promise<void>((resolve) => (allOpened = resolve))
  let n = 0
  const run = runProcessor(
    definition,
    {
      bus: { bootstrapBrokers: [address], clientId: `bench-${definition.name}` },
      groupId,
      signal: abort.signal,
      onRestore: (r) => {
        sum.ms += r.ms
        sum.snapshotBytes += r.snapshotBytes
        sum.replayed += r.replayed
        if (++n === partitions) allOpened()
      },
    },
    stats,
  )
  await Promise.race([opened, run])
  abort.abort()
  await run
  return sum
}

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
