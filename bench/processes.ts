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
  /** `tickflow produce <kind>` of exactly `count` messages as fast as it can, seed 1, with `argv` added; throws if it fails. */
  produce(address: string, kind: 'prices' | 'orders', count: number, argv: string[]): Promise<void>
}

/** Child processes and data dirs under a temporary directory, all removed when this process exits. */
export function benchProcesses(prefix: string): BenchProcesses {
  const tmpDir = fs.mkdtempSync(path.join(os.tmpdir(), prefix))
  const children: ChildProcess[] = []
  process.on('exit', () => {
    for (const c of children) c.kill('SIGKILL')
    fs.rmSync(tmpDir, { recursive: true, force: true })
  })
  const processes: BenchProcesses = {
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
    async produce(address, kind, count, argv) {
      const fixed = ['produce', kind, '--count', String(count), '--rate', 'max', '--seed', '1', '--quiet']
      const code = await exited(processes.tickflow(address, [...fixed, ...argv]))
      if (code !== 0) throw new Error(`produce ${kind} exited with ${code}`)
    },
  }
  return processes
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

/** `definition` running on the stream runtime in this process as a member of `groupId`, until stopped. */
function start(
  address: string,
  definition: ProcessorDefinition,
  groupId: string,
  onRestore?: (r: RestoreReport) => void,
): { run: Promise<RuntimeStats>; stats: RuntimeStats; stop: () => Promise<RuntimeStats> } {
  const abort = new AbortController()
  const stats: RuntimeStats = { processed: 0, assigned: [], generation: -1, restores: 0 }
  const bus = { bootstrapBrokers: [address], clientId: `bench-${definition.name}` }
  const run = runProcessor(definition, { bus, groupId, signal: abort.signal, onRestore }, stats)
  return {
    run,
    stats,
    stop: () => {
      abort.abort()
      return run
    },
  }
}

/** Runs `definition` from the start of its input until it has processed `count` records; the seconds taken. */
export async function timeToProcess(
  address: string,
  definition: ProcessorDefinition,
  groupId: string,
  count: number,
): Promise<number> {
  const started = performance.now()
  const p = start(address, definition, groupId)
  while (p.stats.processed < count) await Promise.race([p.run, new Promise((r) => setTimeout(r, 5))])
  const seconds = (performance.now() - started) / 1000
  await p.stop()
  return seconds
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
  let allOpened: () => void = () => undefined
  const opened = new Promise<void>((resolve) => (allOpened = resolve))
  let n = 0
  const p = start(address, definition, groupId, (r) => {
    sum.ms += r.ms
    sum.snapshotBytes += r.snapshotBytes
    sum.replayed += r.replayed
    if (++n === partitions) allOpened()
  })
  await Promise.race([opened, p.run])
  await p.stop()
  return sum
}

export const fmt = (n: number): string => Math.round(n).toLocaleString('en-US')
